/**
 * The revocation feed: what resource servers that cache verified tokens must forget early.
 *
 * - Two kinds of event: `jti` (one token died: a JWT or opaque access token, or an API token, whose id is its
 *   `jti`) and `sub` (every token of a subject issued up to `at` died: the user was disabled or deleted).
 * - Events are kept until nothing they name can still be accepted (`keep_until`: the longest access-token
 *   life, 30 minutes, plus margin), then purged.
 * - Readers poll with the cursor they were given. The cursor is a time; each read also returns the last
 *   few seconds before it again, so an event whose transaction committed late (PostgreSQL assigns `at` before
 *   commit) is still seen. Readers de-duplicate by id. The SDK's verifier is the reader
 *   (`GET /revocations`, docs/sdk.md).
 */
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Clock } from "../lib/clock.js";
import type { Database } from "../storage/database.js";

export type RevocationType = "jti" | "sub";

export interface RevocationEvent {
  id: string;
  type: RevocationType;
  value: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface RevocationFeed {
  /** Records that these tokens (`jti`) or subjects (`sub`) died now. */
  record(events: readonly { type: RevocationType; value: string }[]): Promise<void>;
  /** Events since a cursor (all live ones without). */
  read(cursor: string | undefined): Promise<{ events: RevocationEvent[]; cursor: string }>;
  purgeExpired(): Promise<number>;
  /** How often readers should poll. */
  readonly intervalMs: number;
}

/** Longest access-token life (30 min) + the SDK's largest cache life + margin. */
export const KEEP_EVENTS_MS = 35 * 60_000;
/** Re-read window behind each cursor: covers transactions that committed after a read passed them. */
export const CURSOR_OVERLAP_MS = 5_000;
const READ_LIMIT = 10_000;

export function createRevocationFeed(deps: {
  db: Kysely<Database>;
  clock: Clock;
  intervalMs?: number;
}): RevocationFeed {
  const { db, clock } = deps;
  return {
    intervalMs: deps.intervalMs ?? 500,

    async record(events) {
      if (events.length === 0) return;
      const at = clock.now();
      await db
        .insertInto("revocation_events")
        .values(
          events.map((e) => ({
            id: randomUUID(),
            type: e.type,
            value: e.value,
            at,
            keep_until: at + KEEP_EVENTS_MS,
          })),
        )
        .execute();
    },

    async read(cursor) {
      const now = clock.now();
      const since =
        cursor !== undefined && /^\d{1,16}$/.test(cursor) ? Number(cursor) - CURSOR_OVERLAP_MS : 0;
      const rows = await db
        .selectFrom("revocation_events")
        .select(["id", "type", "value", "at"])
        .where("at", ">=", since)
        .where("keep_until", ">", now)
        .orderBy("at")
        .limit(READ_LIMIT)
        .execute();
      const events = rows.map((r) => ({ id: r.id, type: r.type, value: r.value, at: Number(r.at) }));
      // A full page continues from its last event (the overlap is added back, so the next read starts at that
      // event's time, not five seconds before it); otherwise from now.
      const last = events.at(-1);
      const next = rows.length === READ_LIMIT && last ? last.at + CURSOR_OVERLAP_MS : now;
      return { events, cursor: String(next) };
    },

    async purgeExpired() {
      const result = await db
        .deleteFrom("revocation_events")
        .where("keep_until", "<=", clock.now())
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
