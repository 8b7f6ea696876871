/**
 * The device sign-in pages (RFC 8628 user interaction), for a signed-in user:
 * - `GET /device`: "Connect a device": one field for the code the device shows (`user_code`, prefilled from
 *   `verification_uri_complete`), posted to `/device`. An error (unknown or expired code) is shown in place.
 * - The confirmation after a good code: which application, what it asks for, Allow / Deny, posted to
 *   `/device/confirm` with the code.
 */
import { csrfField, errorSummary, inputField, pageIntro, type UiUser } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { decisionForm, scopeDescription } from "./consent.js";

export function deviceCodePage(model: {
  user: UiUser;
  csrfToken: string;
  userCode?: string;
  error?: string;
}): string {
  const body = html`<div class="card narrow">
${pageIntro("Connect a device", "Enter the code your device or command line shows.")}
${model.error ? errorSummary("device-error", model.error) : null}
<form method="post" action="/device">
${csrfField(model.csrfToken)}
${inputField({
  id: "user_code",
  name: "user_code",
  label: "Code",
  type: "text",
  autocomplete: "off",
  value: model.userCode,
  verbatim: true,
  required: true,
  autofocus: true,
  maxLength: 16,
  describedBy: [model.error ? "device-error" : null],
})}
<button class="button button--block" type="submit">Continue</button>
</form>
</div>`;
  return layout({ title: "Connect a device", body, user: model.user, csrfToken: model.csrfToken });
}

export function deviceConfirmPage(model: {
  user: UiUser;
  csrfToken: string;
  userCode: string;
  clientName: string;
  scopes: string[];
}): string {
  const body = html`<div class="card narrow">
${pageIntro(`Connect ${model.clientName}?`, html`A device signing in as <strong>${model.clientName}</strong> asks to:`)}
<ul class="consent-list">
${model.scopes.map((scope) => html`<li>${scopeDescription(scope)}</li>`)}
</ul>
<p>Only allow this if you started it yourself and the code matches: <strong>${model.userCode}</strong>.</p>
${decisionForm("/device/confirm", model.csrfToken, "user_code", model.userCode)}
</div>`;
  return layout({
    title: `Connect ${model.clientName}?`,
    body,
    user: model.user,
    csrfToken: model.csrfToken,
  });
}
