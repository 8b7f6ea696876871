/**
 * Service accounts at rest (api-tokens/service-accounts.ts decides the rules).
 *
 * - `name_key` (the lower-cased NFKC name) is unique: a concurrent create of the same name fails with a unique
 *   violation, as the driver reports it (`isUniqueViolation`).
 * - An account's owner is a user or a group: `userExists` / `groupExists` answer whether the one named exists.
 */
import type { Kysely } from "kysely";
import type { Database, ServiceAccountsTable } from "../database.js";

export type ServiceAccountRow = ServiceAccountsTable;

export interface ServiceAccountsRepository {
  insert(row: ServiceAccountRow): Promise<void>;
  findById(id: string): Promise<ServiceAccountRow | undefined>;
  findByNameKey(nameKey: string): Promise<ServiceAccountRow | undefined>;
  /** Every account, by name key. */
  list(): Promise<ServiceAccountRow[]>;
  /** Sets the disabled time. */
  disable(id: string, at: number): Promise<void>;
  delete(id: string): Promise<void>;
  userExists(userId: string): Promise<boolean>;
  groupExists(groupId: string): Promise<boolean>;
}

export function serviceAccountsRepository(db: Kysely<Database>): ServiceAccountsRepository {
  return {
    async insert(row) {
      await db.insertInto("service_accounts").values(row).execute();
    },

    findById: (id) => db.selectFrom("service_accounts").selectAll().where("id", "=", id).executeTakeFirst(),

    findByNameKey: (nameKey) =>
      db.selectFrom("service_accounts").selectAll().where("name_key", "=", nameKey).executeTakeFirst(),

    list: () => db.selectFrom("service_accounts").selectAll().orderBy("name_key").execute(),

    async disable(id, at) {
      await db.updateTable("service_accounts").set({ disabled_at: at }).where("id", "=", id).execute();
    },

    async delete(id) {
      await db.deleteFrom("service_accounts").where("id", "=", id).execute();
    },

    async userExists(userId) {
      const row = await db.selectFrom("users").select("id").where("id", "=", userId).executeTakeFirst();
      return row !== undefined;
    },

    async groupExists(groupId) {
      const row = await db.selectFrom("groups").select("id").where("id", "=", groupId).executeTakeFirst();
      return row !== undefined;
    },
  };
}
