/**
 * Every stable error code Tessera answers with, and what it means. docs/errors.md lists the same codes;
 * test/lib/error-codes.test.ts fails when the page, this list or the code drift apart.
 */
export const ERROR_CODES = {
  invalid_request:
    "The request is malformed: bad JSON or form body, a missing or invalid parameter. HTTP 400.",
  unsupported_media_type: "The body's Content-Type is not accepted by this endpoint. HTTP 415.",
  request_too_large: "The body is larger than `bodyLimit`. HTTP 413.",
  not_found: "No such resource. HTTP 404.",
  unauthorized: "The endpoint needs credentials and none were sent. HTTP 401 with `WWW-Authenticate`.",
  invalid_token: "A bearer token was sent but is invalid, expired or revoked (RFC 6750 §3.1). HTTP 401.",
  key_rotation_too_soon:
    "A rotation would activate a key published for less than the JWKS max-age; retry later or force it. HTTP 409.",
  key_not_found: "No active signing key exists for the requested algorithm. HTTP 409.",
  master_key_mismatch:
    "Stored secrets were sealed with another master key than the configured one. HTTP 409 / start-up failure.",
  scim_error:
    "A SCIM request was refused; the body is a SCIM Error message with `status` and, for 400/409, `scimType` (RFC 7644 §3.12).",
  user_exists: "A user with this userName already exists (case-insensitive). HTTP 409.",
  user_changed: "The user changed since it was read (version mismatch); read it again and retry. HTTP 412.",
  user_not_found: "No such user. HTTP 404.",
  group_exists: "A group with this displayName already exists. HTTP 409.",
  group_not_found: "No such group. HTTP 404.",
  password_rejected:
    "The new password breaks the password policy (too short, too long, or on the blocklist of common and breached passwords). HTTP 400.",
  invalid_credentials:
    "The user name or password is wrong, or the account cannot sign in; deliberately one answer for all three. HTTP 401.",
  too_many_attempts:
    "Too many failed sign-ins for this account or client; wait `Retry-After` seconds. HTTP 429.",
  invalid_reset_token: "The password-reset link is unknown, used or expired. HTTP 400.",
  config_invalid: "A configuration value is missing or invalid; start-up stops. CLI exit code 2.",
  server_error: "An unexpected internal error; details are in the server log only. HTTP 500.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
