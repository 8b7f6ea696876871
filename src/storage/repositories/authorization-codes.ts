/**
 * Authorization codes at rest (oauth/authorize.ts issues them, oauth/grants/authorization-code.ts redeems
 * them): SHA-256 of the code, what it grants, and once redeemed what it issued, so that a replay can revoke it.
 *
 * - Issuing answers the stored request: the request row is deleted and the code inserted in one transaction,
 *   so a request answers once.
 * - Redeeming is one conditional UPDATE (`consumed_at IS NULL`) in a transaction with the INSERT of the first
 *   refresh token of the new family: two concurrent redemptions cannot both win. Burning (a failed
 *   redemption) is the same conditional UPDATE with nothing issued.
 */
import type { Kysely } from "kysely";
import type { AuthorizationCodesTable, Database, RefreshTokensTable } from "../database.js";

export type AuthorizationCodeRow = AuthorizationCodesTable;

/** What a redeemed code issued. */
export interface IssuedByCode {
  consumedAt: number;
  familyId: string | null;
  accessJti: string;
  accessExpiresAt: number;
}

export interface AuthorizationCodesRepository {
  /** Deletes the stored request `requestId` and inserts the code; false (nothing inserted) when it was gone. */
  issueForRequest(requestId: string, code: AuthorizationCodeRow): Promise<boolean>;
  find(codeHash: string): Promise<AuthorizationCodeRow | undefined>;
  /**
   * Marks the code consumed with what it issued and inserts the family's first refresh token, if any,
   * atomically; false when the code was consumed already (another request won).
   */
  redeem(
    codeHash: string,
    issued: IssuedByCode,
    refreshToken: RefreshTokensTable | undefined,
  ): Promise<boolean>;
  /**
   * Marks an unredeemed code consumed without issuing anything (a failed redemption burns it); false when it
   * was consumed already.
   */
  burn(codeHash: string, at: number): Promise<boolean>;
  /** Deletes codes that expired at or before `before`. */
  deleteExpired(before: number): Promise<number>;
}

export function authorizationCodesRepository(db: Kysely<Database>): AuthorizationCodesRepository {
  return {
    issueForRequest(requestId, code) {
      return db.transaction().execute(async (trx) => {
        const removed = await trx.deleteFrom("oauth_requests").where("id", "=", requestId).executeTakeFirst();
        if (Number(removed.numDeletedRows) === 0) return false;
        await trx.insertInto("authorization_codes").values(code).execute();
        return true;
      });
    },

    find: (codeHash) =>
      db.selectFrom("authorization_codes").selectAll().where("code_hash", "=", codeHash).executeTakeFirst(),

    redeem(codeHash, issued, refreshToken) {
      return db.transaction().execute(async (trx) => {
        const consumed = await trx
          .updateTable("authorization_codes")
          .set({
            consumed_at: issued.consumedAt,
            issued_family_id: issued.familyId,
            issued_jti: issued.accessJti,
            issued_jti_expires_at: issued.accessExpiresAt,
          })
          .where("code_hash", "=", codeHash)
          .where("consumed_at", "is", null)
          .executeTakeFirst();
        if (Number(consumed.numUpdatedRows) === 0) return false;
        if (refreshToken !== undefined) await trx.insertInto("refresh_tokens").values(refreshToken).execute();
        return true;
      });
    },

    async burn(codeHash, at) {
      const result = await db
        .updateTable("authorization_codes")
        .set({ consumed_at: at })
        .where("code_hash", "=", codeHash)
        .where("consumed_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async deleteExpired(before) {
      const result = await db
        .deleteFrom("authorization_codes")
        .where("expires_at", "<=", before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
