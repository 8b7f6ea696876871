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
  config_invalid: "A configuration value is missing or invalid; start-up stops. CLI exit code 2.",
  server_error: "An unexpected internal error; details are in the server log only. HTTP 500.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
