/**
 * The userinfo decision (OpenID Connect Core §5.3) for bearer tokens (RFC 6750) and DPoP-bound tokens
 * (RFC 9449 §7): who may read which claims. The HTTP layer only finds the token and writes the answer.
 *
 * - No token: 401 with a bare challenge (RFC 6750 §3.1: no error code when no credentials were sent).
 * - Under the DPoP scheme, the request needs a proof for this request and token (`ath`), and the token must be
 *   bound to the proof's key (`cnf.jkt`). A bound token presented under the Bearer scheme is refused (its
 *   challenge names DPoP), and so is an unbound one under the DPoP scheme.
 * - The token is checked as every token check does (`checkAccessToken`: signature or store, revocation, the
 *   user active and the user's cut-off).
 * - The token must carry `openid` and be a user's (`auth_time`): otherwise 403 `insufficient_scope`.
 * - The claims are those of the granted scopes; a user gone meanwhile is `invalid_token`.
 * - A client that registered `userinfo_signed_response_alg` or `userinfo_encrypted_response_alg` gets them as
 *   a JWT (`application/jwt`, §5.3.2): signed, then encrypted to it when asked (issuer.ts `mintUserinfoJwt`).
 */
import { DpopProofError, type VerifiedDpopProof } from "../lib/dpop.js";
import { TokenError } from "../lib/errors.js";
import type { DpopProofs } from "./dpop.js";
import type { AccessTokenClaims, Issuer } from "./issuer.js";

export type TokenScheme = "Bearer" | "DPoP";

export interface UserinfoRequest {
  /** The access token presented, if any. */
  token: string | undefined;
  /** The scheme it was presented under (a token in a form body is a bearer token). */
  scheme: TokenScheme;
  /** The request's `DPoP` header(s), and its method (the proof names it). */
  dpop: string | string[] | undefined;
  method: string;
}

export interface UserinfoRefusal {
  status: 401 | 403;
  /** `unauthorized`: no token at all (the challenge then carries no error). */
  error: "unauthorized" | "invalid_token" | "invalid_dpop_proof" | "insufficient_scope";
  description: string;
  /** The scheme the challenge names. */
  scheme: TokenScheme;
}

/** `jwt`: the answer to send as `application/jwt` instead of the claims as JSON. */
export type UserinfoDecision =
  | { ok: true; claims: Record<string, unknown>; jwt?: string }
  | { ok: false; refuse: UserinfoRefusal };

export type Userinfo = (request: UserinfoRequest) => Promise<UserinfoDecision>;

export const USERINFO_PATH = "/userinfo";

export function createUserinfo(deps: { issuer: Issuer; dpop: DpopProofs }): Userinfo {
  const { issuer, dpop } = deps;

  return async (request) => {
    const { token, scheme } = request;
    const refuse = (
      status: UserinfoRefusal["status"],
      error: UserinfoRefusal["error"],
      description: string,
      challenge: TokenScheme = scheme,
    ): UserinfoDecision => ({ ok: false, refuse: { status, error, description, scheme: challenge } });

    if (!token) return refuse(401, "unauthorized", "An access token is required.");
    let proof: VerifiedDpopProof | undefined;
    if (scheme === "DPoP") {
      try {
        proof = await dpop.check(request.dpop, {
          method: request.method,
          path: USERINFO_PATH,
          accessToken: token,
        });
      } catch (error) {
        if (error instanceof DpopProofError) return refuse(401, "invalid_dpop_proof", error.message);
        throw error;
      }
      if (proof === undefined) return refuse(401, "invalid_dpop_proof", "A DPoP proof is required.");
    }
    let claims: AccessTokenClaims;
    try {
      ({ claims } = await issuer.checkAccessToken(token));
    } catch (error) {
      if (error instanceof TokenError) return refuse(401, "invalid_token", "The token is invalid.");
      throw error;
    }
    if (claims.cnf?.jkt !== undefined && proof === undefined) {
      return refuse(
        401,
        "invalid_token",
        "The token is DPoP-bound: present it with the DPoP scheme and a proof.",
        "DPoP",
      );
    }
    if (proof !== undefined && claims.cnf?.jkt !== proof.jkt) {
      return refuse(401, "invalid_token", "The token is not bound to the key of this DPoP proof.");
    }
    const scopes = claims.scope.split(" ");
    if (!scopes.includes("openid") || claims.auth_time === undefined) {
      return refuse(403, "insufficient_scope", "The token was not granted the openid scope.");
    }
    const answer = await issuer.userClaims(claims.sub, scopes);
    if (!answer) return refuse(401, "invalid_token", "The token is invalid.");
    const jwt = await issuer.mintUserinfoJwt(claims.client_id, answer);
    return jwt === undefined ? { ok: true, claims: answer } : { ok: true, claims: answer, jwt };
  };
}
