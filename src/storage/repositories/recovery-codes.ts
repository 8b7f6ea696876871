/**
 * Recovery codes at rest (mfa/recovery-codes.ts): SHA-256 digests only.
 *
 * - A code is consumed by one conditional UPDATE (`used_at IS NULL`): two concurrent uses produce one success.
 * - `replaceAll` swaps a user's whole set in one transaction that first touches the user's row (a no-op
 *   UPDATE): on PostgreSQL that row lock serialises two regenerations of one user, which would otherwise both
 *   delete the old set and both insert theirs.
 * - Replacing and deleting write their domain events (`events`) in their own transaction (deleting: only
 *   when there were codes).
 */
import type { Kysely } from "kysely";
import type { Database, RecoveryCodesTable } from "../database.js";
import { eventsIfChanged, insertOutboxEvents, type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export type RecoveryCodeRow = RecoveryCodesTable;

export interface RecoveryCodesRepository {
  /** How many of the user's codes are unused. */
  countUnused(userId: string): Promise<number>;
  /** Replaces the user's codes with `rows` in one transaction; how many codes were deleted. */
  replaceAll(
    userId: string,
    rows: readonly RecoveryCodeRow[],
    events?: readonly OutboxEvent[],
  ): Promise<number>;
  /** Marks the user's unused code with this digest used at `at`; true when this call did. */
  consume(userId: string, codeHash: string, at: number): Promise<boolean>;
  deleteAll(userId: string, events?: readonly OutboxEvent[]): Promise<void>;
}

export function recoveryCodesRepository(db: Kysely<Database>): RecoveryCodesRepository {
  return {
    async countUnused(userId) {
      const row = await db
        .selectFrom("recovery_codes")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", userId)
        .where("used_at", "is", null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    replaceAll: (userId, rows, events = []) =>
      db.transaction().execute(async (trx) => {
        // A no-op write that takes the user's row lock (PostgreSQL) until commit: see the module comment.
        await trx
          .updateTable("users")
          .set((eb) => ({ mfa_required: eb.ref("mfa_required") }))
          .where("id", "=", userId)
          .execute();
        const deleted = await trx
          .deleteFrom("recovery_codes")
          .where("user_id", "=", userId)
          .executeTakeFirst();
        if (rows.length > 0)
          await trx
            .insertInto("recovery_codes")
            .values([...rows])
            .execute();
        await insertOutboxEvents(trx, events);
        return Number(deleted.numDeletedRows);
      }),

    async consume(userId, codeHash, at) {
      const result = await db
        .updateTable("recovery_codes")
        .set({ used_at: at })
        .where("user_id", "=", userId)
        .where("code_hash", "=", codeHash)
        .where("used_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteAll(userId, events) {
      await withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db.deleteFrom("recovery_codes").where("user_id", "=", userId).executeTakeFirst();
        return Number(result.numDeletedRows);
      });
    },
  };
}
