/**
 * DPoP at Tessera's own endpoints (RFC 9449): the token endpoint and PAR bind what they issue to the key of
 * the request's proof, userinfo checks the proof that comes with a bound access token.
 *
 * - Proof checking is `src/lib/dpop.ts` (shared with the SDK). This adds what needs the server: the URL the
 *   proof must name (the issuer's, as advertised in discovery, so that a proxy in front changes nothing), the
 *   clock, and replay tracking in the database (`dpop_proofs`, keyed by a hash of key thumbprint and jti), so
 *   that a proof accepted by one instance is refused by every other.
 * - A request may carry at most one `DPoP` header (§4.3 check 1).
 */
import type { Kysely } from "kysely";
import type { Clock } from "../lib/clock.js";
import {
  DEFAULT_DPOP_MAX_AGE,
  DPOP_ALGORITHMS,
  DpopProofError,
  dpopReplayKey,
  type VerifiedDpopProof,
  verifyDpopProof,
} from "../lib/dpop.js";
import type { Database } from "../storage/database.js";
import { isUniqueViolation } from "../storage/errors.js";

/** Algorithms advertised as `dpop_signing_alg_values_supported` (the fully specified `Ed25519` included). */
export const DPOP_SIGNING_ALGS: readonly string[] = DPOP_ALGORITHMS;

export interface DpopProofs {
  /**
   * The request's proof, checked and recorded as used; undefined when the request has none. Throws
   * `DpopProofError` for a bad, doubled or replayed proof.
   */
  check(
    header: string | string[] | undefined,
    request: { method: string; path: string; accessToken?: string },
  ): Promise<VerifiedDpopProof | undefined>;
  purgeExpired(): Promise<number>;
}

export function createDpopProofs(deps: { db: Kysely<Database>; clock: Clock; issuer: string }): DpopProofs {
  const { db, clock } = deps;
  const base = deps.issuer.replace(/\/+$/, "");
  return {
    async check(header, request) {
      if (header === undefined) return undefined;
      if (Array.isArray(header)) {
        if (header.length === 0) return undefined;
        if (header.length > 1) throw new DpopProofError("malformed", "Send one DPoP header, not several.");
      }
      const value = (Array.isArray(header) ? header[0] : header) as string;
      const proof = verifyDpopProof(value.trim(), {
        method: request.method,
        url: `${base}${request.path}`,
        accessToken: request.accessToken,
        now: clock.now(),
        maxAge: DEFAULT_DPOP_MAX_AGE,
      });
      try {
        await db
          .insertInto("dpop_proofs")
          .values({ id: dpopReplayKey(proof), expires_at: proof.expiresAt })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error))
          throw new DpopProofError("replayed", "This DPoP proof was already used.");
        throw error;
      }
      return proof;
    },
    async purgeExpired() {
      const result = await db
        .deleteFrom("dpop_proofs")
        .where("expires_at", "<=", clock.now())
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
