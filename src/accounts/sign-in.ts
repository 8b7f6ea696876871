/**
 * Password sign-in: the verification step of the token lifecycle.
 *
 * - One answer for an unknown user, a wrong password, a disabled account and an account without a password:
 *   `invalid_credentials`. Each of these costs one argon2id verification (a dummy hash when there is no real
 *   one), so response time does not tell them apart either.
 * - Throttled per account (the normalised user name, whether or not it exists) and per client IP, with
 *   exponential back-off and no permanent lock-out; a throttled attempt is refused before the password is
 *   checked (`too_many_attempts` with the wait). A browser that signed in to the account before presents its
 *   device cookie (device-cookies.ts) and is throttled per device instead of per account, so failures of
 *   others cannot keep the real user out.
 * - A successful sign-in clears the account's counter and, when the stored hash used older argon2 parameters,
 *   replaces it with a hash at the current ones (the password is at hand only now).
 * - Every attempt, success or failure, is audited (without the password); failures and throttled attempts are
 *   also domain events (`signin.failed`, `signin.throttled`, src/events), published without waiting: they
 *   change nothing, so they are written on their own, in the background.
 * - Lean on the event loop, where all of it but the hashing runs: one query reads the account and its hash
 *   (`users.findForSignIn`), and success returns the account's id and user name, not the hydrated `User`
 *   (e-mails and groups: two more queries that no caller of `signIn` needs).
 */
import type { AuditLog } from "../audit/index.js";
import { type EventOutbox, NO_EVENTS } from "../events/outbox.js";
import { AccountError } from "../lib/errors.js";
import type { DeviceCookies } from "./device-cookies.js";
import type { PasswordHasher } from "./passwords/hasher.js";
import { normalizePassword } from "./passwords/policy.js";
import { ACCOUNT_POLICY, IP_POLICY, type Throttle, type ThrottleKey } from "./throttle.js";
import { type SignInRecord, type User, type Users, userNameKey } from "./users.js";

export interface SignInInput {
  userName: string;
  password: string;
  ip: string | null;
  userAgent: string | null;
  /** The browser's device cookie, if it sent one. */
  deviceCookie?: string | undefined;
}

export class TooManyAttemptsError extends AccountError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterMs: number) {
    super("too_many_attempts", "Too many failed sign-in attempts. Wait a moment and try again.", 429);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}

export const INVALID_CREDENTIALS_MESSAGE = "The user name or password is incorrect.";

const MAX_INPUT = 1024;

/** Who signed in (`users.get(id)` has the rest), and the device cookie the browser should keep from now on. */
export type SignedInUser = Pick<User, "id" | "userName"> & { deviceCookie?: string };

export interface PasswordSignIn {
  /** The user on success; throws `invalid_credentials` or `TooManyAttemptsError`. */
  signIn(input: SignInInput): Promise<SignedInUser>;
  /** Verifies the current password of a signed-in user (change password, step-up); throttled the same way. */
  verifyPassword(
    user: User,
    password: string,
    context: { ip: string | null; userAgent: string | null },
  ): Promise<boolean>;
}

export function createPasswordSignIn(deps: {
  users: Users;
  hasher: PasswordHasher;
  throttle: Throttle;
  audit: AuditLog;
  /** Absent: every sign-in shares the account's counter (no device cookies). */
  deviceCookies?: DeviceCookies;
  /** Where `signin.failed` and `signin.throttled` are published (absent: nowhere). */
  events?: EventOutbox;
}): PasswordSignIn {
  const { users, hasher, throttle, audit, deviceCookies } = deps;
  const events = deps.events ?? NO_EVENTS;

  /** Per device when the browser proved it signed in to this account before, else per account; and per IP. */
  function keys(userName: string, ip: string | null, deviceCookie?: string): ThrottleKey[] {
    const account = userNameKey(userName);
    const device = deviceCookies?.deviceOf(deviceCookie, account);
    const list: ThrottleKey[] = [
      device === undefined
        ? { scope: "account", id: account, policy: ACCOUNT_POLICY }
        : { scope: "device", id: device, policy: ACCOUNT_POLICY },
    ];
    if (ip) list.push({ scope: "ip", id: ip, policy: IP_POLICY });
    return list;
  }

  // A promise chain rather than an async function: one frame fewer to resume after each hash.
  function attempt(
    account: SignInRecord | undefined,
    password: string,
  ): Promise<{ ok: boolean; reason: string; hash: string | null }> {
    const normalized = normalizePassword(password);
    const hash = account?.passwordHash ?? null;
    if (!account || hash === null) {
      const reason = account ? "no_password" : "unknown_user";
      return hasher.verifyDummy(normalized).then(() => ({ ok: false, reason, hash }));
    }
    return hasher.verify(hash, normalized).then((matches) => {
      if (!matches) return { ok: false, reason: "wrong_password", hash };
      if (!account.active) return { ok: false, reason: "inactive", hash };
      return { ok: true, reason: "ok", hash };
    });
  }

  return {
    async signIn(input) {
      const userName = input.userName.slice(0, MAX_INPUT);
      const password = input.password.slice(0, MAX_INPUT);
      const throttleKeys = keys(userName, input.ip, input.deviceCookie);
      // Without a promise where the answer is at hand (memory throttle; SQLite with the connection free): under
      // argon2 load every resumed frame costs the event loop tens of microseconds of cold caches.
      const decision = throttle.checkNow
        ? throttle.checkNow(throttleKeys)
        : await throttle.check(throttleKeys);
      if (!decision.allowed) {
        events.publish({ type: "signin.throttled", userId: null, data: { ip: input.ip } });
        await audit.record({
          type: "signin.password",
          outcome: "failure",
          actor: "anonymous",
          ip: input.ip,
          userAgent: input.userAgent,
          details: { reason: "throttled" },
        });
        throw new TooManyAttemptsError(decision.retryAfterMs);
      }
      const found = users.findForSignInNow(userName);
      const account = found instanceof Promise ? await found : found;
      const result = await attempt(account, password);
      if (!result.ok || !account) {
        events.publish({
          type: "signin.failed",
          userId: account?.id ?? null,
          data: { reason: result.reason, ip: input.ip },
        });
        await throttle.recordFailure(throttleKeys);
        await audit.record({
          type: "signin.password",
          outcome: "failure",
          userId: account?.id ?? null,
          actor: "anonymous",
          ip: input.ip,
          userAgent: input.userAgent,
          details: { reason: result.reason },
        });
        throw new AccountError("invalid_credentials", INVALID_CREDENTIALS_MESSAGE, 401);
      }
      const accountKeys = throttleKeys.filter((k) => k.scope !== "ip");
      if (throttle.resetNow) throttle.resetNow(accountKeys);
      else await throttle.reset(accountKeys);
      if (result.hash && hasher.needsRehash(result.hash)) {
        await users.upgradePasswordHash(
          account.id,
          result.hash,
          await hasher.hash(normalizePassword(password)),
        );
      }
      await audit.record({
        type: "signin.password",
        outcome: "success",
        userId: account.id,
        actor: `user:${account.id}`,
        ip: input.ip,
        userAgent: input.userAgent,
      });
      return {
        id: account.id,
        userName: account.userName,
        ...(deviceCookies ? { deviceCookie: deviceCookies.issue(userNameKey(userName)) } : {}),
      };
    },

    async verifyPassword(user, password, context) {
      const throttleKeys = keys(user.userName, context.ip);
      const decision = await throttle.check(throttleKeys);
      if (!decision.allowed) throw new TooManyAttemptsError(decision.retryAfterMs);
      const account: SignInRecord = {
        id: user.id,
        userName: user.userName,
        active: user.active,
        passwordHash: await users.passwordHash(user.id),
      };
      const result = await attempt(account, password.slice(0, MAX_INPUT));
      if (!result.ok) await throttle.recordFailure(throttleKeys);
      return result.ok;
    },
  };
}
