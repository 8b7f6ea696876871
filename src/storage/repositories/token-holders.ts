/**
 * The few facts about a user that OAuth token checks need (oauth/issuer.ts, introspection, the grants): the
 * user name, the `active` flag and the access-token cut-off. One indexed read, not the whole user.
 */
import type { Kysely } from "kysely";
import type { Database } from "../database.js";

export interface TokenHolder {
  userName: string;
  active: boolean;
  /** Epoch ms: the user's access tokens issued (`iat`) before it are refused. */
  tokensNotBefore: number;
}

export interface TokenHoldersRepository {
  find(userId: string): Promise<TokenHolder | undefined>;
}

export function tokenHoldersRepository(db: Kysely<Database>): TokenHoldersRepository {
  return {
    async find(userId) {
      const row = await db
        .selectFrom("users")
        .select(["user_name", "active", "tokens_not_before"])
        .where("id", "=", userId)
        .executeTakeFirst();
      return row
        ? { userName: row.user_name, active: row.active === 1, tokensNotBefore: row.tokens_not_before }
        : undefined;
    },
  };
}
