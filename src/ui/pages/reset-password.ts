/**
 * The "choose a new password" page reached from the e-mailed link: `POST /password/reset`.
 *
 * - Fields: `csrf` and `token` (hidden), `new_password` and `confirm_password` (`autocomplete="new-password"`,
 *   `minlength`), never pre-filled.
 * - The hint states the whole policy: a minimum length, no composition rules, common passwords refused.
 */
import { csrfField, errorSummary, newPasswordFields, pageIntro } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface ResetPasswordPageModel {
  csrfToken: string;
  /** The reset token from the link, posted back as `token`. */
  token: string;
  error?: string;
  minLength: number;
  /** Optional upper bound, rendered as `maxlength`. */
  maxLength?: number;
}

export function resetPasswordPage(model: ResetPasswordPageModel): string {
  const body = html`<div class="card">
${pageIntro("Choose a new password")}
${model.error ? errorSummary("form-error", model.error) : null}
<form method="post" action="/password/reset">
${csrfField(model.csrfToken)}
<input type="hidden" name="token" value="${model.token}">
${newPasswordFields({
  minLength: model.minLength,
  maxLength: model.maxLength,
  errorId: model.error ? "form-error" : null,
  autofocus: true,
})}
<button class="button button--block" type="submit">Set new password</button>
</form>
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`;
  return layout({ title: "Choose a new password", body, csrfToken: model.csrfToken });
}
