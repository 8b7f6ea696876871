/**
 * The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; OAuth 2.1; RFC 7636; RFC 8707; RFC 9700 §4.14).
 *
 * - `authorization_code`: the code must be live, unused, this client's; `redirect_uri` must equal the one of
 *   the authorization request; `code_verifier` must hash (S256) to the challenge. A second redemption fails
 *   and revokes what the first issued (its refresh-token family and access token).
 * - `refresh_token`: rotated at every use. The rotation is one conditional UPDATE (`rotated_at IS NULL`) in
 *   a transaction with the successor's INSERT, so concurrent refreshes of one token never mint two live
 *   successors, on SQLite and PostgreSQL alike. The winner's answer is kept sealed with the master key for
 *   the grace window: the same client presenting the same token again inside it (two tabs, a retried
 *   request) gets that same answer back. Outside it, presenting a rotated token is reuse: the whole family
 *   and its access tokens are revoked and the event audited as suspected theft.
 * - `client_credentials`: confidential clients only, resource scopes only (no OpenID scopes), the client is
 *   the subject, no refresh token.
 * Every refusal is an RFC 6749 §5.2 error; an unknown, expired, revoked or foreign token is `invalid_grant`
 * with no hint of which.
 */
import { hash, timingSafeEqual } from "node:crypto";
import { type Insertable, type Kysely, type Selectable, sql } from "kysely";
import type { AccessRevocation } from "../access/revocation.js";
import type { AuditLog } from "../audit/audit-log.js";
import { hashToken } from "../crypto/hash.js";
import type { MasterKey } from "../crypto/master-key.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import type { Clock } from "../lib/clock.js";
import type { Database, RefreshTokensTable } from "../storage/database.js";
import { AUTHORIZATION_CODE_PREFIX, checkScopes } from "./authorize.js";
import type { Client, Clients } from "./clients.js";
import { isResourceIndicator } from "./clients.js";
import { DEVICE_CODE_GRANT, type DeviceFlow } from "./device.js";
import { OAuthError } from "./errors.js";
import type { GrantRevocation } from "./grant-revocation.js";
import { type Issuer, newJti, type Subject } from "./issuer.js";
import { formatScope, isOidcScope, parseScope } from "./scopes.js";

export const REFRESH_TOKEN_PREFIX = "tsr_rt_";
const REFRESH_FORMAT = { prefix: REFRESH_TOKEN_PREFIX, checksum: true } as const;
/** Parameters in an INSERT … SELECT have no type to infer from: they are cast to their column's type. */
const BIGINT_COLUMNS = new Set<string>([
  "auth_time",
  "created_at",
  "expires_at",
  "family_expires_at",
  "access_expires_at",
  "rotated_at",
  "successor_until",
  "revoked_at",
]);
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the access token is bound to the key of the request's DPoP proof (RFC 9449 §5). */
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

export interface TokenEndpointDeps {
  db: Kysely<Database>;
  /** Picks the rotation statement (see `rotate`). */
  dialect: "sqlite" | "postgres";
  clock: Clock;
  clients: Clients;
  issuer: Issuer;
  device: DeviceFlow;
  audit: AuditLog;
  masterKey: MasterKey;
  /** Ends refresh-token families and access tokens. */
  grants: GrantRevocation;
  /** The access-ending events (refresh-token reuse is one). */
  access: AccessRevocation;
  policy: {
    /** Seconds. */
    refreshTokenLifetime: number;
    refreshTokenIdle: number;
    refreshGraceWindow: number;
  };
}

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
  findRefreshToken(token: string): Promise<Selectable<RefreshTokensTable> | undefined>;
  purgeExpired(): Promise<number>;
  /** Forgets the sealed successor pairs whose grace window has passed. */
  clearSealedSuccessors(): Promise<void>;
}

function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || value.length > 4096) {
    throw new OAuthError("invalid_request", `The ${name} parameter must be given once.`);
  }
  return value;
}

function invalidGrant(message = "The grant is invalid, expired or revoked."): never {
  throw new OAuthError("invalid_grant", message);
}

function wrongDpopKey(what: string): never {
  throw new OAuthError(
    "invalid_dpop_proof",
    `${what} is bound to another DPoP key; send a proof made with that key.`,
  );
}

function sealContext(id: string): string {
  return `refresh-successor:${id}`;
}

export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  const { db, dialect, clock, clients, issuer, audit, masterKey, policy, device } = deps;

  /** Who a stored grant (a code or a refresh token) is about, and how they signed in. */
  function subjectOf(row: {
    user_id: string;
    auth_time: number;
    acr: string;
    amr: string;
    session_id: string | null;
  }): Subject {
    return {
      userId: row.user_id,
      authTime: row.auth_time,
      acr: row.acr,
      amr: row.amr.split(" "),
      sessionId: row.session_id,
    };
  }

  async function findRefreshToken(token: string): Promise<Selectable<RefreshTokensTable> | undefined> {
    if (!isWellFormedOpaqueToken(token, REFRESH_FORMAT)) return undefined;
    return db
      .selectFrom("refresh_tokens")
      .selectAll()
      .where("token_hash", "=", hashToken(token))
      .executeTakeFirst();
  }

  /** A new live refresh token carrying the grant of `source` (a code or the token it succeeds). */
  function refreshRow(
    source: Pick<
      RefreshTokensTable,
      "client_id" | "user_id" | "session_id" | "scope" | "resources" | "auth_time" | "acr" | "amr"
    >,
    next: {
      token: string;
      familyId: string;
      familyEnd: number;
      now: number;
      access: { jti: string; expiresAt: number };
      /** The DPoP key the refresh token is bound to (public clients, RFC 9449 §5). */
      dpopJkt: string | null;
    },
  ): Insertable<RefreshTokensTable> {
    return {
      id: newJti(),
      token_hash: hashToken(next.token),
      family_id: next.familyId,
      client_id: source.client_id,
      user_id: source.user_id,
      session_id: source.session_id,
      scope: source.scope,
      resources: source.resources,
      auth_time: source.auth_time,
      acr: source.acr,
      amr: source.amr,
      created_at: next.now,
      expires_at: Math.min(next.now + policy.refreshTokenIdle * 1000, next.familyEnd),
      family_expires_at: next.familyEnd,
      access_jti: next.access.jti,
      access_expires_at: next.access.expiresAt,
      rotated_at: null,
      successor: null,
      successor_until: null,
      revoked_at: null,
      dpop_jkt: next.dpopJkt,
    };
  }

  /**
   * RFC 9449 §5: a public client's refresh tokens are bound to the key of the proof sent when they were
   * first issued; a confidential client's are not (its own authentication already constrains them).
   */
  function refreshBinding(client: Client, dpopJkt: string | undefined): string | null {
    return client.authMethod === "none" && dpopJkt !== undefined ? dpopJkt : null;
  }

  function refreshAllowed(client: Client, scopes: readonly string[]): boolean {
    if (!client.grantTypes.includes("refresh_token")) return false;
    return scopes.includes("offline_access") || client.authMethod !== "none";
  }

  async function liveUser(userId: string): Promise<void> {
    const row = await db.selectFrom("users").select("active").where("id", "=", userId).executeTakeFirst();
    if (row?.active !== 1) invalidGrant();
  }

  async function tokensFor(
    client: Client,
    subject: Subject,
    scopes: string[],
    resources: string[],
    nonce: string | null,
    dpopJkt: string | undefined,
  ) {
    const access = await issuer.mintAccessToken({
      clientId: client.id,
      format: client.accessTokenFormat,
      subject,
      scopes,
      audience: resources.length > 0 ? resources : [client.id],
      ttl: client.accessTokenTtl,
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    });
    const response: TokenResponse = {
      access_token: access.token,
      token_type: dpopJkt === undefined ? "Bearer" : "DPoP",
      expires_in: client.accessTokenTtl,
      scope: formatScope(scopes),
    };
    if (scopes.includes("openid")) {
      response.id_token = await issuer.mintIdToken({
        clientId: client.id,
        alg: client.idTokenAlg,
        subject,
        nonce,
        scopes,
        ttl: client.accessTokenTtl,
      });
    }
    return { access, response };
  }

  const revokeFamily = (familyId: string) => deps.grants.revokeFamily(familyId);

  async function authorizationCode(
    client: Client,
    params: Record<string, unknown>,
    dpopJkt: string | undefined,
  ): Promise<TokenResponse> {
    if (!client.grantTypes.includes("authorization_code")) {
      throw new OAuthError("unauthorized_client", "This client may not use the authorization_code grant.");
    }
    const code = single(params, "code");
    const verifier = single(params, "code_verifier");
    const redirectUri = single(params, "redirect_uri");
    if (code === undefined) throw new OAuthError("invalid_request", "The code parameter is missing.");
    if (verifier === undefined) throw new OAuthError("invalid_request", "PKCE: code_verifier is missing.");
    if (redirectUri === undefined)
      throw new OAuthError("invalid_request", "The redirect_uri parameter is missing.");
    if (!isWellFormedOpaqueToken(code, { prefix: AUTHORIZATION_CODE_PREFIX })) invalidGrant();
    const codeHash = hashToken(code);
    const row = await db
      .selectFrom("authorization_codes")
      .selectAll()
      .where("code_hash", "=", codeHash)
      .executeTakeFirst();
    if (!row || row.client_id !== client.id) invalidGrant();
    const now = clock.now();
    if (row.consumed_at !== null) return replayedCode(row.code_hash);
    if (row.expires_at <= now) invalidGrant("The authorization code has expired.");
    if (row.redirect_uri !== redirectUri)
      invalidGrant("redirect_uri does not match the authorization request.");
    if (!CODE_VERIFIER.test(verifier)) invalidGrant("PKCE verification failed.");
    const computed = Buffer.from(hash("sha256", verifier, "base64url"));
    const expected = Buffer.from(row.code_challenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) {
      invalidGrant("PKCE verification failed.");
    }
    // RFC 9449 §10: a code asked for with dpop_jkt (or pushed with a proof) is redeemed only with that key.
    if (row.dpop_jkt !== null && row.dpop_jkt !== dpopJkt) wrongDpopKey("The authorization code");
    await liveUser(row.user_id);

    const scopes = parseScope(row.scope);
    const resources = JSON.parse(row.resources) as string[];
    const subject = subjectOf(row);
    const { access, response } = await tokensFor(client, subject, scopes, resources, row.nonce, dpopJkt);
    const withRefresh = refreshAllowed(client, scopes);
    const familyId = withRefresh ? newJti() : null;
    const refresh = withRefresh ? generateOpaqueToken(REFRESH_FORMAT) : undefined;

    const won = await db.transaction().execute(async (trx) => {
      const consumed = await trx
        .updateTable("authorization_codes")
        .set({
          consumed_at: now,
          issued_family_id: familyId,
          issued_jti: access.jti,
          issued_jti_expires_at: access.expiresAt,
        })
        .where("code_hash", "=", codeHash)
        .where("consumed_at", "is", null)
        .executeTakeFirst();
      if (Number(consumed.numUpdatedRows) === 0) return false;
      if (refresh !== undefined && familyId !== null) {
        const familyEnd = now + policy.refreshTokenLifetime * 1000;
        await trx
          .insertInto("refresh_tokens")
          .values(
            refreshRow(row, {
              token: refresh,
              familyId,
              familyEnd,
              now,
              access,
              dpopJkt: refreshBinding(client, dpopJkt),
            }),
          )
          .execute();
      }
      return true;
    });
    if (!won) return replayedCode(codeHash);
    if (refresh !== undefined) response.refresh_token = refresh;
    return response;
  }

  async function replayedCode(codeHash: string): Promise<never> {
    const row = await db
      .selectFrom("authorization_codes")
      .selectAll()
      .where("code_hash", "=", codeHash)
      .executeTakeFirst();
    if (row) {
      if (row.issued_family_id) await revokeFamily(row.issued_family_id);
      if (row.issued_jti && row.issued_jti_expires_at) {
        await issuer.revokeAccessToken(row.issued_jti, row.issued_jti_expires_at);
      }
      await audit.record({
        type: "oauth.code_replayed",
        outcome: "failure",
        userId: row.user_id,
        actor: `client:${row.client_id}`,
        details: { client_id: row.client_id },
      });
    }
    invalidGrant("The authorization code was already used; what it issued has been revoked.");
  }

  /**
   * Marks `id` rotated and inserts its successor, atomically, only if `id` was not rotated or revoked yet;
   * false when another request won. PostgreSQL: one statement (a data-modifying CTE), so one round trip
   * instead of four; a concurrent rotation waits on the row lock, then finds `rotated_at` set and inserts
   * nothing. SQLite: a transaction (in-process, no round trips; writers are serialised).
   */
  async function rotate(
    id: string,
    rotation: { rotated_at: number; successor: string | null; successor_until: number | null },
    successorRow: Insertable<RefreshTokensTable>,
  ): Promise<boolean> {
    if (dialect === "postgres") {
      const columns = Object.keys(successorRow) as (keyof RefreshTokensTable)[];
      const result = await sql<{ id: string }>`
        with rotated as (
          update refresh_tokens
             set rotated_at = ${rotation.rotated_at}, successor = ${rotation.successor},
                 successor_until = ${rotation.successor_until}
           where id = ${id} and rotated_at is null and revoked_at is null
             and not exists (
               select 1 from refresh_tokens f
                where f.family_id = ${successorRow.family_id} and f.revoked_at is not null
             )
          returning id
        )
        insert into refresh_tokens (${sql.join(columns.map((c) => sql.ref(c)))})
        select ${sql.join(
          columns.map((c) =>
            BIGINT_COLUMNS.has(c)
              ? sql`${successorRow[c] ?? null}::bigint`
              : sql`${successorRow[c] ?? null}::text`,
          ),
        )} from rotated
        returning id`.execute(db);
      return result.rows.length === 1;
    }
    return db.transaction().execute(async (trx) => {
      const rotated = await trx
        .updateTable("refresh_tokens")
        .set(rotation)
        .where("id", "=", id)
        .where("rotated_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (Number(rotated.numUpdatedRows) === 0) return false;
      const revokedMember = await trx
        .selectFrom("refresh_tokens")
        .select("id")
        .where("family_id", "=", successorRow.family_id)
        .where("revoked_at", "is not", null)
        .executeTakeFirst();
      if (revokedMember) throw new OAuthError("invalid_grant", "The grant has been revoked.");
      await trx.insertInto("refresh_tokens").values(successorRow).execute();
      return true;
    });
  }

  async function refreshToken(
    client: Client,
    params: Record<string, unknown>,
    dpopJkt: string | undefined,
  ): Promise<TokenResponse> {
    if (!client.grantTypes.includes("refresh_token")) {
      throw new OAuthError("unauthorized_client", "This client may not use the refresh_token grant.");
    }
    const token = single(params, "refresh_token");
    if (token === undefined)
      throw new OAuthError("invalid_request", "The refresh_token parameter is missing.");
    if (!isWellFormedOpaqueToken(token, REFRESH_FORMAT)) invalidGrant();
    const tokenHash = hashToken(token);
    // The token and its user's active flag in one read.
    const found = await db
      .selectFrom("refresh_tokens")
      .innerJoin("users", "users.id", "refresh_tokens.user_id")
      .selectAll("refresh_tokens")
      .select("users.active as user_active")
      .where("refresh_tokens.token_hash", "=", tokenHash)
      .executeTakeFirst();
    if (!found || found.client_id !== client.id || found.revoked_at !== null) invalidGrant();
    const { user_active: userActive, ...row } = found;
    // Checked before anything else, the grace-window retry included: without the key, a stolen bound refresh
    // token is useless (RFC 9449 §5).
    if (row.dpop_jkt !== null && row.dpop_jkt !== dpopJkt) wrongDpopKey("The refresh token");
    if (row.rotated_at !== null) return retryOrReuse(row);
    const now = clock.now();
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
    const resources = JSON.parse(row.resources) as string[];
    const subject = subjectOf(row);
    const { access, response } = await tokensFor(client, subject, scopes, resources, null, dpopJkt);
    const successor = generateOpaqueToken(REFRESH_FORMAT);
    response.refresh_token = successor;
    const grace = policy.refreshGraceWindow * 1000;
    const sealed =
      grace > 0 ? masterKey.seal(Buffer.from(JSON.stringify(response)), sealContext(row.id)) : null;

    const successorRow = refreshRow(row, {
      token: successor,
      familyId: row.family_id,
      familyEnd: row.family_expires_at,
      now,
      access,
      dpopJkt: row.dpop_jkt,
    });
    const rotation = {
      rotated_at: now,
      successor: sealed,
      successor_until: sealed === null ? null : now + grace,
    };
    const won = await rotate(row.id, rotation, successorRow);
    if (won) return response;
    // Another request rotated this token first: answer as a retry or a reuse.
    const again = await db
      .selectFrom("refresh_tokens")
      .selectAll()
      .where("id", "=", row.id)
      .executeTakeFirst();
    if (!again || again.revoked_at !== null) invalidGrant();
    return retryOrReuse(again);
  }

  async function retryOrReuse(row: Selectable<RefreshTokensTable>): Promise<TokenResponse> {
    const now = clock.now();
    if (row.successor !== null && row.successor_until !== null && row.successor_until > now) {
      const answer = JSON.parse(
        masterKey.open(row.successor, sealContext(row.id)).toString("utf8"),
      ) as TokenResponse;
      // A retry gets the same answer only while that answer is still current: its refresh token not rotated or
      // revoked in turn (otherwise a stolen old token could walk the chain), the family alive, the user active.
      const successor = answer.refresh_token ? await findRefreshToken(answer.refresh_token) : undefined;
      if (
        successor &&
        successor.rotated_at === null &&
        successor.revoked_at === null &&
        row.family_expires_at > now
      ) {
        await liveUser(row.user_id);
        return answer;
      }
    }
    await deps.access.end(
      { type: "refresh_reused", userId: row.user_id, familyId: row.family_id },
      { actor: `client:${row.client_id}` },
    );
    await audit.record({
      type: "oauth.refresh_reused",
      outcome: "failure",
      userId: row.user_id,
      actor: `client:${row.client_id}`,
      details: { client_id: row.client_id, family_id: row.family_id },
    });
    invalidGrant("The refresh token was already used; the grant has been revoked.");
  }

  async function deviceCode(
    client: Client,
    params: Record<string, unknown>,
    dpopJkt: string | undefined,
  ): Promise<TokenResponse> {
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
      throw new OAuthError("unauthorized_client", "This client may not use the device authorization grant.");
    }
    const code = single(params, "device_code");
    if (code === undefined) throw new OAuthError("invalid_request", "The device_code parameter is missing.");
    const row = await device.exchange(client, code);
    const userId = row.user_id as string;
    await liveUser(userId);
    const scopes = parseScope(row.scope);
    const resources = JSON.parse(row.resources) as string[];
    const subject: Subject = {
      userId,
      authTime: row.auth_time as number,
      acr: row.acr as string,
      amr: (row.amr as string).split(" "),
      sessionId: row.session_id,
    };
    const { access, response } = await tokensFor(client, subject, scopes, resources, null, dpopJkt);
    if (refreshAllowed(client, scopes)) {
      const refresh = generateOpaqueToken(REFRESH_FORMAT);
      const now = clock.now();
      const source = {
        client_id: client.id,
        user_id: userId,
        session_id: row.session_id,
        scope: row.scope,
        resources: row.resources,
        auth_time: subject.authTime,
        acr: subject.acr,
        amr: row.amr as string,
      };
      await db
        .insertInto("refresh_tokens")
        .values(
          refreshRow(source, {
            token: refresh,
            familyId: newJti(),
            familyEnd: now + policy.refreshTokenLifetime * 1000,
            now,
            access,
            dpopJkt: refreshBinding(client, dpopJkt),
          }),
        )
        .execute();
      response.refresh_token = refresh;
    }
    return response;
  }

  async function clientCredentials(
    client: Client,
    params: Record<string, unknown>,
    dpopJkt: string | undefined,
  ): Promise<TokenResponse> {
    if (client.authMethod === "none" || !client.grantTypes.includes("client_credentials")) {
      throw new OAuthError("unauthorized_client", "This client may not use the client_credentials grant.");
    }
    const raw = params.resource;
    const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    const resources: string[] = [];
    for (const value of values) {
      if (typeof value !== "string" || !isResourceIndicator(value) || !client.resources.includes(value)) {
        throw new OAuthError("invalid_target", "The resource is not one this client may ask tokens for.");
      }
      if (!resources.includes(value)) resources.push(value);
    }
    if (resources.length === 0 && client.resources.length > 0) resources.push(client.resources[0] as string);
    const fail = (error: OAuthError["code"], description: string): never => {
      throw new OAuthError(error, description);
    };
    let scopes = parseScope(single(params, "scope"));
    for (const scope of scopes) {
      if (isOidcScope(scope))
        fail("invalid_scope", `The scope "${scope}" needs a user; client_credentials has none.`);
    }
    if (scopes.length === 0) {
      // Default: every scope of the client that a requested resource accepts.
      const accepted = new Set<string>();
      for (const resource of resources) {
        for (const s of (await clients.getResourceServer(resource))?.scopes ?? []) accepted.add(s);
      }
      scopes = client.scopes.filter((s) => !isOidcScope(s) && accepted.has(s));
    }
    await checkScopes(scopes, resources, client, clients, fail);
    const access = await issuer.mintAccessToken({
      clientId: client.id,
      format: client.accessTokenFormat,
      subject: undefined,
      scopes,
      audience: resources.length > 0 ? resources : [client.id],
      ttl: client.accessTokenTtl,
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    });
    return {
      access_token: access.token,
      token_type: dpopJkt === undefined ? "Bearer" : "DPoP",
      expires_in: client.accessTokenTtl,
      scope: formatScope(scopes),
    };
  }

  return {
    async grant(client, params, options = {}) {
      const grantType = single(params, "grant_type");
      const jkt = options.dpopJkt;
      if (grantType !== undefined && client.dpopBound && jkt === undefined) {
        throw new OAuthError(
          "invalid_dpop_proof",
          "This client is registered with dpop_bound_access_tokens: send a DPoP proof with every token request.",
        );
      }
      switch (grantType) {
        case "authorization_code":
          return authorizationCode(client, params, jkt);
        case "refresh_token":
          return refreshToken(client, params, jkt);
        case "client_credentials":
          return clientCredentials(client, params, jkt);
        case DEVICE_CODE_GRANT:
          return deviceCode(client, params, jkt);
        case undefined:
          throw new OAuthError("invalid_request", "The grant_type parameter is missing.");
        default:
          throw new OAuthError("unsupported_grant_type", "This grant type is not supported.");
      }
    },

    revokeFamily,

    async revokeUserClient(userId, clientId) {
      const families = await db
        .selectFrom("refresh_tokens")
        .select("family_id")
        .distinct()
        .where("user_id", "=", userId)
        .where("client_id", "=", clientId)
        .where("revoked_at", "is", null)
        .execute();
      let count = 0;
      for (const { family_id } of families) count += await revokeFamily(family_id);
      return count;
    },

    findRefreshToken,

    async clearSealedSuccessors() {
      await db
        .updateTable("refresh_tokens")
        .set({ successor: null })
        .where("successor_until", "<=", clock.now())
        .where("successor", "is not", null)
        .execute();
    },

    async purgeExpired() {
      const now = clock.now();
      await this.clearSealedSuccessors();
      const result = await db
        .deleteFrom("refresh_tokens")
        .where("family_expires_at", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
