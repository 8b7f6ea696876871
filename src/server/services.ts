/**
 * The composition root: builds every service once at start-up, in dependency order, and hands each its
 * dependencies explicitly (nothing reaches for globals or a service locator). What ends access is built before
 * the accounts whose events end it; each domain revokes its own kind of leaked secret; background writers
 * belong to the domain that writes.
 */
import { Redis } from "ioredis";
import { createAccounts, createMemoryThrottle, createRedisThrottle } from "../accounts/index.js";
import {
  apiTokenLeakRevoker,
  createAdminTokens,
  createApiTokens,
  createLeakReports,
  createServiceAccounts,
} from "../api-tokens/index.js";
import { createAuditLog } from "../audit/index.js";
import type { Config } from "../config/index.js";
import { KeyStore, type MasterKey } from "../crypto/index.js";
import type { HttpServices } from "../http/services.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { createOutboxMailer, createSmtpMailer, type Mailer } from "../mail/index.js";
import { createMfa } from "../mfa/index.js";
import {
  createBackchannelLogout,
  createClients,
  createGrantRevocation,
  createOAuth,
} from "../oauth/index.js";
import type { Logger } from "../observability/log.js";
import { createMetrics } from "../observability/metrics.js";
import { createOutboundFetch, outboundPolicy } from "../outbound/index.js";
import { createRevocationFeed } from "../revocation/index.js";
import { createRedisRevocationBus } from "../sessions/index.js";
import {
  adminTokensRepository,
  apiTokensRepository,
  auditEventsRepository,
  migrateToLatest,
  openStorage,
  pendingSignInsRepository,
  recoveryCodesRepository,
  revocationEventsRepository,
  type Storage,
  serviceAccountsRepository,
  signingKeysRepository,
  totpFactorsRepository,
  usersRepository,
  webauthnChallengesRepository,
  webauthnCredentialsRepository,
} from "../storage/index.js";
import { administratorsRepository } from "../storage/repositories/administrators.js";
import { grantsRepository } from "../storage/repositories/grants.js";
import { oauthRepositories } from "../storage/repositories/oauth.js";
import { loadMasterKey } from "./master-key-source.js";

/**
 * Every service, built once by `createServices` in dependency order (no forward references, no globals). The
 * HTTP layer receives it as `HttpServices` and each route plugin declares the part it uses; the CLI uses it
 * directly.
 */
export interface Services extends HttpServices {
  readonly storage: Storage;
  readonly mailer: Mailer;
  /** Stops background writers (audit, last-use times, session touches), Redis and the database. */
  close(): Promise<void>;
}

export interface CreateServicesOptions {
  log: Logger;
  clock?: Clock;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  masterKey?: MasterKey;
  /** Replaces the configured mailer (tests read the outbox). */
  mailer?: Mailer;
}

export async function createServices(config: Config, options: CreateServicesOptions): Promise<Services> {
  const { log } = options;
  const clock = options.clock ?? systemClock;
  for (const warning of config.warnings) log.warn(warning);
  const masterKey = options.masterKey ?? loadMasterKey(config, log);
  const storage = await openStorage(config.databaseUrl);
  try {
    if (options.migrate !== false) {
      const { applied } = await migrateToLatest(storage);
      if (applied.length > 0) log.info({ applied }, "database migrations applied");
    }
    const metrics = createMetrics();
    const keys = await KeyStore.open({
      repository: signingKeysRepository(storage.db),
      masterKey,
      clock,
      jwtMaxLifetime: config.jwtMaxLifetime,
      publishLeadTime: config.jwksMaxAge,
      rotationInterval: config.keyRotationInterval,
      onIssue: (kind) => metrics.tokensIssued.inc({ kind }),
    });
    const redis =
      config.redisUrl === undefined
        ? undefined
        : new Redis(config.redisUrl, {
            lazyConnect: true,
            maxRetriesPerRequest: 1,
            enableOfflineQueue: false,
            // A Redis that accepts connections but never answers must not hang sign-in: fall back instead.
            commandTimeout: 500,
          });
    // Redis is optional: a connection error is reported by /readyz, not thrown into the process.
    redis?.on("error", (error: Error) =>
      log.warn({ err: { message: error.message } }, "redis connection error"),
    );
    if (redis) await redis.connect().catch(() => undefined);
    const mailer =
      options.mailer ??
      (config.smtpUrl
        ? createSmtpMailer({ url: config.smtpUrl, from: config.mailFrom, log })
        : createOutboxMailer({ from: config.mailFrom, log, logBodies: config.nodeEnv === "development" }));
    const revocations = createRevocationFeed({
      repository: revocationEventsRepository(storage.db),
      clock,
      intervalMs: config.revocationPollInterval,
    });
    // Built in dependency order, no forward references: what the access-ending events reach (grants,
    // back-channel logout, API tokens, the feed) exists before the accounts whose events end them.
    const audit = createAuditLog({
      repository: auditEventsRepository(storage.db, storage.backgroundWriter),
      clock,
      onError: (error, lost) =>
        log.error({ err: { message: (error as Error).message }, lost }, "audit events lost"),
    });
    const administratorRows = administratorsRepository(storage.db);
    const apiTokenRows = apiTokensRepository(storage.db);
    const apiTokens = createApiTokens({
      repository: apiTokenRows,
      clock,
      audit,
      feed: revocations,
      maxLifetime: config.apiTokenMaxLifetime,
      isAdministrator: (userId) => administratorRows.has(userId),
      writeBehind: {
        onError: (error) =>
          log.error({ err: { message: (error as Error).message } }, "writing API token last use failed"),
      },
    });
    const oauthRows = oauthRepositories(storage.db, storage.dialect);
    const clients = createClients({
      repositories: oauthRows,
      clock,
      issuer: config.issuer,
      defaultAccessTokenTtl: config.accessTokenTtl,
    });
    const grants = createGrantRevocation({
      grants: grantsRepository(storage.db),
      accessTokens: oauthRows.accessTokens,
      clock,
      feed: revocations,
    });
    // Every request to a URL Tessera was given goes through the outbound guard (docs/security.md).
    const outbound = createOutboundFetch({ policy: outboundPolicy(config), log });
    const backchannel = createBackchannelLogout({
      clock,
      keys,
      clients,
      issuer: config.issuer,
      log,
      outbound,
    });
    const accounts = createAccounts({
      audit,
      deviceCookieKey: masterKey.deriveKey("device-cookie"),
      access: { grants, backchannel, apiTokens, feed: revocations },
      storage,
      ...(storage.backgroundWriter ? { backgroundWriter: storage.backgroundWriter } : {}),
      clock,
      log,
      mailer,
      throttle: redis ? createRedisThrottle({ redis, clock }) : createMemoryThrottle({ clock }),
      issuer: config.issuer,
      argon2: {
        memoryKib: config.argon2MemoryKib,
        iterations: config.argon2Iterations,
        parallelism: config.argon2Parallelism,
      },
      passwordPolicy: {
        minLength: config.passwordMinLength,
        minLengthWithoutSecondFactor: config.passwordMinLengthSingleFactor,
        maxLength: config.passwordMaxLength,
      },
      sessionPolicy: {
        idleTimeout: config.sessionIdleTimeout,
        lifetime: config.sessionLifetime,
        rememberLifetime: config.sessionRememberLifetime,
      },
      passwordResetTtl: config.passwordResetTtl,
      argon2Threads: config.argon2Threads,
      // Cached session checks only where every revocation is seen at once: SQLite (one process writes; other
      // processes' changes to sessions and accounts are noticed through the change_marks counter) or
      // PostgreSQL with Redis fan-out.
      ...(config.sessionCacheTtl > 0 && (storage.externalChangeVersion || redis)
        ? {
            sessionCache: {
              ttlMs: config.sessionCacheTtl * 1000,
              ...(storage.externalChangeVersion
                ? { externalChangeVersion: storage.externalChangeVersion }
                : {}),
              ...(storage.ownChangeVersion ? { ownChangeVersion: storage.ownChangeVersion } : {}),
            },
          }
        : {}),
      ...(redis && !storage.externalChangeVersion ? { revocationBus: createRedisRevocationBus(redis) } : {}),
    });
    await accounts.ready;
    const serviceAccounts = createServiceAccounts({
      repository: serviceAccountsRepository(storage.db),
      clock,
      audit: accounts.audit,
      tokens: apiTokens,
    });
    const oauth = createOAuth({
      clients,
      grants,
      backchannel,
      access: accounts.access,
      apiTokens,
      repositories: oauthRows,
      clock,
      keys,
      masterKey,
      accounts,
      issuer: config.issuer,
      accessTokenTtl: config.accessTokenTtl,
      refreshTokenLifetime: config.refreshTokenLifetime,
      refreshTokenIdle: config.refreshTokenIdle,
      refreshGraceWindow: config.refreshGraceWindow,
      authorizationCodeTtl: config.authorizationCodeTtl,
      deviceCodeTtl: config.deviceCodeTtl,
      devicePollInterval: config.devicePollInterval,
      log,
    });
    const adminTokens = createAdminTokens({
      repository: adminTokensRepository(storage.db),
      clock,
      bootstrapToken: config.adminToken,
      writeBehind: {
        onError: (error) =>
          log.error({ err: { message: (error as Error).message } }, "writing admin token last use failed"),
      },
    });
    const mfa = createMfa({
      repositories: {
        pendingSignIns: pendingSignInsRepository(storage.db),
        totpFactors: totpFactorsRepository(storage.db),
        recoveryCodes: recoveryCodesRepository(storage.db),
        webauthnCredentials: webauthnCredentialsRepository(storage.db),
        webauthnChallenges: webauthnChallengesRepository(storage.db),
        users: usersRepository(storage.db, storage.dialect),
      },
      clock,
      masterKey,
      accounts,
      config,
    });
    // Each domain revokes its own kind of leaked secret.
    const leakReports = createLeakReports({
      audit: accounts.audit,
      revokers: [
        apiTokenLeakRevoker({ tokens: apiTokens, serviceAccounts }),
        adminTokens.revokeLeaked,
        oauth.revokeLeaked,
        accounts.revokeLeakedSession,
      ],
    });
    return {
      config,
      apiTokens,
      adminTokens,
      serviceAccounts,
      leakReports,
      revocations,
      mfa,
      storage,
      masterKey,
      keys,
      clock,
      log,
      metrics,
      redis,
      accounts,
      oauth,
      mailer,
      async close() {
        await adminTokens.close();
        await apiTokens.close();
        await accounts.close();
        await audit.close();
        redis?.disconnect();
        await storage.close();
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}
