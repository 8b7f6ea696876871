/**
 * Leaked OAuth secrets (see api-tokens/leaked.ts for the report itself): a refresh token ends its family (the
 * `refresh_leaked` access-ending event), a client secret or registration token stops working for its client,
 * an initial access token is used up, an opaque access token goes on the revocation list. Answers whose secret
 * it was, for the alert; undefined when the value is none of these, or no longer live.
 */
import type { AccessRevocation } from "../access/revocation.js";
import { hashToken } from "../crypto/hash.js";
import type { Clock } from "../lib/clock.js";
import type { AccessTokensRepository } from "../storage/repositories/access-tokens.js";
import type { Clients } from "./clients.js";
import { type Issuer, OPAQUE_ACCESS_TOKEN } from "./issuer.js";
import type { InitialAccessTokens } from "./registration.js";
import type { TokenEndpoint } from "./token-endpoint.js";

export interface LeakedOAuthSecret {
  kind: string;
  userId: string | null;
  details?: Record<string, string | null>;
}

export function createOAuthLeakRevoker(deps: {
  clock: Clock;
  access: AccessRevocation;
  tokens: TokenEndpoint;
  clients: Clients;
  initialTokens: InitialAccessTokens;
  issuer: Issuer;
  accessTokens: AccessTokensRepository;
}): (token: string) => Promise<LeakedOAuthSecret | undefined> {
  const { clock, access, tokens, clients, initialTokens, issuer, accessTokens } = deps;

  async function refreshToken(token: string): Promise<LeakedOAuthSecret | undefined> {
    const row = await tokens.findRefreshToken(token);
    if (!row || row.revoked_at !== null) return undefined;
    await access.end(
      { type: "refresh_leaked", userId: row.user_id, familyId: row.family_id },
      { actor: "leak-report" },
    );
    return { kind: "refresh", userId: row.user_id };
  }

  async function clientSecret(token: string): Promise<LeakedOAuthSecret | undefined> {
    // The client stops authenticating (or being managed) with it at once; the alert names the client.
    const hit = await clients.revokeLeaked(token);
    return hit ? { kind: hit.kind, userId: null, details: { clientId: hit.clientId } } : undefined;
  }

  async function initialAccessToken(token: string): Promise<LeakedOAuthSecret | undefined> {
    return (await initialTokens.revokeLeaked(token))
      ? { kind: "initial_access_token", userId: null }
      : undefined;
  }

  async function opaqueAccessToken(token: string): Promise<LeakedOAuthSecret | undefined> {
    if (!token.startsWith(OPAQUE_ACCESS_TOKEN.prefix)) return undefined;
    const row = await accessTokens.findOpaque(hashToken(token));
    if (!row || Number(row.expires_at) <= clock.now()) return undefined;
    if (await accessTokens.isRevoked(row.jti)) return undefined;
    await issuer.revokeAccessToken(row.jti, Number(row.expires_at));
    // A client_credentials token's subject is the client, not a user.
    return {
      kind: "access",
      userId: row.subject === row.client_id ? null : row.subject,
      details: { clientId: row.client_id },
    };
  }

  return async (token) =>
    (await refreshToken(token)) ??
    (await clientSecret(token)) ??
    (await initialAccessToken(token)) ??
    (await opaqueAccessToken(token));
}
