/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592).
 *
 * - `POST /register` needs an initial access token: the admin token (or a `tsr_adm_` admin token), or one
 *   minted with `tessera clients initial-token` (`tsr_iat_`, stored hashed, optionally expiring and limited
 *   to N registrations).
 * - The metadata Tessera understands is mapped to the same `ClientInput` the CLI uses, so registration follows
 *   the same rules; unknown metadata is ignored (RFC 7591 §2). `response_types` may only be `["code"]`.
 * - The answer carries the client's metadata, its secret (once) and a registration access token (`tsr_rat_`,
 *   stored hashed) for `GET`/`PUT`/`DELETE /register/<client_id>` (RFC 7592).
 */
import type { Kysely } from "kysely";
import { hashToken } from "../crypto/hash.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import { randomId } from "../crypto/random.js";
import type { Clock } from "../lib/clock.js";
import type { Database } from "../storage/database.js";
import type { Client, ClientAuthMethod, ClientInput, GrantType } from "./clients.js";
import { OAuthError } from "./errors.js";

export const INITIAL_TOKEN_FORMAT = { prefix: "tsr_iat_", checksum: true } as const;

export interface InitialAccessTokens {
  create(options: { ttlSeconds?: number; uses?: number }): Promise<{ id: string; token: string }>;
  /** Uses one registration of the token; false when unknown, expired or used up. */
  consume(token: string): Promise<boolean>;
  /** Deletes a leaked token; true when it existed. */
  revokeLeaked(token: string): Promise<boolean>;
}

export function createInitialAccessTokens(deps: { db: Kysely<Database>; clock: Clock }): InitialAccessTokens {
  const { db, clock } = deps;
  return {
    async create(options) {
      const token = generateOpaqueToken(INITIAL_TOKEN_FORMAT);
      const id = randomId(12);
      const now = clock.now();
      await db
        .insertInto("initial_access_tokens")
        .values({
          id,
          token_hash: hashToken(token),
          created_at: now,
          expires_at: options.ttlSeconds === undefined ? null : now + options.ttlSeconds * 1000,
          uses_left: options.uses ?? null,
        })
        .execute();
      return { id, token };
    },
    async revokeLeaked(token) {
      if (!isWellFormedOpaqueToken(token, INITIAL_TOKEN_FORMAT)) return false;
      const removed = await db
        .deleteFrom("initial_access_tokens")
        .where("token_hash", "=", hashToken(token))
        .executeTakeFirst();
      return Number(removed.numDeletedRows) > 0;
    },
    async consume(token) {
      if (!isWellFormedOpaqueToken(token, INITIAL_TOKEN_FORMAT)) return false;
      const hash = hashToken(token);
      const now = clock.now();
      const row = await db
        .selectFrom("initial_access_tokens")
        .selectAll()
        .where("token_hash", "=", hash)
        .executeTakeFirst();
      if (!row || (row.expires_at !== null && row.expires_at <= now)) return false;
      if (row.uses_left === null) return true;
      const used = await db
        .updateTable("initial_access_tokens")
        .set((eb) => ({ uses_left: eb("uses_left", "-", 1) }))
        .where("token_hash", "=", hash)
        .where("uses_left", ">", 0)
        .executeTakeFirst();
      return Number(used.numUpdatedRows) === 1;
    },
  };
}

const strings = (value: unknown, name: string): string[] | undefined => {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new OAuthError("invalid_client_metadata", `${name} must be an array of strings.`);
  }
  return value as string[];
};

const text = (value: unknown, name: string): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new OAuthError("invalid_client_metadata", `${name} must be a string.`);
  return value;
};

/** RFC 7591 §2 metadata → the domain's client input. */
export function metadataToInput(metadata: Record<string, unknown>): ClientInput {
  if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new OAuthError("invalid_client_metadata", "The body must be a JSON object of client metadata.");
  }
  const responseTypes = strings(metadata.response_types, "response_types");
  if (responseTypes?.some((t) => t !== "code")) {
    throw new OAuthError("invalid_client_metadata", 'Only response_types ["code"] is supported.');
  }
  const redirectUris = strings(metadata.redirect_uris, "redirect_uris");
  const postLogout = strings(metadata.post_logout_redirect_uris, "post_logout_redirect_uris");
  const grantTypes = strings(metadata.grant_types, "grant_types");
  const method = text(metadata.token_endpoint_auth_method, "token_endpoint_auth_method");
  const scope = text(metadata.scope, "scope");
  const name = text(metadata.client_name, "client_name") ?? "Unnamed application";
  const alg = text(metadata.id_token_signed_response_alg, "id_token_signed_response_alg");
  const backchannel = text(metadata.backchannel_logout_uri, "backchannel_logout_uri");
  // Tessera posts to this URI: a self-registered client must not aim it at the loopback interface.
  if (backchannel !== undefined && !backchannel.startsWith("https://")) {
    throw new OAuthError("invalid_client_metadata", "backchannel_logout_uri must use https.");
  }
  const jwks = metadata.jwks as ClientInput["jwks"] | undefined;
  if (metadata.jwks_uri !== undefined) {
    throw new OAuthError("invalid_client_metadata", "jwks_uri is not supported; register the keys as jwks.");
  }
  const dpopBound = metadata.dpop_bound_access_tokens;
  if (dpopBound !== undefined && typeof dpopBound !== "boolean") {
    throw new OAuthError("invalid_client_metadata", "dpop_bound_access_tokens must be a boolean.");
  }
  return {
    name,
    // RFC 9449 §5.2; absent means false, also on a full replacement (RFC 7592 PUT).
    dpopBound: dpopBound === true,
    ...(redirectUris ? { redirectUris } : {}),
    ...(postLogout ? { postLogoutRedirectUris: postLogout } : {}),
    ...(grantTypes ? { grantTypes: grantTypes as GrantType[] } : {}),
    ...(method ? { authMethod: method as ClientAuthMethod } : {}),
    ...(scope !== undefined ? { scope } : {}),
    ...(alg ? { idTokenAlg: alg as ClientInput["idTokenAlg"] } : {}),
    ...(backchannel ? { backchannelLogoutUri: backchannel } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
  } as ClientInput;
}

/** The client's registered metadata (RFC 7591 §3.2.1), without secrets. */
export function clientMetadata(client: Client, issuer: string): Record<string, unknown> {
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes("authorization_code") ? ["code"] : [],
    token_endpoint_auth_method: client.authMethod,
    scope: client.scopes.join(" "),
    id_token_signed_response_alg: client.idTokenAlg,
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    dpop_bound_access_tokens: client.dpopBound,
    registration_client_uri: `${issuer.replace(/\/+$/, "")}/register/${encodeURIComponent(client.id)}`,
  };
}
