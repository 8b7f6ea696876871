/**
 * Sign-in sessions at rest (sessions/sessions.ts decides what they mean; this module only stores and reads).
 *
 * - The check's look-up (a session by its token hash, with its user's name, display name and `active`) is a
 *   prepared query (storage/prepared.ts), declared once per repository: a cache miss on the session check is a
 *   hot path. Inside a transaction it goes through the builder on the transaction instead (a prepared query
 *   runs on the connection outside it).
 * - Token changes and deletions answer whether (how many) rows changed: the caller decides on the count.
 * - `transaction(work)` runs `work` with a repository bound to one transaction (the sessions module's own
 *   revocations, which read the change counter before and after the write inside it).
 * - Deletions take the domain events they cause (`session.ended` per session, built from the ids actually
 *   deleted) and write them in their own transaction (event-outbox.ts).
 */
import type { Kysely } from "kysely";
import type { Database, SessionsTable } from "../database.js";
import { createPrepare, type PreparedQuery, type PrepareQuery } from "../prepared.js";
import { type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export type SessionRow = SessionsTable;

/** A session row with what the session check needs of its user. */
export interface SessionWithUserRow extends SessionRow {
  user_name: string;
  display_name: string | null;
  active: 0 | 1;
}

/** The events of deleting sessions: built from the ids of the sessions actually deleted. */
export type SessionEndedEvents = (sessionIds: readonly string[]) => readonly OutboxEvent[];

export interface SessionsRepository {
  insert(row: SessionRow): Promise<void>;
  /** The session with this token hash and its user's fields (an inner join: no user, no row). */
  findByTokenHash(tokenHash: string): Promise<SessionWithUserRow | undefined>;
  /**
   * Gives the session a new token hash and last-seen time, and with `authTime`/`amr` a new authentication.
   * False when there is no session with this id.
   */
  setToken(
    id: string,
    change: { tokenHash: string; lastSeenAt: number; authTime?: number; amr?: string },
  ): Promise<boolean>;
  /** The user's sessions whose absolute end is after `now`, most recently seen first. */
  listUnexpired(userId: string, now: number): Promise<SessionRow[]>;
  /** Deletes the session `id` of `userId`; false when there was none. `events` are written only if it was. */
  deleteOne(userId: string, id: string, events?: SessionEndedEvents): Promise<boolean>;
  /** Deletes every session of the user except `keepId`; how many. */
  deleteOthers(userId: string, keepId: string, events?: SessionEndedEvents): Promise<number>;
  /** Deletes every session of the user; how many. */
  deleteAll(userId: string, events?: SessionEndedEvents): Promise<number>;
  /**
   * Writes last-seen times (session id → time) in one transaction; a stored time that is already as late or
   * later is kept.
   */
  touch(entries: Iterable<readonly [string, number]>): Promise<void>;
  /** Deletes sessions past their absolute end or idle end (`last_seen_at + idle_timeout_ms`) at `now`; how many. */
  deleteExpired(now: number): Promise<number>;
  /**
   * Runs `work` in one transaction, with a repository that reads and writes inside it (a repository already
   * inside a transaction runs `work` in that one). Commits when `work` resolves, rolls back when it throws.
   */
  transaction<T>(work: (sessions: SessionsRepository) => Promise<T>): Promise<T>;
}

const byTokenHash = (db: Kysely<Database>, tokenHash: string) =>
  db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .selectAll("sessions")
    .select(["users.user_name", "users.display_name", "users.active"])
    .where("sessions.token_hash", "=", tokenHash);

/**
 * `prepare`: where the check's look-up is prepared (`storage.prepare`, which reads directly on SQLite); by
 * default a compiled query run by Kysely.
 */
export function sessionsRepository(db: Kysely<Database>, prepare?: PrepareQuery): SessionsRepository {
  const prepared: PreparedQuery<[string], SessionWithUserRow> = (prepare ?? createPrepare(db))(byTokenHash);
  return bind(db, prepared);
}

/** Deletes the user's sessions (one, all but one, or all) and writes their events in one transaction; how many. */
async function deleteReturning(
  db: Kysely<Database>,
  userId: string,
  which: { only?: string; except?: string },
  events: SessionEndedEvents,
): Promise<number> {
  const ids = await withOutboxEvents(db, events, async (trx) => {
    let query = trx.deleteFrom("sessions").where("user_id", "=", userId);
    if (which.only !== undefined) query = query.where("id", "=", which.only);
    if (which.except !== undefined) query = query.where("id", "!=", which.except);
    return (await query.returning("id").execute()).map((row) => row.id);
  });
  return ids.length;
}

function bind(
  db: Kysely<Database>,
  prepared: PreparedQuery<[string], SessionWithUserRow> | undefined,
): SessionsRepository {
  const repository: SessionsRepository = {
    async insert(row) {
      await db.insertInto("sessions").values(row).execute();
    },

    findByTokenHash: (tokenHash) =>
      prepared ? prepared.first(tokenHash) : byTokenHash(db, tokenHash).executeTakeFirst(),

    async setToken(id, change) {
      const result = await db
        .updateTable("sessions")
        .set({
          token_hash: change.tokenHash,
          last_seen_at: change.lastSeenAt,
          ...(change.authTime === undefined ? {} : { auth_time: change.authTime }),
          ...(change.amr === undefined ? {} : { amr: change.amr }),
        })
        .where("id", "=", id)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    listUnexpired: (userId, now) =>
      db
        .selectFrom("sessions")
        .selectAll()
        .where("user_id", "=", userId)
        .where("expires_at", ">", now)
        .orderBy("last_seen_at", "desc")
        .execute(),

    async deleteOne(userId, id, events) {
      if (events) return (await deleteReturning(db, userId, { only: id }, events)) === 1;
      const result = await db
        .deleteFrom("sessions")
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return result.numDeletedRows === 1n;
    },

    async deleteOthers(userId, keepId, events) {
      if (events) return deleteReturning(db, userId, { except: keepId }, events);
      const result = await db
        .deleteFrom("sessions")
        .where("user_id", "=", userId)
        .where("id", "!=", keepId)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async deleteAll(userId, events) {
      if (events) return deleteReturning(db, userId, {}, events);
      const result = await db.deleteFrom("sessions").where("user_id", "=", userId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async touch(entries) {
      const write = async (trx: Kysely<Database>) => {
        for (const [id, at] of entries) {
          await trx
            .updateTable("sessions")
            .set({ last_seen_at: at })
            .where("id", "=", id)
            .where("last_seen_at", "<", at)
            .execute();
        }
      };
      if (db.isTransaction) await write(db);
      else await db.transaction().execute(write);
    },

    async deleteExpired(now) {
      const result = await db
        .deleteFrom("sessions")
        .where((eb) =>
          eb.or([
            eb("expires_at", "<=", now),
            eb(eb("last_seen_at", "+", eb.ref("idle_timeout_ms")), "<=", now),
          ]),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    transaction: (work) =>
      db.isTransaction ? work(repository) : db.transaction().execute((trx) => work(bind(trx, undefined))),
  };
  return repository;
}
