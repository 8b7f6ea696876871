/**
 * The composition root: builds every service once at start-up, in dependency order, and hands each its
 * dependencies explicitly (nothing reaches for globals or a service locator). What ends access is built before
 * the accounts whose events end it; each domain revokes its own kind of leaked secret; background writers
 * belong to the domain that writes.
 */
import { Redis } from "ioredis";
import { createAccounts, createMemoryThrottle, createRedisThrottle } from "../accounts/index.js";
import { createRateLimiter } from "../accounts/throttle.js";
import {
  apiTokenLeakRevoker,
  createAdminTokens,
  createApiTokens,
  createLeakReports,
  createServiceAccounts,
} from "../api-tokens/index.js";
import { type AuditTrail, createAuditLog, createAuditTrail } from "../audit/index.js";
import type { Config } from "../config/index.js";
import { KeyStore, type MasterKey } from "../crypto/index.js";
import {
  createDeliveryWorker,
  createEventDispatcher,
  createEventOutbox,
  createWebhooks,
  type EventDispatcher,
  type EventOutbox,
} from "../events/index.js";
import { createFederation } from "../federation/index.js";
import type { HttpServices } from "../http/services.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { createOutboxMailer, createSmtpMailer, type Mailer } from "../mail/index.js";
import { createMfa } from "../mfa/index.js";
import {
  createBackchannelLogout,
  createClients,
  createGrantRevocation,
  createOAuth,
  createTokenEncryption,
} from "../oauth/index.js";
import type { Logger } from "../observability/log.js";
import { createMetrics } from "../observability/metrics.js";
import { createOnboarding } from "../onboarding/index.js";
import { checkDestination, compilePolicy, createOutboundFetch, outboundPolicy } from "../outbound/index.js";
import { createRevocationFeed } from "../revocation/index.js";
import { createRedisRevocationBus } from "../sessions/index.js";
import { createTransmitter } from "../ssf/index.js";
import {
  adminTokensRepository,
  apiTokensRepository,
  auditEventsRepository,
  eventOutboxRepository,
  identityProvidersRepository,
  linkedIdentitiesRepository,
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
import { ssfStreamsRepository } from "../storage/repositories/ssf-streams.js";
import { webhooksRepository } from "../storage/repositories/webhooks.js";
import { loadMasterKey } from "./master-key-source.js";

/**
 * Every service, built once by `createServices` in dependency order (no forward references, no globals). The
 * HTTP layer receives it as `HttpServices` and each route plugin declares the part it uses; the CLI uses it
 * directly.
 */
export interface Services extends HttpServices {
  readonly storage: Storage;
  readonly mailer: Mailer;
  /** Verifying and exporting the hash-chained audit trail (`tessera audit verify|export`). */
  readonly auditTrail: AuditTrail;
  /**
   * Domain events (src/events): the outbox domain modules write to, and the dispatcher that offers committed
   * events to sinks (webhooks, the SSF transmitter: `events.dispatcher.register(sink)`).
   */
  readonly events: { readonly outbox: EventOutbox; readonly dispatcher: EventDispatcher };
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
  /**
   * Hash-chain and sign the audit log (default true). Internal, not a setting: off only to measure the chain's
   * cost against the same run without it (the rows are then unchained and `tessera audit verify` says so).
   */
  auditChain?: boolean;
  /**
   * Write domain events to the outbox (default true). Internal, not a setting: off only to measure the outbox's
   * cost on the sign-in and token paths against the same run without it (no event is written, and neither the
   * dispatcher nor the webhook worker runs: no webhook or SSF event is sent).
   */
  outbox?: boolean;
  /**
   * Run event dispatch and webhook delivery in this process (default true). Off for one-shot CLI commands:
   * what they commit is dispatched by a running server within a poll.
   */
  background?: boolean;
  /** Randomness of the webhook retries' jitter, in [0, 1) (default Math.random; tests fix it). */
  random?: () => number;
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
    // Domain events: written by the domains with their changes, dispatched to sinks once committed (src/events).
    const outboxRows = eventOutboxRepository(storage.db, storage.dialect, storage.backgroundWriter);
    const outbox = createEventOutbox({
      repository: outboxRows,
      clock,
      enabled: options.outbox !== false,
      onError: (error, lost) =>
        log.error({ err: { message: (error as Error).message }, lost }, "domain events lost"),
    });
    const dispatcher = createEventDispatcher({ repository: outboxRows, clock, log });
    outbox.onCommitted(() => dispatcher.nudge());
    const keys = await KeyStore.open({
      repository: signingKeysRepository(storage.db),
      masterKey,
      clock,
      jwtMaxLifetime: config.jwtMaxLifetime,
      publishLeadTime: config.jwksMaxAge,
      rotationInterval: config.keyRotationInterval,
      onIssue: (kind) => metrics.tokensIssued.inc({ kind }),
      events: outbox,
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
    const auditRows = auditEventsRepository(storage.db, storage.backgroundWriter);
    const audit = createAuditLog({
      repository: auditRows,
      clock,
      onError: (error, lost) =>
        log.error({ err: { message: (error as Error).message }, lost }, "audit events lost"),
      chain: options.auditChain !== false,
      checkpoints: {
        keys,
        issuer: config.issuer,
        onError: (error) =>
          log.error({ err: { message: (error as Error).message } }, "audit checkpoint failed"),
      },
    });
    const auditTrail = createAuditTrail({
      repository: auditRows,
      jwks: () => keys.jwks(),
      clock,
      issuer: config.issuer,
    });
    const administratorRows = administratorsRepository(storage.db);
    const apiTokenRows = apiTokensRepository(storage.db);
    const apiTokens = createApiTokens({
      repository: apiTokenRows,
      clock,
      audit,
      feed: revocations,
      maxLifetime: config.apiTokenMaxLifetime,
      events: outbox,
      isAdministrator: (userId) => administratorRows.has(userId),
      writeBehind: {
        onError: (error) =>
          log.error({ err: { message: (error as Error).message } }, "writing API token last use failed"),
      },
    });
    const oauthRows = oauthRepositories(storage.db, storage.dialect);
    // Every request to a URL Tessera was given goes through the outbound guard (docs/security.md).
    const outbound = createOutboundFetch({ policy: outboundPolicy(config), log });
    // Encrypted tokens (JWE): recipients' keys at a jwks_uri are fetched through the guard.
    const encryption = createTokenEncryption({ outbound, clock, log });
    const clients = createClients({
      repositories: oauthRows,
      clock,
      issuer: config.issuer,
      defaultAccessTokenTtl: config.accessTokenTtl,
      encryption,
    });
    const grants = createGrantRevocation({
      grants: grantsRepository(storage.db),
      accessTokens: oauthRows.accessTokens,
      clock,
      feed: revocations,
    });
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
      events: outbox,
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
      encryption,
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
      events: outbox,
    });
    // Sign-up and invitations create accounts only through the accounts domain (src/onboarding).
    const onboarding = createOnboarding({
      accounts,
      storage,
      mailer,
      clock,
      log,
      limiter: createRateLimiter({ clock, redis }),
      issuer: config.issuer,
      settings: config,
    });
    // Sign-in with upstream identity providers; their requests go through the outbound guard. An invitation
    // can be accepted through a provider, so federation comes after onboarding.
    const federation = createFederation({
      repositories: {
        providers: identityProvidersRepository(storage.db),
        links: linkedIdentitiesRepository(storage.db, storage.dialect),
      },
      accounts,
      audit: accounts.audit,
      masterKey,
      clock,
      issuer: config.issuer,
      outbound: { policy: outboundPolicy(config), log },
      countPasskeys: async (userId) => (await mfa.webauthn.list(userId)).filter((c) => c.discoverable).length,
      invitations: onboarding.invitations,
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
    // Shared Signals (SSF 1.0): receivers' streams of CAEP and RISC events. Pushes go through the outbound guard,
    // and a receiver's push URL is checked against it when configured (src/ssf).
    const outboundGuard = compilePolicy(outboundPolicy(config));
    const ssf = createTransmitter({
      repository: ssfStreamsRepository(storage.db),
      clock,
      log,
      issuer: config.issuer,
      keys,
      masterKey,
      oauth: { issuer: oauth.issuer, clients },
      outbound,
      async checkDestination(url) {
        await checkDestination(url, outboundGuard, undefined, AbortSignal.timeout(5000));
      },
    });
    await ssf.ensureResourceServer();
    // The push loop (retries, SETs other instances queued) runs where events are dispatched.
    if (options.background !== false) ssf.start();
    // Webhooks (src/events): endpoints registered by administrators; deliveries signed as Standard Webhooks say
    // and sent only through the outbound guard, with the webhook timeout.
    const deliveries = createDeliveryWorker({
      repository: webhooksRepository(storage.db),
      clock,
      masterKey,
      fetch: createOutboundFetch({ policy: outboundPolicy(config), log, timeoutMs: config.webhookTimeout }),
      log,
      maxAttempts: config.webhookMaxAttempts,
      retryBaseMs: config.webhookRetryBase,
      timeoutMs: config.webhookTimeout,
      ...(options.random ? { random: options.random } : {}),
    });
    const webhooks = createWebhooks({
      repository: webhooksRepository(storage.db),
      clock,
      masterKey,
      audit,
      policy: compilePolicy(outboundPolicy(config)),
      onEnqueued: () => deliveries.nudge(),
    });
    // The sinks of committed domain events: each keeps its own cursor (src/events/dispatcher.ts).
    dispatcher.register(webhooks.sink);
    dispatcher.register(ssf);
    // With the outbox off (benchmarks) nothing polls either: the comparison measures the whole of its cost.
    if (options.background !== false && outbox.enabled) {
      dispatcher.start();
      deliveries.start();
    }
    return {
      config,
      apiTokens,
      adminTokens,
      serviceAccounts,
      leakReports,
      revocations,
      mfa,
      federation,
      onboarding,
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
      auditTrail,
      ssf,
      events: { outbox, dispatcher },
      webhooks,
      async close() {
        await dispatcher.close();
        await deliveries.close();
        await outbox.close();
        await ssf.close();
        await adminTokens.close();
        await apiTokens.close();
        // Sign-up mails started after answers finish before the accounts they use close.
        await onboarding.idle();
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
