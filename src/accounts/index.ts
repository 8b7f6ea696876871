/**
 * The accounts domain: users, groups, passwords, sign-in, reset. `createAccounts` wires the services once;
 * the HTTP layer, the CLI and SCIM all use the same instances.
 */
import type { Kysely } from "kysely";
import { type AuditLog, createAuditLog } from "../audit/index.js";
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
import type { Database } from "../storage/database.js";
import type { BackgroundWriter, PrepareQuery } from "../storage/index.js";
import { createGroups, type Groups } from "./groups.js";
import { createPasswordReset, type PasswordReset } from "./password-reset.js";
import { createHashPool } from "./passwords/hash-pool.js";
import { type Argon2Parameters, createPasswordHasher, type PasswordHasher } from "./passwords/hasher.js";
import type { PasswordPolicy } from "./passwords/policy.js";
import { createPasswordSignIn, type PasswordSignIn } from "./sign-in.js";
import type { Throttle } from "./throttle.js";
import { createUsers, type Users } from "./users.js";

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
export { checkPassword, normalizePassword, type PasswordPolicy } from "./passwords/policy.js";
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
  groups: Groups;
  sessions: Sessions;
  signIn: PasswordSignIn;
  passwordReset: PasswordReset;
  audit: AuditLog;
  hasher: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  throttle: Throttle;
  /** Resolves once revocation fan-out is subscribed (immediately without it). */
  ready: Promise<void>;
  /** Stops the hashing threads and the revocation subscription. */
  close(): Promise<void>;
}

export interface AccountsOptions {
  db: Kysely<Database>;
  /** `storage.prepare`: hot-path queries compiled once (and run directly on SQLite). */
  prepare?: PrepareQuery;
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
  /** Also called when a user is deactivated or deleted (other domains end what the user holds there). */
  onUserDeactivated?: (userId: string) => Promise<void>;
}

export function createAccounts(options: AccountsOptions): Accounts {
  const { db, clock } = options;
  const audit = createAuditLog({
    db,
    clock,
    ...(options.backgroundWriter ? { writer: options.backgroundWriter } : {}),
    onError: (error, lost) =>
      options.log.error({ err: { message: (error as Error).message }, lost }, "audit events lost"),
  });
  const pool = createHashPool(options.argon2Threads ? { threads: options.argon2Threads } : {});
  const hasher = createPasswordHasher(options.argon2, pool);
  const sessions = createSessions({
    db,
    ...(options.prepare ? { prepare: options.prepare } : {}),
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
  const users = createUsers({
    db,
    ...(options.prepare ? { prepare: options.prepare } : {}),
    clock,
    hasher,
    policy: options.passwordPolicy,
    audit,
    onUserDeactivated: async (userId) => {
      await sessions.revokeAll(userId);
      await db.deleteFrom("password_reset_tokens").where("user_id", "=", userId).execute();
      await options.onUserDeactivated?.(userId);
    },
  });
  const groups = createGroups({ db, clock, audit });
  const signIn = createPasswordSignIn({ users, hasher, throttle: options.throttle, audit });
  const passwordReset = createPasswordReset({
    db,
    clock,
    users,
    sessions,
    mailer: options.mailer,
    audit,
    log: options.log,
    issuer: options.issuer,
    ttlSeconds: options.passwordResetTtl,
  });
  return {
    users,
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
      await audit.close();
      await sessions.close();
      await pool.close();
      await options.revocationBus?.close();
    },
  };
}
