/**
 * Initial access tokens for dynamic client registration (oauth/registration.ts, RFC 7591 §3): SHA-256 of the
 * token, an optional expiry and an optional number of registrations left. A use is one conditional UPDATE.
 */
import type { Kysely } from "kysely";
import type { Database, InitialAccessTokensTable } from "../database.js";

export type InitialAccessTokenRow = InitialAccessTokensTable;

export interface InitialAccessTokensRepository {
  insert(row: InitialAccessTokenRow): Promise<void>;
  findByHash(tokenHash: string): Promise<InitialAccessTokenRow | undefined>;
  /** Takes one use of a limited token; false when none is left. */
  useOnce(tokenHash: string): Promise<boolean>;
  /** Deletes the token; false when there was none. */
  deleteByHash(tokenHash: string): Promise<boolean>;
}

export function initialAccessTokensRepository(db: Kysely<Database>): InitialAccessTokensRepository {
  return {
    async insert(row) {
      await db.insertInto("initial_access_tokens").values(row).execute();
    },

    findByHash: (tokenHash) =>
      db
        .selectFrom("initial_access_tokens")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst(),

    async useOnce(tokenHash) {
      const result = await db
        .updateTable("initial_access_tokens")
        .set((eb) => ({ uses_left: eb("uses_left", "-", 1) }))
        .where("token_hash", "=", tokenHash)
        .where("uses_left", ">", 0)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteByHash(tokenHash) {
      const result = await db
        .deleteFrom("initial_access_tokens")
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
