/**
 * The `authorization_code` grant (RFC 6749 §4.1.3; OAuth 2.1 §4.1.3; RFC 7636 §4.6; RFC 9449 §10; RFC 9700
 * §4.5).
 *
 * - The code must be live, unused and this client's; `redirect_uri` must equal the one of the authorization
 *   request; `code_verifier` must hash (S256) to the challenge; a code bound to a DPoP key (`dpop_jkt`, or
 *   pushed with a proof) is redeemed only with a proof made with that key; the user must still be active.
 * - Redemption is one conditional write (see the authorization-codes repository): the code is consumed and the
 *   new family's first refresh token inserted together, so a code answers once.
 * - A second redemption fails and revokes what the first issued (its refresh-token family and access token),
 *   and is audited: a replayed code means it leaked.
 * - A failed PKCE verification or a different `redirect_uri` burns the code: a later correct request fails
 *   as a replay (and revokes what the code issued, if a concurrent redemption won). An expired code, another
 *   client's code, a missing parameter or a DPoP proof of another key (the client may retry with the bound
 *   key; the binding protects the code) do not burn it.
 */
import { hash, timingSafeEqual } from "node:crypto";
import { hashToken } from "../../crypto/hash.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../../crypto/opaque-token.js";
import { AUTHORIZATION_CODE_PREFIX } from "../authorize.js";
import { newJti } from "../issuer.js";
import { parseScope } from "../scopes.js";
import {
  type GrantDeps,
  type GrantHandler,
  invalidGrant,
  issueTokens,
  REFRESH_FORMAT,
  refreshAllowed,
  refreshBinding,
  refreshRow,
  required,
  requireLiveUser,
  subjectOf,
  unauthorizedClient,
  wrongDpopKey,
} from "./shared.js";

const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** RFC 7636 §4.6: BASE64URL(SHA256(verifier)) equals the challenge, compared in constant time. */
function verifierMatches(verifier: string, challenge: string): boolean {
  if (!CODE_VERIFIER.test(verifier)) return false;
  const computed = Buffer.from(hash("sha256", verifier, "base64url"));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

export const authorizationCodeGrant: GrantHandler = async (deps, request) => {
  const { client, params, dpopJkt } = request;
  const { codes } = deps.repositories;
  if (!client.grantTypes.includes("authorization_code")) unauthorizedClient("authorization_code grant");
  const code = required(params, "code", "The code parameter is missing.");
  const verifier = required(params, "code_verifier", "PKCE: code_verifier is missing.");
  const redirectUri = required(params, "redirect_uri", "The redirect_uri parameter is missing.");
  if (!isWellFormedOpaqueToken(code, { prefix: AUTHORIZATION_CODE_PREFIX })) invalidGrant();
  const codeHash = hashToken(code);
  const row = await codes.find(codeHash);
  if (!row || row.client_id !== client.id) invalidGrant();
  const now = deps.clock.now();
  if (row.consumed_at !== null) return replayed(deps, codeHash);
  if (row.expires_at <= now) invalidGrant("The authorization code has expired.");
  // Only the party that started the flow knows the verifier and the redirect URI: a failure means the code
  // is in other hands, so it is burnt (and whatever it already issued revoked).
  if (row.redirect_uri !== redirectUri) {
    return burnt(deps, codeHash, now, "redirect_uri does not match the authorization request.");
  }
  if (!verifierMatches(verifier, row.code_challenge))
    return burnt(deps, codeHash, now, "PKCE verification failed.");
  if (row.dpop_jkt !== null && row.dpop_jkt !== dpopJkt) wrongDpopKey("The authorization code");
  await requireLiveUser(deps, row.user_id);

  const scopes = parseScope(row.scope);
  const resources = JSON.parse(row.resources) as string[];
  const { access, response } = await issueTokens(deps, request, {
    subject: subjectOf(row),
    scopes,
    resources,
    nonce: row.nonce,
  });
  const withRefresh = refreshAllowed(client, scopes);
  const familyId = withRefresh ? newJti() : null;
  const refresh = withRefresh ? generateOpaqueToken(REFRESH_FORMAT) : undefined;
  const firstRefresh =
    refresh !== undefined && familyId !== null
      ? refreshRow(deps, row, {
          token: refresh,
          familyId,
          familyEnd: now + deps.policy.refreshTokenLifetime * 1000,
          now,
          access,
          dpopJkt: refreshBinding(client, dpopJkt),
        })
      : undefined;
  const won = await codes.redeem(
    codeHash,
    { consumedAt: now, familyId, accessJti: access.jti, accessExpiresAt: access.expiresAt },
    firstRefresh,
  );
  // Another request redeemed the code first: this one is the replay.
  if (!won) return replayed(deps, codeHash);
  if (refresh !== undefined) response.refresh_token = refresh;
  return response;
};

/**
 * A redemption that failed PKCE or the redirect URI check: the code can no longer be redeemed (OAuth 2.1
 * §4.1.3, FAPI 2.0). When another request redeemed it first, this one is a replay of it.
 */
async function burnt(deps: GrantDeps, codeHash: string, now: number, reason: string): Promise<never> {
  const burned = await deps.repositories.codes.burn(codeHash, now);
  if (!burned) return replayed(deps, codeHash);
  invalidGrant(`${reason} The authorization code can no longer be used.`);
}

/** A used code presented again: what its first redemption issued is revoked, and the event audited. */
async function replayed(deps: GrantDeps, codeHash: string): Promise<never> {
  const row = await deps.repositories.codes.find(codeHash);
  if (row) {
    if (row.issued_family_id) await deps.grants.revokeFamily(row.issued_family_id);
    if (row.issued_jti && row.issued_jti_expires_at) {
      await deps.issuer.revokeAccessToken(row.issued_jti, row.issued_jti_expires_at);
    }
    await deps.audit.record({
      type: "oauth.code_replayed",
      outcome: "failure",
      userId: row.user_id,
      actor: `client:${row.client_id}`,
      details: { client_id: row.client_id },
    });
  }
  invalidGrant("The authorization code was already used; what it issued has been revoked.");
}
