/**
 * The federation domain's refusals.
 *
 * - Administration (bad issuer, unknown provider, a discovery the outbound guard refused) answers with the
 *   existing stable codes: `invalid_request` (400) and `not_found` (404).
 * - A sign-in through an upstream that cannot complete is a `FederationSignInError`: `reason` is a stable
 *   sub-code for logs, audit and tests; `message` is what the person sees, never the upstream's own text (it
 *   could carry anything) nor a token.
 */
import { TesseraError } from "../lib/errors.js";

export class FederationError extends TesseraError {
  constructor(code: "invalid_request" | "not_found" | "forbidden_change", message: string, status?: number) {
    super({
      code,
      message,
      status: status ?? (code === "not_found" ? 404 : code === "forbidden_change" ? 403 : 400),
    });
  }
}

export const providerNotFound = () => new FederationError("not_found", "No such identity provider.");

export type FederationSignInReason =
  | "state_missing"
  | "state_unknown"
  | "state_provider_mismatch"
  | "browser_mismatch"
  | "provider_disabled"
  | "upstream_error"
  | "iss_mismatch"
  | "iss_missing"
  | "response_refused"
  | "upstream_unreachable"
  | "tenant_not_allowed"
  | "subject_missing"
  | "account_disabled"
  | "already_linked"
  | "link_user_mismatch"
  | "pending_link_gone"
  | "jit_disabled"
  | "invitation_invalid"
  | "invitation_already_linked"
  | "invitation_email_taken";

const MESSAGES: Partial<Record<FederationSignInReason, string>> = {
  upstream_error: "The sign-in at the other provider did not complete.",
  provider_disabled: "Sign-in with this provider is turned off.",
  upstream_unreachable: "The other provider could not be reached. Try again later.",
  tenant_not_allowed: "Accounts of your organisation cannot sign in here.",
  account_disabled: "This account cannot sign in. Contact your administrator.",
  already_linked: "That account is already linked to another Tessera account.",
  link_user_mismatch: "You signed in as someone else meanwhile. Start linking again.",
  pending_link_gone: "This step expired. Sign in again.",
  jit_disabled: "New accounts cannot be created through this provider.",
  invitation_invalid:
    "This invitation link is invalid, was already used, was withdrawn or has expired. Ask the person who invited you for a new one.",
  invitation_already_linked:
    "That account at the other provider already signs in to another account here, so it cannot accept this invitation. Your invitation is still open: open its link again to choose a password or another provider account.",
  invitation_email_taken:
    "An account with the invited e-mail address exists already, so the invitation cannot create another. Sign in to that account instead.",
};

export class FederationSignInError extends TesseraError {
  readonly reason: FederationSignInReason;
  constructor(reason: FederationSignInReason, detail?: string) {
    super({
      code: "invalid_request",
      message: MESSAGES[reason] ?? "The sign-in could not be completed. Start again from the sign-in page.",
      status: 400,
      detail: detail ?? reason,
    });
    this.reason = reason;
  }
}
