/**
 * DPoP proofs seen at Tessera's endpoints (oauth/dpop.ts, RFC 9449 §11.1): one row per proof, keyed by a hash
 * of its key's thumbprint and its jti, kept until the proof could no longer be accepted. The primary key
 * makes a replay fail on every instance.
 */
import type { Kysely } from "kysely";
import type { Database } from "../database.js";
import { isUniqueViolation } from "../errors.js";

export interface DpopProofsRepository {
  /** Records a proof as used; false when it was used already. */
  record(id: string, expiresAt: number): Promise<boolean>;
  /** Deletes records that expired at or before `now`. */
  deleteExpired(now: number): Promise<number>;
}

export function dpopProofsRepository(db: Kysely<Database>): DpopProofsRepository {
  return {
    async record(id, expiresAt) {
      try {
        await db.insertInto("dpop_proofs").values({ id, expires_at: expiresAt }).execute();
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async deleteExpired(now) {
      const result = await db.deleteFrom("dpop_proofs").where("expires_at", "<=", now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
