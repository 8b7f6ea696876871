/**
 * Fast JWT verification for Tessera's own keys: compact JWS on synchronous `node:crypto`.
 *
 * Why not `jose` here: jose goes through WebCrypto (async, key conversion, copies) and reaches about 60% of
 * what `crypto.verify` with an imported KeyObject can do. Tokens are verified on every API call, so this
 * narrow path exists; `verify-reference.ts` runs the same policy through `jose`, and differential property
 * tests (test/crypto/jwt-differential.test.ts) show both accept and refuse exactly the same tokens.
 *
 * Checks, in order:
 * - the policy in `policy.ts` (shape, header parameters, algorithm allowlist, key by `kid` with matching alg);
 * - the signature over the exact ASCII signing input (RFC 7515 §5.2);
 * - the payload is a strict-UTF-8 JSON object;
 * - `typ` when asked; `exp` required; `iss`/`aud` when asked; `iat`, `nbf`, `exp` must be numbers;
 *   `nbf` in the future and `exp` in the past (beyond the tolerance) are refused (RFC 7519 §4.1).
 */
import { verify as cryptoVerify, type KeyObject } from "node:crypto";
import { TokenError } from "../../lib/errors.js";
import {
  checkCompactShape,
  checkHeader,
  checkOptions,
  isPlainObject,
  type JwtClaims,
  type JwtHeader,
  normalizeTyp,
  resolveKey,
  strictUtf8,
  type VerificationKey,
  type VerifiedJwt,
  type VerifyJwtOptions,
} from "./policy.js";

const HEADER_CACHE_LIMIT = 256;
/** Decoded protected headers by their encoded form: Tessera issues only a handful of distinct headers. */
const headerCache = new Map<string, Readonly<Record<string, unknown>>>();

function decodeJson(segment: string): unknown {
  return JSON.parse(strictUtf8.decode(Buffer.from(segment, "base64url")));
}

function decodeHeader(segment: string): unknown {
  const cached = headerCache.get(segment);
  if (cached !== undefined) return cached;
  let header: unknown;
  try {
    header = decodeJson(segment);
  } catch {
    throw new TokenError("header_invalid");
  }
  if (isPlainObject(header)) {
    if (headerCache.size >= HEADER_CACHE_LIMIT) headerCache.clear();
    headerCache.set(segment, Object.freeze(header));
  }
  return header;
}

type VerifyKey = KeyObject | { key: KeyObject; dsaEncoding: "ieee-p1363" };
const ecdsaKeys = new WeakMap<KeyObject, VerifyKey>();

function verifySignature(key: VerificationKey, input: Buffer, signature: Buffer): boolean {
  try {
    switch (key.alg) {
      case "EdDSA":
        return cryptoVerify(null, input, key.publicKey, signature);
      case "RS256":
        return cryptoVerify("sha256", input, key.publicKey, signature);
      case "ES256": {
        let k = ecdsaKeys.get(key.publicKey);
        if (k === undefined) {
          // JWS ECDSA signatures are R || S, not DER (RFC 7518 §3.4).
          k = { key: key.publicKey, dsaEncoding: "ieee-p1363" };
          ecdsaKeys.set(key.publicKey, k);
        }
        return signature.length === 64 && cryptoVerify("sha256", input, k, signature);
      }
    }
  } catch {
    return false;
  }
}

function toList(value: string | readonly string[]): readonly string[] {
  return typeof value === "string" ? [value] : value;
}

function numericClaim(claims: JwtClaims, name: "iat" | "nbf" | "exp"): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number") throw new TokenError("claims_invalid", `${name} is not a number`);
  return value;
}

/** Checks the claims set the way RFC 7519 §4.1 and Tessera's policy require. */
function checkClaims(
  header: JwtHeader,
  claims: JwtClaims,
  options: VerifyJwtOptions,
  tolerance: number,
): void {
  if (
    options.typ !== undefined &&
    (typeof header.typ !== "string" || normalizeTyp(header.typ) !== normalizeTyp(options.typ))
  ) {
    throw new TokenError("typ_mismatch");
  }
  // Same order as jose: presence of every required claim first, then their values.
  if (options.issuer !== undefined && !Object.hasOwn(claims, "iss"))
    throw new TokenError("issuer_mismatch", "iss missing");
  if (options.audience !== undefined && !Object.hasOwn(claims, "aud")) {
    throw new TokenError("audience_mismatch", "aud missing");
  }
  if (!Object.hasOwn(claims, "exp")) throw new TokenError("claims_invalid", "exp missing");
  if (options.issuer !== undefined && !toList(options.issuer).includes(claims.iss as string)) {
    throw new TokenError("issuer_mismatch");
  }
  if (options.audience !== undefined) {
    const accepted = toList(options.audience);
    const aud = claims.aud;
    const ok =
      typeof aud === "string"
        ? accepted.includes(aud)
        : Array.isArray(aud)
          ? accepted.some((a) => (aud as unknown[]).includes(a))
          : false;
    if (!ok) throw new TokenError("audience_mismatch");
  }
  const now = Math.floor((options.now?.() ?? Date.now()) / 1000);
  numericClaim(claims, "iat");
  const nbf = numericClaim(claims, "nbf");
  if (nbf !== undefined && nbf > now + tolerance) throw new TokenError("not_yet_valid");
  const exp = numericClaim(claims, "exp") as number;
  if (exp <= now - tolerance) throw new TokenError("expired");
}

/**
 * Verifies a compact JWT signed by one of `options.keys`. Synchronous; throws `TokenError` on refusal.
 * @see RFC 7515 §5.2, RFC 7519 §7.2, RFC 8725
 */
export function verifyJwt(token: string, options: VerifyJwtOptions): VerifiedJwt {
  const { algorithms, tolerance } = checkOptions(options);
  const [first, second] = checkCompactShape(token);
  const header = checkHeader(decodeHeader(token.slice(0, first)), algorithms, options.acceptEd25519Name);
  const key = resolveKey(header, options.keys);
  const input = Buffer.from(token.slice(0, second), "latin1");
  const signature = Buffer.from(token.slice(second + 1), "base64url");
  if (!verifySignature(key, input, signature)) throw new TokenError("signature_invalid");
  let payload: unknown;
  try {
    payload = decodeJson(token.slice(first + 1, second));
  } catch {
    throw new TokenError("claims_invalid", "payload is not JSON");
  }
  if (!isPlainObject(payload)) throw new TokenError("claims_invalid", "payload is not an object");
  checkClaims(header, payload as JwtClaims, options, tolerance);
  return { header, payload: payload as JwtClaims };
}
