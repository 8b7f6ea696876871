/**
 * Self-service sign-ups waiting for their e-mail link (onboarding/sign-up.ts): found by the SHA-256 of the link's
 * token; the chosen password only as its argon2id hash.
 *
 * - `consume` is one conditional UPDATE (`used_at IS NULL AND expires_at > at AND attempts < limit`): one link
 *   creates one account, also when raced. `release` undoes a consume whose account could not be created (a user
 *   name taken meanwhile), conditional on the consume's own time so it cannot revive a link someone else used.
 * - Wrong passwords at the confirmation count up in one conditional UPDATE (`attempts < limit`): its row count
 *   says whether the attempt was still allowed.
 */
import type { Insertable, Kysely, Selectable } from "kysely";
import type { Database, PendingSignUpsTable } from "../database.js";

export type PendingSignUpRow = Selectable<PendingSignUpsTable>;
export type NewPendingSignUpRow = Insertable<PendingSignUpsTable>;

export interface PendingSignUpsRepository {
  insert(row: NewPendingSignUpRow): Promise<void>;
  findByHash(tokenHash: string): Promise<PendingSignUpRow | undefined>;
  /** Adds one wrong password if fewer than `below` are counted and the link is unused; true when it did. */
  countFailure(id: string, below: number): Promise<boolean>;
  /** Marks the link used at `at` if it is unused, unexpired at `at` and has fewer than `below` failures. */
  consume(id: string, at: number, below: number): Promise<boolean>;
  /** Makes a link consumed at `at` unused again; true when it did. */
  release(id: string, at: number): Promise<boolean>;
  /** Deletes links expired at `now` (`expires_at <= now`) and used ones; how many. */
  deleteExpiredOrUsed(now: number): Promise<number>;
}

export function pendingSignUpsRepository(db: Kysely<Database>): PendingSignUpsRepository {
  return {
    async insert(row) {
      await db.insertInto("pending_sign_ups").values(row).execute();
    },

    findByHash: (tokenHash) =>
      db.selectFrom("pending_sign_ups").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    async countFailure(id, below) {
      const result = await db
        .updateTable("pending_sign_ups")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("id", "=", id)
        .where("used_at", "is", null)
        .where("attempts", "<", below)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async consume(id, at, below) {
      const result = await db
        .updateTable("pending_sign_ups")
        .set({ used_at: at })
        .where("id", "=", id)
        .where("used_at", "is", null)
        .where("expires_at", ">", at)
        .where("attempts", "<", below)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(id, at) {
      const result = await db
        .updateTable("pending_sign_ups")
        .set({ used_at: null })
        .where("id", "=", id)
        .where("used_at", "=", at)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteExpiredOrUsed(now) {
      const result = await db
        .deleteFrom("pending_sign_ups")
        .where((eb) => eb.or([eb("expires_at", "<=", now), eb("used_at", "is not", null)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
