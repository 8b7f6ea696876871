/**
 * WebAuthn challenges at rest (mfa/webauthn-challenges.ts): the row's id is the SHA-256 of the challenge.
 *
 * - Single use: `consume` is one conditional DELETE (id, purpose, user — NULL for passwordless — and
 *   `expires_at > now`); the deleted-row count decides, so two responses racing with one challenge cannot both
 *   pass.
 */
import type { Kysely } from "kysely";
import type { Database, WebAuthnChallengesTable } from "../database.js";

export type WebAuthnChallengeRow = WebAuthnChallengesTable;

export interface WebAuthnChallengesRepository {
  insert(row: WebAuthnChallengeRow): Promise<void>;
  /**
   * Deletes the challenge with this id if it was issued for this purpose and user (null: no user) and is
   * unexpired at `now`; true when this call did.
   */
  consume(
    id: string,
    purpose: WebAuthnChallengeRow["purpose"],
    userId: string | null,
    now: number,
  ): Promise<boolean>;
  /** Deletes challenges expired at `now` (`expires_at <= now`); how many. */
  deleteExpired(now: number): Promise<number>;
}

export function webauthnChallengesRepository(db: Kysely<Database>): WebAuthnChallengesRepository {
  return {
    async insert(row) {
      await db.insertInto("webauthn_challenges").values(row).execute();
    },

    async consume(id, purpose, userId, now) {
      const result = await db
        .deleteFrom("webauthn_challenges")
        .where("id", "=", id)
        .where("purpose", "=", purpose)
        .where((eb) => (userId === null ? eb("user_id", "is", null) : eb("user_id", "=", userId)))
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async deleteExpired(now) {
      const result = await db
        .deleteFrom("webauthn_challenges")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
