/**
 * The "forgot your password" page: `POST /password/forgot`.
 *
 * - Fields: `csrf` (hidden) and `username` (a user name or an e-mail address, `autocomplete="username"`).
 * - After sending, one neutral message whatever happened: it never says whether an account matched.
 */
import { csrfField, errorSummary, inputField, pageIntro, statusMessage } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface ForgotPasswordPageModel {
  csrfToken: string;
  /** The request was accepted: show the neutral confirmation instead of the form. */
  sent?: boolean;
  error?: string;
}

export const RESET_SENT_MESSAGE =
  "If an account matches, we sent a link to its e-mail address. It works for 15 minutes.";

export function forgotPasswordPage(model: ForgotPasswordPageModel): string {
  const body = model.sent
    ? html`<div class="card">
${pageIntro("Check your e-mail")}
${statusMessage({ kind: "info", message: RESET_SENT_MESSAGE })}
<p class="muted">No e-mail after a few minutes? Check your spam folder, or <a href="/password/forgot">ask for another link</a>.</p>
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`
    : html`<div class="card">
${pageIntro("Reset your password", "Enter your user name or e-mail address and we will e-mail you a link to choose a new password.")}
${model.error ? errorSummary("form-error", model.error) : null}
<form method="post" action="/password/forgot">
${csrfField(model.csrfToken)}
${inputField({
  id: "username",
  name: "username",
  label: "User name or e-mail address",
  type: "text",
  autocomplete: "username",
  verbatim: true,
  required: true,
  autofocus: true,
  describedBy: [model.error ? "form-error" : null],
})}
<button class="button button--block" type="submit">Send reset link</button>
</form>
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`;
  return layout({
    title: model.sent ? "Check your e-mail" : "Reset your password",
    body,
    csrfToken: model.csrfToken,
  });
}
