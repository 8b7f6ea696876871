/**
 * The invitation page reached from the e-mailed link: `POST /invitations/accept`.
 *
 * - Shows the invited address (fixed: the link proved it) and the groups the account will join.
 * - Fields: `csrf` and `token` (hidden), `username` (pre-filled with the address, `autocomplete="username"`),
 *   `new_password` and `confirm_password` (`autocomplete="new-password"`), never pre-filled.
 * - Errors as on the sign-up page: a summary linking to each field, each message next to its field
 *   (`aria-invalid`, `aria-describedby`), focus on the first field in error.
 * - Below the form, one "Continue with {displayName}" button per enabled identity provider (the sign-in page's
 *   buttons, src/ui/pages/federation.ts): a POST to `/federation/{id}/start` with `intent=invitation` and the
 *   link's token, to accept by signing in there instead of choosing a password.
 */
import { csrfField, formatUtc, pageIntro } from "../components.js";
import { html } from "../html.js";
import { layout } from "../layout.js";
import { type ProviderButton, providerButtons } from "./federation.js";
import {
  errorSummaryList,
  FIELD_IDS,
  type FieldErrors,
  firstErrorField,
  formField,
  newPasswordPair,
} from "./sign-up.js";

export interface InvitationAcceptPageModel {
  csrfToken: string;
  token: string;
  email: string;
  groups: readonly string[];
  expiresAt: number;
  values?: { userName?: string };
  errors?: FieldErrors;
  error?: string;
  minLength: number;
  maxLength?: number;
  /** Enabled identity providers the invitation can be accepted through. */
  providers?: readonly ProviderButton[];
}

export function invitationAcceptPage(model: InvitationAcceptPageModel): string {
  const first = firstErrorField(model.errors) ?? "password";
  const body = html`<div class="card">
${pageIntro("Accept your invitation", html`Create your account for <strong>${model.email}</strong>.`)}
${model.groups.length > 0 ? html`<p>You will join: ${model.groups.join(", ")}.</p>` : null}
<p class="muted">This invitation expires on ${formatUtc(model.expiresAt)}.</p>
${errorSummaryList(model.error, model.errors)}
<form method="post" action="/invitations/accept" novalidate>
${csrfField(model.csrfToken)}
<input type="hidden" name="token" value="${model.token}">
${formField({
  id: FIELD_IDS.userName,
  label: "User name",
  type: "text",
  autocomplete: "username",
  value: model.values?.userName ?? model.email,
  verbatim: true,
  required: true,
  maxLength: 256,
  autofocus: first === "userName",
  hint: "What you will sign in with. Your e-mail address works too.",
  error: model.errors?.userName,
})}
${newPasswordPair({
  minLength: model.minLength,
  ...(model.maxLength !== undefined ? { maxLength: model.maxLength } : {}),
  ...(model.errors ? { errors: model.errors } : {}),
  autofocus: first,
})}
<button class="button button--block" type="submit">Create account</button>
</form>
${providerButtons({
  csrfToken: model.csrfToken,
  providers: model.providers,
  heading: "Or accept with an account you have elsewhere",
  hidden: { intent: "invitation", invitation: model.token },
})}
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`;
  return layout({ title: "Accept your invitation", body, csrfToken: model.csrfToken });
}
