/**
 * Fast JWT signing with Tessera's own keys: compact JWS on synchronous `node:crypto`.
 *
 * - The protected header is exactly `{"alg","kid","typ"}` and is encoded once per (key, typ) and cached.
 * - `exp` is required and must be a finite number; `iat`, `nbf` must be finite when present.
 *   A `maxLifetime` bounds `exp - now`, which is what lets a retired key leave the JWKS once every token it
 *   signed has expired (see `keys/key-store.ts`).
 * - ECDSA signatures are written as R || S (RFC 7518 §3.4), not DER.
 */
import { sign as cryptoSign, type KeyObject } from "node:crypto";
import type { JwtClaims, SigningKeyHandle } from "./policy.js";

export interface SignJwtOptions {
  key: SigningKeyHandle;
  /** The `typ` header, e.g. `at+jwt` (RFC 9068), `JWT`, `logout+jwt`. */
  typ?: string;
  /** Upper bound in seconds for `exp - now`. */
  maxLifetime?: number;
  now?: () => number;
}

const headerCache = new Map<string, string>();

function encodedHeader(key: SigningKeyHandle, typ: string | undefined): string {
  const cacheKey = `${key.alg}\u0000${key.kid}\u0000${typ ?? ""}`;
  let header = headerCache.get(cacheKey);
  if (header === undefined) {
    const json = JSON.stringify(
      typ === undefined ? { alg: key.alg, kid: key.kid } : { alg: key.alg, kid: key.kid, typ },
    );
    header = Buffer.from(json, "utf8").toString("base64url");
    if (headerCache.size > 256) headerCache.clear();
    headerCache.set(cacheKey, header);
  }
  return header;
}

const ecdsaKeys = new WeakMap<KeyObject, { key: KeyObject; dsaEncoding: "ieee-p1363" }>();

function signature(key: SigningKeyHandle, input: Buffer): Buffer {
  switch (key.alg) {
    case "EdDSA":
      return cryptoSign(null, input, key.privateKey);
    case "RS256":
      return cryptoSign("sha256", input, key.privateKey);
    case "ES256": {
      let k = ecdsaKeys.get(key.privateKey);
      if (k === undefined) {
        k = { key: key.privateKey, dsaEncoding: "ieee-p1363" };
        ecdsaKeys.set(key.privateKey, k);
      }
      return cryptoSign("sha256", input, k);
    }
  }
}

function checkTime(claims: JwtClaims, options: SignJwtOptions): void {
  for (const name of ["iat", "nbf"] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      throw new TypeError(`${name} must be a finite number`);
    }
  }
  const { exp } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp))
    throw new TypeError("exp is required and must be a finite number");
  if (options.maxLifetime !== undefined) {
    const now = Math.floor((options.now?.() ?? Date.now()) / 1000);
    if (exp - now > options.maxLifetime) {
      throw new RangeError(`exp is ${exp - now}s away; the maximum JWT lifetime is ${options.maxLifetime}s`);
    }
  }
}

/**
 * Signs `claims` as a compact JWS with Tessera's key. Synchronous.
 * @see RFC 7515 §5.1, RFC 7519 §7.1
 */
export function signJwt(claims: JwtClaims, options: SignJwtOptions): string {
  checkTime(claims, options);
  const head = encodedHeader(options.key, options.typ);
  const input = `${head}.${Buffer.from(JSON.stringify(claims), "utf8").toString("base64url")}`;
  return `${input}.${signature(options.key, Buffer.from(input, "latin1")).toString("base64url")}`;
}
