/**
 * Shared Signals streams, their removed subjects and their SET queues at rest (src/ssf/ decides what they mean).
 *
 * - A SET row is unique by `(stream_id, jti)`: `enqueue` inserts what is new and ignores what is queued already,
 *   so an event offered twice (the outbox delivers at least once) is queued once.
 * - Each stream's queue is read in `seq` order (insertion order).
 * - A SET is held by one instance at a time through `lease_until`: `lease` and `leaseAvailable` are conditional
 *   updates (`lease_until <= now`), so two instances racing for a SET produce one winner. A lease that is never
 *   released ends by itself: the SET is free again at `lease_until`.
 * - Rows past `keep_until` are deleted by `deleteExpired`; removing a stream removes its subjects and SETs.
 */
import type { Kysely, Selectable } from "kysely";
import type { Database, SsfSetsTable, SsfStreamsTable } from "../database.js";

export type SsfStreamRow = SsfStreamsTable;
export type SsfSetRow = Selectable<SsfSetsTable>;
export type NewSsfSet = Pick<
  SsfSetRow,
  "stream_id" | "jti" | "event_type" | "claims" | "created_at" | "keep_until"
>;
export type SsfStreamChanges = Partial<Omit<SsfStreamRow, "id" | "client_id" | "created_at">>;

export interface SsfStreamsRepository {
  insertStream(row: SsfStreamRow): Promise<void>;
  findStream(id: string): Promise<SsfStreamRow | undefined>;
  /** A client's streams, oldest first. */
  listStreams(clientId: string): Promise<SsfStreamRow[]>;
  countStreams(clientId: string): Promise<number>;
  /** Every stream that takes events (status `enabled` or `paused`). */
  listLiveStreams(): Promise<SsfStreamRow[]>;
  /** Changes a stream; false when it does not exist. */
  updateStream(id: string, changes: SsfStreamChanges): Promise<boolean>;
  /**
   * Records a verification request at `at` unless the previous one was after `notBefore` (conditional: of two
   * racing requests, one wins). False when refused (or the stream is gone).
   */
  markVerification(id: string, at: number, notBefore: number): Promise<boolean>;
  /** Deletes a stream with its subjects and SETs; false when it did not exist. */
  deleteStream(id: string): Promise<boolean>;
  /** Records that the receiver removed `subject` from the stream (idempotent). */
  removeSubject(streamId: string, subject: string, at: number): Promise<void>;
  /** Takes `subject` off the removed list (idempotent). */
  restoreSubject(streamId: string, subject: string): Promise<void>;
  /** Which of these (stream, subject) pairs were removed. */
  removedSubjects(
    streamIds: readonly string[],
    subjects: readonly string[],
  ): Promise<{ stream_id: string; subject: string }[]>;
  /** Queues SETs; those whose `(stream_id, jti)` is queued already are ignored. Answers how many were new. */
  enqueue(rows: readonly NewSsfSet[]): Promise<number>;
  /** Streams (of `streamIds`) with a SET that is due (`next_attempt_at <= now`) and not held, at most `limit`. */
  dueStreams(streamIds: readonly string[], now: number, limit: number): Promise<string[]>;
  /** The first SET of a stream's queue (held or not). */
  head(streamId: string): Promise<SsfSetRow | undefined>;
  /** Holds one SET until `until` and counts an attempt, if it is free at `now`. True when this call won. */
  lease(streamId: string, jti: string, now: number, until: number): Promise<boolean>;
  /** Frees a held SET and schedules its next attempt. */
  release(streamId: string, jti: string, nextAttemptAt: number, error: string | null): Promise<void>;
  /**
   * Holds up to `limit` free SETs of a stream (oldest first) until `until` and answers them in queue order;
   * a SET another caller holds is skipped.
   */
  leaseAvailable(streamId: string, now: number, until: number, limit: number): Promise<SsfSetRow[]>;
  /** Whether a stream has a free SET at `now`. */
  hasAvailable(streamId: string, now: number): Promise<boolean>;
  /** Deletes SETs of a stream by jti (accepted, acknowledged, refused); answers how many were deleted. */
  remove(streamId: string, jtis: readonly string[]): Promise<number>;
  /** Deletes every SET of a stream. */
  clearQueue(streamId: string): Promise<number>;
  /** A stream's queue in order (for the CLI, admin and tests). */
  queue(streamId: string): Promise<SsfSetRow[]>;
  /** Deletes SETs whose `keep_until` is at or before `now`. */
  deleteExpired(now: number): Promise<number>;
}

/** SQLite allows 32 766 parameters, PostgreSQL 65 535; chunks keep every IN list far below both. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function setRow(row: SsfSetRow): SsfSetRow {
  return {
    ...row,
    seq: Number(row.seq),
    created_at: Number(row.created_at),
    keep_until: Number(row.keep_until),
    attempts: Number(row.attempts),
    next_attempt_at: Number(row.next_attempt_at),
    lease_until: Number(row.lease_until),
  };
}

export function ssfStreamsRepository(db: Kysely<Database>): SsfStreamsRepository {
  return {
    async insertStream(row) {
      await db.insertInto("ssf_streams").values(row).execute();
    },

    async findStream(id) {
      return db.selectFrom("ssf_streams").selectAll().where("id", "=", id).executeTakeFirst();
    },

    async listStreams(clientId) {
      return db
        .selectFrom("ssf_streams")
        .selectAll()
        .where("client_id", "=", clientId)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
    },

    async countStreams(clientId) {
      const row = await db
        .selectFrom("ssf_streams")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("client_id", "=", clientId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async listLiveStreams() {
      return db
        .selectFrom("ssf_streams")
        .selectAll()
        .where("status", "in", ["enabled", "paused"])
        .orderBy("id")
        .execute();
    },

    async updateStream(id, changes) {
      const result = await db.updateTable("ssf_streams").set(changes).where("id", "=", id).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async markVerification(id, at, notBefore) {
      const result = await db
        .updateTable("ssf_streams")
        .set({ verified_at: at })
        .where("id", "=", id)
        .where((eb) => eb.or([eb("verified_at", "is", null), eb("verified_at", "<=", notBefore)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteStream(id) {
      // The foreign keys cascade on both dialects; the explicit deletes keep it so even where they would not.
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom("ssf_sets").where("stream_id", "=", id).execute();
        await trx.deleteFrom("ssf_stream_subjects").where("stream_id", "=", id).execute();
        const result = await trx.deleteFrom("ssf_streams").where("id", "=", id).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      });
    },

    async removeSubject(streamId, subject, at) {
      await db
        .insertInto("ssf_stream_subjects")
        .values({ stream_id: streamId, subject, created_at: at })
        .onConflict((oc) => oc.columns(["stream_id", "subject"]).doNothing())
        .execute();
    },

    async restoreSubject(streamId, subject) {
      await db
        .deleteFrom("ssf_stream_subjects")
        .where("stream_id", "=", streamId)
        .where("subject", "=", subject)
        .execute();
    },

    async removedSubjects(streamIds, subjects) {
      if (streamIds.length === 0 || subjects.length === 0) return [];
      const out: { stream_id: string; subject: string }[] = [];
      for (const part of chunks(subjects)) {
        const rows = await db
          .selectFrom("ssf_stream_subjects")
          .select(["stream_id", "subject"])
          .where("stream_id", "in", [...streamIds])
          .where("subject", "in", part)
          .execute();
        out.push(...rows);
      }
      return out;
    },

    async enqueue(rows) {
      let inserted = 0;
      for (const part of chunks(rows)) {
        const result = await db
          .insertInto("ssf_sets")
          .values(
            part.map((row) => ({
              ...row,
              attempts: 0,
              next_attempt_at: 0,
              lease_until: 0,
              last_error: null,
            })),
          )
          .onConflict((oc) => oc.columns(["stream_id", "jti"]).doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
      }
      return inserted;
    },

    async dueStreams(streamIds, now, limit) {
      if (streamIds.length === 0) return [];
      const rows = await db
        .selectFrom("ssf_sets")
        .select("stream_id")
        .distinct()
        .where("stream_id", "in", [...streamIds])
        .where("next_attempt_at", "<=", now)
        .where("lease_until", "<=", now)
        .orderBy("stream_id")
        .limit(limit)
        .execute();
      return rows.map((r) => r.stream_id);
    },

    async head(streamId) {
      const row = await db
        .selectFrom("ssf_sets")
        .selectAll()
        .where("stream_id", "=", streamId)
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? undefined : setRow(row);
    },

    async lease(streamId, jti, now, until) {
      const result = await db
        .updateTable("ssf_sets")
        .set((eb) => ({ lease_until: until, attempts: eb("attempts", "+", 1) }))
        .where("stream_id", "=", streamId)
        .where("jti", "=", jti)
        .where("lease_until", "<=", now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(streamId, jti, nextAttemptAt, error) {
      await db
        .updateTable("ssf_sets")
        .set({ lease_until: 0, next_attempt_at: nextAttemptAt, last_error: error })
        .where("stream_id", "=", streamId)
        .where("jti", "=", jti)
        .execute();
    },

    async leaseAvailable(streamId, now, until, limit) {
      if (limit <= 0) return [];
      const candidates = await db
        .selectFrom("ssf_sets")
        .select("seq")
        .where("stream_id", "=", streamId)
        .where("lease_until", "<=", now)
        .orderBy("seq")
        .limit(limit)
        .execute();
      if (candidates.length === 0) return [];
      // One conditional UPDATE … RETURNING: a row another poll took meanwhile no longer matches and is skipped.
      const won = await db
        .updateTable("ssf_sets")
        .set({ lease_until: until })
        .where(
          "seq",
          "in",
          candidates.map((c) => Number(c.seq)),
        )
        .where("lease_until", "<=", now)
        .returningAll()
        .execute();
      return won.map(setRow).sort((a, b) => a.seq - b.seq);
    },

    async hasAvailable(streamId, now) {
      const row = await db
        .selectFrom("ssf_sets")
        .select("seq")
        .where("stream_id", "=", streamId)
        .where("lease_until", "<=", now)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },

    async remove(streamId, jtis) {
      let deleted = 0;
      for (const part of chunks(jtis)) {
        const result = await db
          .deleteFrom("ssf_sets")
          .where("stream_id", "=", streamId)
          .where("jti", "in", part)
          .executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      return deleted;
    },

    async clearQueue(streamId) {
      const result = await db.deleteFrom("ssf_sets").where("stream_id", "=", streamId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async queue(streamId) {
      const rows = await db
        .selectFrom("ssf_sets")
        .selectAll()
        .where("stream_id", "=", streamId)
        .orderBy("seq")
        .execute();
      return rows.map(setRow);
    },

    async deleteExpired(now) {
      const result = await db.deleteFrom("ssf_sets").where("keep_until", "<=", now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
