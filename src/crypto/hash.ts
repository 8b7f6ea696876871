/**
 * Hashing and comparison for secrets at rest.
 *
 * - A secret token is stored only as its SHA-256 digest (base64url); look-ups go by digest.
 * - Comparisons of secrets are constant-time, whatever the inputs' lengths: both sides are hashed
 *   first, so neither length nor content leaks through timing.
 */
import { hash, timingSafeEqual } from "node:crypto";

/** A SHA-256 digest of a secret, base64url-encoded: the only form in which Tessera stores a secret token. */
export type TokenHash = string & { readonly __brand: "TokenHash" };

/**
 * SHA-256 of `value` (UTF-8), base64url without padding. `crypto.hash` (Node ≥ 20.12) is the one-shot form:
 * about a quarter of the cost of `createHash().update().digest()`, and this runs on every token check.
 */
export function hashToken(value: string): TokenHash {
  return hash("sha256", value, "base64url") as TokenHash;
}

/** Compares two secrets in constant time (independent of where they differ and of their lengths). */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const da = hash("sha256", a, "buffer");
  const db = hash("sha256", b, "buffer");
  // Equal digests with different inputs would need a SHA-256 collision.
  return timingSafeEqual(da, db);
}
