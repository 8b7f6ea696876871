/**
 * OAuth clients and resource servers.
 *
 * - A client is confidential (authenticates with a secret: `client_secret_basic` or `client_secret_post`) or
 *   public (`none`: native apps and single-page apps, which cannot keep a secret; PKCE protects their codes).
 * - Secrets: 256 bits from the CSPRNG with the `tsr_cs_` prefix and a checksum, shown once, stored as SHA-256
 *   (a random 256-bit secret needs no slow hash: there is nothing to guess), compared in constant time.
 * - Each client has an allow-list of scopes and of resources (audiences) it may ask for; a resource server is
 *   registered with its audience and the scopes it accepts. Tokens carry only what was asked, allowed and
 *   (for users) consented: least privilege.
 * - Registration validates everything up front (`invalid_client_metadata`, `invalid_redirect_uri`), so the
 *   authorization and token endpoints can trust what they read.
 */
import { createPublicKey, type JsonWebKey, type KeyObject, randomBytes } from "node:crypto";
import { constantTimeEqual, hashToken } from "../crypto/hash.js";
import {
  checkJwkSet,
  type JweSettings,
  type JwkSet,
  jweSettings,
  MAX_JWKS_KEYS,
  requireEncryptionKey,
} from "../crypto/jwe.js";
import {
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  type JwtClaims,
  type VerificationKey,
} from "../crypto/jwt/policy.js";
import { verifyJwt } from "../crypto/jwt/verify.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import type { Clock } from "../lib/clock.js";
import { TokenError } from "../lib/errors.js";
import type { OAuthRepositories } from "../storage/repositories/oauth.js";
import type { OAuthClientFields, OAuthClientRow } from "../storage/repositories/oauth-clients.js";
import type { ResourceServerRow } from "../storage/repositories/resource-servers.js";
import { OAuthError } from "./errors.js";
import { isJwksUri, type TokenEncryption } from "./jwe.js";
import { redirectUriProblem } from "./redirect-uri.js";
import { formatScope, parseScope } from "./scopes.js";

export const CLIENT_SECRET_PREFIX = "tsr_cs_";
const SECRET_FORMAT = { prefix: CLIENT_SECRET_PREFIX, checksum: true } as const;

export const GRANT_TYPES = [
  "authorization_code",
  "refresh_token",
  "client_credentials",
  "urn:ietf:params:oauth:grant-type:device_code",
  "urn:ietf:params:oauth:grant-type:token-exchange",
] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export const AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const;
export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/**
 * The longest an assertion may still be valid when presented, and the longest it may live from `iat` to `exp`
 * (RFC 7523 asks for short-lived assertions).
 */
const MAX_ASSERTION_LIFETIME_S = 600;
/** How far the client's clock may be from ours (`exp`, `nbf`, `iat`). */
const ASSERTION_CLOCK_SKEW_S = 60;
export type ClientAuthMethod = (typeof AUTH_METHODS)[number];
export const MAX_ACCESS_TOKEN_TTL = 1800;

export interface Client {
  id: string;
  name: string;
  /** `none`: a public client. */
  authMethod: ClientAuthMethod;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: GrantType[];
  /** Scopes the client may ask for. */
  scopes: string[];
  /** Audiences (resource indicators) the client may ask tokens for; the first is the default. */
  resources: string[];
  firstParty: boolean;
  /** Seconds. */
  accessTokenTtl: number;
  /** `jwt` (RFC 9068, verifiable by anyone with the JWKS) or `opaque` (introspection only). */
  accessTokenFormat: "jwt" | "opaque";
  idTokenAlg: JwsAlgorithm;
  requirePar: boolean;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: token requests without a DPoP proof are refused. */
  dpopBound: boolean;
  /** OpenID Connect Back-Channel Logout: where logout tokens are posted; null when not registered. */
  backchannelLogoutUri: string | null;
  /**
   * The client's public keys: those it signs private_key_jwt assertions with, and those tokens are encrypted to
   * (`use: "enc"`, or no `use`).
   */
  jwks: { keys: JsonWebKey[] } | null;
  /** Where the client publishes its encryption keys instead (OpenID Connect Registration §2 `jwks_uri`). */
  jwksUri: string | null;
  /** `id_token_encrypted_response_alg`/`_enc`: ID tokens are signed, then encrypted to the client. */
  idTokenEncryption: JweSettings | null;
  /** `userinfo_signed_response_alg`: userinfo answers a JWT signed with it (`application/jwt`). */
  userinfoSignedAlg: JwsAlgorithm | null;
  /** `userinfo_encrypted_response_alg`/`_enc`: userinfo answers a signed, then encrypted JWT. */
  userinfoEncryption: JweSettings | null;
  /** RFC 8693: the audiences exchanged tokens may be asked for; null means `resources`. */
  tokenExchangeAudiences: string[] | null;
  /** RFC 8693: may ask for exchanged tokens without `act` (impersonation); otherwise delegation only. */
  tokenExchangeImpersonation: boolean;
  createdAt: number;
}

export interface ClientInput {
  name: string;
  authMethod?: ClientAuthMethod;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  grantTypes?: GrantType[];
  scope?: string;
  resources?: string[];
  firstParty?: boolean;
  accessTokenTtl?: number;
  accessTokenFormat?: "jwt" | "opaque";
  idTokenAlg?: JwsAlgorithm;
  requirePar?: boolean;
  dpopBound?: boolean;
  backchannelLogoutUri?: string | null;
  /** Required for private_key_jwt (public keys, each with a `kid`), and for encryption without `jwksUri`. */
  jwks?: { keys: JsonWebKey[] };
  /** Encryption keys published by the client (fetched through the outbound guard), instead of `jwks`. */
  jwksUri?: string | null;
  /** Encrypted ID tokens: `enc` defaults to A128CBC-HS256 (OpenID Connect Registration §2). */
  idTokenEncryption?: { alg: string; enc?: string } | null;
  userinfoSignedAlg?: JwsAlgorithm | null;
  /** Encrypted userinfo answers: `enc` defaults to A128CBC-HS256. */
  userinfoEncryption?: { alg: string; enc?: string } | null;
  /** RFC 8693 token exchange policy (administrators only; registration cannot set it). */
  tokenExchangeAudiences?: string[] | null;
  tokenExchangeImpersonation?: boolean;
  /** A chosen client id (`[A-Za-z0-9._~-]`, 3–128 characters); random when absent. */
  id?: string;
}

export interface ResourceServer {
  audience: string;
  name: string;
  scopes: string[];
  /**
   * Present when it asks for encrypted access tokens: they are signed, then encrypted to a key of `jwks` (its
   * public encryption keys). Absent: signed JWTs as usual.
   */
  accessTokenEncryption?: JweSettings;
  jwks?: JwkSet;
}

/** What makes a resource server's access tokens encrypted: its public keys and the algorithms. */
export interface ResourceServerEncryptionInput {
  jwks: unknown;
  alg: string;
  /** Default A128CBC-HS256, as for clients. */
  enc?: string;
}

export interface Clients {
  /**
   * Registers a client; the secret (clients with a secret only) is returned once and never again. With
   * `registration`, also a registration access token (RFC 7592) for managing it later.
   */
  create(
    input: ClientInput,
    options?: { registration?: boolean },
  ): Promise<{ client: Client; secret: string | undefined; registrationToken?: string }>;
  /** Replaces a client's metadata (RFC 7592 PUT); its id, secret and registration token stay. */
  replace(id: string, input: ClientInput): Promise<Client>;
  /** The client a registration access token manages, or undefined. */
  byRegistrationToken(id: string, token: string): Promise<Client | undefined>;
  get(id: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  delete(id: string): Promise<boolean>;
  /** A new secret for a confidential client (the old one stops working). */
  rotateSecret(id: string): Promise<string>;
  /**
   * Changes a client's token exchange policy (RFC 8693) and nothing else: whether it has the grant, the
   * audiences it may ask exchanged tokens for (null: its resources), whether it may impersonate.
   */
  setTokenExchange(
    id: string,
    change: { allowed?: boolean; audiences?: string[] | null; impersonation?: boolean },
  ): Promise<Client>;
  /**
   * A leaked secret or registration access token (RFC 7592) stops working at once: the client's secret is
   * replaced by one nobody knows (an administrator rotates it to get a working one), or its registration token
   * is dropped. Answers the client id and which kind it was; undefined when no client has this value.
   */
  revokeLeaked(
    token: string,
  ): Promise<{ clientId: string; kind: "client_secret" | "registration_token" } | undefined>;
  /**
   * Authenticates the caller of the token, introspection or revocation endpoint. `credentials` are what
   * the HTTP layer found (Basic header or form fields). Unknown client, wrong secret and wrong method all give
   * the same `invalid_client`. With `confidential`, a public client (no authentication) is refused too: the
   * endpoint serves confidential clients only (introspection, the revocation feed).
   */
  authenticate(credentials: ClientCredentials, options?: { confidential?: boolean }): Promise<Client>;
  createResourceServer(input: {
    audience: string;
    name: string;
    scope: string;
    /** Encrypted access tokens for it (RFC 7516), with its public keys. */
    encryption?: ResourceServerEncryptionInput | null;
  }): Promise<ResourceServer>;
  /** Sets (or, with null, removes) the encryption of a resource server's access tokens; false if unknown. */
  setResourceServerEncryption(
    audience: string,
    encryption: ResourceServerEncryptionInput | null,
  ): Promise<ResourceServer | undefined>;
  getResourceServer(audience: string): Promise<ResourceServer | undefined>;
  listResourceServers(): Promise<ResourceServer[]>;
  deleteResourceServer(audience: string): Promise<boolean>;
}

export type ClientCredentials =
  | { method: "client_secret_basic" | "client_secret_post"; clientId: string; secret: string }
  | { method: "private_key_jwt"; clientId: string | undefined; assertion: string }
  | { method: "none"; clientId: string };

const CLIENT_ID = /^[A-Za-z0-9._~-]{3,128}$/;

function parseJsonArray(text: string): string[] {
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Encryption settings as stored (validated when written). */
function storedEncryption(
  alg: string | null | undefined,
  enc: string | null | undefined,
): JweSettings | null {
  return alg ? ({ alg, enc } as JweSettings) : null;
}

function toResourceServer(row: ResourceServerRow): ResourceServer {
  const encryption = storedEncryption(row.access_token_encryption_alg, row.access_token_encryption_enc);
  return {
    audience: row.audience,
    name: row.name,
    scopes: parseScope(row.scope),
    ...(encryption && row.jwks
      ? { accessTokenEncryption: encryption, jwks: JSON.parse(row.jwks) as JwkSet }
      : {}),
  };
}

/**
 * A client's keys and encryption metadata, checked (OpenID Connect Registration §2, RFC 7591 §2):
 * - private_key_jwt needs inline `jwks` with at least one signing key (`use` absent or `sig`);
 * - encryption needs `jwks` or `jwks_uri` (never both) holding a key for each registered `alg` (a `jwks_uri` is
 *   fetched and checked by `create`/`replace`, which are asynchronous);
 * - a set holding both kinds of key says of each what it is for (`use`); `jwks` and `jwks_uri` serve nothing else.
 */
function clientKeys(
  input: ClientInput,
  authMethod: ClientAuthMethod,
): Pick<
  OAuthClientFields,
  | "jwks"
  | "jwks_uri"
  | "userinfo_signed_alg"
  | "id_token_encryption_alg"
  | "id_token_encryption_enc"
  | "userinfo_encryption_alg"
  | "userinfo_encryption_enc"
> {
  const idToken = jweSettings(
    input.idTokenEncryption?.alg,
    input.idTokenEncryption?.enc,
    "id_token_encrypted_response",
    invalid,
  );
  const userinfo = jweSettings(
    input.userinfoEncryption?.alg,
    input.userinfoEncryption?.enc,
    "userinfo_encrypted_response",
    invalid,
  );
  const userinfoSignedAlg = input.userinfoSignedAlg ?? null;
  if (userinfoSignedAlg !== null && !(JWS_ALGORITHMS as readonly string[]).includes(userinfoSignedAlg)) {
    invalid(`Unsupported userinfo_signed_response_alg "${userinfoSignedAlg}".`);
  }
  const encrypted = idToken !== null || userinfo !== null;
  const jwksUri = input.jwksUri ?? null;
  if (jwksUri !== null) {
    if (input.jwks !== undefined) invalid("Register jwks or jwks_uri, not both (RFC 7591 §2).");
    if (authMethod === "private_key_jwt") invalid("private_key_jwt needs its keys inline, as jwks.");
    if (!encrypted) invalid("jwks_uri is only for the keys of encrypted ID tokens or userinfo; use jwks.");
    if (!isJwksUri(jwksUri)) invalid("jwks_uri must be an absolute https URL without a fragment.");
  }
  let jwks: string | null = null;
  if (authMethod === "private_key_jwt" || (encrypted && jwksUri === null)) {
    if (input.jwks === undefined) {
      invalid(
        authMethod === "private_key_jwt"
          ? `private_key_jwt needs jwks with 1 to ${MAX_JWKS_KEYS} public keys.`
          : "Encryption needs the client's public keys: jwks (or jwks_uri).",
      );
    }
    const set = checkJwkSet(input.jwks, invalid, authMethod === "private_key_jwt" && encrypted);
    if (authMethod === "private_key_jwt") {
      const signing = set.keys.filter((jwk) => jwk.use !== "enc");
      if (signing.length === 0) invalid("private_key_jwt needs a signing key (use sig) in jwks.");
      for (const jwk of signing) verificationKeyOf(jwk, invalid);
    }
    if (idToken) requireEncryptionKey(set, idToken, "id_token_encrypted_response", invalid);
    if (userinfo) requireEncryptionKey(set, userinfo, "userinfo_encrypted_response", invalid);
    jwks = JSON.stringify({ keys: set.keys });
  } else if (input.jwks !== undefined) {
    invalid("jwks is only for private_key_jwt clients and for encrypted ID tokens or userinfo.");
  }
  return {
    jwks,
    jwks_uri: jwksUri,
    userinfo_signed_alg: userinfoSignedAlg,
    id_token_encryption_alg: idToken?.alg ?? null,
    id_token_encryption_enc: idToken?.enc ?? null,
    userinfo_encryption_alg: userinfo?.alg ?? null,
    userinfo_encryption_enc: userinfo?.enc ?? null,
  };
}

/** Checks a resource server's encryption request: its algorithms and a key for them (`invalid` explains). */
function resourceServerEncryption(
  input: ResourceServerEncryptionInput,
  fail: (message: string) => never,
): { settings: JweSettings; jwks: JwkSet } {
  const settings = jweSettings(input.alg, input.enc, "access_token_encrypted_response", fail);
  if (settings === null) fail("Encrypted access tokens need an alg.");
  const jwks = checkJwkSet(input.jwks, fail);
  requireEncryptionKey(jwks, settings, "access_token_encrypted_response", fail);
  return { settings, jwks };
}

function toClient(row: OAuthClientRow): Client {
  return {
    id: row.id,
    name: row.name,
    authMethod: row.auth_method as ClientAuthMethod,
    redirectUris: parseJsonArray(row.redirect_uris),
    postLogoutRedirectUris: parseJsonArray(row.post_logout_redirect_uris),
    grantTypes: parseJsonArray(row.grant_types) as GrantType[],
    scopes: parseScope(row.scope),
    resources: parseJsonArray(row.resources),
    firstParty: row.first_party === 1,
    accessTokenTtl: row.access_token_ttl,
    accessTokenFormat: row.access_token_format === "opaque" ? "opaque" : "jwt",
    idTokenAlg: row.id_token_alg as JwsAlgorithm,
    requirePar: row.require_par === 1,
    dpopBound: row.dpop_bound === 1,
    backchannelLogoutUri: row.backchannel_logout_uri,
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as { keys: JsonWebKey[] }),
    jwksUri: row.jwks_uri ?? null,
    idTokenEncryption: storedEncryption(row.id_token_encryption_alg, row.id_token_encryption_enc),
    userinfoSignedAlg: (row.userinfo_signed_alg ?? null) as JwsAlgorithm | null,
    userinfoEncryption: storedEncryption(row.userinfo_encryption_alg, row.userinfo_encryption_enc),
    tokenExchangeAudiences:
      row.token_exchange_audiences === null ? null : parseJsonArray(row.token_exchange_audiences),
    tokenExchangeImpersonation: row.token_exchange_impersonation === 1,
    createdAt: row.created_at,
  };
}

/** The verification key a registered public JWK stands for; `fail` explains what is wrong with it. */
export function verificationKeyOf(
  jwk: JsonWebKey & { kid?: unknown; alg?: unknown },
  fail: (message: string) => never,
): VerificationKey {
  if (!jwk || typeof jwk !== "object") fail("Each key must be a JWK object.");
  if (typeof jwk.kid !== "string" || jwk.kid.length === 0 || jwk.kid.length > 128)
    fail("Each key needs a kid.");
  if ("d" in jwk || "p" in jwk || "k" in jwk) fail(`Key ${jwk.kid} is not a public key.`);
  const alg: JwsAlgorithm | undefined =
    jwk.kty === "OKP" && jwk.crv === "Ed25519"
      ? "EdDSA"
      : jwk.kty === "EC" && jwk.crv === "P-256"
        ? "ES256"
        : jwk.kty === "RSA"
          ? "RS256"
          : undefined;
  if (alg === undefined) fail(`Key ${jwk.kid} must be Ed25519, P-256 or RSA.`);
  if (jwk.alg !== undefined && jwk.alg !== alg)
    fail(`Key ${jwk.kid}: alg ${String(jwk.alg)} does not fit the key.`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    fail(`Key ${jwk.kid} is not a valid JWK.`);
  }
  if (alg === "RS256" && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    fail(`Key ${jwk.kid}: RSA keys need at least 2048 bits.`);
  }
  return { kid: jwk.kid, alg: alg as JwsAlgorithm, publicKey };
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const member of Object.values(value)) if (member && typeof member === "object") Object.freeze(member);
  return Object.freeze(value);
}

/** The client id asked for is already registered (also when two registrations race for it). */
export class ClientIdTakenError extends OAuthError {
  constructor(id: string) {
    super("invalid_client_metadata", `A client with id "${id}" already exists.`);
    this.name = "ClientIdTakenError";
  }
}

function invalid(message: string): never {
  throw new OAuthError("invalid_client_metadata", message);
}

/** An absolute URI without a fragment (RFC 8707 §2). */
export function isResourceIndicator(value: string): boolean {
  if (typeof value !== "string" || value.length === 0 || value.length > 512 || !URL.canParse(value))
    return false;
  return !value.includes("#");
}

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/** The token exchange rules of a client's metadata (RFC 8693); answers the audiences without duplicates. */
function tokenExchangeAudiences(
  authMethod: string,
  grantTypes: readonly string[],
  audiences: readonly string[] | null | undefined,
): string[] | null {
  // The exchanging client must authenticate: a public client could be anyone.
  if (grantTypes.includes(TOKEN_EXCHANGE) && authMethod === "none") {
    invalid("Token exchange needs a confidential client (a public client cannot authenticate).");
  }
  if (audiences === null || audiences === undefined) return null;
  const unique = [...new Set(audiences)];
  if (unique.length > 100) invalid("A client may have at most 100 token exchange audiences.");
  for (const audience of unique) {
    if (!isResourceIndicator(audience))
      invalid(`Token exchange audience ${JSON.stringify(audience)} must be an absolute URI.`);
  }
  return unique;
}

/** How long a client or resource server read from the database is reused (see `createClients`). */
export const CLIENT_CACHE_TTL_MS = 5000;

export function createClients(deps: {
  repositories: Pick<OAuthRepositories, "clients" | "resourceServers" | "clientAssertions">;
  clock: Clock;
  /** The issuer: client assertions must be addressed to it (or to one of its endpoints). */
  issuer: string;
  defaultAccessTokenTtl: number;
  /** Fetches and checks a client's `jwks_uri` at registration (src/oauth/jwe.ts). */
  encryption: Pick<TokenEncryption, "checkJwksUri">;
  /** 0 turns the cache off. */
  cacheTtlMs?: number;
}): Clients {
  const { clock } = deps;
  const { clients: rows, resourceServers, clientAssertions } = deps.repositories;
  // Clients and resource servers are read on every token request and change rarely: rows are kept for a few
  // seconds (changes made through this instance drop them at once; another instance's changes are seen
  // within the TTL). Misses are cached too, so unknown ids cannot force a query each.
  const ttl = deps.cacheTtlMs ?? CLIENT_CACHE_TTL_MS;
  type Loaded = { row: OAuthClientRow; client: Client } | undefined;
  const clientRows = new Map<string, { loaded: Loaded; until: number }>();
  const serverRows = new Map<string, { server: ResourceServer | undefined; until: number }>();
  const MAX_CACHED = 10_000;

  async function clientRow(id: string): Promise<Loaded> {
    const now = clock.now();
    const hit = clientRows.get(id);
    if (hit && hit.until > now) return hit.loaded;
    const row = await rows.find(id);
    // Frozen: one object is shared by every caller until the entry expires.
    const loaded: Loaded = row ? { row, client: deepFreeze(toClient(row)) } : undefined;
    if (ttl > 0) {
      if (clientRows.size >= MAX_CACHED) clientRows.clear();
      clientRows.set(id, { loaded, until: now + ttl });
    }
    return loaded;
  }

  function validate(input: ClientInput): OAuthClientFields {
    const name = typeof input.name === "string" ? input.name.trim() : "";
    if (name === "" || name.length > 256) invalid("A client needs a name of 1 to 256 characters.");
    const authMethod = input.authMethod ?? "client_secret_basic";
    if (!(AUTH_METHODS as readonly string[]).includes(authMethod))
      invalid(`Unsupported token_endpoint_auth_method "${authMethod}".`);
    const grantTypes = [...new Set(input.grantTypes ?? ["authorization_code", "refresh_token"])];
    for (const grant of grantTypes) {
      if (!(GRANT_TYPES as readonly string[]).includes(grant)) invalid(`Unsupported grant type "${grant}".`);
    }
    if (grantTypes.includes("client_credentials") && authMethod === "none") {
      invalid("client_credentials needs a confidential client (a public client cannot authenticate).");
    }
    const exchangeAudiences = tokenExchangeAudiences(authMethod, grantTypes, input.tokenExchangeAudiences);
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
      invalid("The authorization_code grant needs at least one redirect URI.");
    }
    for (const uri of [...redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
      const problem = redirectUriProblem(uri);
      if (problem)
        throw new OAuthError("invalid_redirect_uri", `Redirect URI ${JSON.stringify(uri)} ${problem}.`);
    }
    let scopes: string[];
    try {
      scopes = parseScope(input.scope ?? "openid profile email offline_access");
    } catch {
      invalid("The scope list is malformed.");
    }
    const resources = [...new Set(input.resources ?? [])];
    for (const resource of resources) {
      if (!isResourceIndicator(resource))
        invalid(`Resource ${JSON.stringify(resource)} must be an absolute URI.`);
    }
    const ttl = input.accessTokenTtl ?? deps.defaultAccessTokenTtl;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_ACCESS_TOKEN_TTL) {
      invalid(
        `The access token lifetime must be 60 to ${MAX_ACCESS_TOKEN_TTL} seconds (30 minutes at most).`,
      );
    }
    const { jwks, ...encryption } = clientKeys(input, authMethod);
    const backchannel = input.backchannelLogoutUri ?? null;
    if (backchannel !== null) {
      const problem = redirectUriProblem(backchannel);
      if (problem || !/^https?:/.test(backchannel)) {
        invalid(`The back-channel logout URI ${problem ?? "must use https (or http on a loopback IP)"}.`);
      }
    }
    if (input.accessTokenFormat !== undefined && !["jwt", "opaque"].includes(input.accessTokenFormat)) {
      invalid('The access token format is "jwt" or "opaque".');
    }
    const alg = input.idTokenAlg ?? "EdDSA";
    if (!(JWS_ALGORITHMS as readonly string[]).includes(alg))
      invalid(`Unsupported ID token algorithm "${alg}".`);
    return {
      name,
      auth_method: authMethod,
      redirect_uris: JSON.stringify(redirectUris),
      post_logout_redirect_uris: JSON.stringify([...new Set(input.postLogoutRedirectUris ?? [])]),
      grant_types: JSON.stringify(grantTypes),
      resources: JSON.stringify(resources),
      scope: formatScope(scopes),
      first_party: input.firstParty ? 1 : 0,
      access_token_ttl: ttl,
      access_token_format: input.accessTokenFormat === "opaque" ? "opaque" : "jwt",
      id_token_alg: alg,
      require_par: input.requirePar ? 1 : 0,
      dpop_bound: input.dpopBound ? 1 : 0,
      backchannel_logout_uri: backchannel,
      jwks,
      ...encryption,
      token_exchange_audiences: exchangeAudiences === null ? null : JSON.stringify(exchangeAudiences),
      token_exchange_impersonation: input.tokenExchangeImpersonation ? 1 : 0,
    };
  }

  /** RFC 7523 §3: a JWT signed with one of the client's registered keys, for us, short-lived, used once. */
  /** A `jwks_uri` registered with encryption must give a key for each algorithm, fetched now. */
  async function checkJwksUri(fields: OAuthClientFields): Promise<void> {
    if (fields.jwks_uri === null) return;
    const settings: { what: string; settings: JweSettings }[] = [];
    const idToken = storedEncryption(fields.id_token_encryption_alg, fields.id_token_encryption_enc);
    const userinfo = storedEncryption(fields.userinfo_encryption_alg, fields.userinfo_encryption_enc);
    if (idToken) settings.push({ what: "id_token_encrypted_response", settings: idToken });
    if (userinfo) settings.push({ what: "userinfo_encrypted_response", settings: userinfo });
    await deps.encryption.checkJwksUri(fields.jwks_uri, settings);
  }

  async function authenticateAssertion(credentials: { clientId: string | undefined; assertion: string }) {
    const refuse = (why: string): never => {
      throw new OAuthError("invalid_client", "Client authentication failed.", why);
    };
    let claimedId: unknown = credentials.clientId;
    if (claimedId === undefined) {
      try {
        claimedId = JSON.parse(
          Buffer.from(credentials.assertion.split(".")[1] ?? "", "base64url").toString("utf8"),
        )?.iss;
      } catch {
        refuse("assertion payload unreadable");
      }
    }
    if (typeof claimedId !== "string" || !CLIENT_ID.test(claimedId)) refuse("no client id");
    const loaded = await clientRow(claimedId as string);
    const client = loaded?.client;
    if (client?.authMethod !== "private_key_jwt" || !client.jwks) refuse("not a private_key_jwt client");
    const keys = new Map<string, VerificationKey>();
    // Keys for encryption (`use: "enc"`) never verify an assertion.
    for (const jwk of (client as Client).jwks?.keys ?? []) {
      if ((jwk as { use?: unknown }).use === "enc") continue;
      const key = verificationKeyOf(jwk, () => undefined as never);
      if (key) keys.set(key.kid, key);
    }
    const base = deps.issuer.replace(/\/+$/, "");
    let payload: JwtClaims;
    try {
      payload = verifyJwt(credentials.assertion, {
        keys: (kid) => keys.get(kid),
        issuer: claimedId as string,
        audience: [deps.issuer, `${base}/token`, `${base}/par`, `${base}/introspect`, `${base}/revoke`],
        clockTolerance: ASSERTION_CLOCK_SKEW_S,
        now: clock.now,
        acceptEd25519Name: true,
      }).payload;
    } catch (error) {
      if (error instanceof TokenError) refuse(`assertion ${error.reason}`);
      throw error;
    }
    const now = Math.floor(clock.now() / 1000);
    if (payload.sub !== claimedId) refuse("sub is not the client");
    if (typeof payload.jti !== "string" || payload.jti.length === 0 || payload.jti.length > 256)
      refuse("no jti");
    const exp = payload.exp as number;
    if (exp > now + MAX_ASSERTION_LIFETIME_S) refuse("exp too far ahead");
    // `iat` is optional (RFC 7523 §3); when present it must be believable: not ahead of our clock beyond the
    // skew, before `exp`, and not so long before it that the assertion was made to last.
    const iat = payload.iat;
    if (iat !== undefined) {
      if (iat > now + ASSERTION_CLOCK_SKEW_S) refuse("iat in the future");
      if (iat >= exp) refuse("iat not before exp");
      if (exp - iat > MAX_ASSERTION_LIFETIME_S) refuse("lifetime too long");
    }
    // Replay protection: the (client, jti) pair is recorded as long as the assertion can pass (its expiry and
    // the clock skew); a second use fails.
    const firstUse = await clientAssertions.record(
      claimedId as string,
      payload.jti as string,
      (exp + ASSERTION_CLOCK_SKEW_S) * 1000,
    );
    if (!firstUse) refuse("assertion replayed");
    return client as Client;
  }

  const clients: Clients = {
    async create(input, options = {}) {
      const fields = validate(input);
      await checkJwksUri(fields);
      const registrationToken = options.registration
        ? generateOpaqueToken({ prefix: "tsr_rat_", checksum: true })
        : undefined;
      if (input.id !== undefined && !CLIENT_ID.test(input.id)) {
        invalid("A client id is 3 to 128 characters of A-Z a-z 0-9 . _ ~ -.");
      }
      const id = input.id ?? randomBytes(16).toString("base64url");
      const secret =
        fields.auth_method === "none" || fields.auth_method === "private_key_jwt"
          ? undefined
          : generateOpaqueToken(SECRET_FORMAT);
      const now = clock.now();
      const inserted = await rows.insert({
        id,
        ...fields,
        secret_hash: secret === undefined ? null : hashToken(secret),
        registration_token_hash: registrationToken === undefined ? null : hashToken(registrationToken),
        created_at: now,
        updated_at: now,
      });
      if (!inserted) throw new ClientIdTakenError(id);
      clientRows.delete(id);
      const client = await clients.get(id);
      if (!client) throw new Error("client vanished after insert");
      return { client, secret, ...(registrationToken ? { registrationToken } : {}) };
    },

    async replace(id, input) {
      const current = await clients.get(id);
      if (!current) invalid("No client with this id.");
      // Settings that registration metadata cannot carry stay as the administrator set them.
      const fields = validate({
        firstParty: current.firstParty,
        requirePar: current.requirePar,
        dpopBound: current.dpopBound,
        resources: current.resources,
        accessTokenTtl: current.accessTokenTtl,
        accessTokenFormat: current.accessTokenFormat,
        tokenExchangeAudiences: current.tokenExchangeAudiences,
        tokenExchangeImpersonation: current.tokenExchangeImpersonation,
        ...input,
        authMethod: input.authMethod ?? current.authMethod,
      });
      const hadSecret = current.authMethod !== "none" && current.authMethod !== "private_key_jwt";
      const needsSecret = fields.auth_method !== "none" && fields.auth_method !== "private_key_jwt";
      if (hadSecret !== needsSecret)
        invalid("The authentication method cannot change between secret and no secret.");
      // The keys at a jwks_uri are fetched again only when the URL or an algorithm changes: renaming a client
      // must not depend on its key server being up.
      const keysChanged =
        fields.jwks_uri !== current.jwksUri ||
        fields.id_token_encryption_alg !== (current.idTokenEncryption?.alg ?? null) ||
        fields.userinfo_encryption_alg !== (current.userinfoEncryption?.alg ?? null);
      if (keysChanged) await checkJwksUri(fields);
      await rows.updateFields(id, fields, clock.now());
      clientRows.delete(id);
      return (await clients.get(id)) as Client;
    },

    async byRegistrationToken(id, token) {
      if (typeof id !== "string" || !CLIENT_ID.test(id)) return undefined;
      const loaded = await clientRow(id);
      const stored = loaded?.row.registration_token_hash ?? "\u0000";
      const presented = isWellFormedOpaqueToken(token, { prefix: "tsr_rat_", checksum: true })
        ? hashToken(token)
        : "";
      return constantTimeEqual(presented, stored) && loaded ? loaded.client : undefined;
    },

    async get(id) {
      if (typeof id !== "string" || !CLIENT_ID.test(id)) return undefined;
      return (await clientRow(id))?.client;
    },

    async list() {
      return (await rows.list()).map(toClient);
    },

    async delete(id) {
      clientRows.delete(id);
      return rows.delete(id);
    },

    async revokeLeaked(token) {
      const isSecret = isWellFormedOpaqueToken(token, SECRET_FORMAT);
      const isRegistration = isWellFormedOpaqueToken(token, { prefix: "tsr_rat_", checksum: true });
      if (!isSecret && !isRegistration) return undefined;
      const column = isSecret ? "secret_hash" : "registration_token_hash";
      const digest = hashToken(token);
      const id = await rows.findIdByCredential(column, digest);
      if (id === undefined) return undefined;
      // A secret is replaced by one nobody knows; a registration token is dropped.
      const replacement = isSecret ? hashToken(generateOpaqueToken(SECRET_FORMAT)) : null;
      await rows.replaceCredential(id, column, digest, replacement, clock.now());
      clientRows.delete(id);
      return { clientId: id, kind: isSecret ? "client_secret" : "registration_token" };
    },

    async setTokenExchange(id, change) {
      const row = typeof id === "string" && CLIENT_ID.test(id) ? await rows.find(id) : undefined;
      if (!row) invalid("No client with this id.");
      // Read-modify-write of the stored row: every other column is written back as it is.
      const { id: _id, secret_hash, registration_token_hash, created_at, updated_at, ...fields } = row;
      let grantTypes = parseJsonArray(row.grant_types);
      if (change.allowed === true && !grantTypes.includes(TOKEN_EXCHANGE)) grantTypes.push(TOKEN_EXCHANGE);
      if (change.allowed === false) grantTypes = grantTypes.filter((g) => g !== TOKEN_EXCHANGE);
      const audiences = tokenExchangeAudiences(
        row.auth_method,
        grantTypes,
        change.audiences !== undefined
          ? change.audiences
          : row.token_exchange_audiences === null
            ? null
            : parseJsonArray(row.token_exchange_audiences),
      );
      await rows.updateFields(
        id,
        {
          ...fields,
          grant_types: JSON.stringify(grantTypes),
          token_exchange_audiences: audiences === null ? null : JSON.stringify(audiences),
          token_exchange_impersonation:
            change.impersonation === undefined
              ? row.token_exchange_impersonation
              : change.impersonation
                ? 1
                : 0,
        },
        clock.now(),
      );
      clientRows.delete(id);
      return (await clients.get(id)) as Client;
    },

    async rotateSecret(id) {
      const client = await clients.get(id);
      if (!client || client.authMethod === "none" || client.authMethod === "private_key_jwt") {
        invalid("No client with a secret has this id.");
      }
      const secret = generateOpaqueToken(SECRET_FORMAT);
      await rows.setSecretHash(id, hashToken(secret), clock.now());
      clientRows.delete(id);
      return secret;
    },

    async authenticate(credentials, options = {}) {
      if (credentials.method === "none" && options.confidential) {
        throw new OAuthError("invalid_client", "This endpoint needs an authenticated (confidential) client.");
      }
      const refuse = (): never => {
        throw new OAuthError("invalid_client", "Client authentication failed.");
      };
      const loaded =
        typeof credentials.clientId === "string" && CLIENT_ID.test(credentials.clientId)
          ? await clientRow(credentials.clientId)
          : undefined;
      const row = loaded?.row;
      if (credentials.method === "private_key_jwt") return authenticateAssertion(credentials);
      if (credentials.method === "none") {
        if (loaded?.row.auth_method !== "none") refuse();
        return (loaded as NonNullable<Loaded>).client;
      }
      // The digest comparison runs whether or not the client exists, so timing does not tell them apart.
      const wellFormed = isWellFormedOpaqueToken(credentials.secret, SECRET_FORMAT);
      const presented = wellFormed ? hashToken(credentials.secret) : "";
      const stored = row?.secret_hash ?? "\u0000";
      const matches = constantTimeEqual(presented, stored);
      if (!loaded || !wellFormed || !matches || loaded.row.auth_method !== credentials.method) refuse();
      return (loaded as NonNullable<Loaded>).client;
    },

    async createResourceServer(input) {
      if (!isResourceIndicator(input.audience))
        invalid("A resource server's audience must be an absolute URI.");
      const name = input.name.trim();
      if (name === "" || name.length > 256) invalid("A resource server needs a name of 1 to 256 characters.");
      let scopes: string[];
      try {
        scopes = parseScope(input.scope);
      } catch {
        invalid("The scope list is malformed.");
      }
      const encryption = input.encryption ? resourceServerEncryption(input.encryption, invalid) : null;
      const inserted = await resourceServers.insert({
        audience: input.audience,
        name,
        scope: formatScope(scopes),
        created_at: clock.now(),
        jwks: encryption ? JSON.stringify(encryption.jwks) : null,
        access_token_encryption_alg: encryption?.settings.alg ?? null,
        access_token_encryption_enc: encryption?.settings.enc ?? null,
      });
      if (!inserted) invalid(`A resource server with audience "${input.audience}" exists.`);
      serverRows.delete(input.audience);
      return {
        audience: input.audience,
        name,
        scopes,
        ...(encryption ? { accessTokenEncryption: encryption.settings, jwks: encryption.jwks } : {}),
      };
    },

    async setResourceServerEncryption(audience, input) {
      const encryption = input ? resourceServerEncryption(input, invalid) : null;
      const updated = await resourceServers.setEncryption(audience, {
        jwks: encryption ? JSON.stringify(encryption.jwks) : null,
        access_token_encryption_alg: encryption?.settings.alg ?? null,
        access_token_encryption_enc: encryption?.settings.enc ?? null,
      });
      serverRows.delete(audience);
      return updated ? clients.getResourceServer(audience) : undefined;
    },

    async getResourceServer(audience) {
      const now = clock.now();
      const hit = serverRows.get(audience);
      if (hit && hit.until > now) return hit.server;
      const row = await resourceServers.find(audience);
      const server = row ? toResourceServer(row) : undefined;
      if (ttl > 0) {
        if (serverRows.size >= MAX_CACHED) serverRows.clear();
        serverRows.set(audience, { server, until: now + ttl });
      }
      return server;
    },

    async listResourceServers() {
      return (await resourceServers.list()).map(toResourceServer);
    },

    async deleteResourceServer(audience) {
      serverRows.delete(audience);
      return resourceServers.delete(audience);
    },
  };
  return clients;
}
