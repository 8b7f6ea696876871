/**
 * Self-service sign-up pages: the form (`POST /signup`), "check your e-mail", and the confirmation reached from
 * the e-mailed link (`POST /signup/verify`). Also the form fields the invitation page shares.
 *
 * - Fields: `csrf` (hidden), `return_to` (hidden, when continuing an OAuth request), `email` (`type="email"`,
 *   `autocomplete="email"`), `username` (optional, `autocomplete="username"`), `new_password` and
 *   `confirm_password` (`autocomplete="new-password"`, `minlength`), never pre-filled.
 * - Errors: a summary at the top (`role="alert"`, a link to each field in error) and each message next to its
 *   field, which carries `aria-invalid="true"` and points at the message with `aria-describedby`; focus starts on
 *   the first field in error. Messages start with "Error:" so that they do not rely on colour.
 * - "Check your e-mail" says the same thing whether or not the address already has an account: the mail tells
 *   the owner which it was.
 * - The confirmation asks for the password chosen at sign-up (a POST, so mail scanners that open links create
 *   nothing), and for another user name only when the chosen one was taken meanwhile.
 */
import { csrfField, pageIntro, passwordRulesHint, statusMessage } from "../components.js";
import { type HtmlValue, html, type SafeHtml } from "../html.js";
import { layout } from "../layout.js";
import { formatWait } from "./login.js";

/** The fields these forms can name in an error. */
export type OnboardingPageField = "email" | "userName" | "password" | "confirmPassword";

export type FieldErrors = Partial<Record<OnboardingPageField, string>>;

/** Form field name and element id of each field. */
export const FIELD_IDS: Record<OnboardingPageField, string> = {
  email: "email",
  userName: "username",
  password: "new_password",
  confirmPassword: "confirm_password",
};

const FIELD_ORDER: readonly OnboardingPageField[] = ["email", "userName", "password", "confirmPassword"];

/** The first field in error, for autofocus. */
export function firstErrorField(errors: FieldErrors | undefined): OnboardingPageField | undefined {
  return FIELD_ORDER.find((f) => errors?.[f] !== undefined);
}

/** A labelled input with an optional hint and an error next to it (aria-invalid, aria-describedby). */
export function formField(options: {
  id: string;
  label: string;
  type: "text" | "email" | "password";
  autocomplete: string;
  value?: string | null;
  required?: boolean;
  autofocus?: boolean;
  hint?: HtmlValue;
  error?: string;
  minLength?: number;
  maxLength?: number;
  verbatim?: boolean;
  /** Further ids the input is described by, e.g. the form-level error. */
  describedBy?: readonly (string | null | undefined)[];
}): SafeHtml {
  const hintId = options.hint === undefined ? null : `${options.id}-hint`;
  const errorId = options.error === undefined ? null : `${options.id}-error`;
  const describedBy = [hintId, errorId, ...(options.describedBy ?? [])].filter((v): v is string =>
    Boolean(v),
  );
  const value = options.type === "password" ? null : options.value;
  return html`<div class="field">
<label for="${options.id}">${options.label}</label>
${hintId ? html`<p class="hint" id="${hintId}">${options.hint}</p>` : null}
${errorId ? html`<p class="hint field-error" id="${errorId}"><strong>Error:</strong> ${options.error}</p>` : null}
<input class="input" id="${options.id}" name="${options.id}" type="${options.type}" autocomplete="${options.autocomplete}"${
    value !== null && value !== undefined && value !== "" ? html` value="${value}"` : null
  }${options.verbatim ? html` autocapitalize="none" autocorrect="off" spellcheck="false"` : null}${
    options.minLength !== undefined ? html` minlength="${options.minLength}"` : null
  }${options.maxLength !== undefined ? html` maxlength="${options.maxLength}"` : null}${
    describedBy.length > 0 ? html` aria-describedby="${describedBy.join(" ")}"` : null
  }${errorId ? html` aria-invalid="true"` : null}${options.required ? html` required` : null}${
    options.autofocus ? html` autofocus` : null
  }>
</div>`;
}

/** The summary at the top of a form: the form-level message and a link to each field in error. */
export function errorSummaryList(
  error: string | undefined,
  errors: FieldErrors | undefined,
  ids: Record<OnboardingPageField, string> = FIELD_IDS,
): SafeHtml | null {
  const fields = FIELD_ORDER.filter((f) => errors?.[f] !== undefined);
  if (error === undefined && fields.length === 0) return null;
  return html`<div class="alert alert--error" id="form-error" role="alert">
<p class="alert-title">${fields.length > 0 ? "Please check the form" : "That did not work"}</p>
${error !== undefined ? html`<p>${error}</p>` : null}
${
  fields.length > 0
    ? html`<ul>
${fields.map(
  (f) => html`<li><a href="${`#${ids[f]}`}">${errors?.[f] ?? ""}</a></li>
`,
)}</ul>`
    : null
}
</div>`;
}

/** `new_password` (with the policy hint) and `confirm_password`. */
export function newPasswordPair(options: {
  minLength: number;
  maxLength?: number;
  errors?: FieldErrors;
  autofocus?: OnboardingPageField;
  label?: string;
}): SafeHtml {
  const common = {
    type: "password",
    autocomplete: "new-password",
    required: true,
    minLength: options.minLength,
    maxLength: options.maxLength,
  } as const;
  return html`${formField({
    ...common,
    id: FIELD_IDS.password,
    label: options.label ?? "Password",
    hint: passwordRulesHint(options.minLength),
    error: options.errors?.password,
    autofocus: options.autofocus === "password",
  })}
${formField({
  ...common,
  id: FIELD_IDS.confirmPassword,
  label: "Confirm password",
  error: options.errors?.confirmPassword,
  autofocus: options.autofocus === "confirmPassword",
})}`;
}

export interface SignUpPageModel {
  csrfToken: string;
  returnTo?: string;
  /** Kept after an error (never the passwords). */
  values?: { email?: string; userName?: string };
  errors?: FieldErrors;
  /** A form-level message, e.g. the throttle's. */
  error?: string;
  retryAfterSeconds?: number;
  minLength: number;
  maxLength?: number;
  /** When sign-up is limited to some e-mail domains (said in the address's hint). */
  allowedDomains: readonly string[];
}

export function signUpPage(model: SignUpPageModel): string {
  const limited = model.retryAfterSeconds !== undefined;
  const formError = limited
    ? `${model.error ?? "Too many sign-ups."} Please wait ${formatWait(model.retryAfterSeconds!)} before trying again.`
    : model.error;
  const first = firstErrorField(model.errors) ?? (formError === undefined ? "email" : undefined);
  const formErrorId = formError !== undefined ? "form-error" : null;
  const loginHref =
    model.returnTo === undefined ? "/login" : `/login?return_to=${encodeURIComponent(model.returnTo)}`;
  const body = html`<div class="card">
${pageIntro("Create an account", "We will e-mail you a link to confirm your address.")}
${errorSummaryList(formError, model.errors)}
<form method="post" action="/signup" novalidate>
${csrfField(model.csrfToken)}
${model.returnTo !== undefined ? html`<input type="hidden" name="return_to" value="${model.returnTo}">` : null}
${formField({
  id: FIELD_IDS.email,
  label: "E-mail address",
  type: "email",
  autocomplete: "email",
  value: model.values?.email,
  verbatim: true,
  required: true,
  maxLength: 320,
  autofocus: first === "email",
  hint:
    model.allowedDomains.length > 0
      ? `Use an address at ${model.allowedDomains.join(", ")}.`
      : "We use it to confirm your account and to reset your password.",
  error: model.errors?.email,
  describedBy: [formErrorId],
})}
${formField({
  id: FIELD_IDS.userName,
  label: "User name (optional)",
  type: "text",
  autocomplete: "username",
  value: model.values?.userName,
  verbatim: true,
  maxLength: 256,
  autofocus: first === "userName",
  hint: "What you will sign in with. Leave it empty to sign in with your e-mail address.",
  error: model.errors?.userName,
})}
${newPasswordPair({
  minLength: model.minLength,
  ...(model.maxLength !== undefined ? { maxLength: model.maxLength } : {}),
  ...(model.errors ? { errors: model.errors } : {}),
  ...(first ? { autofocus: first } : {}),
})}
<button class="button button--block" type="submit">Create account</button>
</form>
</div>
<p class="card-footer">Already have an account? <a href="${loginHref}">Sign in</a></p>`;
  return layout({ title: "Create an account", body, csrfToken: model.csrfToken });
}

export function signUpSentPage(model: { email: string; ttlSeconds: number }): string {
  const minutes = Math.round(model.ttlSeconds / 60);
  const within =
    minutes % 60 === 0 ? `${minutes / 60} hour${minutes === 60 ? "" : "s"}` : `${minutes} minutes`;
  const body = html`<div class="card">
${pageIntro("Check your e-mail")}
${statusMessage({
  kind: "info",
  message: `We sent a message to ${model.email}. Open the link in it within ${within} to finish creating your account.`,
})}
<p class="muted">No e-mail after a few minutes? Check your spam folder, or <a href="/signup">sign up again</a>.</p>
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`;
  return layout({ title: "Check your e-mail", body });
}

export interface SignUpVerifyPageModel {
  csrfToken: string;
  token: string;
  userName: string;
  email: string;
  /** Ask for another user name (the chosen one is taken). */
  askUserName: boolean;
  values?: { userName?: string };
  errors?: FieldErrors;
  error?: string;
}

export function signUpVerifyPage(model: SignUpVerifyPageModel): string {
  const first = firstErrorField(model.errors) ?? (model.askUserName ? "userName" : "password");
  const body = html`<div class="card">
${pageIntro("Confirm your account", html`Enter the password you chose to finish creating the account for <strong>${model.email}</strong>.`)}
${errorSummaryList(model.error, model.errors, { ...FIELD_IDS, password: "password" })}
<form method="post" action="/signup/verify" novalidate>
${csrfField(model.csrfToken)}
<input type="hidden" name="token" value="${model.token}">
${
  model.askUserName
    ? formField({
        id: FIELD_IDS.userName,
        label: "User name",
        type: "text",
        autocomplete: "username",
        value: model.values?.userName ?? model.userName,
        verbatim: true,
        required: true,
        maxLength: 256,
        autofocus: first === "userName",
        hint: "The user name you chose is taken. Choose another.",
        error: model.errors?.userName,
      })
    : html`<p>User name: <strong>${model.userName}</strong></p>`
}
${formField({
  id: "password",
  label: "Your password",
  type: "password",
  autocomplete: "current-password",
  required: true,
  autofocus: first === "password",
  error: model.errors?.password,
})}
<button class="button button--block" type="submit">Create account</button>
</form>
</div>
<p class="card-footer"><a href="/login">Back to sign in</a></p>`;
  return layout({ title: "Confirm your account", body, csrfToken: model.csrfToken });
}
