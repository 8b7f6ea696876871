/**
 * DPoP at Tessera's own endpoints (RFC 9449): the token endpoint and PAR bind what they issue to the key of
 * the request's proof, userinfo checks the proof that comes with a bound access token.
 *
 * - Proof checking is `src/lib/dpop.ts` (shared with the SDK). This adds what needs the server: the URL the
 *   proof must name (the issuer's, as advertised in discovery, so that a proxy in front changes nothing), the
 *   clock, and replay tracking in the database (`dpop_proofs`, keyed by a hash of key thumbprint and jti), so
 *   that a proof accepted by one instance is refused by every other.
 * - A request may carry at most one `DPoP` header (§4.3 check 1).
 * - At the token endpoint and PAR a bad proof is the OAuth error `invalid_dpop_proof` (§5, §10.1).
 */
import type { Clock } from "../lib/clock.js";
import {
  DEFAULT_DPOP_MAX_AGE,
  DPOP_ALGORITHMS,
  DpopProofError,
  dpopReplayKey,
  type VerifiedDpopProof,
  verifyDpopProof,
} from "../lib/dpop.js";
import type { DpopProofsRepository } from "../storage/repositories/dpop-proofs.js";
import { OAuthError } from "./errors.js";

/** Algorithms advertised as `dpop_signing_alg_values_supported` (the fully specified `Ed25519` included). */
export const DPOP_SIGNING_ALGS: readonly string[] = DPOP_ALGORITHMS;

/** The request a proof must be made for: its method, its path under the issuer, and the token it presents. */
export interface DpopTarget {
  method: string;
  path: string;
  accessToken?: string;
}

export interface DpopProofs {
  /**
   * The request's proof, checked and recorded as used; undefined when the request has none. Throws
   * `DpopProofError` for a bad, doubled or replayed proof.
   */
  check(header: string | string[] | undefined, request: DpopTarget): Promise<VerifiedDpopProof | undefined>;
  /** `check`, with a bad proof thrown as the OAuth error `invalid_dpop_proof` (token endpoint, PAR). */
  checkForOAuth(
    header: string | string[] | undefined,
    request: DpopTarget,
  ): Promise<VerifiedDpopProof | undefined>;
  purgeExpired(): Promise<number>;
}

export function createDpopProofs(deps: {
  proofs: DpopProofsRepository;
  clock: Clock;
  issuer: string;
}): DpopProofs {
  const { proofs, clock } = deps;
  const base = deps.issuer.replace(/\/+$/, "");

  async function check(
    header: string | string[] | undefined,
    request: DpopTarget,
  ): Promise<VerifiedDpopProof | undefined> {
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
    if (!(await proofs.record(dpopReplayKey(proof), proof.expiresAt))) {
      throw new DpopProofError("replayed", "This DPoP proof was already used.");
    }
    return proof;
  }

  return {
    check,

    async checkForOAuth(header, request) {
      try {
        return await check(header, request);
      } catch (error) {
        if (error instanceof DpopProofError) throw new OAuthError("invalid_dpop_proof", error.message);
        throw error;
      }
    },

    purgeExpired: () => proofs.deleteExpired(clock.now()),
  };
}
