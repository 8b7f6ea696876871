/**
 * The token endpoint (RFC 6749 §3.2, §5): a dispatcher over the grant types, one module each in ./grants/
 * (`authorization_code`, `refresh_token`, `client_credentials`, the device code, token exchange), plus what
 * other modules need of refresh tokens (finding one, revoking families, purging).
 *
 * - Every refusal is an RFC 6749 §5.2 error: a missing `grant_type` is `invalid_request`, one not in the table
 *   `unsupported_grant_type`; an unknown, expired, revoked or foreign grant is `invalid_grant` with no hint of
 *   which.
 * - A client registered with `dpop_bound_access_tokens` must send a DPoP proof with every token request
 *   (RFC 9449 §5.2); the access token is bound to the proof's key whenever there is one.
 */
import { hashToken } from "../crypto/hash.js";
import { isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import type { RefreshTokenRow } from "../storage/repositories/refresh-tokens.js";
import type { Client } from "./clients.js";
import { DEVICE_CODE_GRANT } from "./device.js";
import { OAuthError } from "./errors.js";
import { authorizationCodeGrant } from "./grants/authorization-code.js";
import { clientCredentialsGrant } from "./grants/client-credentials.js";
import { deviceCodeGrant } from "./grants/device-code.js";
import { refreshTokenGrant } from "./grants/refresh-token.js";
import {
  type GrantDeps,
  type GrantHandler,
  REFRESH_FORMAT,
  single,
  type TokenResponse,
} from "./grants/shared.js";
import { TOKEN_EXCHANGE_GRANT, tokenExchangeGrant } from "./grants/token-exchange.js";

export { REFRESH_TOKEN_PREFIX, type TokenResponse } from "./grants/shared.js";

export type TokenEndpointDeps = GrantDeps;

/** The grant types the token endpoint answers, and their handlers. */
const GRANTS: Readonly<Record<string, GrantHandler>> = Object.freeze({
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
  [DEVICE_CODE_GRANT]: deviceCodeGrant,
  [TOKEN_EXCHANGE_GRANT]: tokenExchangeGrant,
});

export interface TokenEndpoint {
  /**
   * Runs the grant named by `params.grant_type` for an authenticated client. `dpopJkt` is the thumbprint of
   * the key of the request's checked DPoP proof, if it had one: the access token is bound to it.
   */
  grant(
    client: Client,
    params: Record<string, unknown>,
    options?: { dpopJkt?: string },
  ): Promise<TokenResponse>;
  /** Revokes a refresh-token family and the access tokens issued with it; returns how many tokens died. */
  revokeFamily(familyId: string): Promise<number>;
  /** Revokes every refresh-token family (and its access tokens) of a user at a client ("disconnect app"). */
  revokeUserClient(userId: string, clientId: string): Promise<number>;
  /** The live refresh token with this value, for introspection and revocation. */
  findRefreshToken(token: string): Promise<RefreshTokenRow | undefined>;
  purgeExpired(): Promise<number>;
  /** Forgets the sealed successor pairs whose grace window has passed. */
  clearSealedSuccessors(): Promise<void>;
}

export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  const { clock, grants } = deps;
  const { refreshTokens } = deps.repositories;

  return {
    async grant(client, params, options = {}) {
      const grantType = single(params, "grant_type");
      const dpopJkt = options.dpopJkt;
      if (grantType === undefined)
        throw new OAuthError("invalid_request", "The grant_type parameter is missing.");
      if (client.dpopBound && dpopJkt === undefined) {
        throw new OAuthError(
          "invalid_dpop_proof",
          "This client is registered with dpop_bound_access_tokens: send a DPoP proof with every token request.",
        );
      }
      const handler = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType] : undefined;
      if (handler === undefined) {
        throw new OAuthError("unsupported_grant_type", "This grant type is not supported.");
      }
      return handler(deps, { client, params, dpopJkt });
    },

    revokeFamily: (familyId) => grants.revokeFamily(familyId),

    async revokeUserClient(userId, clientId) {
      let count = 0;
      for (const familyId of await refreshTokens.liveFamilies(userId, clientId)) {
        count += await grants.revokeFamily(familyId);
      }
      return count;
    },

    async findRefreshToken(token) {
      if (!isWellFormedOpaqueToken(token, REFRESH_FORMAT)) return undefined;
      return refreshTokens.findByHash(hashToken(token));
    },

    clearSealedSuccessors: () => refreshTokens.clearSealedSuccessors(clock.now()),

    async purgeExpired() {
      const now = clock.now();
      await refreshTokens.clearSealedSuccessors(now);
      return refreshTokens.deleteExpiredFamilies(now);
    },
  };
}
