/**
 * The revocation feed: what resource servers that cache verified tokens must forget early.
 *
 * - Two kinds of event: `jti` (one token died: a JWT or opaque access token, or an API token, whose id is its
 *   `jti`) and `sub` (every token of a subject issued up to `at` died: the user was disabled or deleted).
 * - Events are kept until nothing they name can still be accepted (`keep_until`: the longest access-token
 *   life, 30 minutes, plus margin), then purged.
 * - Readers poll with the cursor they were given. Each read also returns the last few seconds before the
 *   cursor's time again, so an event whose transaction committed late (PostgreSQL assigns `at` before
 *   commit) is still seen. Readers de-duplicate by id. The SDK's verifier is the reader
 *   (`GET /revocations`, docs/sdk.md).
 *
 * Cursors are opaque to readers; there are two forms.
 *
 * - A time, `<ms>` (what every read that is not full returns, and the only form older Tessera versions
 *   returned): the next read returns the events with `at >= ms - CURSOR_OVERLAP_MS`.
 * - A position, `p.<at>.<id, base64url>[.<horizon>]` (what a full read returns): events are ordered by
 *   `(at, id)` and the next read returns those strictly after that event, so paging always makes progress,
 *   however many events share a millisecond. Rows behind the position whose transaction was still open
 *   during the read can only have `at >= horizon` (the read's time less the overlap, carried over from
 *   earlier full reads: the smallest one); once a read is no longer full, its time cursor steps back to the
 *   horizon, so that window is read again and nothing is skipped. Without a horizon nothing behind the
 *   position can still appear.
 *
 * Anything else (not a cursor) is read as "from the start": every live event.
 */
import { randomUUID } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import type { RevocationEventsRepository } from "../storage/index.js";

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
/** Most events one read returns. */
export const READ_LIMIT = 10_000;

/** Where a read starts: after `(at, id)` (`id` "" is before every id), re-reading from `horizon` later. */
interface Position {
  at: number;
  id: string;
  horizon: number | undefined;
}

const TIME_CURSOR = /^\d{1,16}$/;
const POSITION_CURSOR = /^p\.(\d{1,16})\.([A-Za-z0-9_-]{1,344})(?:\.(\d{1,16}))?$/;

/** The position a cursor stands for; undefined when it is not one (read from the start). */
function parseCursor(cursor: string | undefined): Position | undefined {
  if (cursor === undefined) return undefined;
  if (TIME_CURSOR.test(cursor)) {
    return { at: Number(cursor) - CURSOR_OVERLAP_MS, id: "", horizon: undefined };
  }
  const match = POSITION_CURSOR.exec(cursor);
  if (match === null) return undefined;
  const id = Buffer.from(match[2]!, "base64url").toString("utf8");
  // Only the canonical encoding of a non-empty id: anything else was not written by this feed.
  if (id === "" || Buffer.from(id, "utf8").toString("base64url") !== match[2]) return undefined;
  return { at: Number(match[1]), id, horizon: match[3] === undefined ? undefined : Number(match[3]) };
}

function positionCursor(at: number, id: string, horizon: number | undefined): string {
  const encoded = `p.${at}.${Buffer.from(id, "utf8").toString("base64url")}`;
  return horizon === undefined ? encoded : `${encoded}.${Math.max(0, horizon)}`;
}

export function createRevocationFeed(deps: {
  /** Where events are stored: `revocationEventsRepository(storage.db)`. */
  repository: RevocationEventsRepository;
  clock: Clock;
  intervalMs?: number;
  /** Most events per read (tests); READ_LIMIT by default. */
  readLimit?: number;
}): RevocationFeed {
  const { repository, clock } = deps;
  const limit = deps.readLimit ?? READ_LIMIT;
  return {
    intervalMs: deps.intervalMs ?? 500,

    async record(events) {
      if (events.length === 0) return;
      const at = clock.now();
      await repository.insert(
        events.map((e) => ({
          id: randomUUID(),
          type: e.type,
          value: e.value,
          at,
          keep_until: at + KEEP_EVENTS_MS,
        })),
      );
    },

    async read(cursor) {
      const now = clock.now();
      const from = parseCursor(cursor);
      // Live events in (at, id) order, after (from.at, from.id) when reading from a cursor.
      const events: RevocationEvent[] = await repository.list({
        now,
        ...(from === undefined ? {} : { after: { at: from.at, id: from.id } }),
        limit,
      });
      // Transactions still open during this read can only hold events from `now - overlap` on.
      const horizon = Math.min(from?.horizon ?? Number.POSITIVE_INFINITY, now - CURSOR_OVERLAP_MS);
      const last = events.at(-1);
      if (events.length === limit && last !== undefined) {
        // Full: continue right after the last event, and remember the window to read again once caught up
        // (unless it lies wholly after that event: then it is read anyway).
        return { events, cursor: positionCursor(last.at, last.id, horizon <= last.at ? horizon : undefined) };
      }
      // Caught up: every event before `horizon` has been seen; read from there again (the overlap).
      return { events, cursor: String(horizon + CURSOR_OVERLAP_MS) };
    },

    async purgeExpired() {
      return repository.deleteExpired(clock.now());
    },
  };
}
