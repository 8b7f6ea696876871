/**
 * Refusals, as RFC 6750 §3, RFC 9470 §3 and RFC 9449 §7.1 answers.
 *
 * - One error class, `VerifyError`: the HTTP status, the spec's error code, a fixed safe description, the
 *   `WWW-Authenticate` challenge to send, and a log-only `reason` (a stable sub-code such as `expired` or
 *   `revoked`).
 * - Descriptions are fixed sentences: never the token, a claim's value or why a signature failed
 *   (honojs/hono#2415 leaked tokens through error messages).
 * - No token at all: 401 with a challenge and no error code (RFC 6750 §3.1). A malformed request: 400
 *   `invalid_request`. A bad token: 401 `invalid_token`. Missing scope: 403 `insufficient_scope` with the
 *   scope needed. Step-up (RFC 9470): 401 `insufficient_user_authentication` with `acr_values` / `max_age`.
 * - DPoP (RFC 9449 §7.1): a missing, doubled or invalid proof is 401 `invalid_dpop_proof`; a token used with the
 *   wrong scheme or the wrong key is 401 `invalid_token`. A request made with the `DPoP` scheme (or any request
 *   when DPoP is required) is answered with a `DPoP` challenge carrying `algs`; a DPoP-bound token sent as a
 *   bearer token gets the `Bearer` challenge followed by a `DPoP` one, so the client learns which scheme to use.
 * - Tessera (or the network) failing is not the token's fault: 503 `temporarily_unavailable` with no
 *   challenge, so clients do not throw away a good token and monitoring can tell an outage from an attack.
 *   Either way nothing is let through (fail closed).
 */
import type { DpopRefusal } from "../../lib/dpop.js";
import { TesseraError, type TokenErrorReason } from "../../lib/errors.js";

/** The error code a refusal answers with (RFC 6750 §3.1, RFC 9470 §3, RFC 6749 §4.1.2.1). */
export type VerifyErrorCode =
  | "unauthorized"
  | "invalid_request"
  | "invalid_token"
  | "invalid_dpop_proof"
  | "insufficient_scope"
  | "insufficient_user_authentication"
  | "temporarily_unavailable";

/** Why a request was refused: stable, for logs and tests; never sent to the client. */
export type RefusalReason =
  // Every reason the JWT verifier (crypto/jwt) refuses a token for, as it names them.
  | TokenErrorReason
  | "no_token"
  | "header_malformed"
  | "token_in_query"
  | "prefix_unknown"
  | "checksum_invalid"
  | "inactive"
  | "kind_mismatch"
  | "revoked"
  /** A DPoP-bound token (`cnf.jkt`) presented as a bearer token, or to `verify` without its proof. */
  | "dpop_bound"
  /** A token without `cnf.jkt` presented with the `DPoP` scheme. */
  | "dpop_not_bound"
  /** A bearer token where the verifier requires DPoP (`dpop: "required"`). */
  | "dpop_required"
  /** The proof's key is not the key the token is bound to (`jkt` ≠ `cnf.jkt`). */
  | "dpop_key_mismatch"
  /** No `DPoP` header with a DPoP-scheme token. */
  | "dpop_proof_missing"
  /** More than one `DPoP` header (RFC 9449 §4.3 step 1). */
  | "dpop_proof_multiple"
  /** The request's full URL is not known (no `publicOrigin` and a relative `url`), so `htu` cannot be checked. */
  | "dpop_url_unknown"
  /** The proof failed one of RFC 9449 §4.3's checks, or was seen before (`dpop_proof_replayed`). */
  | `dpop_proof_${DpopRefusal}`
  | "ip_not_allowed"
  /** An encrypted (JWE) access token could not be decrypted with `decryptionKeys`, or is not a nested JWT. */
  | "decryption_failed"
  /** An encrypted access token, and the verifier has no `decryptionKeys`. */
  | "decryption_not_configured"
  /** A signed access token that was not encrypted, where `requireEncryption` is set. */
  | "encryption_required"
  | "introspection_not_configured"
  | "scope_missing"
  | "acr_not_accepted"
  | "auth_time_too_old"
  | "discovery_unavailable"
  | "jwks_unavailable"
  | "introspection_unavailable"
  | "revocations_unavailable"
  /** The DPoP replay cache failed (a shared store unreachable): proofs cannot be checked for reuse. */
  | "dpop_replay_unavailable";

const STATUS = {
  unauthorized: 401,
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  insufficient_scope: 403,
  insufficient_user_authentication: 401,
  temporarily_unavailable: 503,
} as const satisfies Record<VerifyErrorCode, number>;

const DESCRIPTION: Record<VerifyErrorCode, string> = {
  unauthorized: "An access token is required.",
  invalid_request: "The Authorization header is malformed.",
  invalid_token: "The access token is invalid, expired or revoked.",
  invalid_dpop_proof: "The DPoP proof is invalid.",
  insufficient_scope: "The access token lacks a scope this resource requires.",
  insufficient_user_authentication: "A different authentication level is required.",
  temporarily_unavailable: "The access token cannot be checked right now; try again later.",
};

/** Sentences more precise than the code's own, where saying more helps the client and tells it nothing secret. */
const REASON_DESCRIPTION: Partial<Record<RefusalReason, string>> = {
  token_in_query: "Send the access token in the Authorization header only.",
  expired: "The access token expired.",
  auth_time_too_old: "A more recent authentication is required.",
  dpop_bound: "The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.",
  dpop_not_bound: "The access token is not DPoP-bound: the DPoP scheme cannot be used with it.",
  dpop_required: "A DPoP-bound access token is required.",
  dpop_key_mismatch: "The DPoP proof's key is not the key the access token is bound to.",
  dpop_proof_missing: "A DPoP proof is required.",
  dpop_proof_multiple: "Send exactly one DPoP proof.",
  dpop_proof_htm: "The DPoP proof's htm does not match the request method.",
  dpop_proof_htu: "The DPoP proof's htu does not match the request URL.",
  dpop_proof_iat: "The DPoP proof's iat is too old or in the future.",
  dpop_proof_ath: "The DPoP proof's ath does not match the access token.",
  dpop_proof_replayed: "The DPoP proof was already used.",
};

function codeOf(reason: RefusalReason): VerifyErrorCode {
  switch (reason) {
    case "no_token":
      return "unauthorized";
    case "header_malformed":
    case "token_in_query":
      return "invalid_request";
    case "scope_missing":
      return "insufficient_scope";
    case "acr_not_accepted":
    case "auth_time_too_old":
      return "insufficient_user_authentication";
    case "discovery_unavailable":
    case "jwks_unavailable":
    case "introspection_unavailable":
    case "revocations_unavailable":
    case "dpop_replay_unavailable":
      return "temporarily_unavailable";
    case "dpop_proof_missing":
    case "dpop_proof_multiple":
    case "dpop_url_unknown":
      return "invalid_dpop_proof";
    default:
      // Every RFC 9449 §4.3 refusal of the proof itself.
      return reason.startsWith("dpop_proof_") ? "invalid_dpop_proof" : "invalid_token";
  }
}

/** A quoted-string (RFC 9110 §5.6.4); the values put here are ours, escaping is belt and braces. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

export interface ChallengeParameters {
  /** `realm` of the challenge (RFC 6750 §3). */
  realm?: string | undefined;
  /** Scopes needed, for `insufficient_scope`. */
  scope?: readonly string[] | undefined;
  /** Acceptable `acr` values, for step-up (RFC 9470 §3). */
  acrValues?: readonly string[] | undefined;
  /** Maximum authentication age in seconds, for step-up (RFC 9470 §3). */
  maxAge?: number | undefined;
  /** The scheme of the challenge carrying the error: `Bearer` (default) or `DPoP` (RFC 9449 §7.1). */
  scheme?: "Bearer" | "DPoP" | undefined;
  /**
   * The DPoP proof algorithms accepted (`algs`, RFC 9449 §7.1). Given, a `DPoP` challenge is sent: the only one
   * when `scheme` is `DPoP`, after the `Bearer` one otherwise.
   */
  dpopAlgs?: readonly string[] | undefined;
}

/** A refusal inside the verifier; `createVerifier` turns it into a `VerifyError` with the challenge. */
export class Refusal extends Error {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason) {
    super(reason);
    this.reason = reason;
  }
}

/**
 * A request the verifier refuses. Adapters turn it into a response with `status`, the `wwwAuthenticate`
 * header (when defined) and the body `{ error, error_description }`.
 * @see RFC 6750 §3, RFC 9470 §3
 */
export class VerifyError extends TesseraError {
  /** The error code (RFC 6750 §3.1; `unauthorized` when no token was sent, which has none on the wire). */
  readonly error: VerifyErrorCode;
  /** A fixed sentence safe to show the client. */
  readonly description: string;
  /** Why, for logs only. */
  readonly reason: RefusalReason;
  /** The `WWW-Authenticate` header value; undefined for 503. */
  readonly wwwAuthenticate: string | undefined;
  declare readonly status: 400 | 401 | 403 | 503;

  constructor(reason: RefusalReason, challenge: ChallengeParameters = {}) {
    const error = codeOf(reason);
    const description = REASON_DESCRIPTION[reason] ?? DESCRIPTION[error];
    super({ code: error, message: description, status: STATUS[error], detail: reason });
    this.error = error;
    this.description = description;
    this.reason = reason;
    this.wwwAuthenticate =
      error === "temporarily_unavailable" ? undefined : buildChallenge(error, description, challenge);
  }

  /** The JSON body adapters send. */
  toJSON(): { error: VerifyErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

function buildChallenge(error: VerifyErrorCode, description: string, p: ChallengeParameters): string {
  const params: string[] = [];
  if (p.realm !== undefined) params.push(`realm=${quote(p.realm)}`);
  // RFC 6750 §3.1: a request without any credentials gets no error code.
  if (error !== "unauthorized") {
    params.push(`error=${quote(error)}`, `error_description=${quote(description)}`);
  }
  if (error === "insufficient_scope" && p.scope?.length) params.push(`scope=${quote(p.scope.join(" "))}`);
  if (error === "insufficient_user_authentication") {
    if (p.acrValues?.length) params.push(`acr_values=${quote(p.acrValues.join(" "))}`);
    if (p.maxAge !== undefined) params.push(`max_age=${quote(String(p.maxAge))}`);
  }
  const algs = p.dpopAlgs?.length ? `algs=${quote(p.dpopAlgs.join(" "))}` : undefined;
  if (p.scheme === "DPoP") {
    if (algs !== undefined) params.push(algs);
    return params.length === 0 ? "DPoP" : `DPoP ${params.join(", ")}`;
  }
  const bearer = params.length === 0 ? "Bearer" : `Bearer ${params.join(", ")}`;
  if (algs === undefined) return bearer;
  // RFC 9110 §11.6.1: several challenges in one header, comma-separated.
  const dpop = [...(p.realm === undefined ? [] : [`realm=${quote(p.realm)}`]), algs];
  return `${bearer}, DPoP ${dpop.join(", ")}`;
}
