/**
 * The accounts domain: users, groups, passwords, sign-in, reset. `createAccounts` wires the services once;
 * the HTTP layer, the CLI and SCIM all use the same instances.
 */
import {
  type AccessRevocation,
  type AccessRevocationDeps,
  createAccessRevocation,
} from "../access/revocation.js";
import { type AuditLog, createAuditLog } from "../audit/index.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Clock } from "../lib/clock.js";
import type { Mailer } from "../mail/index.js";
import type { Logger } from "../observability/log.js";
import {
  createSessions,
  type RevocationBus,
  type SessionCacheOptions,
  type SessionPolicy,
  type Sessions,
} from "../sessions/index.js";
import {
  auditEventsRepository,
  type BackgroundWriter,
  groupsRepository,
  passwordResetTokensRepository,
  type Storage,
  sessionsRepository,
  usersRepository,
} from "../storage/index.js";
import { administratorsRepository } from "../storage/repositories/administrators.js";
import { type Administrators, createAdministrators } from "./administrators.js";
import { createDeviceCookies } from "./device-cookies.js";
import { createGroups, type Groups } from "./groups.js";
import { createPasswordReset, type PasswordReset } from "./password-reset.js";
import { createHashPool } from "./passwords/hash-pool.js";
import { type Argon2Parameters, createPasswordHasher, type PasswordHasher } from "./passwords/hasher.js";
import type { PasswordPolicy } from "./passwords/policy.js";
import { createPasswordSignIn, type PasswordSignIn } from "./sign-in.js";
import type { Throttle } from "./throttle.js";
import { createUsers, type Users } from "./users.js";

export type { Administrator, Administrators } from "./administrators.js";
export type { Group, GroupAttributes, Groups } from "./groups.js";
export {
  type ChangePasswordInput,
  changePassword,
  type PasswordReset,
  RESET_TOKEN_PREFIX,
} from "./password-reset.js";
export {
  type Argon2Parameters,
  createPasswordHasher,
  OWASP_ARGON2,
  type PasswordHasher,
  parseArgon2Parameters,
} from "./passwords/hasher.js";
export { checkPassword, minimumLength, normalizePassword, type PasswordPolicy } from "./passwords/policy.js";
export {
  createPasswordSignIn,
  INVALID_CREDENTIALS_MESSAGE,
  type PasswordSignIn,
  type SignInInput,
  TooManyAttemptsError,
} from "./sign-in.js";
export {
  ACCOUNT_POLICY,
  createMemoryThrottle,
  createRedisThrottle,
  IP_POLICY,
  type Throttle,
  type ThrottleKey,
  type ThrottlePolicy,
} from "./throttle.js";
export {
  type Actor,
  type User,
  type UserAttributes,
  type UserEmail,
  type Users,
  userNameKey,
} from "./users.js";

export interface Accounts {
  users: Users;
  /** Who holds the administrator right; granting and removing it. */
  administrators: Administrators;
  /** The access-ending events (src/access): what a sign-out, reset, disable … ends. */
  access: AccessRevocation;
  groups: Groups;
  sessions: Sessions;
  signIn: PasswordSignIn;
  passwordReset: PasswordReset;
  audit: AuditLog;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  throttle: Throttle;
  /**
   * For the leaked-token report: a live session token ends as if signed out of from the session list (the
   * `sessions_revoked` event); answers whose it was.
   */
  revokeLeakedSession(token: string): Promise<{ kind: "session"; userId: string } | undefined>;
  /** Resolves once revocation fan-out is subscribed (immediately without it). */
  ready: Promise<void>;
  /** Stops the hashing threads and the revocation subscription. */
  close(): Promise<void>;
}

export interface AccountsOptions {
  /**
   * Where accounts live: the repositories are built from `db` and `dialect` here; with `prepare`
   * (`storage.prepare`) their hot-path look-ups are compiled once (and run directly on SQLite).
   */
  storage: Pick<Storage, "db" | "dialect"> & Partial<Pick<Storage, "prepare">>;
  /** `storage.backgroundWriter`: audit batches written off the event loop (SQLite files). */
  backgroundWriter?: BackgroundWriter;
  clock: Clock;
  log: Logger;
  mailer: Mailer;
  throttle: Throttle;
  issuer: string;
  argon2: Argon2Parameters;
  passwordPolicy: PasswordPolicy;
  sessionPolicy: SessionPolicy;
  passwordResetTtl: number;
  /** Hashing threads (0: one per core). */
  argon2Threads?: number;
  /** Session look-up cache; absent: every check reads the database. */
  sessionCache?: SessionCacheOptions;
  /** Revocation fan-out to other instances (Redis). */
  revocationBus?: RevocationBus;
  /** Key of the sign-in device cookies (device-cookies.ts); absent: none are issued or honoured. */
  deviceCookieKey?: Buffer;
  /** The audit log, when the caller built it (other domains share it); otherwise one is built here. */
  audit?: AuditLog;
  /**
   * What the access-ending events reach beyond accounts: OAuth grants, back-channel logout, API tokens, the
   * revocation feed. Without it (accounts alone, as in the accounts tests) they end sessions and reset links.
   */
  access?: Omit<AccessRevocationDeps, "sessions" | "audit" | "resetLinks" | "events">;
  /** Where the domain events of account changes, ended sessions and failed sign-ins go (src/events). */
  events?: EventOutbox;
}

export function createAccounts(options: AccountsOptions): Accounts {
  const { clock } = options;
  const { db, dialect, prepare } = options.storage;
  const audit =
    options.audit ??
    createAuditLog({
      repository: auditEventsRepository(db, options.backgroundWriter),
      clock,
      onError: (error, lost) =>
        options.log.error({ err: { message: (error as Error).message }, lost }, "audit events lost"),
    });
  const pool = createHashPool(options.argon2Threads ? { threads: options.argon2Threads } : {});
  const hasher = createPasswordHasher(options.argon2, pool);
  const sessions = createSessions({
    repository: sessionsRepository(db, prepare),
    clock,
    policy: options.sessionPolicy,
    ...(options.sessionCache ? { cache: options.sessionCache } : {}),
    ...(options.revocationBus ? { bus: options.revocationBus } : {}),
    onWriteError: (error) =>
      options.log.error(
        { err: { message: (error as Error).message } },
        "writing session last-seen times failed",
      ),
  });
  const resetLinks = passwordResetTokensRepository(db);
  const access = createAccessRevocation({
    ...options.access,
    ...(options.events ? { events: options.events } : {}),
    sessions,
    audit,
    resetLinks: { deleteForUser: (userId) => resetLinks.deleteAllOf(userId) },
  });
  const administratorRows = administratorsRepository(db);
  const users = createUsers({
    repository: usersRepository(db, dialect, prepare),
    clock,
    hasher,
    policy: options.passwordPolicy,
    audit,
    endAccess: (event, by) => access.end(event, by),
    isAdministrator: (userId) => administratorRows.has(userId),
    ...(options.events ? { events: options.events } : {}),
  });
  const administrators = createAdministrators({
    repository: administratorRows,
    clock,
    audit,
    userExists: async (userId) => (await users.get(userId)) !== undefined,
  });
  const groups = createGroups({ repository: groupsRepository(db, dialect), clock, audit });
  const signIn = createPasswordSignIn({
    users,
    hasher,
    throttle: options.throttle,
    audit,
    ...(options.deviceCookieKey ? { deviceCookies: createDeviceCookies(options.deviceCookieKey) } : {}),
    ...(options.events ? { events: options.events } : {}),
  });
  const passwordReset = createPasswordReset({
    repository: resetLinks,
    clock,
    users,
    sessions,
    access,
    mailer: options.mailer,
    audit,
    log: options.log,
    issuer: options.issuer,
    ttlSeconds: options.passwordResetTtl,
  });
  return {
    async revokeLeakedSession(token) {
      const found = await sessions.check(token);
      if (!found) return undefined;
      await access.end(
        { type: "sessions_revoked", userId: found.user.id, sessionIds: [found.session.id] },
        { actor: "leak-report" },
      );
      return { kind: "session", userId: found.user.id };
    },
    users,
    administrators,
    access,
    groups,
    sessions,
    signIn,
    passwordReset,
    audit,
    hasher,
    passwordPolicy: options.passwordPolicy,
    throttle: options.throttle,
    ready: sessions.ready,
    async close() {
      if (!options.audit) await audit.close();
      await sessions.close();
      await pool.close();
      await options.revocationBus?.close();
    },
  };
}
