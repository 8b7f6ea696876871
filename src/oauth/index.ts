/**
 * The OAuth 2.1 / OpenID Connect provider's domain: clients and resource servers, the authorization
 * endpoint's rules, the token endpoint's grants, token minting and checking, introspection and revocation.
 * The HTTP layer (src/http/routes/oauth) only translates requests and answers.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { AccessRevocation } from "../access/revocation.js";
import type { Accounts } from "../accounts/index.js";
import type { ApiTokens } from "../api-tokens/index.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { MasterKey } from "../crypto/master-key.js";
import type { Clock } from "../lib/clock.js";
import type { Database } from "../storage/database.js";
import { type Authorization, createAuthorization } from "./authorize.js";
import type { BackchannelLogout } from "./backchannel.js";
import type { Clients } from "./clients.js";
import { createDeviceFlow, type DeviceFlow } from "./device.js";
import { createDpopProofs, type DpopProofs } from "./dpop.js";
import type { GrantRevocation } from "./grant-revocation.js";
import { createIntrospection, type Introspection } from "./introspection.js";
import { createIssuer, type Issuer } from "./issuer.js";
import { createLogout, type Logout } from "./logout.js";
import { createInitialAccessTokens, type InitialAccessTokens } from "./registration.js";
import { createTokenEndpoint, type TokenEndpoint } from "./token-endpoint.js";

export { type BackchannelLogout, createBackchannelLogout, type SessionClient } from "./backchannel.js";
export { createClients } from "./clients.js";
export { createGrantRevocation, type GrantRevocation } from "./grant-revocation.js";

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
  /** DPoP proofs (RFC 9449) sent to the token endpoint, PAR and userinfo. */
  dpop: DpopProofs;
  /** Deletes expired requests, codes, refresh families, sealed successors and revocation entries. */
  purgeExpired(): Promise<number>;
}

export interface OAuthOptions {
  db: Kysely<Database>;
  dialect: "sqlite" | "postgres";
  clock: Clock;
  keys: KeyStore;
  masterKey: MasterKey;
  accounts: Accounts;
  /** Built before accounts (the access-ending events need them): clients, grant ending, back-channel logout. */
  clients: Clients;
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
  const { db, clock, accounts, clients, grants } = options;
  const issuer = createIssuer({
    db,
    clock,
    keys: options.keys,
    users: accounts.users,
    issuer: options.issuer,
    grants,
  });
  const authorization = createAuthorization({
    db,
    clock,
    clients,
    codeTtl: options.authorizationCodeTtl,
    issuer: options.issuer,
  });
  const device = createDeviceFlow({
    db,
    clock,
    clients,
    issuer: options.issuer,
    codeTtl: options.deviceCodeTtl,
    pollInterval: options.devicePollInterval,
  });
  const tokens = createTokenEndpoint({
    device,
    db,
    dialect: options.dialect,
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
    db,
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
  const dpop = createDpopProofs({ db, clock, issuer: options.issuer });
  return {
    clients,
    grants,
    dpop,
    logout,
    device,
    initialTokens: createInitialAccessTokens({ db, clock }),
    authorization,
    issuer,
    tokens,
    introspection,
    async purgeExpired() {
      const assertions = await db
        .deleteFrom("client_assertions")
        .where("expires_at", "<=", clock.now() - 60_000)
        .executeTakeFirst();
      return (
        Number(assertions.numDeletedRows) +
        (await device.purgeExpired()) +
        (await dpop.purgeExpired()) +
        (await authorization.purgeExpired()) +
        (await tokens.purgeExpired()) +
        (await issuer.purgeRevoked())
      );
    },
  };
}
