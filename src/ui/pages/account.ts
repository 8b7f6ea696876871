/**
 * The account overview (`GET /account`): who the user is and where to manage their security.
 *
 * - Read-only: name, user name, e-mail addresses (primary marked), groups and account age, because profiles are
 *   managed by the directory (SCIM); the page says so instead of offering fields that would not stick.
 * - Two columns on wide screens (profile | security and groups), stacked on small ones.
 */
import { type Flash, nameOf, pageIntro, timeElement, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface AccountEmail {
  value: string;
  primary: boolean;
}

export interface AccountUser extends UiUser {
  emails: AccountEmail[];
  groups: string[];
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds; null when no password was ever set. */
  passwordUpdatedAt: number | null;
}

export interface AccountPageModel {
  csrfToken: string;
  user: AccountUser;
  flash?: Flash | null;
}

export function accountPage(model: AccountPageModel): string {
  const { user } = model;
  const emails = [...user.emails].sort((a, b) => Number(b.primary) - Number(a.primary));
  const body = html`${pageIntro("Your account", html`Signed in as <strong>${nameOf(user)}</strong>.`)}
<div class="grid grid--two">
<section class="card" aria-labelledby="profile-heading">
<h2 id="profile-heading">Profile</h2>
<dl class="details">
<dt>Name</dt>
<dd>${user.displayName?.trim() ? user.displayName : html`<span class="muted">Not set</span>`}</dd>
<dt>User name</dt>
<dd>${user.userName}</dd>
<dt>E-mail</dt>
<dd>${
    emails.length > 0
      ? html`<ul class="plain-list">
${emails.map(
  (e) => html`<li>${e.value}${e.primary ? html` <span class="badge">Primary</span>` : null}</li>
`,
)}</ul>`
      : html`<span class="muted">None</span>`
  }</dd>
<dt>Member since</dt>
<dd>${timeElement(user.createdAt, { format: "date" })}</dd>
</dl>
<p class="muted">Your profile comes from your organisation’s directory. To change your name or e-mail address, contact your administrator.</p>
</section>
<div class="stack">
<section class="card" aria-labelledby="security-heading">
<h2 id="security-heading">Security</h2>
<ul class="link-list">
<li><a href="/account/password">Change password</a>
<span class="muted">${
    user.passwordUpdatedAt === null
      ? "No password set."
      : html`Last changed ${timeElement(user.passwordUpdatedAt, { format: "date" })}.`
  }</span></li>
<li><a href="/account/linked">Linked sign-in providers</a>
<span class="muted">Accounts elsewhere (your organisation, Google, GitHub …) that sign you in here.</span></li>
<li><a href="/account/sessions">Review where you are signed in</a>
<span class="muted">See your devices and sign out the ones you do not use.</span></li>
</ul>
</section>
<section class="card" aria-labelledby="groups-heading">
<h2 id="groups-heading">Groups</h2>
${
  user.groups.length > 0
    ? html`<ul class="plain-list">
${user.groups.map(
  (g) => html`<li>${g}</li>
`,
)}</ul>`
    : html`<p class="muted">You are not a member of any group.</p>`
}
</section>
</div>
</div>`;
  return layout({
    title: "Your account",
    body,
    user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "account",
  });
}
