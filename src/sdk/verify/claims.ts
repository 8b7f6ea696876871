/**
 * What a verified token says, in one shape whatever the token was, and the per-route requirements on it.
 *
 * - JWT access tokens must carry RFC 9068 §2.2's claims: `sub`, `client_id`, `iat`, `jti` (and `iss`, `aud`,
 *   `exp`, which `verifyJwt` checks); `scope` is a space-separated string when present.
 * - Introspection answers (RFC 7662 §2.2) must be `active: true`, a `Bearer` or `DPoP` token, for this issuer
 *   (when `iss` is given) and for this audience (`aud` required), unexpired (`exp` may be absent only for API
 *   tokens, which may never expire), with a `sub`; `tessera_token_kind` must agree with the token's prefix.
 * - A token bound to a DPoP key (RFC 9449 §6) carries `cnf.jkt`, a non-empty string; it is kept in the claims,
 *   and the verifier checks the request's proof against it on every use (never here: these claims are cached,
 *   proofs are per request). An introspection answer with `token_type: "DPoP"` must carry `cnf.jkt`; one with
 *   `cnf.jkt` counts as bound whatever its `token_type` says (fail closed).
 * - Requirements: every scope asked for must be granted (else 403); step-up (RFC 9470): `acr` among
 *   `acrValues`, and `auth_time` no older than `maxAge` seconds (plus the clock tolerance).
 */
import { Refusal } from "./errors.js";

/** How the token was presented and checked. */
export type TokenKind = "jwt" | "opaque" | "personal" | "service";

/** The claims of a verified access token (RFC 9068 §2.2 names; introspection answers map onto the same). */
export interface AccessTokenClaims {
  /** `jwt`: a signed access token; `opaque`: a `tsr_at_` access token; `personal`/`service`: API tokens. */
  readonly tokenKind: TokenKind;
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | readonly string[];
  /** Space-separated granted scopes (`""` when none). */
  readonly scope: string;
  /** `scope`, split. */
  readonly scopes: readonly string[];
  /** The OAuth client the token was issued to (absent for API tokens). */
  readonly client_id?: string;
  /** Seconds since the epoch; absent for an API token that never expires. */
  readonly exp?: number;
  readonly iat?: number;
  /** The token's id; for API tokens, the token id. */
  readonly jti?: string;
  readonly auth_time?: number;
  readonly acr?: string;
  readonly amr?: readonly string[];
  /** The user's name, when the introspection answer gives one. */
  readonly username?: string;
  /**
   * Confirmation (RFC 7800): `jkt` is the RFC 7638 SHA-256 thumbprint of the DPoP key the token is bound to
   * (RFC 9449 §6). A token with `cnf.jkt` is only accepted with a proof made with that key.
   */
  readonly cnf?: { readonly jkt?: string };
  /** Any other claim the token carries. */
  readonly [claim: string]: unknown;
}

/** What a route asks of a token beyond being valid. */
export interface Requirements {
  /** Scopes that must all be granted (an array, or one space-separated string). */
  scopes?: string | readonly string[];
  /** Step-up (RFC 9470): the token's `acr` must be one of these. */
  acrValues?: readonly string[];
  /** Step-up (RFC 9470): the user must have authenticated at most this many seconds ago. */
  maxAge?: number;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const optional = <T>(v: unknown, is: (v: unknown) => v is T): boolean => v === undefined || is(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function splitScope(scope: string): readonly string[] {
  return Object.freeze(scope.split(" ").filter((s) => s !== ""));
}

function freezeClaims(claims: Record<string, unknown>): AccessTokenClaims {
  if (Array.isArray(claims.aud)) Object.freeze(claims.aud);
  if (Array.isArray(claims.amr)) Object.freeze(claims.amr);
  if (typeof claims.cnf === "object" && claims.cnf !== null) Object.freeze(claims.cnf);
  return Object.freeze(claims) as AccessTokenClaims;
}

/** `cnf`, when present, is an object; its `jkt`, when present, a non-empty string. */
function isConfirmation(cnf: unknown): boolean {
  if (cnf === undefined) return true;
  if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) return false;
  const { jkt } = cnf as { jkt?: unknown };
  return jkt === undefined || (isString(jkt) && jkt !== "");
}

/** Checks the common optional claims' types; throws `claims_invalid`. */
function checkCommon(c: Record<string, unknown>): void {
  if (
    !isString(c.sub) ||
    !optional(c.scope, isString) ||
    !optional(c.client_id, isString) ||
    !optional(c.jti, isString) ||
    !optional(c.iat, isNumber) ||
    !optional(c.auth_time, isNumber) ||
    !optional(c.acr, isString) ||
    !optional(c.amr, isStringArray) ||
    !isConfirmation(c.cnf)
  ) {
    throw new Refusal("claims_invalid");
  }
}

/** Claims of a JWT whose signature, `typ`, `iss`, `aud`, `exp` and `nbf` `verifyJwt` already checked. */
export function claimsFromJwt(payload: Record<string, unknown>): AccessTokenClaims {
  checkCommon(payload);
  // RFC 9068 §2.2: these are required in a JWT access token.
  if (!isString(payload.client_id) || !isNumber(payload.iat) || !isString(payload.jti)) {
    throw new Refusal("claims_invalid");
  }
  const scope = (payload.scope as string | undefined) ?? "";
  return freezeClaims({ ...payload, tokenKind: "jwt", scope, scopes: splitScope(scope) });
}

const NOT_CLAIMS = new Set(["active", "token_type", "tessera_token_kind", "tessera_allowed_ips"]);

/**
 * Claims of an active introspection answer for a token of `kind`; throws a `Refusal` when the answer does
 * not describe a valid access token for this resource server.
 */
export function claimsFromIntrospection(
  body: Record<string, unknown>,
  kind: Exclude<TokenKind, "jwt">,
  expected: { issuer: string; audience: readonly string[]; nowSeconds: number; tolerance: number },
): AccessTokenClaims {
  if (body.active !== true) throw new Refusal("inactive");
  const tokenType = body.token_type;
  if (tokenType !== undefined && (!isString(tokenType) || !/^(?:bearer|dpop)$/i.test(tokenType))) {
    throw new Refusal("inactive");
  }
  const tokenKind = body.tessera_token_kind;
  if (kind === "opaque" ? tokenKind !== undefined && tokenKind !== "opaque" : tokenKind !== kind) {
    throw new Refusal("kind_mismatch");
  }
  checkCommon(body);
  // RFC 9449 §6.2: a DPoP token's answer says which key; without it the binding could not be checked.
  if (
    isString(tokenType) &&
    tokenType.toLowerCase() === "dpop" &&
    (body.cnf as { jkt?: unknown } | undefined)?.jkt === undefined
  ) {
    throw new Refusal("claims_invalid");
  }
  if (body.iss !== undefined && body.iss !== expected.issuer) throw new Refusal("issuer_mismatch");
  const aud = body.aud;
  const audiences = isString(aud) ? [aud] : isStringArray(aud) ? aud : undefined;
  if (audiences === undefined || !audiences.some((a) => expected.audience.includes(a))) {
    throw new Refusal("audience_mismatch");
  }
  const { exp, nbf } = body;
  if (!optional(exp, isNumber) || !optional(nbf, isNumber)) throw new Refusal("claims_invalid");
  if (exp === undefined && kind === "opaque") throw new Refusal("claims_invalid");
  if (exp !== undefined && (exp as number) <= expected.nowSeconds - expected.tolerance)
    throw new Refusal("expired");
  if (nbf !== undefined && (nbf as number) > expected.nowSeconds + expected.tolerance)
    throw new Refusal("not_yet_valid");
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) if (!NOT_CLAIMS.has(name)) claims[name] = value;
  const scope = (body.scope as string | undefined) ?? "";
  return freezeClaims({ ...claims, iss: expected.issuer, tokenKind: kind, scope, scopes: splitScope(scope) });
}

/** Requirements with `scopes` as an array. */
export interface CheckedRequirements {
  scopes: readonly string[];
  acrValues: readonly string[] | undefined;
  maxAge: number | undefined;
}

/** Normalises and checks a route's requirements once (TypeError on nonsense, a programming error). */
export function checkRequirements(requirements: Requirements | undefined): CheckedRequirements {
  const scopes = requirements?.scopes;
  const list = scopes === undefined ? [] : isString(scopes) ? splitScope(scopes) : [...scopes];
  const { acrValues, maxAge } = requirements ?? {};
  if (!list.every((s) => isString(s) && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s))) {
    throw new TypeError("scopes must be scope tokens (RFC 6749 §3.3)");
  }
  if (acrValues !== undefined && (!isStringArray(acrValues) || acrValues.length === 0)) {
    throw new TypeError("acrValues must be a non-empty array of strings");
  }
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0)) {
    throw new TypeError("maxAge must be a non-negative integer (seconds)");
  }
  return { scopes: list, acrValues, maxAge };
}
