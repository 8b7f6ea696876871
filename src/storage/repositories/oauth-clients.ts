/**
 * OAuth clients at rest (oauth/clients.ts decides what they may do): their metadata, and their secret and
 * registration access token (RFC 7592) as SHA-256 digests only.
 */
import type { Kysely } from "kysely";
import type { Database, OAuthClientsTable } from "../database.js";
import { isUniqueViolation } from "../errors.js";

export type OAuthClientRow = OAuthClientsTable;

/** What registration and replacement set: everything but the id, the credentials and the times. */
export type OAuthClientFields = Omit<
  OAuthClientRow,
  "id" | "secret_hash" | "registration_token_hash" | "created_at" | "updated_at"
>;

/** The two credentials a client can hold, by their column. */
export type ClientCredentialColumn = "secret_hash" | "registration_token_hash";

export interface OAuthClientsRepository {
  find(id: string): Promise<OAuthClientRow | undefined>;
  /** Every client, oldest first (ties by id). */
  list(): Promise<OAuthClientRow[]>;
  /** Inserts a client; false when its id is taken (also when two registrations race for it). */
  insert(row: OAuthClientRow): Promise<boolean>;
  updateFields(id: string, fields: OAuthClientFields, at: number): Promise<void>;
  setSecretHash(id: string, secretHash: string, at: number): Promise<void>;
  delete(id: string): Promise<boolean>;
  /** The id of the client whose secret (or registration token) has this digest. */
  findIdByCredential(column: ClientCredentialColumn, digest: string): Promise<string | undefined>;
  /** Replaces that credential's digest (null drops it), only while it is still `digest`. */
  replaceCredential(
    id: string,
    column: ClientCredentialColumn,
    digest: string,
    replacement: string | null,
    at: number,
  ): Promise<void>;
}

export function oauthClientsRepository(db: Kysely<Database>): OAuthClientsRepository {
  return {
    find: (id) => db.selectFrom("oauth_clients").selectAll().where("id", "=", id).executeTakeFirst(),

    list: () => db.selectFrom("oauth_clients").selectAll().orderBy("created_at").orderBy("id").execute(),

    async insert(row) {
      try {
        await db.insertInto("oauth_clients").values(row).execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async updateFields(id, fields, at) {
      await db
        .updateTable("oauth_clients")
        .set({ ...fields, updated_at: at })
        .where("id", "=", id)
        .execute();
    },

    async setSecretHash(id, secretHash, at) {
      await db
        .updateTable("oauth_clients")
        .set({ secret_hash: secretHash, updated_at: at })
        .where("id", "=", id)
        .execute();
    },

    async delete(id) {
      const result = await db.deleteFrom("oauth_clients").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async findIdByCredential(column, digest) {
      const row = await db
        .selectFrom("oauth_clients")
        .select("id")
        .where(column, "=", digest)
        .executeTakeFirst();
      return row?.id;
    },

    async replaceCredential(id, column, digest, replacement, at) {
      await db
        .updateTable("oauth_clients")
        .set(
          column === "secret_hash"
            ? { secret_hash: replacement, updated_at: at }
            : { registration_token_hash: replacement, updated_at: at },
        )
        .where("id", "=", id)
        .where(column, "=", digest)
        .execute();
    },
  };
}
