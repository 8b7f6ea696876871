/**
 * The `refresh_token` grant (RFC 6749 §6; OAuth 2.1 §4.3; RFC 9700 §4.14.2; RFC 9449 §5).
 *
 * - Rotated at every use. The rotation is one conditional write (see the refresh-tokens repository), so
 *   concurrent refreshes of one token never mint two live successors, on SQLite and PostgreSQL alike.
 * - The winner's answer is kept sealed with the master key for the grace window: the same client presenting
 *   the same token again inside it (two tabs, a retried request) gets that same answer back, while it is still
 *   current. Outside it, presenting a rotated token is reuse: the `refresh_reused` access-ending event ends the
 *   family and its access tokens, and the event is audited as suspected theft.
 * - A token bound to a DPoP key is refused without a proof made with that key, before anything else.
 * - A narrower `scope` may be asked for; a scope the token was not granted is `invalid_scope`.
 */
import { hashToken } from "../../crypto/hash.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../../crypto/opaque-token.js";
import type { RefreshTokenRow } from "../../storage/repositories/refresh-tokens.js";
import { OAuthError } from "../errors.js";
import { parseScope } from "../scopes.js";
import {
  type GrantDeps,
  type GrantHandler,
  invalidGrant,
  issueTokens,
  REFRESH_FORMAT,
  refreshRow,
  required,
  requireLiveUser,
  single,
  subjectOf,
  type TokenResponse,
  unauthorizedClient,
  wrongDpopKey,
} from "./shared.js";

/** The associated data a successor's sealed answer is bound to: the token it succeeds. */
function sealContext(id: string): string {
  return `refresh-successor:${id}`;
}

export const refreshTokenGrant: GrantHandler = async (deps, request) => {
  const { client, params, dpopJkt } = request;
  const { refreshTokens } = deps.repositories;
  if (!client.grantTypes.includes("refresh_token")) unauthorizedClient("refresh_token grant");
  const token = required(params, "refresh_token", "The refresh_token parameter is missing.");
  if (!isWellFormedOpaqueToken(token, REFRESH_FORMAT)) invalidGrant();
  // The token and its user's active flag in one read.
  const found = await refreshTokens.findByHashWithUser(hashToken(token));
  if (!found || found.client_id !== client.id || found.revoked_at !== null) invalidGrant();
  const { user_active: userActive, ...row } = found;
  // Checked before anything else, the grace-window retry included: without the key, a stolen bound refresh
  // token is useless (RFC 9449 §5).
  if (row.dpop_jkt !== null && row.dpop_jkt !== dpopJkt) wrongDpopKey("The refresh token");
  if (row.rotated_at !== null) return retryOrReuse(deps, row);
  const now = deps.clock.now();
  if (row.expires_at <= now || row.family_expires_at <= now) invalidGrant();
  if (userActive !== 1) invalidGrant();

  const granted = parseScope(row.scope);
  const asked = parseScope(single(params, "scope"));
  for (const scope of asked) {
    if (!granted.includes(scope)) {
      throw new OAuthError("invalid_scope", `The scope "${scope}" was not granted to this refresh token.`);
    }
  }
  const scopes = asked.length > 0 ? asked : granted;
  const { access, response } = await issueTokens(deps, request, {
    subject: subjectOf(row),
    scopes,
    resources: JSON.parse(row.resources) as string[],
    nonce: null,
  });
  const successor = generateOpaqueToken(REFRESH_FORMAT);
  response.refresh_token = successor;
  const grace = deps.policy.refreshGraceWindow * 1000;
  const sealed =
    grace > 0 ? deps.masterKey.seal(Buffer.from(JSON.stringify(response)), sealContext(row.id)) : null;

  const outcome = await refreshTokens.rotate(
    row.id,
    { rotated_at: now, successor: sealed, successor_until: sealed === null ? null : now + grace },
    refreshRow(deps, row, {
      token: successor,
      familyId: row.family_id,
      familyEnd: row.family_expires_at,
      now,
      access,
      dpopJkt: row.dpop_jkt,
    }),
  );
  if (outcome === "rotated") return response;
  if (outcome === "family_revoked") invalidGrant("The grant has been revoked.");
  // Another request rotated this token first: answer as a retry or a reuse.
  const again = await refreshTokens.findById(row.id);
  if (!again || again.revoked_at !== null) invalidGrant();
  return retryOrReuse(deps, again);
};

/**
 * A rotated token presented again. Inside the grace window, while the answer it got is still current, the
 * same answer; otherwise reuse, which ends the family.
 */
async function retryOrReuse(deps: GrantDeps, row: RefreshTokenRow): Promise<TokenResponse> {
  const now = deps.clock.now();
  if (row.successor !== null && row.successor_until !== null && row.successor_until > now) {
    const answer = JSON.parse(
      deps.masterKey.open(row.successor, sealContext(row.id)).toString("utf8"),
    ) as TokenResponse;
    // A retry gets the same answer only while that answer is still current: its refresh token not rotated or
    // revoked in turn (otherwise a stolen old token could walk the chain), the family alive, the user active.
    const successor =
      answer.refresh_token && isWellFormedOpaqueToken(answer.refresh_token, REFRESH_FORMAT)
        ? await deps.repositories.refreshTokens.findByHash(hashToken(answer.refresh_token))
        : undefined;
    if (
      successor &&
      successor.rotated_at === null &&
      successor.revoked_at === null &&
      row.family_expires_at > now
    ) {
      await requireLiveUser(deps, row.user_id);
      return answer;
    }
  }
  await deps.access.end(
    { type: "refresh_reused", userId: row.user_id, familyId: row.family_id, clientId: row.client_id },
    { actor: `client:${row.client_id}` },
  );
  await deps.audit.record({
    type: "oauth.refresh_reused",
    outcome: "failure",
    userId: row.user_id,
    actor: `client:${row.client_id}`,
    details: { client_id: row.client_id, family_id: row.family_id },
  });
  invalidGrant("The refresh token was already used; the grant has been revoked.");
}
