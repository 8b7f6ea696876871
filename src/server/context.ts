/**
 * The application context: configuration, storage, keys, clock, logger and metrics, built once at start-up
 * and passed to every domain service and HTTP plugin (nothing reaches for globals).
 */
import { Redis } from "ioredis";
import {
  type Accounts,
  createAccounts,
  createMemoryThrottle,
  createRedisThrottle,
} from "../accounts/index.js";
import {
  type ApiTokens,
  createApiTokens,
  createLeakReports,
  createServiceAccounts,
  type ServiceAccounts,
} from "../api-tokens/index.js";
import { createAuditLog } from "../audit/index.js";
import type { Config } from "../config/index.js";
import { hashToken, KeyStore, type MasterKey } from "../crypto/index.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { createOutboxMailer, createSmtpMailer, type Mailer } from "../mail/index.js";
import { createMfa, type Mfa } from "../mfa/index.js";
import {
  createBackchannelLogout,
  createClients,
  createGrantRevocation,
  createOAuth,
  type OAuth,
} from "../oauth/index.js";
import type { Logger } from "../observability/log.js";
import { createMetrics, type Metrics } from "../observability/metrics.js";
import { createRevocationFeed, type RevocationFeed } from "../revocation/index.js";
import { createRedisRevocationBus } from "../sessions/index.js";
import {
  type ApiTokenUse,
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
import { touchAdminToken } from "../storage/repositories/admin-tokens.js";
import { administratorsRepository } from "../storage/repositories/administrators.js";
import { grantsRepository } from "../storage/repositories/grants.js";
import { oauthRepositories } from "../storage/repositories/oauth.js";
import { createWriteBehind, type WriteBehind } from "../storage/write-behind.js";
import { loadMasterKey } from "./master-key-source.js";

export interface AppContext {
  readonly config: Config;
  readonly storage: Storage;
  readonly masterKey: MasterKey;
  readonly keys: KeyStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly redis: Redis | undefined;
  readonly accounts: Accounts;
  readonly oauth: OAuth;
  /** Admin tokens' last-use times, written behind the check. */
  readonly adminTokenLastUsed: WriteBehind;
  /** Personal access tokens and service-account keys. */
  readonly apiTokens: ApiTokens;
  readonly serviceAccounts: ServiceAccounts;
  /** Leaked-token reports (secret scanning). */
  readonly leakReports: ReturnType<typeof createLeakReports>;
  /** Revocations announced to resource servers. */
  readonly revocations: RevocationFeed;
  /** Multi-factor sign-in: TOTP, recovery codes, WebAuthn, pending sign-ins, policy. */
  readonly mfa: Mfa;
  readonly mailer: Mailer;
  close(): Promise<void>;
}

export interface CreateContextOptions {
  log: Logger;
  clock?: Clock;
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  masterKey?: MasterKey;
  /** Replaces the configured mailer (tests read the outbox). */
  mailer?: Mailer;
}

export async function createContext(config: Config, options: CreateContextOptions): Promise<AppContext> {
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
    const apiTokenLastUsed = createWriteBehind<ApiTokenUse>({
      intervalMs: 1000,
      newer: (previous, next) => next.at > previous.at,
      onError: (error) =>
        log.error({ err: { message: (error as Error).message } }, "writing API token last use failed"),
      async write(entries) {
        for (const [id, use] of entries) await apiTokenRows.recordUse(id, use);
      },
    });
    const apiTokens = createApiTokens({
      repository: apiTokenRows,
      clock,
      audit,
      feed: revocations,
      maxLifetime: config.apiTokenMaxLifetime,
      isAdministrator: (userId) => administratorRows.has(userId),
      lastUsed: apiTokenLastUsed,
    });
    const clients = createClients({
      repositories: oauthRepositories(storage.db, storage.dialect),
      clock,
      issuer: config.issuer,
      defaultAccessTokenTtl: config.accessTokenTtl,
    });
    const grants = createGrantRevocation({ grants: grantsRepository(storage.db), clock, feed: revocations });
    const backchannel = createBackchannelLogout({ clock, keys, clients, issuer: config.issuer, log });
    const accounts = createAccounts({
      audit,
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
      repositories: oauthRepositories(storage.db, storage.dialect),
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
    const adminTokenLastUsed = createWriteBehind({
      intervalMs: 1000,
      onError: (error) =>
        log.error({ err: { message: (error as Error).message } }, "writing admin token last use failed"),
      async write(entries) {
        for (const [id, at] of entries) await touchAdminToken(storage.db, id, at);
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
    const tokens = apiTokens;
    const leakReports = createLeakReports({
      audit: accounts.audit,
      revokers: [
        async (token) => {
          const hit = await tokens.revokeLeaked(token);
          if (!hit) return undefined;
          if (hit.kind === "personal") return { kind: hit.kind, userId: hit.ownerId };
          // A service key's alert goes to the account's owning user (when a user owns it) and names the account.
          const account = await serviceAccounts.get(hit.ownerId);
          return {
            kind: hit.kind,
            userId: account?.ownerUserId ?? null,
            details: { serviceAccountId: hit.ownerId, ownerGroupId: account?.ownerGroupId ?? null },
          };
        },
        async (token) => {
          if (!token.startsWith("tsr_adm_")) return undefined;
          const revoked = await storage.db
            .updateTable("admin_tokens")
            .set({ revoked_at: clock.now() })
            .where("token_hash", "=", hashToken(token))
            .where("revoked_at", "is", null)
            .executeTakeFirst();
          return Number(revoked.numUpdatedRows) > 0 ? { kind: "admin", userId: null } : undefined;
        },
        async (token) => {
          const row = await oauth.tokens.findRefreshToken(token);
          if (!row || row.revoked_at !== null) return undefined;
          await accounts.access.end(
            { type: "refresh_leaked", userId: row.user_id, familyId: row.family_id },
            { actor: "leak-report" },
          );
          return { kind: "refresh", userId: row.user_id };
        },
        async (token) => {
          const found = await accounts.sessions.check(token);
          if (!found) return undefined;
          // As signing out of it would: what the session's sign-in granted dies, clients are told.
          await accounts.access.end(
            { type: "sessions_revoked", userId: found.user.id, sessionIds: [found.session.id] },
            { actor: "leak-report" },
          );
          return { kind: "session", userId: found.user.id };
        },
        async (token) => {
          // A client's secret or registration token: the client stops authenticating (or being managed) with
          // it at once; the alert names the client (clients have no owning user).
          const hit = await oauth.clients.revokeLeaked(token);
          if (!hit) return undefined;
          return { kind: hit.kind, userId: null, details: { clientId: hit.clientId } };
        },
        async (token) => {
          if (!(await oauth.initialTokens.revokeLeaked(token))) return undefined;
          return { kind: "initial_access_token", userId: null };
        },
        async (token) => {
          if (!token.startsWith("tsr_at_")) return undefined;
          const row = await storage.db
            .selectFrom("access_tokens")
            .select(["jti", "expires_at", "subject", "client_id"])
            .where("token_hash", "=", hashToken(token))
            .executeTakeFirst();
          if (!row || Number(row.expires_at) <= clock.now()) return undefined;
          const known = await storage.db
            .selectFrom("revoked_access_tokens")
            .select("jti")
            .where("jti", "=", row.jti)
            .executeTakeFirst();
          if (known) return undefined;
          await oauth.issuer.revokeAccessToken(row.jti, Number(row.expires_at));
          // A client_credentials token's subject is the client, not a user.
          return {
            kind: "access",
            userId: row.subject === row.client_id ? null : row.subject,
            details: { clientId: row.client_id },
          };
        },
      ],
    });
    return {
      config,
      apiTokens: tokens,
      serviceAccounts,
      leakReports,
      revocations,
      mfa,
      adminTokenLastUsed,
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
        await adminTokenLastUsed.close();
        await apiTokenLastUsed.close();
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
