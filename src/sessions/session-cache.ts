/**
 * A short-lived, revocation-aware cache of session look-ups, so checking a session does not cost a database
 * round trip on every request.
 *
 * - Entries live at most `ttlMs`; expiry, idle timeout and `active` are still evaluated on every check from
 *   the cached row and the clock.
 * - Every revocation made through this process invalidates at once (by session id or by user).
 * - Changes made by other processes are noticed at once too:
 *   - SQLite: `externalChangeVersion` (`PRAGMA data_version`) changes when another connection — the CLI,
 *     say — commits; it is read at most every 50 ms, and a change drops the whole cache.
 *   - PostgreSQL with Redis: revocations are published on a Redis channel (`revocation-bus.ts`) and every
 *     instance drops the matching entries. If a message is lost (Redis down), the TTL bounds the staleness.
 *   - PostgreSQL without Redis: the context does not enable the cache at all.
 * - Bounded: at most `maxEntries`, oldest first out.
 */
import { performance } from "node:perf_hooks";
import type { SessionsTable } from "../storage/database.js";

export interface CachedSessionRow extends SessionsTable {
  user_name: string;
  display_name: string | null;
  active: 0 | 1;
}

export interface SessionCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  externalChangeVersion?: () => number;
}

/** Another process's commit (SQLite) is noticed within this many milliseconds. */
export const VERSION_CHECK_MS = 50;

export class SessionCache {
  readonly #entries = new Map<string, { row: CachedSessionRow; loadedAt: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #externalChangeVersion: (() => number) | undefined;
  #version: number | undefined;
  #versionCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(options: SessionCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#externalChangeVersion = options.externalChangeVersion;
    this.#version = this.#externalChangeVersion?.();
  }

  get size(): number {
    return this.#entries.size;
  }

  get(tokenHash: string, now: number): CachedSessionRow | undefined {
    // Reading the version costs a few microseconds; at most every VERSION_CHECK_MS (monotonic time, not the
    // domain clock), so another process's change is seen within that.
    const tick = performance.now();
    if (this.#externalChangeVersion && tick - this.#versionCheckedAt >= VERSION_CHECK_MS) {
      this.#versionCheckedAt = tick;
      const version = this.#externalChangeVersion();
      if (version !== this.#version) {
        this.#entries.clear();
        this.#version = version;
        return undefined;
      }
    }
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    if (now - entry.loadedAt >= this.#ttlMs || now < entry.loadedAt) {
      this.#entries.delete(tokenHash);
      return undefined;
    }
    return entry.row;
  }

  set(tokenHash: string, row: CachedSessionRow, now: number): void {
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(tokenHash, { row, loadedAt: now });
  }

  deleteToken(tokenHash: string): void {
    this.#entries.delete(tokenHash);
  }

  deleteSession(sessionId: string): void {
    for (const [hash, entry] of this.#entries) if (entry.row.id === sessionId) this.#entries.delete(hash);
  }

  deleteUser(userId: string): void {
    for (const [hash, entry] of this.#entries) if (entry.row.user_id === userId) this.#entries.delete(hash);
  }

  clear(): void {
    this.#entries.clear();
  }
}
