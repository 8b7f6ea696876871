/**
 * Errors are values with stable codes.
 *
 * - Every error Tessera raises on purpose is a `TesseraError` with a stable string `code`
 *   (listed in docs/errors.md; a test keeps the two in step) and the HTTP status it maps to.
 * - `message` is safe to show a client; `detail` is for logs only and never reaches a response.
 * - Domain code throws these; only `src/http` turns them into a protocol's wire format.
 */
export class TesseraError extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail: string | undefined;

  constructor(options: { code: string; message: string; status?: number; detail?: string; cause?: unknown }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status ?? 400;
    this.detail = options.detail;
  }
}

/** A configuration value is missing or invalid; start-up stops with this message. */
export class ConfigError extends TesseraError {
  constructor(message: string) {
    super({ code: "config_invalid", message, status: 500 });
  }
}

/** A JWT or opaque token was refused. `reason` is a stable sub-code for logs and tests. */
export class TokenError extends TesseraError {
  readonly reason: TokenErrorReason;
  constructor(reason: TokenErrorReason, detail?: string) {
    super({ code: "invalid_token", message: "The token is invalid.", status: 401, detail: detail ?? reason });
    this.reason = reason;
  }
}

export type TokenErrorReason =
  | "malformed"
  | "header_invalid"
  | "alg_not_allowed"
  | "key_unknown"
  | "signature_invalid"
  | "typ_mismatch"
  | "claims_invalid"
  | "expired"
  | "not_yet_valid"
  | "issuer_mismatch"
  | "audience_mismatch";

/** A key-management operation cannot be carried out (for example rotating too soon). */
export class KeyError extends TesseraError {
  constructor(code: "key_rotation_too_soon" | "key_not_found" | "master_key_mismatch", message: string) {
    super({ code, message, status: 409 });
  }
}

/** An account operation was refused; `code` says which rule. */
export class AccountError extends TesseraError {
  constructor(code: AccountErrorCode, message: string, status = 400) {
    super({ code, message, status });
  }
}

/** A multi-factor operation was refused (enrolment, registration, a ceremony's verification). */
export class MfaError extends TesseraError {
  constructor(code: MfaErrorCode, message: string, status = 400) {
    super({ code, message, status });
  }
}

export type MfaErrorCode =
  | "invalid_request"
  | "webauthn_failed"
  | "authenticator_not_allowed"
  | "factor_not_found";

/** An API-token or service-account operation was refused. */
export class ApiTokenError extends TesseraError {
  constructor(code: ApiTokenErrorCode, message: string, status = 400) {
    super({ code, message, status });
  }
}

export type ApiTokenErrorCode =
  | "invalid_request"
  | "invalid_scope"
  | "api_token_not_found"
  | "service_account_not_found"
  | "service_account_exists";

export type AccountErrorCode =
  | "invalid_request"
  | "user_exists"
  | "user_changed"
  | "group_changed"
  | "user_not_found"
  | "group_exists"
  | "group_not_found"
  | "password_rejected"
  | "invalid_credentials"
  | "too_many_attempts"
  | "invalid_reset_token"
  | "forbidden_change"
  | "already_admin"
  | "not_admin";
