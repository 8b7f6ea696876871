/**
 * The token exchange grant (RFC 8693): a client trades an access token it was given for a narrower one, for
 * another resource server, acting for the token's user.
 *
 * - Confidential clients registered with the grant only (`unauthorized_client`); the client is the actor.
 * - The subject token (and the actor token, when one is sent) must be a Tessera access token, JWT or opaque
 *   (`subject_token_type` `…:token-type:access_token`), alive by the same checks introspection and userinfo
 *   apply (`Issuer.checkAccessToken`: signature, expiry, revocation list, the user active, the user's
 *   cut-off), for a user, and addressed to the exchanging client: issued to it, or for a resource on its list
 *   (the rule introspection applies). Refresh and ID tokens are refused: a refresh token never leaves the
 *   client it was issued to, and an ID token is a sign-in receipt, not a grant of access.
 * - Any unacceptable subject or actor token is `invalid_request`, as RFC 8693 §2.2.2 requires (not
 *   `invalid_grant`), with one description for every reason. A DPoP-bound one needs a proof made with its key
 *   (`invalid_dpop_proof`); the new token is then bound to that key too.
 * - Targets (`resource`, `audience`, RFC 8693 §2.1): each must be a registered resource server on the client's
 *   token-exchange list (its `resources` unless an administrator set one), else `invalid_target`; none given
 *   means the first on that list.
 * - Scope: what is asked must have been granted to the subject token, be on the client's list and be accepted
 *   by a target; OpenID Connect scopes are not exchanged. Anything else is `invalid_scope`. None asked means
 *   every scope of the subject token that passes those rules.
 * - Delegation by default: the token carries `act` (RFC 8693 §4.1) naming the actor token's subject, or the
 *   client, with the subject token's own `act` nested inside. `tessera_impersonate=true` (a vendor parameter,
 *   RFC 6749 §8.2) asks for no new actor; only clients an administrator allowed may (`unauthorized_client`),
 *   and an existing `act` is kept: impersonation never erases an earlier actor.
 * - The token is a JWT access token (RFC 9068) that lives no longer than the client's access-token lifetime
 *   nor than the subject (and actor) token; it names the tokens it came from, so revoking one revokes it.
 *   Each exchange is audited (`oauth.token_exchanged`).
 */
import { TokenError } from "../../lib/errors.js";
import { checkScopes } from "../authorize.js";
import type { Client } from "../clients.js";
import { isResourceIndicator } from "../clients.js";
import { OAuthError, type OAuthErrorCode } from "../errors.js";
import { isAddressedTo } from "../introspection.js";
import type { AccessTokenClaims, ActorClaim, Subject } from "../issuer.js";
import { formatScope, isOidcScope, parseScope } from "../scopes.js";
import {
  type GrantDeps,
  type GrantHandler,
  type GrantRequest,
  required,
  single,
  unauthorizedClient,
  wrongDpopKey,
} from "./shared.js";

export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
/** RFC 8693 §3: the only token type Tessera exchanges and issues. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** Asks for impersonation (no new `act`); a vendor-prefixed extension parameter (RFC 6749 §8.2). */
export const IMPERSONATE_PARAMETER = "tessera_impersonate";
/** The most actors an `act` chain may name (the new one included). */
export const MAX_DELEGATION_DEPTH = 5;
/** How many targets (`resource` and `audience` together) one request may name. */
const MAX_TARGETS = 10;

function invalidRequest(message: string): never {
  throw new OAuthError("invalid_request", message);
}

/** RFC 8693 §2.2.2: every unacceptable token gets the same answer. */
function unacceptable(what: "subject" | "actor", detail: string): never {
  throw new OAuthError(
    "invalid_request",
    `The ${what}_token is invalid, expired or revoked, or was not issued for this client.`,
    detail,
  );
}

function checkTokenType(value: string, name: string): void {
  if (value !== ACCESS_TOKEN_TYPE) {
    invalidRequest(`${name} must be ${ACCESS_TOKEN_TYPE}: Tessera exchanges its own access tokens only.`);
  }
}

/** A `resource` or `audience` parameter, given once or repeated. */
function values(params: Record<string, unknown>, name: string): string[] {
  const raw = params[name];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const value of list) {
    if (typeof value !== "string" || value.length === 0 || value.length > 512) {
      invalidRequest(`Each ${name} must be a non-empty string.`);
    }
  }
  return list as string[];
}

/** A presented subject or actor token: alive, addressed to the client, and its DPoP key proven. */
async function checkPresented(
  deps: GrantDeps,
  request: GrantRequest,
  token: string,
  what: "subject" | "actor",
): Promise<{ claims: AccessTokenClaims; isUser: boolean }> {
  let checked: Awaited<ReturnType<GrantDeps["issuer"]["checkAccessToken"]>>;
  try {
    checked = await deps.issuer.checkAccessToken(token);
  } catch (error) {
    if (error instanceof TokenError) unacceptable(what, `${what} token: ${error.message}`);
    throw error;
  }
  const { claims } = checked;
  if (claims.client_id !== request.client.id && !isAddressedTo(request.client, claims.aud)) {
    unacceptable(what, `${what} token issued to ${claims.client_id}, not addressed to this client`);
  }
  // RFC 9449: a bound token is only usable by the holder of its key, here as anywhere else.
  if (claims.cnf !== undefined && claims.cnf.jkt !== request.dpopJkt) wrongDpopKey(`The ${what}_token`);
  return { claims, isUser: checked.holder !== undefined };
}

/** The resource servers the exchanged token is for (RFC 8693 §2.1 `resource`, `audience`). */
async function resolveTargets(deps: GrantDeps, client: Client, params: Record<string, unknown>) {
  const allowed = client.tokenExchangeAudiences ?? client.resources;
  const asked = [...new Set([...values(params, "resource"), ...values(params, "audience")])];
  if (asked.length > MAX_TARGETS) invalidRequest(`Name at most ${MAX_TARGETS} resources or audiences.`);
  if (asked.length === 0) {
    const first = allowed[0];
    if (first === undefined) {
      throw new OAuthError("invalid_target", "This client may not ask exchanged tokens for any resource.");
    }
    asked.push(first);
  }
  for (const target of asked) {
    const known = isResourceIndicator(target) && (await deps.clients.getResourceServer(target));
    if (!known || !allowed.includes(target)) {
      throw new OAuthError(
        "invalid_target",
        "The resource or audience is not a resource server this client may ask exchanged tokens for.",
      );
    }
  }
  return asked;
}

/** The scope of the new token: the request's, or every exchangeable scope of the subject token. */
async function resolveScopes(
  deps: GrantDeps,
  client: Client,
  subjectScope: string,
  targets: readonly string[],
  requested: string | undefined,
): Promise<string[]> {
  const fail = (error: OAuthErrorCode, description: string): never => {
    throw new OAuthError(error, description);
  };
  const granted = parseScope(subjectScope);
  const asked = parseScope(requested);
  for (const scope of asked) {
    if (isOidcScope(scope)) {
      fail(
        "invalid_scope",
        `"${scope}" is an OpenID Connect scope: exchanged tokens are for resource servers.`,
      );
    }
    if (!granted.includes(scope)) fail("invalid_scope", `The subject token was not granted "${scope}".`);
  }
  let scopes = asked;
  if (scopes.length === 0) {
    const accepted = new Set<string>();
    for (const target of targets) {
      for (const s of (await deps.clients.getResourceServer(target))?.scopes ?? []) accepted.add(s);
    }
    scopes = granted.filter((s) => !isOidcScope(s) && client.scopes.includes(s) && accepted.has(s));
    if (scopes.length === 0) {
      fail("invalid_scope", "No scope of the subject token may be exchanged for these resources.");
    }
  }
  // The client's own list and what the targets accept, as for every other grant.
  await checkScopes(scopes, targets, client, deps.clients, fail);
  return scopes;
}

function depth(act: ActorClaim | undefined): number {
  let n = 0;
  for (let a = act; a !== undefined; a = a.act) n++;
  return n;
}

/** The user the subject token is about, as the new token states it. */
function subjectOf(claims: AccessTokenClaims): Subject {
  if (claims.auth_time === undefined || claims.acr === undefined || claims.amr === undefined) {
    unacceptable("subject", "subject token without auth_time, acr or amr");
  }
  return { userId: claims.sub, authTime: claims.auth_time * 1000, acr: claims.acr, amr: claims.amr };
}

export const tokenExchangeGrant: GrantHandler = async (deps, request) => {
  const { client, params, dpopJkt } = request;
  if (client.authMethod === "none" || !client.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
    unauthorizedClient("token exchange grant");
  }
  const subjectToken = required(params, "subject_token", "The subject_token parameter is missing.");
  const subjectType = required(params, "subject_token_type", "The subject_token_type parameter is missing.");
  checkTokenType(subjectType, "subject_token_type");
  const actorToken = single(params, "actor_token");
  const actorType = single(params, "actor_token_type");
  // RFC 8693 §2.1: actor_token_type is required with actor_token and must not come without it.
  if ((actorToken === undefined) !== (actorType === undefined)) {
    invalidRequest("actor_token and actor_token_type go together: send both or neither.");
  }
  if (actorType !== undefined) checkTokenType(actorType, "actor_token_type");
  const requestedType = single(params, "requested_token_type");
  if (requestedType !== undefined && requestedType !== ACCESS_TOKEN_TYPE) {
    invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}: Tessera issues access tokens only.`);
  }
  const impersonation = single(params, IMPERSONATE_PARAMETER);
  if (impersonation !== undefined && impersonation !== "true" && impersonation !== "false") {
    invalidRequest(`${IMPERSONATE_PARAMETER} is true or false.`);
  }
  const impersonate = impersonation === "true";
  if (impersonate && actorToken !== undefined) {
    invalidRequest(`${IMPERSONATE_PARAMETER} names no actor: it cannot come with an actor_token.`);
  }
  if (impersonate && !client.tokenExchangeImpersonation) {
    throw new OAuthError(
      "unauthorized_client",
      "This client may not impersonate: its exchanged tokens name it as the actor (act).",
    );
  }

  const subject = await checkPresented(deps, request, subjectToken, "subject");
  if (!subject.isUser) unacceptable("subject", "the subject token is a client's own token, not a user's");
  const actor =
    actorToken === undefined ? undefined : await checkPresented(deps, request, actorToken, "actor");

  const targets = await resolveTargets(deps, client, params);
  const scopes = await resolveScopes(deps, client, subject.claims.scope, targets, single(params, "scope"));

  // Delegation names the actor, the earlier chain nested inside (RFC 8693 §4.1); impersonation adds nobody
  // but keeps the chain it was given.
  const prior = subject.claims.act;
  const act: ActorClaim | undefined = impersonate
    ? prior
    : { sub: actor ? actor.claims.sub : client.id, ...(prior === undefined ? {} : { act: prior }) };
  if (depth(act) > MAX_DELEGATION_DEPTH) {
    invalidRequest(`A delegation chain may name at most ${MAX_DELEGATION_DEPTH} actors.`);
  }
  const exchangedFrom = [
    ...new Set([
      subject.claims.jti,
      ...(subject.claims.tessera_exchanged_from ?? []),
      ...(actor ? [actor.claims.jti, ...(actor.claims.tessera_exchanged_from ?? [])] : []),
    ]),
  ];

  // Never longer than the client's lifetime (itself capped at 30 minutes), nor than what it came from. The
  // second is rounded up, so the new token's `iat` + lifetime never passes the subject's `exp`.
  const now = Math.ceil(deps.clock.now() / 1000);
  const ttl = Math.min(
    client.accessTokenTtl,
    subject.claims.exp - now,
    actor === undefined ? Number.POSITIVE_INFINITY : actor.claims.exp - now,
  );
  if (ttl < 1)
    unacceptable(actor && actor.claims.exp <= subject.claims.exp ? "actor" : "subject", "expiring");

  const access = await deps.issuer.mintAccessToken({
    clientId: client.id,
    format: "jwt",
    subject: subjectOf(subject.claims),
    scopes,
    audience: targets,
    ttl,
    ...(dpopJkt === undefined ? {} : { dpopJkt }),
    ...(act === undefined ? {} : { act }),
    exchangedFrom,
  });
  await deps.audit.record({
    type: "oauth.token_exchanged",
    outcome: "success",
    userId: subject.claims.sub,
    actor: `client:${client.id}`,
    details: {
      client_id: client.id,
      subject_client_id: subject.claims.client_id,
      audience: targets.join(" "),
      scope: formatScope(scopes),
      impersonation: impersonate,
      act_sub: act?.sub ?? null,
      jti: access.jti,
    },
  });
  return {
    access_token: access.token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: dpopJkt === undefined ? "Bearer" : "DPoP",
    expires_in: ttl,
    scope: formatScope(scopes),
  };
};
