/**
 * A short-lived, revocation-aware cache of session look-ups, so checking a session does not cost a database
 * round trip on every request.
 *
 * - Entries live at most `ttlMs`; expiry, idle timeout and `active` are still evaluated on every check from
 *   the cached row and the clock.
 * - Every revocation made through this process invalidates at once (by session id or by user).
 * - Changes made by other processes are noticed at once too:
 *   - SQLite: `externalChangeVersion` (the `change_marks` counter, raised by triggers whenever a session or
 *     an account changes in a way this cache depends on, whoever changes it — the CLI, say) is read at most
 *     every 50 ms, and a change drops the whole cache. Commits that touch neither (audit events, written by a
 *     second connection of this process) leave the cache alone. This process's own session deletions
 *     (sign-out, revocation, a sign-in that ends the browser's previous session, the purge of expired ones)
 *     raise the counter too. The sessions module reads the counter before and after each of its own
 *     revocations, inside the revoking transaction (which holds the write lock, so no other connection can
 *     raise it in between), drops the affected entries itself and then tells the cache (`absorb`): its own
 *     revocations do not empty the cache. The periodic purge of expired sessions is not absorbed (a row it
 *     deletes may still be alive in the cache by a last-seen time not yet written): it empties the cache
 *     once. Nor are account changes (rare).
 *   - PostgreSQL with Redis: revocations are published on a Redis channel (`revocation-bus.ts`) and every
 *     instance drops the matching entries. If a message is lost (Redis down), the TTL bounds the staleness.
 *   - PostgreSQL without Redis: the context does not enable the cache at all.
 * - Bounded: at most `maxEntries`, oldest first out.
 * - Keyed by the session token itself, not its SHA-256: a hit then costs no hash. Under load on this machine the
 *   hash cost about 3 µs of the server's time per check, more than the rest of the check together
 *   (docs/accounts.md, "Performance"). What this means for the token:
 *   - It stays in this process's memory only while its entry lives: `sweep` (run by `createSessions` every
 *     TTL, and on every insert) drops entries older than the TTL, so a token is held at most about two TTLs
 *     after its last database load (10 s by default); a revocation drops it at once. The request that carried
 *     it held it in memory anyway. Nothing is written anywhere: the database holds only hashes.
 *   - A look-up compares strings, not in constant time. To learn anything from that an attacker would need a
 *     string with the same V8 hash as a live token (the hash is seeded per process) and then time a
 *     difference of nanoseconds through the network; the database look-up on a miss is by SHA-256 as before.
 *   - Only strings of a token's length are looked up, and only well-formed tokens (prefix, alphabet,
 *     checksum) found in the database are ever inserted.
 */
import { performance } from "node:perf_hooks";
import type { SessionRow } from "../storage/index.js";

export interface CachedSessionRow extends SessionRow {
  user_name: string;
  display_name: string | null;
  active: 0 | 1;
}

export interface SessionCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  /** Undefined: cannot tell now (the connection is inside a transaction); asked again at the next look-up. */
  externalChangeVersion?: () => number | undefined;
  /**
   * The counter including the caller's own open transaction (`Storage.ownChangeVersion`): with it, the sessions
   * module measures what its own revocations raised and the cache absorbs exactly that (`absorb`).
   */
  ownChangeVersion?: () => number;
}

/** Another process's commit (SQLite) is noticed within this many milliseconds. */
export const VERSION_CHECK_MS = 50;

export class SessionCache {
  readonly #entries = new Map<string, { row: CachedSessionRow; loadedAt: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #externalChangeVersion: (() => number | undefined) | undefined;
  #version: number | undefined;
  #versionCheckedAt = Number.NEGATIVE_INFINITY;
  /** Bumped by every removal: a row read before a revocation must not be inserted after it. */
  #epoch = 0;

  constructor(options: SessionCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#externalChangeVersion = options.externalChangeVersion;
    this.#version = this.#externalChangeVersion?.();
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, now: number): CachedSessionRow | undefined {
    // Reading the version costs a few microseconds; at most every VERSION_CHECK_MS (monotonic time, not the
    // domain clock), so another process's change is seen within that.
    const tick = performance.now();
    if (this.#externalChangeVersion && tick - this.#versionCheckedAt >= VERSION_CHECK_MS) {
      const version = this.#externalChangeVersion();
      if (version !== undefined) {
        this.#versionCheckedAt = tick;
        if (version !== this.#version) {
          this.clear();
          this.#version = version;
          return undefined;
        }
      }
    }
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (now - entry.loadedAt >= this.#ttlMs || now < entry.loadedAt) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry.row;
  }

  /**
   * This process's own change moved the counter from `before` to `after`, and the entries it affects are
   * already gone (the caller dropped them). If the cache had seen exactly `before`, nothing else changed in
   * between and it takes `after` as seen instead of clearing. Otherwise (it is behind: another process changed
   * something first; or it already saw `after` or later) nothing happens, and the usual check decides. The
   * caller reads both values inside the transaction that made the change, which holds the write lock, and calls
   * this only after it committed.
   */
  absorb(before: number, after: number): void {
    if (this.#version === before) this.#version = after;
  }

  /** Changes whenever entries are removed by a revocation or an external change (see `set`). */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Inserts a row read from the database, unless something was revoked since the read began (`epoch`, taken
   * before the read, differs): the row may predate that revocation.
   */
  set(token: string, row: CachedSessionRow, now: number, epoch: number): void {
    if (epoch !== this.#epoch) return;
    this.sweep(now);
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    // A flat copy of the token: the caller's string may be a slice of the whole Cookie header, which the
    // entry would otherwise keep alive.
    const key = Buffer.from(token, "latin1").toString("latin1");
    // Delete first so a reloaded entry moves to the end: the map stays in load order for `sweep`.
    this.#entries.delete(key);
    this.#entries.set(key, { row, loadedAt: now });
  }

  /** Drops the entries older than the TTL (they are in load order: it stops at the first young one). */
  sweep(now: number): void {
    for (const [token, entry] of this.#entries) {
      if (now - entry.loadedAt < this.#ttlMs && now >= entry.loadedAt) return;
      this.#entries.delete(token);
    }
  }

  deleteToken(token: string): void {
    this.#epoch++;
    this.#entries.delete(token);
  }

  deleteSession(sessionId: string): void {
    this.#epoch++;
    for (const [token, entry] of this.#entries) if (entry.row.id === sessionId) this.#entries.delete(token);
  }

  deleteUser(userId: string): void {
    this.#epoch++;
    for (const [token, entry] of this.#entries) if (entry.row.user_id === userId) this.#entries.delete(token);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
