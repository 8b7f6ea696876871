/**
 * What the token endpoint's grants share (RFC 6749 §5.1, §5.2): their dependencies, reading parameters,
 * the refusals, minting the access token (and ID token) of a response, and the rows of new refresh tokens.
 *
 * - A response's access token is bound to the key of the request's DPoP proof when there is one
 *   (`token_type: DPoP`, RFC 9449 §5); an ID token is added when `openid` was granted.
 * - Refresh tokens: only for clients allowed the grant, and for public clients only with `offline_access`;
 *   a public client's are bound to its DPoP key (RFC 9449 §5), a confidential client's are not (its own
 *   authentication already constrains them). A token lives `refreshTokenIdle` unused, never past its family.
 */
import type { AccessRevocation } from "../../access/revocation.js";
import type { AuditLog } from "../../audit/audit-log.js";
import { hashToken } from "../../crypto/hash.js";
import type { MasterKey } from "../../crypto/master-key.js";
import type { Clock } from "../../lib/clock.js";
import type { OAuthRepositories } from "../../storage/repositories/oauth.js";
import type { RefreshTokenRow } from "../../storage/repositories/refresh-tokens.js";
import type { Client, Clients } from "../clients.js";
import type { DeviceFlow } from "../device.js";
import { OAuthError } from "../errors.js";
import type { GrantRevocation } from "../grant-revocation.js";
import { type IssuedAccessToken, type Issuer, newJti, type Subject } from "../issuer.js";
import { formatScope } from "../scopes.js";

export const REFRESH_TOKEN_PREFIX = "tsr_rt_";
export const REFRESH_FORMAT = { prefix: REFRESH_TOKEN_PREFIX, checksum: true } as const;

export interface TokenResponse {
  access_token: string;
  /** `DPoP` when the access token is bound to the key of the request's DPoP proof (RFC 9449 §5). */
  token_type: "Bearer" | "DPoP";
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: the type of the token issued by a token exchange. */
  issued_token_type?: string;
}

export interface GrantDeps {
  repositories: Pick<OAuthRepositories, "codes" | "refreshTokens" | "tokenHolders">;
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

/** One token request of an authenticated client, as a grant sees it. */
export interface GrantRequest {
  client: Client;
  /** The form parameters. */
  params: Record<string, unknown>;
  /** The thumbprint of the key of the request's checked DPoP proof, if it had one. */
  dpopJkt: string | undefined;
}

/** A grant type's handler: the response, or an `OAuthError`. */
export type GrantHandler = (deps: GrantDeps, request: GrantRequest) => Promise<TokenResponse>;

/** A parameter given at most once; undefined when absent or empty. */
export function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") return undefined;
  if (typeof value !== "string" || value.length > 4096) {
    throw new OAuthError("invalid_request", `The ${name} parameter must be given once.`);
  }
  return value;
}

/** A required parameter; its absence is `invalid_request` with `missing` as the description. */
export function required(params: Record<string, unknown>, name: string, missing: string): string {
  const value = single(params, name);
  if (value === undefined) throw new OAuthError("invalid_request", missing);
  return value;
}

/** Refuses a grant the client may not use (RFC 6749 §5.2 `unauthorized_client`). */
export function unauthorizedClient(grant: string): never {
  throw new OAuthError("unauthorized_client", `This client may not use the ${grant}.`);
}

/** An unknown, expired, revoked or foreign grant, with no hint of which. */
export function invalidGrant(message = "The grant is invalid, expired or revoked."): never {
  throw new OAuthError("invalid_grant", message);
}

export function wrongDpopKey(what: string): never {
  throw new OAuthError(
    "invalid_dpop_proof",
    `${what} is bound to another DPoP key; send a proof made with that key.`,
  );
}

/** Refuses the grant unless the user exists and is active. */
export async function requireLiveUser(deps: GrantDeps, userId: string): Promise<void> {
  const holder = await deps.repositories.tokenHolders.find(userId);
  if (!holder?.active) invalidGrant();
}

/** Who a stored grant (a code or a refresh token) is about, and how they signed in. */
export function subjectOf(row: {
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

/** Whether a response to this client for these scopes carries a refresh token. */
export function refreshAllowed(client: Client, scopes: readonly string[]): boolean {
  if (!client.grantTypes.includes("refresh_token")) return false;
  return scopes.includes("offline_access") || client.authMethod !== "none";
}

/** The DPoP key a new family's refresh tokens are bound to: a public client's proof key, or none. */
export function refreshBinding(client: Client, dpopJkt: string | undefined): string | null {
  return client.authMethod === "none" && dpopJkt !== undefined ? dpopJkt : null;
}

/** A new live refresh token carrying the grant of `source` (a code, a device code or the token it succeeds). */
export function refreshRow(
  deps: GrantDeps,
  source: Pick<
    RefreshTokenRow,
    "client_id" | "user_id" | "session_id" | "scope" | "resources" | "auth_time" | "acr" | "amr"
  >,
  next: {
    token: string;
    familyId: string;
    familyEnd: number;
    now: number;
    access: { jti: string; expiresAt: number };
    dpopJkt: string | null;
  },
): RefreshTokenRow {
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
    expires_at: Math.min(next.now + deps.policy.refreshTokenIdle * 1000, next.familyEnd),
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
 * Mints the access token (for `subject`, or for the client itself when undefined) and, for a user granted
 * `openid`, the ID token; answers them with the response they make.
 */
export async function issueTokens(
  deps: GrantDeps,
  request: GrantRequest,
  grant: { subject: Subject | undefined; scopes: string[]; resources: string[]; nonce: string | null },
): Promise<{ access: IssuedAccessToken; response: TokenResponse }> {
  const { client, dpopJkt } = request;
  const access = await deps.issuer.mintAccessToken({
    clientId: client.id,
    format: client.accessTokenFormat,
    subject: grant.subject,
    scopes: grant.scopes,
    audience: grant.resources.length > 0 ? grant.resources : [client.id],
    ttl: client.accessTokenTtl,
    ...(dpopJkt === undefined ? {} : { dpopJkt }),
  });
  const response: TokenResponse = {
    access_token: access.token,
    token_type: dpopJkt === undefined ? "Bearer" : "DPoP",
    expires_in: client.accessTokenTtl,
    scope: formatScope(grant.scopes),
  };
  if (grant.subject !== undefined && grant.scopes.includes("openid")) {
    response.id_token = await deps.issuer.mintIdToken({
      clientId: client.id,
      alg: client.idTokenAlg,
      subject: grant.subject,
      nonce: grant.nonce,
      scopes: grant.scopes,
      ttl: client.accessTokenTtl,
    });
  }
  return { access, response };
}
