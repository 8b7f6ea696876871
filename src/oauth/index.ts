/**
 * The OAuth 2.1 / OpenID Connect provider's domain: clients and resource servers, the authorization
 * endpoint's rules, the token endpoint's grants, token minting and checking, introspection and revocation,
 * userinfo, logout, the device flow, dynamic registration. Every allow-or-refuse rule lives here, so that no
 * entry point can bypass it; the HTTP layer (src/http/routes/oauth) only translates requests and decisions.
 * Storage is reached through repositories (src/storage/repositories), never through SQL written here.
 */
import type { Logger } from "pino";
import type { AccessRevocation } from "../access/revocation.js";
import type { Accounts } from "../accounts/index.js";
import type { ApiTokens } from "../api-tokens/index.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { MasterKey } from "../crypto/master-key.js";
import type { Clock } from "../lib/clock.js";
import type { OAuthRepositories } from "../storage/repositories/oauth.js";
import { type Authorization, createAuthorization } from "./authorize.js";
import type { BackchannelLogout } from "./backchannel.js";
import type { Clients } from "./clients.js";
import { createDeviceFlow, type DeviceFlow } from "./device.js";
import { createDpopProofs, type DpopProofs } from "./dpop.js";
import type { GrantRevocation } from "./grant-revocation.js";
import { createIntrospection, type Introspection } from "./introspection.js";
import { createIssuer, type Issuer } from "./issuer.js";
import type { TokenEncryption } from "./jwe.js";
import { createOAuthLeakRevoker, type LeakedOAuthSecret } from "./leaked.js";
import { createLogout, type Logout } from "./logout.js";
import {
  type ClientRegistration,
  createClientRegistration,
  createInitialAccessTokens,
  type InitialAccessTokens,
} from "./registration.js";
import { createTokenEndpoint, type TokenEndpoint } from "./token-endpoint.js";
import { createUserinfo, type Userinfo } from "./userinfo.js";

export { type BackchannelLogout, createBackchannelLogout, type SessionClient } from "./backchannel.js";
export { createClients } from "./clients.js";
export { createGrantRevocation, type GrantRevocation } from "./grant-revocation.js";
export { createTokenEncryption, type EncryptionRecipient, type TokenEncryption } from "./jwe.js";

export interface OAuth {
  clients: Clients;
  grants: GrantRevocation;
  authorization: Authorization;
  issuer: Issuer;
  tokens: TokenEndpoint;
  introspection: Introspection;
  logout: Logout;
  device: DeviceFlow;
  initialTokens: InitialAccessTokens;
  /** Dynamic client registration and management (RFC 7591, RFC 7592). */
  registration: ClientRegistration;
  /** The userinfo decision: the claims a presented access token may read, or the refusal. */
  userinfo: Userinfo;
  /** DPoP proofs (RFC 9449) sent to the token endpoint, PAR and userinfo. */
  dpop: DpopProofs;
  /** Revokes a leaked refresh token, client secret, registration or initial access token, or access token. */
  revokeLeaked(token: string): Promise<LeakedOAuthSecret | undefined>;
  /** Deletes expired requests, codes, refresh families, sealed successors and revocation entries. */
  purgeExpired(): Promise<number>;
}

export interface OAuthOptions {
  repositories: OAuthRepositories;
  clock: Clock;
  keys: KeyStore;
  masterKey: MasterKey;
  accounts: Accounts;
  /** Built before accounts (the access-ending events need them): clients, grant ending, back-channel logout. */
  clients: Clients;
  /** Encrypts ID tokens, userinfo answers and access tokens to those who registered keys (JWE). */
  encryption: TokenEncryption;
  grants: GrantRevocation;
  backchannel: BackchannelLogout;
  /** The access-ending events (accounts.access). */
  access: AccessRevocation;
  issuer: string;
  accessTokenTtl: number;
  refreshTokenLifetime: number;
  refreshTokenIdle: number;
  refreshGraceWindow: number;
  authorizationCodeTtl: number;
  /** Device authorization grant: code lifetime and polling interval, seconds. */
  deviceCodeTtl: number;
  devicePollInterval: number;
  log: Logger;
  /** API tokens, so that introspection understands them. */
  apiTokens?: ApiTokens;
}

export function createOAuth(options: OAuthOptions): OAuth {
  const { repositories, clock, accounts, clients, grants } = options;
  const issuer = createIssuer({
    repositories,
    clock,
    keys: options.keys,
    users: accounts.users,
    issuer: options.issuer,
    grants,
    clients,
    encryption: options.encryption,
  });
  const dpop = createDpopProofs({ proofs: repositories.dpopProofs, clock, issuer: options.issuer });
  const authorization = createAuthorization({
    repositories,
    clock,
    clients,
    dpop,
    codeTtl: options.authorizationCodeTtl,
    issuer: options.issuer,
  });
  const device = createDeviceFlow({
    codes: repositories.deviceCodes,
    clock,
    clients,
    throttle: accounts.throttle,
    issuer: options.issuer,
    codeTtl: options.deviceCodeTtl,
    pollInterval: options.devicePollInterval,
  });
  const tokens = createTokenEndpoint({
    device,
    repositories,
    clock,
    clients,
    issuer,
    audit: accounts.audit,
    masterKey: options.masterKey,
    grants,
    access: options.access,
    policy: {
      refreshTokenLifetime: options.refreshTokenLifetime,
      refreshTokenIdle: options.refreshTokenIdle,
      refreshGraceWindow: options.refreshGraceWindow,
    },
  });
  const introspection = createIntrospection({
    tokenHolders: repositories.tokenHolders,
    clock,
    issuer,
    tokens,
    audit: accounts.audit,
    ...(options.apiTokens ? { apiTokens: options.apiTokens } : {}),
  });
  const logout = createLogout({
    clock,
    keys: options.keys,
    clients,
    backchannel: options.backchannel,
    issuer: options.issuer,
  });
  const initialTokens = createInitialAccessTokens({ tokens: repositories.initialAccessTokens, clock });
  const revokeLeaked = createOAuthLeakRevoker({
    clock,
    access: options.access,
    tokens,
    clients,
    initialTokens,
    issuer,
    accessTokens: repositories.accessTokens,
  });
  return {
    revokeLeaked,
    clients,
    grants,
    dpop,
    logout,
    device,
    initialTokens,
    registration: createClientRegistration({ clients, initialTokens, issuer: options.issuer }),
    userinfo: createUserinfo({ issuer, dpop }),
    authorization,
    issuer,
    tokens,
    introspection,
    async purgeExpired() {
      return (
        (await repositories.clientAssertions.deleteExpired(clock.now() - 60_000)) +
        (await device.purgeExpired()) +
        (await dpop.purgeExpired()) +
        (await authorization.purgeExpired()) +
        (await tokens.purgeExpired()) +
        (await issuer.purgeRevoked())
      );
    },
  };
}
