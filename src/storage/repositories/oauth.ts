/**
 * Every repository the OAuth provider (src/oauth) stores through, built once over one database. The dialect
 * is needed by the refresh-token rotation only; nothing in src/oauth asks which one it runs on.
 */
import type { Kysely } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database } from "../database.js";
import { type AccessTokensRepository, accessTokensRepository } from "./access-tokens.js";
import { type AuthorizationCodesRepository, authorizationCodesRepository } from "./authorization-codes.js";
import {
  type AuthorizationRequestsRepository,
  authorizationRequestsRepository,
} from "./authorization-requests.js";
import { type ClientAssertionsRepository, clientAssertionsRepository } from "./client-assertions.js";
import { type DeviceCodesRepository, deviceCodesRepository } from "./device-codes.js";
import { type DpopProofsRepository, dpopProofsRepository } from "./dpop-proofs.js";
import {
  type InitialAccessTokensRepository,
  initialAccessTokensRepository,
} from "./initial-access-tokens.js";
import { type OAuthClientsRepository, oauthClientsRepository } from "./oauth-clients.js";
import { type OAuthConsentsRepository, oauthConsentsRepository } from "./oauth-consents.js";
import { type RefreshTokensRepository, refreshTokensRepository } from "./refresh-tokens.js";
import { type ResourceServersRepository, resourceServersRepository } from "./resource-servers.js";
import { type TokenHoldersRepository, tokenHoldersRepository } from "./token-holders.js";

export interface OAuthRepositories {
  clients: OAuthClientsRepository;
  resourceServers: ResourceServersRepository;
  clientAssertions: ClientAssertionsRepository;
  requests: AuthorizationRequestsRepository;
  codes: AuthorizationCodesRepository;
  consents: OAuthConsentsRepository;
  refreshTokens: RefreshTokensRepository;
  accessTokens: AccessTokensRepository;
  deviceCodes: DeviceCodesRepository;
  dpopProofs: DpopProofsRepository;
  initialAccessTokens: InitialAccessTokensRepository;
  tokenHolders: TokenHoldersRepository;
}

export function oauthRepositories(db: Kysely<Database>, dialect: DialectName): OAuthRepositories {
  return {
    clients: oauthClientsRepository(db),
    resourceServers: resourceServersRepository(db),
    clientAssertions: clientAssertionsRepository(db),
    requests: authorizationRequestsRepository(db),
    codes: authorizationCodesRepository(db),
    consents: oauthConsentsRepository(db),
    refreshTokens: refreshTokensRepository(db, dialect),
    accessTokens: accessTokensRepository(db),
    deviceCodes: deviceCodesRepository(db),
    dpopProofs: dpopProofsRepository(db),
    initialAccessTokens: initialAccessTokensRepository(db),
    tokenHolders: tokenHoldersRepository(db),
  };
}
