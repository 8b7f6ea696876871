/**
 * Access tokens at rest (oauth/issuer.ts): opaque access tokens and encrypted (JWE) ones (SHA-256 of the token
 * and its claims; signed JWTs are not stored), and reads of the revocation list (`revoked_access_tokens`,
 * written by grants.ts).
 */
import type { Kysely } from "kysely";
import type { AccessTokensTable, Database } from "../database.js";

export type AccessTokenRow = AccessTokensTable;

export interface AccessTokensRepository {
  insertOpaque(row: AccessTokenRow): Promise<void>;
  findOpaque(tokenHash: string): Promise<AccessTokenRow | undefined>;
  /** Puts a JWT access token on the revocation list (until it expires); nothing if it is there already. */
  insertRevoked(jti: string, expiresAt: number): Promise<void>;
  /** Whether the token with this jti is on the revocation list. */
  isRevoked(jti: string): Promise<boolean>;
  /** Deletes opaque tokens and revocation-list entries that expired at or before `now`; the entries deleted. */
  deleteExpired(now: number): Promise<number>;
}

export function accessTokensRepository(db: Kysely<Database>): AccessTokensRepository {
  return {
    async insertOpaque(row) {
      await db.insertInto("access_tokens").values(row).execute();
    },

    findOpaque: (tokenHash) =>
      db.selectFrom("access_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    async insertRevoked(jti, expiresAt) {
      await db
        .insertInto("revoked_access_tokens")
        .values({ jti, expires_at: expiresAt })
        .onConflict((oc) => oc.column("jti").doNothing())
        .execute();
    },
    async isRevoked(jti) {
      const row = await db
        .selectFrom("revoked_access_tokens")
        .select("jti")
        .where("jti", "=", jti)
        .executeTakeFirst();
      return row !== undefined;
    },

    async deleteExpired(now) {
      await db.deleteFrom("access_tokens").where("expires_at", "<=", now).execute();
      const result = await db
        .deleteFrom("revoked_access_tokens")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
