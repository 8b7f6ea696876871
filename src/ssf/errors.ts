/**
 * Refusals of the Shared Signals transmitter, with Tessera's stable codes (docs/errors.md). The HTTP layer
 * writes them as `{ "error", "error_description" }`, with an RFC 6750 challenge for 401 and 403.
 *
 * - 400 `invalid_request`: a malformed body or a value the transmitter does not accept.
 * - 401 `unauthorized` (no bearer token) / `invalid_token` (invalid, expired, revoked, for another audience, or
 *   not a receiver's own client-credentials token).
 * - 403 `insufficient_scope`: the token lacks `ssf.manage` (or `ssf.read` for reading).
 * - 403 `forbidden_change`: the receiver may not create more streams.
 * - 404 `not_found`: no stream with this id for this receiver (another receiver's stream is not found either).
 * - 429 `too_many_attempts`: verification asked for again within `min_verification_interval`.
 */
import { TesseraError } from "../lib/errors.js";

export type SsfErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "invalid_token"
  | "insufficient_scope"
  | "forbidden_change"
  | "not_found"
  | "too_many_attempts";

const STATUS: Record<SsfErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  forbidden_change: 403,
  not_found: 404,
  too_many_attempts: 429,
};

export class SsfError extends TesseraError {
  declare readonly code: SsfErrorCode;
  /** For `insufficient_scope`: the scope the request needed. */
  readonly scope: string | undefined;
  /** For `too_many_attempts`: seconds until a retry may succeed. */
  readonly retryAfter: number | undefined;

  constructor(
    code: SsfErrorCode,
    message: string,
    options: { detail?: string; scope?: string; retryAfter?: number } = {},
  ) {
    super({ code, message, status: STATUS[code], ...(options.detail ? { detail: options.detail } : {}) });
    this.scope = options.scope;
    this.retryAfter = options.retryAfter;
  }
}

export function invalidRequest(message: string): never {
  throw new SsfError("invalid_request", message);
}

export function streamNotFound(): never {
  throw new SsfError("not_found", "No stream with this stream_id exists for this receiver.");
}
