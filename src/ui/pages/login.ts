/**
 * The sign-in page: `POST /login`.
 *
 * - Fields: `csrf` (hidden), `return_to` (hidden, only when given), `username`, `password`, `remember`.
 * - `username` is `autocomplete="username"`, not capitalised or spell-checked; `password` is
 *   `autocomplete="current-password"` and is never filled in, not even after an error. The user name is kept.
 * - An error (and a rate-limit wait, rounded up to whole minutes from a minute on) is shown above the form in a
 *   `role="alert"` box both fields point at with `aria-describedby`.
 * - Focus starts on the user name, or on the password when the user name is already filled in.
 * - "Sign in with a passkey" (and passkeys in the user-name autofill, `autocomplete="username webauthn"`) runs
 *   a WebAuthn ceremony from a same-origin script (the page's CSP allows `script-src 'self'` and nothing inline).
 */

import { SCRIPT_PATHS } from "../assets/page-scripts.js";
import {
  checkboxField,
  csrfField,
  errorSummary,
  inputField,
  pageIntro,
  statusMessage,
} from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { type ProviderButton, providerButtons } from "./federation.js";

export interface LoginPageModel {
  csrfToken: string;
  /** Where to go after signing in; posted back as `return_to` (the route validates it). */
  returnTo?: string;
  /** Kept after a failed attempt. */
  userName?: string;
  error?: string;
  /** Set when sign-in is rate limited: how long until the next attempt is accepted. */
  retryAfterSeconds?: number;
  /** A neutral notice above the form, e.g. "You have been signed out." */
  notice?: string;
  /** Keeps the "Keep me signed in" box ticked after a failed attempt. */
  remember?: boolean;
  /** Self-service sign-up is on: a "Create account" link (keeping `returnTo`). */
  signUp?: boolean;
  /** Enabled upstream identity providers: a "Continue with …" button each (ui/pages/federation.ts). */
  providers?: readonly ProviderButton[];
  /** A provider offers home-realm discovery: a "work e-mail" form. */
  homeRealm?: boolean;
}

/** "30 seconds", "1 minute", "5 minutes": the wait, rounded up. */
export function formatWait(seconds: number): string {
  const s = Math.max(1, Math.ceil(Number.isFinite(seconds) ? seconds : 60));
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.ceil(s / 60);
  return `${m} minute${m === 1 ? "" : "s"}`;
}

export function loginPage(model: LoginPageModel): string {
  const limited = model.retryAfterSeconds !== undefined;
  const hasError = Boolean(model.error) || limited;
  const message = [
    model.error || (limited ? "Too many sign-in attempts." : ""),
    limited ? `Please wait ${formatWait(model.retryAfterSeconds!)} before trying again.` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const errorId = hasError ? "form-error" : null;
  const userNameKnown = Boolean(model.userName);
  const body = html`<div class="card">
${pageIntro("Sign in", "Use your work account.")}
${model.notice ? statusMessage({ kind: "info", message: model.notice }) : null}
${hasError ? errorSummary("form-error", message) : null}
<form method="post" action="/login">
${csrfField(model.csrfToken)}
${model.returnTo !== undefined ? html`<input type="hidden" name="return_to" value="${model.returnTo}">` : null}
${inputField({
  id: "username",
  name: "username",
  label: "User name",
  type: "text",
  // `webauthn` last: browsers then offer passkeys in the user-name autofill (conditional UI).
  autocomplete: "username webauthn",
  value: model.userName,
  verbatim: true,
  required: true,
  autofocus: !userNameKnown,
  describedBy: [errorId],
})}
${inputField({
  id: "password",
  name: "password",
  label: "Password",
  type: "password",
  autocomplete: "current-password",
  required: true,
  autofocus: userNameKnown,
  describedBy: [errorId],
})}
${checkboxField({
  id: "remember",
  name: "remember",
  label: "Keep me signed in on this device",
  checked: model.remember === true,
})}
<button class="button button--block" type="submit">Sign in</button>
</form>
<div id="webauthn-form" data-csrf="${model.csrfToken}" data-return-to="${model.returnTo ?? ""}">
<div class="actions"><button class="button button--secondary" type="button" id="passkey-sign-in">Sign in with a passkey</button></div>
<p class="hint" id="passkey-sign-in-status" role="status"></p>
</div>
${providerButtons(model)}
<script src="${SCRIPT_PATHS.simpleWebAuthn}" defer></script>
<script src="${SCRIPT_PATHS.common}" defer></script>
<script src="${SCRIPT_PATHS.passkey}" defer></script>
</div>
<p class="card-footer"><a href="/password/forgot">Forgot your password?</a></p>
${
  model.signUp
    ? html`<p class="card-footer">New here? <a href="${
        model.returnTo === undefined ? "/signup" : `/signup?return_to=${encodeURIComponent(model.returnTo)}`
      }">Create account</a></p>`
    : null
}`;
  return layout({ title: "Sign in", body, csrfToken: model.csrfToken });
}
