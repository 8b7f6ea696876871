/**
 * The multi-factor steps of sign-in.
 *
 * - `/login/verify`: after the password, the second factor: an authenticator-app code (`autocomplete=
 *   "one-time-code"`, `inputmode="numeric"`), a security key or passkey (button + same-origin script), or a
 *   recovery code (verbatim text input). Only the factors the user has are offered.
 * - `/login/enrol`: the organisation (or an admin for this user) requires a second factor and the user has none:
 *   set up an authenticator app or register a security key before the sign-in completes.
 * - `/login/step-up`: a sensitive action needs a fresh proof: the password, an authenticator code or a security
 *   key (any one, like a "sudo mode"); the session's sign-in time is renewed.
 */

import { SCRIPT_PATHS } from "../assets/page-scripts.js";
import { csrfField, errorSummary, inputField, pageIntro, type UiUser } from "../components.js";
import { html, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";

export interface FactorChoices {
  totp: boolean;
  webauthn: boolean;
  recoveryCodes: boolean;
}

function codeField(errorId: string | null): SafeHtml {
  return html`<div class="field">
<label for="code">Code from your authenticator app</label>
<input class="input" id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]*" minlength="6" maxlength="6" autocomplete="one-time-code" autocapitalize="none" autocorrect="off" spellcheck="false" required autofocus${
    errorId ? html` aria-describedby="${errorId}"` : null
  }>
</div>`;
}

function keyButton(id: string, script: string): SafeHtml {
  return html`<div class="actions">
<button class="button button--secondary" type="button" id="${id}">Use your security key or passkey</button>
</div>
<p class="hint" id="${id}-status" role="status"></p>
<script src="${SCRIPT_PATHS.simpleWebAuthn}" defer></script>
<script src="${SCRIPT_PATHS.common}" defer></script>
<script src="${script}" defer></script>`;
}

export function verifyPage(model: { csrfToken: string; factors: FactorChoices; error?: string }): string {
  const errorId = model.error ? "form-error" : null;
  const body = html`<div class="card">
${pageIntro("Two-step verification", "Prove it is you with your second factor.")}
${model.error ? errorSummary("form-error", model.error) : null}
${
  model.factors.webauthn
    ? html`<section aria-labelledby="key-heading"><h2 id="key-heading">Security key or passkey</h2>
<div id="webauthn-form" data-csrf="${model.csrfToken}">${keyButton("webauthn-verify", SCRIPT_PATHS.verify)}</div></section>`
    : null
}
${
  model.factors.totp
    ? html`<section aria-labelledby="totp-heading"><h2 id="totp-heading">Authenticator app</h2>
<form method="post" action="/login/verify">
${csrfField(model.csrfToken)}
${codeField(errorId)}
<button class="button button--block" type="submit">Verify</button>
</form></section>`
    : null
}
${
  model.factors.recoveryCodes
    ? html`<details><summary>Use a recovery code</summary>
<form method="post" action="/login/verify">
${csrfField(model.csrfToken)}
${inputField({ id: "recovery_code", name: "recovery_code", label: "Recovery code", type: "text", autocomplete: "off", verbatim: true, required: true, describedBy: [errorId] })}
<button class="button" type="submit">Use recovery code</button>
</form></details>`
    : null
}
</div>
<p class="card-footer"><a href="/login">Start again</a></p>`;
  return layout({ title: "Two-step verification", body, csrfToken: model.csrfToken });
}

export function enrolPage(model: { csrfToken: string }): string {
  const body = html`<div class="card">
${pageIntro("Set up two-step verification", "Your organisation requires a second factor. Choose one to finish signing in.")}
<ul class="app-list">
<li class="app-item"><h2 class="app-name">Authenticator app</h2>
<p class="muted">Codes from an app such as Google Authenticator, Microsoft Authenticator or 1Password.</p>
<a class="button" href="/account/security/totp">Set up an authenticator app</a></li>
<li class="app-item"><h2 class="app-name">Security key or passkey</h2>
<p class="muted">A hardware key, or a passkey on this device or your phone. Resistant to phishing.</p>
<a class="button" href="/account/security/keys/new">Register a security key</a></li>
</ul>
</div>
<p class="card-footer"><a href="/login">Cancel</a></p>`;
  return layout({ title: "Set up two-step verification", body, csrfToken: model.csrfToken });
}

export function stepUpPage(model: {
  csrfToken: string;
  user: UiUser;
  returnTo: string;
  factors: FactorChoices;
  error?: string;
}): string {
  const errorId = model.error ? "form-error" : null;
  const body = html`<div class="card narrow">
${pageIntro("Confirm it is you", "This action needs a recent sign-in. Confirm with one of these.")}
${model.error ? errorSummary("form-error", model.error) : null}
${
  model.factors.webauthn
    ? html`<div id="webauthn-form" data-csrf="${model.csrfToken}" data-return-to="${model.returnTo}">${keyButton(
        "webauthn-step-up",
        SCRIPT_PATHS.stepUp,
      )}</div>`
    : null
}
${
  model.factors.totp
    ? html`<form method="post" action="/login/step-up">
${csrfField(model.csrfToken)}
<input type="hidden" name="return_to" value="${model.returnTo}">
${codeField(errorId)}
<button class="button" type="submit">Confirm with code</button>
</form>`
    : null
}
<form method="post" action="/login/step-up">
${csrfField(model.csrfToken)}
<input type="hidden" name="return_to" value="${model.returnTo}">
<input type="hidden" name="username" value="${model.user.userName}" autocomplete="username">
${inputField({ id: "password", name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true, autofocus: !model.factors.totp, describedBy: [errorId] })}
<button class="button" type="submit">Confirm with password</button>
</form>
</div>`;
  return layout({ title: "Confirm it is you", body, user: model.user, csrfToken: model.csrfToken });
}
