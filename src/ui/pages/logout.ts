/**
 * "Sign out of Tessera?": the confirmation the end-session endpoint shows when it cannot tell that the
 * request comes from the signed-in user's own application (no valid `id_token_hint` for this user), so that a
 * link on another site cannot sign anyone out. Fields: `csrf`, and the validated `client_id`,
 * `post_logout_redirect_uri` and `state` to continue with.
 */
import { csrfField, pageIntro, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface LogoutConfirmModel {
  user: UiUser;
  csrfToken: string;
  clientName?: string;
  clientId?: string;
  postLogoutRedirectUri?: string;
  state?: string;
}

export function logoutConfirmPage(model: LogoutConfirmModel): string {
  const hidden = (name: string, value: string | undefined) =>
    value === undefined ? null : html`<input type="hidden" name="${name}" value="${value}">`;
  const body = html`<div class="card narrow">
${pageIntro(
  "Sign out?",
  model.clientName
    ? html`<strong>${model.clientName}</strong> asks to sign you out of Tessera and the applications you use with it.`
    : "Sign out of Tessera and the applications you use with it?",
)}
<form method="post" action="/end-session/confirm">
${csrfField(model.csrfToken)}
${hidden("client_id", model.clientId)}
${hidden("post_logout_redirect_uri", model.postLogoutRedirectUri)}
${hidden("state", model.state)}
<div class="button-row">
<button class="button" type="submit">Sign out</button>
<a class="button button--secondary" href="/account">Stay signed in</a>
</div>
</form>
</div>`;
  return layout({ title: "Sign out?", body, user: model.user, csrfToken: model.csrfToken });
}
