/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592).
 *
 * - `POST /register` needs an initial access token: the admin token (or a `tsr_adm_` admin token), or one
 *   minted with `tessera clients initial-token` (`tsr_iat_`, stored hashed, optionally expiring and limited
 *   to N registrations).
 * - The metadata Tessera understands is mapped to the same `ClientInput` the CLI uses, so registration follows
 *   the same rules; unknown metadata is ignored (RFC 7591 §2). `response_types` may only be `["code"]`.
 * - The answer carries the client's metadata, its secret (once) and a registration access token (`tsr_rat_`,
 *   stored hashed) for `GET`/`PUT`/`DELETE /register/<client_id>` (RFC 7592). A replacement must name the
 *   client it replaces (`client_id`, RFC 7592 §2.2).
 * - `scope` may name only scopes the client could be granted: the OpenID Connect scopes Tessera supports, and
 *   API scopes an administrator gave it (admin API, CLI: its scopes that a resource server on its list
 *   accepts). Registration cannot name resources or add API scopes (a self-registered client must not choose
 *   which APIs it gets tokens for, nor widen what it was given), so a new client registers OpenID scopes
 *   only, and an RFC 7592 replacement may keep or drop the API scopes it has. Anything else is
 *   `invalid_client_metadata`: accepting it would register a scope that every token request refuses (or,
 *   on a replacement, one the administrator did not give).
 * - `grant_types` may name token exchange (RFC 8693) for a confidential client (a public one is
 *   `invalid_client_metadata`). What it may exchange for stays an administrator's choice: the resource servers
 *   on its list (or its token-exchange audiences), never impersonation; a replacement keeps that policy.
 * - Encrypted ID tokens and userinfo answers (OpenID Connect Registration §2, issue 24):
 *   `id_token_encrypted_response_alg`/`_enc`, `userinfo_encrypted_response_alg`/`_enc` and
 *   `userinfo_signed_response_alg`, with the client's encryption keys as `jwks` or at a `jwks_uri` (fetched at
 *   once through the outbound guard and checked). An `_enc` without its `_alg` is refused; an `_alg` without
 *   `_enc` means A128CBC-HS256, and the answer says so.
 * - Refusals for a missing or wrong bearer token are decisions (`token_missing`, `token_invalid`), which the
 *   HTTP layer answers as RFC 6750 §3.1 challenges.
 */
import { hashToken } from "../crypto/hash.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import { randomId } from "../crypto/random.js";
import type { Clock } from "../lib/clock.js";
import type { InitialAccessTokensRepository } from "../storage/repositories/initial-access-tokens.js";
import type { Client, ClientAuthMethod, ClientInput, Clients, GrantType } from "./clients.js";
import { OAuthError } from "./errors.js";
import { formatScope, isOidcScope, OIDC_SCOPES, parseScope } from "./scopes.js";

export const INITIAL_TOKEN_FORMAT = { prefix: "tsr_iat_", checksum: true } as const;

export interface InitialAccessTokens {
  create(options: { ttlSeconds?: number; uses?: number }): Promise<{ id: string; token: string }>;
  /** Uses one registration of the token; false when unknown, expired or used up. */
  consume(token: string): Promise<boolean>;
  /** Deletes a leaked token; true when it existed. */
  revokeLeaked(token: string): Promise<boolean>;
}

/** Why a registration request is refused: no bearer token, or one that grants nothing here. */
export type RegistrationRefusal = { refused: "token_missing" | "token_invalid" };

export interface ClientRegistration {
  /**
   * RFC 7591 §3: registers a client for the holder of an initial access token, or of a token
   * `isAdminToken` accepts. Answers its metadata with its secret (once) and registration access token.
   */
  register(
    token: string | undefined,
    metadata: Record<string, unknown>,
    isAdminToken: (token: string) => Promise<boolean>,
  ): Promise<{ metadata: Record<string, unknown> } | RegistrationRefusal>;
  /** RFC 7592 §2.1: the metadata of the client that the registration access token manages. */
  read(
    clientId: string,
    token: string | undefined,
  ): Promise<{ metadata: Record<string, unknown> } | RegistrationRefusal>;
  /** RFC 7592 §2.2: replaces the client's metadata. */
  update(
    clientId: string,
    token: string | undefined,
    metadata: Record<string, unknown>,
  ): Promise<{ metadata: Record<string, unknown> } | RegistrationRefusal>;
  /** RFC 7592 §2.3: deletes the client. */
  remove(clientId: string, token: string | undefined): Promise<{ removed: true } | RegistrationRefusal>;
}

export function createClientRegistration(deps: {
  clients: Clients;
  initialTokens: InitialAccessTokens;
  issuer: string;
}): ClientRegistration {
  const { clients, initialTokens, issuer } = deps;

  /** The client a registration access token manages, or the refusal. */
  async function managed(clientId: string, token: string | undefined): Promise<Client | RegistrationRefusal> {
    const client = token === undefined ? undefined : await clients.byRegistrationToken(clientId, token);
    if (client) return client;
    return { refused: token === undefined ? "token_missing" : "token_invalid" };
  }

  /**
   * Refuses scopes the client could never be granted (see the top of this file): besides the OpenID Connect
   * scopes, only API scopes an administrator gave the `current` client, of APIs it may address.
   */
  async function checkScope(input: ClientInput, current: Client | undefined): Promise<void> {
    if (input.scope === undefined) return;
    let scopes: string[];
    try {
      scopes = parseScope(input.scope);
    } catch {
      throw new OAuthError("invalid_client_metadata", "The scope list is malformed.");
    }
    const accepted = new Set<string>();
    for (const audience of current?.resources ?? []) {
      for (const scope of (await clients.getResourceServer(audience))?.scopes ?? []) {
        if (current?.scopes.includes(scope)) accepted.add(scope);
      }
    }
    const ungrantable = scopes.filter((scope) => !isOidcScope(scope) && !accepted.has(scope));
    if (ungrantable.length > 0) {
      throw new OAuthError(
        "invalid_client_metadata",
        `This client cannot be granted the scope ${formatScope(ungrantable)}: a client registers OpenID Connect scopes (${formatScope(OIDC_SCOPES)}) and the scopes of APIs an administrator gave it access to.`,
      );
    }
  }

  return {
    async register(token, metadata, isAdminToken) {
      if (token === undefined) return { refused: "token_missing" };
      const allowed = (await initialTokens.consume(token)) || (await isAdminToken(token));
      if (!allowed) return { refused: "token_invalid" };
      const input = metadataToInput(metadata);
      // Registration names no resources (see above).
      await checkScope(input, undefined);
      const { client, secret, registrationToken } = await clients.create(input, { registration: true });
      return {
        metadata: {
          ...clientMetadata(client, issuer),
          ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
          registration_access_token: registrationToken,
        },
      };
    },

    async read(clientId, token) {
      const client = await managed(clientId, token);
      return "refused" in client ? client : { metadata: clientMetadata(client, issuer) };
    },

    async update(clientId, token, metadata) {
      const client = await managed(clientId, token);
      if ("refused" in client) return client;
      if (metadata.client_id !== client.id) {
        throw new OAuthError("invalid_client_metadata", "client_id in the body must be the client's id.");
      }
      const input = metadataToInput(metadata);
      await checkScope(input, client);
      const updated = await clients.replace(client.id, input);
      return { metadata: clientMetadata(updated, issuer) };
    },

    async remove(clientId, token) {
      const client = await managed(clientId, token);
      if ("refused" in client) return client;
      await clients.delete(client.id);
      return { removed: true };
    },
  };
}

export function createInitialAccessTokens(deps: {
  tokens: InitialAccessTokensRepository;
  clock: Clock;
}): InitialAccessTokens {
  const { tokens, clock } = deps;
  return {
    async create(options) {
      const token = generateOpaqueToken(INITIAL_TOKEN_FORMAT);
      const id = randomId(12);
      const now = clock.now();
      await tokens.insert({
        id,
        token_hash: hashToken(token),
        created_at: now,
        expires_at: options.ttlSeconds === undefined ? null : now + options.ttlSeconds * 1000,
        uses_left: options.uses ?? null,
      });
      return { id, token };
    },
    async revokeLeaked(token) {
      if (!isWellFormedOpaqueToken(token, INITIAL_TOKEN_FORMAT)) return false;
      return tokens.deleteByHash(hashToken(token));
    },
    async consume(token) {
      if (!isWellFormedOpaqueToken(token, INITIAL_TOKEN_FORMAT)) return false;
      const hash = hashToken(token);
      const now = clock.now();
      const row = await tokens.findByHash(hash);
      if (!row || (row.expires_at !== null && row.expires_at <= now)) return false;
      if (row.uses_left === null) return true;
      return tokens.useOnce(hash);
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
  const jwksUri = text(metadata.jwks_uri, "jwks_uri");
  const idTokenEncryption = encryptionMetadata(metadata, "id_token_encrypted_response");
  const userinfoEncryption = encryptionMetadata(metadata, "userinfo_encrypted_response");
  const userinfoAlg = text(metadata.userinfo_signed_response_alg, "userinfo_signed_response_alg");
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
    ...(jwksUri !== undefined ? { jwksUri } : {}),
    ...(idTokenEncryption ? { idTokenEncryption } : {}),
    ...(userinfoEncryption ? { userinfoEncryption } : {}),
    ...(userinfoAlg ? { userinfoSignedAlg: userinfoAlg as ClientInput["userinfoSignedAlg"] } : {}),
  } as ClientInput;
}

/** `<what>_alg` and `<what>_enc` (OpenID Connect Registration §2); the `_enc` alone is refused. */
function encryptionMetadata(
  metadata: Record<string, unknown>,
  what: "id_token_encrypted_response" | "userinfo_encrypted_response",
): { alg: string; enc?: string } | undefined {
  const alg = text(metadata[`${what}_alg`], `${what}_alg`);
  const enc = text(metadata[`${what}_enc`], `${what}_enc`);
  if (alg === undefined) {
    if (enc !== undefined) throw new OAuthError("invalid_client_metadata", `${what}_enc needs ${what}_alg.`);
    return undefined;
  }
  return enc === undefined ? { alg } : { alg, enc };
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
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.idTokenEncryption
      ? {
          id_token_encrypted_response_alg: client.idTokenEncryption.alg,
          id_token_encrypted_response_enc: client.idTokenEncryption.enc,
        }
      : {}),
    ...(client.userinfoSignedAlg ? { userinfo_signed_response_alg: client.userinfoSignedAlg } : {}),
    ...(client.userinfoEncryption
      ? {
          userinfo_encrypted_response_alg: client.userinfoEncryption.alg,
          userinfo_encrypted_response_enc: client.userinfoEncryption.enc,
        }
      : {}),
    dpop_bound_access_tokens: client.dpopBound,
    registration_client_uri: `${issuer.replace(/\/+$/, "")}/register/${encodeURIComponent(client.id)}`,
  };
}
