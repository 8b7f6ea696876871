/**
 * Tessera's JWT policy: the rules both verifiers (the fast path in `verify.ts` and the `jose` reference in
 * `verify-reference.ts`) apply before and around signature checking, so that they accept exactly the same
 * tokens.
 *
 * - Only compact JWS: three non-empty base64url segments (RFC 7515 §3.1, §2: no padding, no whitespace),
 *   at most `MAX_JWT_LENGTH` characters.
 * - Algorithm allowlist: EdDSA, ES256, RS256 only. `none` and every HMAC algorithm are refused outright, so a
 *   public key can never be used as an HMAC secret (algorithm confusion, RFC 8725 §2.1).
 * - The protected header may hold only `alg`, `kid` and `typ`. Header-supplied keys and key URLs (`jwk`,
 *   `jku`, `x5u`, `x5c`, RFC 8725 §3.10), `crit`, `b64` and anything else are refused.
 * - `kid` is required and must name a key whose own algorithm equals the header's `alg`.
 * - `exp` is required; clock tolerance is at most 60 seconds.
 */
import type { KeyObject } from "node:crypto";
import { TokenError } from "../../lib/errors.js";

export const JWS_ALGORITHMS = ["EdDSA", "ES256", "RS256"] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

export const MAX_JWT_LENGTH = 16 * 1024;
export const MAX_CLOCK_TOLERANCE = 60;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ALLOWED_HEADER_PARAMETERS = new Set(["alg", "kid", "typ"]);

/** A public key that may verify tokens, as found by `kid`. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly publicKey: KeyObject;
}

/** A private key Tessera signs with. */
export interface SigningKeyHandle {
  readonly kid: string;
  readonly alg: JwsAlgorithm;
  readonly privateKey: KeyObject;
}

/** Finds a verification key by `kid`; undefined when the kid is unknown. */
export type KeyResolver = (kid: string) => VerificationKey | undefined;

export interface JwtHeader {
  alg: JwsAlgorithm;
  kid: string;
  typ?: string;
}

export interface JwtClaims {
  [claim: string]: unknown;
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
}

export interface VerifyJwtOptions {
  /** Resolves `kid` to a key. */
  keys: KeyResolver;
  /** Algorithms accepted (a subset of `JWS_ALGORITHMS`); default: all of them. */
  algorithms?: readonly JwsAlgorithm[];
  /** Required `typ` header value (compared as RFC 8725 §3.11 / jose do: case-insensitive, `application/` optional). */
  typ?: string;
  /** Accepted issuer(s). */
  issuer?: string | readonly string[];
  /** Accepted audience(s): the token's `aud` must contain at least one. */
  audience?: string | readonly string[];
  /** Seconds of clock skew tolerated for `exp` and `nbf`, 0–60 (default 0). */
  clockTolerance?: number;
  /** The current time, for tests; default `Date.now()`. */
  now?: () => number;
  /**
   * Also accept RFC 9864's fully-specified `alg: "Ed25519"` as `EdDSA` (when `EdDSA` is allowed). Off by
   * default; on for client assertions, which current clients (openid-client 6) sign that way.
   */
  acceptEd25519Name?: boolean;
}

export interface VerifiedJwt {
  header: JwtHeader;
  payload: JwtClaims;
}

export const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Checks the overall compact shape; throws `malformed`. Returns the positions of the two dots. */
export function checkCompactShape(token: unknown): [number, number] {
  if (typeof token !== "string" || token.length > MAX_JWT_LENGTH || !COMPACT_JWS.test(token)) {
    throw new TokenError("malformed");
  }
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  // A base64url string of length 4n+1 cannot encode whole bytes.
  if (first % 4 === 1 || (second - first - 1) % 4 === 1 || (token.length - second - 1) % 4 === 1) {
    throw new TokenError("malformed");
  }
  return [first, second];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Checks a decoded protected header against the policy; throws `header_invalid` or `alg_not_allowed`. */
export function checkHeader(
  header: unknown,
  algorithms: readonly JwsAlgorithm[],
  acceptEd25519Name = false,
): JwtHeader {
  if (!isPlainObject(header)) throw new TokenError("header_invalid");
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER_PARAMETERS.has(name))
      throw new TokenError("header_invalid", `header parameter ${name}`);
  }
  const { kid, typ } = header;
  // RFC 9864: "Ed25519" is EdDSA restricted to Ed25519, the only curve Tessera's EdDSA keys use.
  const alg =
    acceptEd25519Name && header.alg === "Ed25519" && algorithms.includes("EdDSA") ? "EdDSA" : header.alg;
  if (typeof alg !== "string" || !algorithms.includes(alg as JwsAlgorithm))
    throw new TokenError("alg_not_allowed");
  if (typeof kid !== "string" || kid.length === 0) throw new TokenError("header_invalid", "kid");
  if (typ !== undefined && typeof typ !== "string") throw new TokenError("header_invalid", "typ");
  return { ...header, alg } as unknown as JwtHeader;
}

/** Finds the key for a checked header; the key's own algorithm must equal the header's. */
export function resolveKey(header: JwtHeader, keys: KeyResolver): VerificationKey {
  const key = keys(header.kid);
  if (key === undefined || key.alg !== header.alg) throw new TokenError("key_unknown");
  return key;
}

export function checkOptions(options: VerifyJwtOptions): {
  algorithms: readonly JwsAlgorithm[];
  tolerance: number;
} {
  const algorithms = options.algorithms ?? JWS_ALGORITHMS;
  for (const alg of algorithms) {
    if (!JWS_ALGORITHMS.includes(alg)) throw new TypeError(`algorithm ${alg} is not allowed`);
  }
  const tolerance = options.clockTolerance ?? 0;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE) {
    throw new TypeError(`clockTolerance must be between 0 and ${MAX_CLOCK_TOLERANCE} seconds`);
  }
  return { algorithms, tolerance };
}

/** `typ` values compare as in RFC 8725 §3.11: case-insensitive, with an optional `application/` prefix. */
export function normalizeTyp(value: string): string {
  const lower = value.toLowerCase();
  return value.includes("/") ? lower : `application/${lower}`;
}
