/**
 * Consents at rest (oauth/authorize.ts): per user and client, the scopes and resources (JSON) the user
 * allowed. One row per pair; granting more updates it.
 */
import type { Kysely } from "kysely";
import type { Database, OAuthConsentsTable } from "../database.js";

export type OAuthConsentRow = OAuthConsentsTable;

export interface OAuthConsentsRepository {
  find(userId: string, clientId: string): Promise<Pick<OAuthConsentRow, "scope" | "resources"> | undefined>;
  /** Inserts the pair's consent, or replaces its scope and resources (`created_at` kept). */
  upsert(row: OAuthConsentRow): Promise<void>;
  /** The user's consents, most recently updated first. */
  listByUser(userId: string): Promise<OAuthConsentRow[]>;
  delete(userId: string, clientId: string): Promise<boolean>;
}

export function oauthConsentsRepository(db: Kysely<Database>): OAuthConsentsRepository {
  return {
    find: (userId, clientId) =>
      db
        .selectFrom("oauth_consents")
        .select(["scope", "resources"])
        .where("user_id", "=", userId)
        .where("client_id", "=", clientId)
        .executeTakeFirst(),

    async upsert(row) {
      await db
        .insertInto("oauth_consents")
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(["user_id", "client_id"])
            .doUpdateSet({ scope: row.scope, resources: row.resources, updated_at: row.updated_at }),
        )
        .execute();
    },

    listByUser: (userId) =>
      db
        .selectFrom("oauth_consents")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("updated_at", "desc")
        .execute(),

    async delete(userId, clientId) {
      const result = await db
        .deleteFrom("oauth_consents")
        .where("user_id", "=", userId)
        .where("client_id", "=", clientId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
