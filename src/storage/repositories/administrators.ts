/** Holders of Tessera's administrator right (migration 0008). */
import type { Kysely } from "kysely";
import type { AdministratorsTable, Database } from "../database.js";

export type AdministratorRow = AdministratorsTable;

export interface AdministratorsRepository {
  has(userId: string): Promise<boolean>;
  /** False when the user already held the right. */
  insert(row: AdministratorRow): Promise<boolean>;
  /** False when the user did not hold it. */
  delete(userId: string): Promise<boolean>;
  list(): Promise<AdministratorRow[]>;
}

export function administratorsRepository(db: Kysely<Database>): AdministratorsRepository {
  return {
    async has(userId) {
      const row = await db
        .selectFrom("administrators")
        .select("user_id")
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return row !== undefined;
    },
    async insert(row) {
      const result = await db
        .insertInto("administrators")
        .values(row)
        .onConflict((oc) => oc.column("user_id").doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
    async delete(userId) {
      const result = await db.deleteFrom("administrators").where("user_id", "=", userId).executeTakeFirst();
      return result.numDeletedRows === 1n;
    },
    list: () =>
      db.selectFrom("administrators").selectAll().orderBy("granted_at").orderBy("user_id").execute(),
  };
}
