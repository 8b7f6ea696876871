/**
 * A small bounded cache of verification results, keyed by the token's SHA-256 (never the token itself, so a
 * heap dump holds no usable credential).
 *
 * - Each entry carries `until` (epoch ms); an entry is never returned at or after it.
 * - At `maxEntries`, the oldest insertion is dropped (a `Map` iterates in insertion order): O(1), and a flood
 *   of distinct tokens only costs the flood's own entries.
 * - It holds what is true of the token alone (signature, claims, introspection answer). What is true of one
 *   request only — a DPoP proof, the caller's address, the revocation state, the route's requirements — is
 *   checked by the verifier on every use, after the look-up; a cached DPoP-bound token never skips its proof.
 */
export class TokenCache<V extends { readonly until: number }> {
  readonly #entries = new Map<string, V>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V): void {
    if (this.#maxEntries <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  /** Drops every entry `match` selects (revocation events: rare, so a scan is fine). */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, value] of this.#entries) if (match(value)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
