/**
 * Revocation events at rest (revocation/feed.ts decides what they mean and how cursors work).
 *
 * - Read in `(at, id)` order, optionally strictly after one `(at, id)` position: the condition is written as
 *   `at >= a and (at > a or id > i)` so that the index on `at` bounds the scan.
 * - An event is live while `keep_until > now`; expired ones are deleted by `deleteExpired`.
 */
import type { Kysely } from "kysely";
import type { Database, RevocationEventsTable } from "../database.js";

export type RevocationEventRow = RevocationEventsTable;

export type RevocationEventEntry = Pick<RevocationEventRow, "id" | "type" | "value" | "at">;

export interface RevocationEventsRepository {
  insert(rows: readonly RevocationEventRow[]): Promise<void>;
  /**
   * Live events (`keep_until > now`) in `(at, id)` order, at most `limit`; with `after`, only those after that
   * position (`id` "" stands before every id, so `{ at, id: "" }` means "from `at` on").
   */
  list(query: {
    now: number;
    after?: { at: number; id: string };
    limit: number;
  }): Promise<RevocationEventEntry[]>;
  /** Deletes events whose `keep_until` is at or before `now`. Returns how many were deleted. */
  deleteExpired(now: number): Promise<number>;
}

export function revocationEventsRepository(db: Kysely<Database>): RevocationEventsRepository {
  return {
    async insert(rows) {
      if (rows.length === 0) return;
      await db
        .insertInto("revocation_events")
        .values([...rows])
        .execute();
    },
    async list({ now, after, limit }) {
      let query = db
        .selectFrom("revocation_events")
        .select(["id", "type", "value", "at"])
        .where("keep_until", ">", now);
      if (after !== undefined) {
        query = query
          .where("at", ">=", after.at)
          .where((eb) => eb.or([eb("at", ">", after.at), eb("id", ">", after.id)]));
      }
      const rows = await query.orderBy("at").orderBy("id").limit(limit).execute();
      return rows.map((r) => ({ id: r.id, type: r.type, value: r.value, at: Number(r.at) }));
    },
    async deleteExpired(now) {
      const result = await db
        .deleteFrom("revocation_events")
        .where("keep_until", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
