/**
 * `private_key_jwt` assertions seen (RFC 7523 §3): the (client, jti) pairs are the replay check itself, kept
 * until the assertion expires. The primary key makes a second use fail, on every instance at once.
 */
import type { Kysely } from "kysely";
import type { Database } from "../database.js";
import { isUniqueViolation } from "../errors.js";

export interface ClientAssertionsRepository {
  /** Records an assertion as used; false when this client already used this jti. */
  record(clientId: string, jti: string, expiresAt: number): Promise<boolean>;
  /** Deletes the records of assertions that expired at or before `before`. */
  deleteExpired(before: number): Promise<number>;
}

export function clientAssertionsRepository(db: Kysely<Database>): ClientAssertionsRepository {
  return {
    async record(clientId, jti, expiresAt) {
      try {
        await db
          .insertInto("client_assertions")
          .values({ client_id: clientId, jti, expires_at: expiresAt })
          .execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async deleteExpired(before) {
      const result = await db
        .deleteFrom("client_assertions")
        .where("expires_at", "<=", before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
