/**
 * Authorization requests at rest (oauth/authorize.ts): a validated request kept while the user signs in or
 * consents, and pushed requests (RFC 9126) until their `request_uri` expires. The request itself is JSON.
 */
import type { Kysely } from "kysely";
import type { Database, OAuthRequestsTable } from "../database.js";

export type AuthorizationRequestRow = OAuthRequestsTable;

export interface AuthorizationRequestsRepository {
  insert(row: AuthorizationRequestRow): Promise<void>;
  find(id: string): Promise<AuthorizationRequestRow | undefined>;
  updateParams(id: string, params: string): Promise<void>;
  delete(id: string): Promise<void>;
  /** Deletes requests that expired at or before `now`. */
  deleteExpired(now: number): Promise<number>;
}

export function authorizationRequestsRepository(db: Kysely<Database>): AuthorizationRequestsRepository {
  return {
    async insert(row) {
      await db.insertInto("oauth_requests").values(row).execute();
    },

    find: (id) => db.selectFrom("oauth_requests").selectAll().where("id", "=", id).executeTakeFirst(),

    async updateParams(id, params) {
      await db.updateTable("oauth_requests").set({ params }).where("id", "=", id).execute();
    },

    async delete(id) {
      await db.deleteFrom("oauth_requests").where("id", "=", id).execute();
    },

    async deleteExpired(now) {
      const result = await db.deleteFrom("oauth_requests").where("expires_at", "<=", now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
