/**
 * The session list (`GET /account/sessions`): where the user is signed in, and sign-out buttons.
 *
 * - A table with a caption and `th scope` headers, one row per session: device (browser on OS), IP address,
 *   signed-in time, last-seen time (UTC `<time>`; relative when `now` is given).
 * - The current session is badged "This device" and has no revoke button (signing out here is the header's
 *   job); every other row has a `POST /account/sessions/<id>/revoke` form whose button names the device and
 *   sign-in time for screen readers. The id is URL-encoded in the action.
 * - "Sign out all other devices" (`POST /account/sessions/revoke-others`) only when there are others.
 * - The table scrolls sideways on narrow screens inside a focusable, labelled region.
 */
import { csrfField, type Flash, formatUtc, pageIntro, timeElement, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface SessionView {
  /** Public session id (never the token). */
  id: string;
  browser: string;
  os: string;
  /** Device type, e.g. "Desktop", "Mobile"; may be empty. */
  device: string;
  ip: string | null;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds. */
  lastSeenAt: number;
  /** The session this request belongs to. */
  current: boolean;
  /** Created with "Keep me signed in". */
  remember: boolean;
}

export interface SessionsPageModel {
  csrfToken: string;
  user: UiUser;
  sessions: SessionView[];
  flash?: Flash | null;
  /** Epoch milliseconds; when given, recent "last seen" times read as "5 minutes ago". */
  now?: number;
}

/** "Firefox on Windows"; "Unknown browser" when the user agent told nothing. */
export function deviceLabel(session: Pick<SessionView, "browser" | "os">): string {
  const browser = session.browser.trim() || "Unknown browser";
  const os = session.os.trim();
  return os ? `${browser} on ${os}` : browser;
}

function row(session: SessionView, csrfToken: string, now: number | undefined) {
  const label = deviceLabel(session);
  const notes = [session.device.trim(), session.remember ? "Kept signed in" : ""].filter(Boolean).join(" · ");
  return html`<tr>
<th scope="row">${label}${session.current ? html` <span class="badge">This device</span>` : null}${
    notes ? html`<span class="cell-note">${notes}</span>` : null
  }</th>
<td>${session.ip ?? html`<span class="muted">unknown</span>`}</td>
<td>${timeElement(session.createdAt)}</td>
<td>${timeElement(session.lastSeenAt, { now })}</td>
<td class="cell-action">${
    session.current
      ? null
      : html`<form method="post" action="/account/sessions/${encodeURIComponent(session.id)}/revoke">
${csrfField(csrfToken)}
<button class="button button--secondary button--small" type="submit">Sign out<span class="visually-hidden"> ${label}, signed in ${formatUtc(session.createdAt)}</span></button>
</form>`
  }</td>
</tr>
`;
}

export function sessionsPage(model: SessionsPageModel): string {
  const sessions = [...model.sessions].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt - a.lastSeenAt,
  );
  const others = sessions.filter((s) => !s.current).length;
  const body = html`${pageIntro(
    "Sessions",
    "These are the devices where you are signed in. Sign out any you do not recognise, then change your password.",
  )}
<div class="card">
<div class="table-wrap" role="region" aria-labelledby="sessions-caption" tabindex="0">
<table class="table">
<caption id="sessions-caption">Signed-in devices (${sessions.length})</caption>
<thead>
<tr>
<th scope="col">Device</th>
<th scope="col">IP address</th>
<th scope="col">Signed in</th>
<th scope="col">Last seen</th>
<th scope="col"><span class="visually-hidden">Actions</span></th>
</tr>
</thead>
<tbody>
${sessions.map((s) => row(s, model.csrfToken, model.now))}</tbody>
</table>
</div>
${
  others > 0
    ? html`<form method="post" action="/account/sessions/revoke-others">
${csrfField(model.csrfToken)}
<button class="button button--danger" type="submit">Sign out all other devices</button>
</form>`
    : html`<p class="muted">You are not signed in anywhere else.</p>`
}
</div>`;
  return layout({
    title: "Sessions",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "sessions",
  });
}
