/**
 * The consent page of the authorization endpoint: `POST /authorize/consent`.
 *
 * - Names the application and lists, in plain words, what it asks for (one line per scope; unknown resource
 *   scopes are shown by name) and which APIs (resources) the access is for.
 * - Two buttons in one form: "Allow" (`decision=allow`) and "Deny" (`decision=deny`). Fields: `csrf`,
 *   `request` (the stored request's id).
 * - Signed-in layout, so the user sees whose account is being shared.
 */
import { csrfField, pageIntro, type UiUser } from "../components.js";
import { html, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";

export interface ConsentPageModel {
  user: UiUser;
  csrfToken: string;
  requestId: string;
  clientName: string;
  scopes: string[];
  resources: string[];
}

const SCOPE_TEXT: Record<string, string> = {
  openid: "Confirm who you are (your Tessera user id)",
  profile: "See your name and user name",
  email: "See your e-mail address",
  groups: "See the groups you belong to",
  offline_access: "Stay connected when you are not using it (until you disconnect it)",
};

export function scopeDescription(scope: string): string {
  return SCOPE_TEXT[scope] ?? `Use the permission “${scope}”`;
}

/** An Allow / Deny form (`decision=allow|deny`) carrying one hidden reference field. */
export function decisionForm(action: string, csrfToken: string, field: string, value: string): SafeHtml {
  return html`<form method="post" action="${action}">
${csrfField(csrfToken)}
<input type="hidden" name="${field}" value="${value}">
<div class="button-row">
<button class="button" type="submit" name="decision" value="allow">Allow</button>
<button class="button button--secondary" type="submit" name="decision" value="deny">Deny</button>
</div>
</form>`;
}

export function consentPage(model: ConsentPageModel): string {
  const body = html`<div class="card narrow">
${pageIntro(`Allow ${model.clientName}?`, html`<strong>${model.clientName}</strong> asks to use your account:`)}
<ul class="consent-list">
${model.scopes.map((scope) => html`<li>${scopeDescription(scope)}</li>`)}
</ul>
${
  model.resources.length > 0
    ? html`<p>Access is for: ${model.resources.map((r, i) => html`${i > 0 ? ", " : ""}<code>${r}</code>`)}</p>`
    : null
}
<p>You can disconnect it any time from your account's connected apps.</p>
${decisionForm("/authorize/consent", model.csrfToken, "request", model.requestId)}
</div>`;
  return layout({ title: `Allow ${model.clientName}?`, body, user: model.user, csrfToken: model.csrfToken });
}
