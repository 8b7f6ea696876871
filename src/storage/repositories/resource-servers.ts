/**
 * Resource servers at rest (oauth/clients.ts): an audience, a name and the scopes it accepts, and, when it asks
 * for encrypted access tokens, its public keys and the JWE algorithms.
 */
import type { Kysely } from "kysely";
import type { Database, ResourceServersTable } from "../database.js";
import { isUniqueViolation } from "../errors.js";

export type ResourceServerRow = ResourceServersTable;

/** The columns that say how its access tokens are encrypted (all null: they are not). */
export type ResourceServerEncryptionFields = Pick<
  ResourceServerRow,
  "jwks" | "access_token_encryption_alg" | "access_token_encryption_enc"
>;

export interface ResourceServersRepository {
  find(audience: string): Promise<ResourceServerRow | undefined>;
  /** Every resource server, by audience. */
  list(): Promise<ResourceServerRow[]>;
  /** Inserts one; false when the audience is taken. */
  insert(row: ResourceServerRow): Promise<boolean>;
  delete(audience: string): Promise<boolean>;
  /** Sets how its access tokens are encrypted; false when there is no such resource server. */
  setEncryption(audience: string, fields: ResourceServerEncryptionFields): Promise<boolean>;
}

export function resourceServersRepository(db: Kysely<Database>): ResourceServersRepository {
  return {
    find: (audience) =>
      db.selectFrom("resource_servers").selectAll().where("audience", "=", audience).executeTakeFirst(),

    list: () => db.selectFrom("resource_servers").selectAll().orderBy("audience").execute(),

    async insert(row) {
      try {
        await db.insertInto("resource_servers").values(row).execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async setEncryption(audience, fields) {
      const result = await db
        .updateTable("resource_servers")
        .set(fields)
        .where("audience", "=", audience)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    async delete(audience) {
      const result = await db
        .deleteFrom("resource_servers")
        .where("audience", "=", audience)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
