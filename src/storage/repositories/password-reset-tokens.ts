/**
 * Password-reset links at rest (accounts/password-reset.ts): only the token's SHA-256 is stored.
 *
 * - A link is consumed by one conditional UPDATE (`used_at IS NULL AND expires_at > now`): two concurrent uses
 *   cannot both win.
 */
import type { Kysely } from "kysely";
import type { Database, PasswordResetTokensTable } from "../database.js";

export type PasswordResetTokenRow = PasswordResetTokensTable;

export interface PasswordResetTokensRepository {
  insert(row: PasswordResetTokenRow): Promise<void>;
  findByHash(tokenHash: string): Promise<PasswordResetTokenRow | undefined>;
  /** Marks the link used at `at` if it is unused and unexpired at `at`; true when this call did. */
  consume(tokenHash: string, at: number): Promise<boolean>;
  /** Marks every unused link of the user used at `at`. */
  useAllOf(userId: string, at: number): Promise<void>;
  /** Deletes every link of the user. */
  deleteAllOf(userId: string): Promise<void>;
  /** Deletes links expired at `now` (`expires_at <= now`) and used ones; how many. */
  deleteExpiredOrUsed(now: number): Promise<number>;
}

export function passwordResetTokensRepository(db: Kysely<Database>): PasswordResetTokensRepository {
  return {
    async insert(row) {
      await db.insertInto("password_reset_tokens").values(row).execute();
    },

    findByHash: (tokenHash) =>
      db
        .selectFrom("password_reset_tokens")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst(),

    async consume(tokenHash, at) {
      const result = await db
        .updateTable("password_reset_tokens")
        .set({ used_at: at })
        .where("token_hash", "=", tokenHash)
        .where("used_at", "is", null)
        .where("expires_at", ">", at)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async useAllOf(userId, at) {
      await db
        .updateTable("password_reset_tokens")
        .set({ used_at: at })
        .where("user_id", "=", userId)
        .where("used_at", "is", null)
        .execute();
    },

    async deleteAllOf(userId) {
      await db.deleteFrom("password_reset_tokens").where("user_id", "=", userId).execute();
    },

    async deleteExpiredOrUsed(now) {
      const result = await db
        .deleteFrom("password_reset_tokens")
        .where((eb) => eb.or([eb("expires_at", "<=", now), eb("used_at", "is not", null)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
