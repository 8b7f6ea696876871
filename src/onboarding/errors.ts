/**
 * The onboarding domain's refusals: stable codes (docs/errors.md), and for forms the field each message belongs
 * to, so a page can put the message next to its field.
 */
import { TesseraError } from "../lib/errors.js";

export type OnboardingErrorCode =
  | "invalid_request"
  | "not_found"
  | "password_rejected"
  | "invalid_credentials"
  | "user_exists"
  | "email_taken"
  | "email_domain_not_allowed"
  | "too_many_attempts"
  | "invalid_sign_up_link"
  | "invalid_invitation"
  | "invitation_not_found"
  | "invitation_accepted";

/** The form fields of the sign-up, confirmation and invitation pages. */
export type FormField = "email" | "userName" | "password" | "confirmPassword";

export class OnboardingError extends TesseraError {
  declare readonly code: OnboardingErrorCode;
  /** Per-field messages, for forms; empty for refusals of the whole request. */
  readonly fields: Readonly<Partial<Record<FormField, string>>>;

  constructor(
    code: OnboardingErrorCode,
    message: string,
    options: { status?: number; fields?: Partial<Record<FormField, string>> } = {},
  ) {
    super({ code, message, status: options.status ?? 400 });
    this.fields = Object.freeze({ ...options.fields });
  }
}

/** Too many requests for one address or from one client: wait `retryAfterSeconds`. */
export class OnboardingThrottledError extends OnboardingError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterMs: number) {
    super("too_many_attempts", message, { status: 429 });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

/** One or more fields of a form were refused; the error's code is the first field's. */
export function fieldErrors(
  refusals: readonly { field: FormField; code: OnboardingErrorCode; message: string }[],
): OnboardingError | undefined {
  const first = refusals[0];
  if (!first) return undefined;
  const fields: Partial<Record<FormField, string>> = {};
  for (const r of refusals) fields[r.field] ??= r.message;
  return new OnboardingError(first.code, first.message, { fields });
}
