/**
 * The change-password page (`POST /account/password`) of a signed-in user.
 *
 * - Fields: `csrf` (hidden), `current_password` (`autocomplete="current-password"`), `new_password` and
 *   `confirm_password` (`autocomplete="new-password"`, `minlength`), and `sign_out_others`, ticked by default.
 * - No password is ever filled in; an error is a `role="alert"` box the fields point at.
 */
import {
  checkboxField,
  csrfField,
  errorSummary,
  type Flash,
  inputField,
  newPasswordFields,
  pageIntro,
  type UiUser,
} from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";

export interface ChangePasswordPageModel {
  csrfToken: string;
  user: UiUser;
  error?: string;
  minLength: number;
  /** Optional upper bound, rendered as `maxlength`. */
  maxLength?: number;
  flash?: Flash | null;
  /** State of "Sign out my other devices" after an error; ticked when absent. */
  signOutOthers?: boolean;
}

export function changePasswordPage(model: ChangePasswordPageModel): string {
  const errorId = model.error ? "form-error" : null;
  const body = html`${pageIntro("Change password", "You will stay signed in on this device.")}
<div class="card narrow">
${model.error ? errorSummary("form-error", model.error) : null}
<form method="post" action="/account/password">
${csrfField(model.csrfToken)}
${inputField({
  id: "current_password",
  name: "current_password",
  label: "Current password",
  type: "password",
  autocomplete: "current-password",
  required: true,
  describedBy: [errorId],
})}
${newPasswordFields({ minLength: model.minLength, maxLength: model.maxLength, errorId })}
${checkboxField({
  id: "sign_out_others",
  name: "sign_out_others",
  label: "Sign out my other devices",
  checked: model.signOutOthers !== false,
})}
<div class="actions">
<button class="button" type="submit">Change password</button>
<a href="/account">Cancel</a>
</div>
</form>
</div>`;
  return layout({
    title: "Change password",
    body,
    user: model.user,
    csrfToken: model.csrfToken,
    flash: model.flash,
    section: "password",
  });
}
