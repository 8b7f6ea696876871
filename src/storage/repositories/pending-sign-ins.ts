/**
 * Pending sign-ins at rest (mfa/pending.ts): the state between a correct password and the second factor, found
 * by the SHA-256 of the cookie's token.
 *
 * - Failed attempts count up in one conditional UPDATE (`attempts < limit`): its row count says whether the
 *   attempt was still allowed.
 * - `take` is one conditional DELETE (`expires_at > now`): one pending sign-in completes once.
 */
import type { Kysely } from "kysely";
import type { Database, PendingSignInsTable } from "../database.js";

export type PendingSignInRow = PendingSignInsTable;

export interface PendingSignInsRepository {
  insert(row: PendingSignInRow): Promise<void>;
  findByHash(tokenHash: string): Promise<PendingSignInRow | undefined>;
  /** Adds one failed attempt if fewer than `below` are counted; true when it did. */
  countFailure(tokenHash: string, below: number): Promise<boolean>;
  setStage(tokenHash: string, stage: PendingSignInRow["stage"]): Promise<void>;
  delete(tokenHash: string): Promise<void>;
  /** Deletes the pending sign-in if it is unexpired at `now`; true when this call did. */
  take(tokenHash: string, now: number): Promise<boolean>;
  /** Deletes those expired at `now` (`expires_at <= now`); how many. */
  deleteExpired(now: number): Promise<number>;
}

export function pendingSignInsRepository(db: Kysely<Database>): PendingSignInsRepository {
  return {
    async insert(row) {
      await db.insertInto("pending_sign_ins").values(row).execute();
    },

    findByHash: (tokenHash) =>
      db.selectFrom("pending_sign_ins").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    async countFailure(tokenHash, below) {
      const result = await db
        .updateTable("pending_sign_ins")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("token_hash", "=", tokenHash)
        .where("attempts", "<", below)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setStage(tokenHash, stage) {
      await db.updateTable("pending_sign_ins").set({ stage }).where("token_hash", "=", tokenHash).execute();
    },

    async delete(tokenHash) {
      await db.deleteFrom("pending_sign_ins").where("token_hash", "=", tokenHash).execute();
    },

    async take(tokenHash, now) {
      const result = await db
        .deleteFrom("pending_sign_ins")
        .where("token_hash", "=", tokenHash)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async deleteExpired(now) {
      const result = await db
        .deleteFrom("pending_sign_ins")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
