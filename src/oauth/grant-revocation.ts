/**
 * Ending OAuth grants: a refresh-token family with the access tokens issued from it, the grants given in some
 * sessions, or every grant of a user. The rules of *when* each is ended live in src/access (the access-ending
 * events); this module knows *how*.
 *
 * - A family: every member marked revoked, twice (a rotation that committed while the first pass ran is caught
 *   by the second; after the first pass commits, rotation refuses to extend a family with a revoked member), and
 *   the family's access tokens put on the revocation list (and the revocation feed).
 * - A user's grants: every live family, every unredeemed code and approved device code, and the user's
 *   access-token cut-off moved to the next whole second: access tokens issued (`iat`) up to now are refused,
 *   including those no family records (a code exchanged without a refresh token). The cut-off is in whole
 *   seconds because `iat` is; a token minted later within the same second is refused too (fail closed).
 */
import type { DomainEvent } from "../events/types.js";
import type { Clock } from "../lib/clock.js";
import type { RevocationFeed } from "../revocation/feed.js";
import type { AccessTokensRepository } from "../storage/repositories/access-tokens.js";
import type { GrantsRepository } from "../storage/repositories/grants.js";
import type { SessionClient } from "./backchannel.js";
import { parseScope } from "./scopes.js";

export interface GrantRevocation {
  /** Puts a JWT access token on the revocation list until it expires, and announces it on the feed. */
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;
  /**
   * Revokes a refresh-token family and the access tokens issued with it; how many tokens it had. `events` are
   * written in the transaction of the first pass (src/events).
   */
  revokeFamily(familyId: string, events?: readonly DomainEvent[]): Promise<number>;
  /**
   * Ends what these sessions' sign-ins granted: unredeemed codes, refresh-token families without
   * `offline_access`, and the access tokens that redeeming a code without `offline_access` issued (also those
   * that came without a refresh token). Answers the clients that received tokens in them.
   */
  endSessionGrants(sessionIds: readonly string[]): Promise<{ families: number; clients: SessionClient[] }>;
  /**
   * Ends every grant of the user (see above). Answers the clients that received tokens in a session, those of
   * `endedSessionIds` included (codes redeemed in them tell clients that hold no refresh token).
   */
  endUserGrants(
    userId: string,
    endedSessionIds: readonly string[],
  ): Promise<{ families: number; clients: SessionClient[] }>;
}

export function createGrantRevocation(deps: {
  grants: GrantsRepository;
  /** The access-token revocation list. */
  accessTokens: Pick<AccessTokensRepository, "insertRevoked">;
  clock: Clock;
  /** Where revoked access tokens are announced to resource servers. */
  feed?: Pick<RevocationFeed, "record">;
}): GrantRevocation {
  const { grants, clock } = deps;

  async function revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    if (expiresAt <= clock.now()) return;
    await deps.accessTokens.insertRevoked(jti, expiresAt);
    await deps.feed?.record([{ type: "jti", value: jti }]);
  }

  async function revokeFamily(familyId: string, events?: readonly DomainEvent[]): Promise<number> {
    const now = clock.now();
    for (let pass = 0; pass < 2; pass++)
      await grants.revokeFamilyMembers(familyId, now, pass === 0 ? events : undefined);
    const access = await grants.familyAccessTokens(familyId);
    for (const token of access) await revokeAccessToken(token.jti, token.expiresAt);
    return access.length;
  }

  async function revokeFamilies(familyIds: Iterable<string>): Promise<number> {
    let count = 0;
    for (const family of new Set(familyIds)) {
      await revokeFamily(family);
      count++;
    }
    return count;
  }

  const sessionClients = (rows: readonly { clientId: string; sessionId: string | null }[]): SessionClient[] =>
    rows.flatMap((r) => (r.sessionId ? [{ clientId: r.clientId, sessionId: r.sessionId }] : []));

  const codeClients = (codes: readonly { clientId: string; sessionId: string }[]): SessionClient[] =>
    codes.map((c) => ({ clientId: c.clientId, sessionId: c.sessionId }));

  return {
    revokeAccessToken,
    revokeFamily,

    async endSessionGrants(sessionIds) {
      if (sessionIds.length === 0) return { families: 0, clients: [] };
      const ends = (scope: string) => !parseScope(scope).includes("offline_access");
      const refresh = await grants.liveRefreshBySessions(sessionIds);
      const codes = await grants.codesBySessions(sessionIds);
      // Codes not yet redeemed die with their session: they must not start a family for a sign-in that ended.
      await grants.deleteUnredeemedCodesBySessions(sessionIds);
      const families = await revokeFamilies(refresh.filter((r) => ends(r.scope)).map((r) => r.familyId));
      // A code redeemed by a client without the refresh_token grant issued an access token no family records.
      for (const code of codes) {
        if (code.issuedJti && code.issuedJtiExpiresAt && ends(code.scope)) {
          await revokeAccessToken(code.issuedJti, code.issuedJtiExpiresAt);
        }
      }
      return { families, clients: [...sessionClients(refresh), ...codeClients(codes)] };
    },

    async endUserGrants(userId, endedSessionIds) {
      // The cut-off first: an access token minted while the families are being revoked is already refused (it
      // also covers the access tokens codes issued, so they need no revocation-list entries of their own).
      await grants.raiseTokensNotBefore(userId, (Math.floor(clock.now() / 1000) + 1) * 1000);
      const codes = await grants.codesBySessions(endedSessionIds);
      await grants.endPendingGrantsOfUser(userId);
      const refresh = await grants.liveRefreshByUser(userId);
      const families = await revokeFamilies(refresh.map((r) => r.familyId));
      return { families, clients: [...sessionClients(refresh), ...codeClients(codes)] };
    },
  };
}
