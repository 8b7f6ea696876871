/**
 * Introspection (RFC 7662) and revocation (RFC 7009).
 *
 * - Introspection answers `{"active": false}` for anything that is not a live token Tessera issued: unknown,
 *   expired, revoked, rotated, tampered, or a token of a disabled user. Callers are authenticated confidential
 *   clients (resource servers). Access tokens (JWT) and refresh tokens are both understood.
 * - Revocation: a refresh token ends its whole family (and the family's access tokens); a JWT access token
 *   goes on the revocation list until it expires. A client can revoke only its own tokens; anything else,
 *   unknown tokens included, is answered 200 and changes nothing, as RFC 7009 §2.2 says.
 */
import { type ApiTokens, kindOfToken } from "../api-tokens/index.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Clock } from "../lib/clock.js";
import { TokenError } from "../lib/errors.js";
import type { TokenHoldersRepository } from "../storage/repositories/token-holders.js";
import type { Client } from "./clients.js";
import { type Issuer, isCompactJwe, OPAQUE_ACCESS_TOKEN } from "./issuer.js";
import type { TokenEndpoint } from "./token-endpoint.js";

export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

export interface Introspection {
  introspect(caller: Client, token: string, hint: string | undefined): Promise<IntrospectionResponse>;
  revoke(caller: Client, token: string, hint: string | undefined): Promise<void>;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Whether a token with this `aud` is addressed to `caller` as a resource server: one of its audiences is on the
 * caller's registered resources. Introspection describes such tokens to the caller, and token exchange (RFC
 * 8693) lets the caller exchange them.
 */
export function isAddressedTo(caller: Client, aud: unknown): boolean {
  const audience = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  return audience.some((a) => typeof a === "string" && caller.resources.includes(a));
}

export function createIntrospection(deps: {
  tokenHolders: TokenHoldersRepository;
  clock: Clock;
  issuer: Issuer;
  tokens: TokenEndpoint;
  audit: AuditLog;
  apiTokens?: ApiTokens;
}): Introspection {
  const { tokenHolders, clock, issuer, tokens, audit } = deps;
  // Signed (three segments) or encrypted to a resource server (five, RFC 7516 §7.1).
  const looksLikeJwt = (token: string) => token.split(".").length === 3 || isCompactJwe(token);
  const isAccessToken = (token: string) =>
    looksLikeJwt(token) || token.startsWith(OPAQUE_ACCESS_TOKEN.prefix);

  async function activeUser(userId: string): Promise<{ userName: string } | undefined> {
    const holder = await tokenHolders.find(userId);
    return holder?.active ? { userName: holder.userName } : undefined;
  }

  async function asAccessToken(token: string): Promise<IntrospectionResponse> {
    try {
      const { claims, holder: user } = await issuer.checkAccessToken(token);
      return {
        active: true,
        // RFC 9449 §6.2: a bound token is introspected with its binding.
        token_type: claims.cnf === undefined ? "Bearer" : "DPoP",
        ...(claims.cnf === undefined ? {} : { cnf: { jkt: claims.cnf.jkt } }),
        scope: claims.scope,
        client_id: claims.client_id,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        ...(user ? { username: user.userName } : {}),
        ...(claims.auth_time === undefined ? {} : { auth_time: claims.auth_time }),
        ...(claims.acr === undefined ? {} : { acr: claims.acr }),
        ...(claims.amr === undefined ? {} : { amr: claims.amr }),
        // RFC 8693 §4.1, §2.2 of RFC 7662: the actor of a delegated (exchanged) token.
        ...(claims.act === undefined ? {} : { act: claims.act }),
      };
    } catch (error) {
      if (error instanceof TokenError) return { active: false };
      throw error;
    }
  }

  /**
   * API tokens: the IP allow-list is not checked here (the caller is the resource server, not the bearer); it
   * is returned as `tessera_allowed_ips` for the resource server to apply to its own client's address.
   */
  async function asApiToken(token: string): Promise<IntrospectionResponse> {
    const principal = await deps.apiTokens?.authenticate(token, { checkIp: false });
    if (!principal) return { active: false };
    return {
      active: true,
      token_type: "Bearer",
      scope: principal.scopes.join(" "),
      sub: principal.subject,
      ...(principal.kind === "personal" ? { username: principal.subjectName } : {}),
      ...(principal.resources.length === 0
        ? {}
        : { aud: principal.resources.length === 1 ? principal.resources[0] : principal.resources }),
      iss: issuer.issuer,
      iat: seconds(principal.createdAt),
      ...(principal.expiresAt === null ? {} : { exp: seconds(principal.expiresAt) }),
      jti: principal.tokenId,
      tessera_token_kind: principal.kind,
      ...(principal.allowedIps === null ? {} : { tessera_allowed_ips: principal.allowedIps }),
    };
  }

  async function asRefreshToken(token: string): Promise<IntrospectionResponse> {
    const row = await tokens.findRefreshToken(token);
    const now = clock.now();
    if (!row || row.revoked_at !== null || row.rotated_at !== null) return { active: false };
    if (row.expires_at <= now || row.family_expires_at <= now) return { active: false };
    const user = await activeUser(row.user_id);
    if (!user) return { active: false };
    return {
      active: true,
      token_type: "refresh_token",
      scope: row.scope,
      client_id: row.client_id,
      sub: row.user_id,
      username: user.userName,
      iss: issuer.issuer,
      exp: seconds(row.expires_at),
      iat: seconds(row.created_at),
      ...(row.dpop_jkt === null ? {} : { cnf: { jkt: row.dpop_jkt } }),
    };
  }

  return {
    async introspect(caller, token, _hint) {
      if (typeof token !== "string" || token.length === 0 || token.length > 16384) return { active: false };
      const answer = isAccessToken(token)
        ? await asAccessToken(token)
        : kindOfToken(token) !== undefined
          ? await asApiToken(token)
          : await asRefreshToken(token);
      if (!answer.active) return answer;
      // Only for the token's own client, or (access tokens) a resource server it is addressed to (a client
      // whose registered resources include the token's audience): never an oracle for other clients' tokens.
      if (answer.client_id === caller.id) return answer;
      const forCaller =
        (answer.token_type === "Bearer" || answer.token_type === "DPoP") && isAddressedTo(caller, answer.aud);
      // (API tokens have no client_id: only the resource servers they name may introspect them.)
      return forCaller ? answer : { active: false };
    },

    async revoke(caller, token, _hint) {
      if (typeof token !== "string" || token.length === 0 || token.length > 16384) return;
      if (isAccessToken(token)) {
        let claims: Awaited<ReturnType<Issuer["verifyAccessToken"]>>;
        try {
          claims = await issuer.verifyAccessToken(token);
        } catch (error) {
          if (error instanceof TokenError) return;
          throw error;
        }
        if (claims.client_id !== caller.id) return;
        await issuer.revokeAccessToken(claims.jti, claims.exp * 1000);
        await audit.record({
          type: "oauth.token_revoked",
          outcome: "success",
          userId: claims.sub === claims.client_id ? null : claims.sub,
          actor: `client:${caller.id}`,
          details: { kind: "access_token", client_id: caller.id },
        });
        return;
      }
      const row = await tokens.findRefreshToken(token);
      if (!row || row.client_id !== caller.id || row.revoked_at !== null) return;
      await tokens.revokeFamily(row.family_id);
      await audit.record({
        type: "oauth.token_revoked",
        outcome: "success",
        userId: row.user_id,
        actor: `client:${caller.id}`,
        details: { kind: "refresh_token", client_id: caller.id },
      });
    },
  };
}
