/**
 * Server-side sign-in sessions.
 *
 * - The session token is 256 bits from the CSPRNG (`tsr_ses_…`, with checksum); only its SHA-256 is stored.
 *   A database leak yields no usable cookie.
 * - Two clocks end a session: idle (no use for `idleTimeout`) and absolute (`expires_at`); both are checked on
 *   the server at every use. "Keep me signed in" sessions use the remember lifetime for both.
 * - Use is recorded (`last_seen_at`) at most once a minute per session, so a busy page does not write on every
 *   request — and at least every quarter of the idle timeout, so even the shortest allowed timeout (60 s) never
 *   ends the session of a user who keeps using it; the idle timeout is exact to within that interval.
 * - A session of an inactive (or deleted) user is dead: the check joins the user and requires `active`.
 * - `rotate` gives a session a new token (fixation defence at every privilege change); the old token dies.
 * - Optionally cached (`session-cache.ts`): every revocation here invalidates the cache and, with a revocation
 *   bus, every other instance's.
 */
import { randomUUID } from "node:crypto";
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { SessionEndedEvents, SessionRow, SessionsRepository } from "../storage/index.js";
import { createWriteBehind } from "../storage/write-behind.js";
import type { RevocationBus } from "./revocation-bus.js";
import { type CachedSessionRow, SessionCache, type SessionCacheOptions } from "./session-cache.js";

export const SESSION_TOKEN_PREFIX = "tsr_ses_";
const FORMAT = { prefix: SESSION_TOKEN_PREFIX, checksum: true } as const;
const TOUCH_INTERVAL_MS = 60_000;
const TOKEN_LENGTH = generateOpaqueToken(FORMAT).length;

export interface SessionPolicy {
  /** Seconds. */
  idleTimeout: number;
  lifetime: number;
  rememberLifetime: number;
}

export interface Session {
  id: string;
  userId: string;
  createdAt: number;
  lastSeenAt: number;
  /** When the session ends if unused from now on (min of idle and absolute). */
  expiresAt: number;
  absoluteExpiresAt: number;
  authTime: number;
  amr: string[];
  remember: boolean;
  userAgent: string | null;
  ip: string | null;
}

export interface SessionUser {
  id: string;
  userName: string;
  displayName: string | null;
}

export interface CheckedSession {
  session: Session;
  user: SessionUser;
}

export interface CreateSessionInput {
  userId: string;
  amr: string[];
  remember: boolean;
  ip?: string | null;
  userAgent?: string | null;
  /** When the user proved who they are (defaults to now). */
  authTime?: number;
}

export interface Sessions {
  create(input: CreateSessionInput): Promise<{ token: string; session: Session }>;
  /** The live session and its user for a token, or undefined (unknown, expired, idle, user inactive). */
  check(token: string): Promise<CheckedSession | undefined>;
  /**
   * The same answer as `check`, given at once when no I/O is needed (a cached session, or a string that cannot
   * be a session token), else a promise of it. For the hottest path, the session check endpoint.
   */
  checkNow(token: string): CheckedSession | undefined | Promise<CheckedSession | undefined>;
  /** A new token for the same session; the old one stops working. */
  rotate(sessionId: string): Promise<string | undefined>;
  /**
   * The user proved who they are again in this session (step-up, or a second factor added): new auth_time and
   * amr, and a new token (a privilege change). Undefined when the session is gone.
   */
  reauthenticate(sessionId: string, amr: readonly string[]): Promise<string | undefined>;
  list(userId: string): Promise<Session[]>;
  /**
   * Ends one session of `userId`; false if there was none. `events`: the domain events of the sessions that
   * ended, written in the same transaction (src/events).
   */
  revoke(userId: string, sessionId: string, events?: SessionEndedEvents): Promise<boolean>;
  /** Ends every session of the user except `keepSessionId`; returns how many ended. */
  revokeOthers(userId: string, keepSessionId: string, events?: SessionEndedEvents): Promise<number>;
  revokeAll(userId: string, events?: SessionEndedEvents): Promise<number>;
  /** Deletes expired rows; returns how many. */
  purgeExpired(): Promise<number>;
  /** Writes pending last-seen times now (they are otherwise written within a second). */
  flush(): Promise<void>;
  /** Flushes and stops the background writer. */
  close(): Promise<void>;
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: Math.min(row.last_seen_at + row.idle_timeout_ms, row.expires_at),
    absoluteExpiresAt: row.expires_at,
    authTime: row.auth_time,
    amr: row.amr.split(" ").filter(Boolean),
    remember: row.remember === 1,
    userAgent: row.user_agent,
    ip: row.ip,
  };
}

export interface SessionsDeps {
  /**
   * Where sessions are stored: `sessionsRepository(storage.db, storage.prepare)` (the check's look-up is a
   * prepared query declared there).
   */
  repository: SessionsRepository;
  clock: Clock;
  policy: SessionPolicy;
  /** Cache look-ups (see `session-cache.ts`); absent: every check reads the database. */
  cache?: SessionCacheOptions;
  /** Tells other instances about revocations so they drop their cached entries. */
  bus?: RevocationBus;
  /** Reports a failed background write (last-seen times). */
  onWriteError?: (error: unknown) => void;
}

export function createSessions(deps: SessionsDeps): Sessions & { ready: Promise<void> } {
  const { repository, clock, policy } = deps;
  const cache = deps.cache && deps.cache.ttlMs > 0 ? new SessionCache(deps.cache) : undefined;
  // Cached tokens leave memory within about two TTLs even if no request comes (see session-cache.ts).
  const sweeper = cache ? setInterval(() => cache.sweep(clock.now()), deps.cache?.ttlMs).unref() : undefined;
  const ready =
    cache && deps.bus
      ? deps.bus.subscribe((event) => {
          if ("session" in event) cache.deleteSession(event.session);
          else cache.deleteUser(event.user);
        })
      : Promise.resolve();

  function revoked(event: { session: string } | { user: string }) {
    if ("session" in event) cache?.deleteSession(event.session);
    else cache?.deleteUser(event.user);
    if (cache) deps.bus?.publish(event);
  }

  /**
   * Runs one of this module's own revoking writes. With a cache that watches the change counter, the write runs
   * in a transaction (IMMEDIATE on SQLite: it holds the write lock throughout, so no other connection raises the
   * counter in between) that reads the counter before and after; `absorb`, called once the caller has dropped
   * the affected cache entries, lets the cache take the raises as seen instead of emptying itself. Only after
   * the commit: a rolled-back write must not move the cache's idea of the counter.
   */
  async function ownRevocation<T>(
    write: (sessions: SessionsRepository) => Promise<T>,
  ): Promise<{ result: T; absorb: () => void }> {
    const committed = deps.cache?.externalChangeVersion;
    const own = deps.cache?.ownChangeVersion;
    if (!cache || !committed || !own) return { result: await write(repository), absorb: () => {} };
    const { result, before, after } = await repository.transaction(async (trx) => {
      // Inside the transaction: the committed version when it began (storage records it at BEGIN).
      const before = committed();
      const result = await write(trx);
      return { result, before, after: own() };
    });
    return {
      result,
      absorb: () => {
        if (before !== undefined) cache.absorb(before, after);
      },
    };
  }

  // last_seen_at is written behind the check, batched (see storage/write-behind.ts).
  const touches = createWriteBehind({
    intervalMs: 1000,
    onError: (error) => deps.onWriteError?.(error),
    write: (entries) => repository.touch(entries),
  });

  /**
   * The check's verdict on a row at `now`: a cached row (`epoch` undefined), or one just read from the
   * database, cached if nothing was revoked since `epoch` (the cache's epoch before the read).
   */
  function decide(
    token: string,
    row: CachedSessionRow | undefined,
    epoch: number | undefined,
    now: number,
  ): CheckedSession | undefined {
    if (row?.active !== 1) return undefined;
    const pendingTouch = touches.get(row.id);
    if (pendingTouch !== undefined && pendingTouch > row.last_seen_at) row.last_seen_at = pendingTouch;
    if (now >= row.expires_at || now >= row.last_seen_at + row.idle_timeout_ms) {
      // Refused now; the row itself goes with the next purge (no write on the check path).
      cache?.deleteToken(token);
      return undefined;
    }
    // At most once a minute, and at least four times per idle timeout (a short timeout must not end the session
    // of a user who keeps using it because their use was not recorded in time).
    if (now - row.last_seen_at >= Math.min(TOUCH_INTERVAL_MS, row.idle_timeout_ms / 4)) {
      touches.set(row.id, now);
      row.last_seen_at = now;
    }
    if (epoch !== undefined) cache?.set(token, row, now, epoch);
    return {
      session: toSession(row),
      user: { id: row.user_id, userName: row.user_name, displayName: row.display_name },
    };
  }

  // Only a string of a token's length is looked up in the cache (keyed by the token: no hash on a hit, see
  // session-cache.ts); a token in the cache was checked for shape when it was inserted, so only a miss checks
  // the shape and checksum, then asks the database by SHA-256. A hit is answered without awaiting anything.
  function checkNow(token: string): CheckedSession | undefined | Promise<CheckedSession | undefined> {
    if (typeof token !== "string" || token.length !== TOKEN_LENGTH) return undefined;
    const now = clock.now();
    const hit = cache?.get(token, now);
    if (hit) return decide(token, hit, undefined, now);
    if (!isWellFormedOpaqueToken(token, FORMAT)) return undefined;
    const epoch = cache?.epoch ?? 0;
    return repository.findByTokenHash(hashToken(token)).then((row) => decide(token, row, epoch, now));
  }

  return {
    ready,
    async create(input) {
      const now = clock.now();
      const token = generateOpaqueToken(FORMAT);
      const lifetime = (input.remember ? policy.rememberLifetime : policy.lifetime) * 1000;
      const idle = (input.remember ? policy.rememberLifetime : policy.idleTimeout) * 1000;
      const row: SessionRow = {
        id: randomUUID(),
        token_hash: hashToken(token),
        user_id: input.userId,
        created_at: now,
        last_seen_at: now,
        idle_timeout_ms: idle,
        expires_at: now + lifetime,
        auth_time: input.authTime ?? now,
        amr: input.amr.join(" "),
        remember: input.remember ? 1 : 0,
        user_agent: input.userAgent?.slice(0, 512) ?? null,
        ip: input.ip?.slice(0, 64) ?? null,
      };
      await repository.insert(row);
      return { token, session: toSession(row) };
    },

    checkNow,

    async check(token) {
      return checkNow(token);
    },

    async rotate(sessionId) {
      const token = generateOpaqueToken(FORMAT);
      const { result: changed, absorb } = await ownRevocation((sessions) =>
        sessions.setToken(sessionId, { tokenHash: hashToken(token), lastSeenAt: clock.now() }),
      );
      revoked({ session: sessionId });
      absorb();
      return changed ? token : undefined;
    },

    async reauthenticate(sessionId, amr) {
      const token = generateOpaqueToken(FORMAT);
      const now = clock.now();
      const { result: changed, absorb } = await ownRevocation((sessions) =>
        sessions.setToken(sessionId, {
          tokenHash: hashToken(token),
          lastSeenAt: now,
          authTime: now,
          amr: amr.join(" "),
        }),
      );
      revoked({ session: sessionId });
      absorb();
      return changed ? token : undefined;
    },

    async list(userId) {
      const now = clock.now();
      const rows = await repository.listUnexpired(userId, now);
      return rows.map(toSession).filter((s) => s.expiresAt > now);
    },

    async revoke(userId, sessionId, events) {
      const { result: deleted, absorb } = await ownRevocation((sessions) =>
        sessions.deleteOne(userId, sessionId, events),
      );
      if (deleted) revoked({ session: sessionId });
      // Nothing deleted: the counter did not move, and absorbing changes nothing.
      absorb();
      return deleted;
    },

    async revokeOthers(userId, keepSessionId, events) {
      const { result: deleted, absorb } = await ownRevocation((sessions) =>
        sessions.deleteOthers(userId, keepSessionId, events),
      );
      // Simplest correct invalidation: drop the user's entries (the kept session reloads once).
      revoked({ user: userId });
      absorb();
      return deleted;
    },

    async revokeAll(userId, events) {
      const { result: deleted, absorb } = await ownRevocation((sessions) =>
        sessions.deleteAll(userId, events),
      );
      revoked({ user: userId });
      absorb();
      return deleted;
    },

    flush: () => touches.flush(),
    close: () => {
      clearInterval(sweeper);
      cache?.clear();
      return touches.close();
    },

    purgeExpired: () => repository.deleteExpired(clock.now()),
  };
}
