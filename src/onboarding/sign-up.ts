/**
 * Self-service sign-up: an e-mail address, an optional user name and a password; the account exists only once
 * the e-mailed link is confirmed.
 *
 * - Off unless configured (`TESSERA_SIGN_UP=on`): every operation then answers `not_found` (404), links issued
 *   while it was on included.
 * - The request is checked first, field by field, and every refusal is said next to its field: the address's
 *   shape, the domain allow-list (`TESSERA_SIGN_UP_ALLOWED_DOMAINS`), the user name's length, and every password
 *   rule of `accounts/passwords` (length, breached-password blocklist, not containing the user name or the
 *   address) through `users.checkPolicy`, the check every other password goes through.
 * - Enumeration safety. A request that passes those checks always gets the same answer, "check your e-mail",
 *   and its timing cannot depend on whether the address or user name is taken: everything that looks at
 *   accounts runs after the answer (`Background`). An address that belongs to an account gets a notice mail
 *   ("someone tried to sign up with your address") instead of a link; a free address gets the link. A user name
 *   that is taken is not said on the sign-up page either: the confirmation page, reached only through the
 *   mailbox, asks for another one.
 * - Throttling: request budgets (`accounts/throttle.ts`, shared through Redis when configured) per client
 *   address (an IPv6 client's /64) and per e-mail address, spent only by requests that would send a mail, and
 *   the same whether the address is taken or not. Past them: `too_many_attempts` (429) with the wait.
 * - The link: 256 random bits (`tsr_sup_…`), stored as SHA-256, valid `signUpLinkTtl` seconds, single-use
 *   (one conditional update). The chosen password is kept only as its argon2id hash.
 * - Confirmation is a POST with the chosen password, never a GET: a mail scanner that opens links creates
 *   nothing, and a forwarded or leaked link alone creates nothing either. Five wrong passwords end the link.
 *   The account is created through `users.create` (user name rules, password policy, audit), with the confirmed
 *   address as its primary e-mail; the caller then signs the user in.
 */
import { randomUUID } from "node:crypto";
import { normalizePassword, type PasswordHasher, type User, type Users } from "../accounts/index.js";
import { clientAddressKey, type RateLimiter, type RateLimitPolicy } from "../accounts/throttle.js";
import type { AuditLog } from "../audit/index.js";
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import { TesseraError } from "../lib/errors.js";
import type { Mailer } from "../mail/index.js";
import type { PendingSignUpRow, PendingSignUpsRepository } from "../storage/index.js";
import { addressKey, cleanAddress, domainOf } from "./addresses.js";
import type { Background } from "./background.js";
import { type FormField, fieldErrors, OnboardingError, OnboardingThrottledError } from "./errors.js";
import { addressTakenMessage, signUpLinkMessage } from "./messages.js";
import { accountRefusal, checkChosenPassword, cleanChosenUserName, type RequestContext } from "./shared.js";

export const SIGN_UP_TOKEN_PREFIX = "tsr_sup_";
const FORMAT = { prefix: SIGN_UP_TOKEN_PREFIX, checksum: true } as const;

/** Wrong passwords at the confirmation step before the link stops working. */
export const MAX_CONFIRMATION_ATTEMPTS = 5;

/** Sign-ups per client address (an IPv6 client's /64): 10 an hour, then one every 6 minutes. */
export const SIGN_UP_IP_RATE: RateLimitPolicy = Object.freeze({ limit: 10, windowMs: 3_600_000 });
/** Sign-ups per e-mail address: 3 an hour, then one every 20 minutes (bounds the mails one address gets). */
export const SIGN_UP_ADDRESS_RATE: RateLimitPolicy = Object.freeze({ limit: 3, windowMs: 3_600_000 });

export interface SignUpRequest {
  email: string;
  /** Empty or absent: the e-mail address is the user name. */
  userName?: string;
  password: string;
  /** The password typed again; refused (field `confirmPassword`) when given and different. */
  confirmPassword?: string;
  /** A same-site path to continue to after the confirmation (a pending OAuth request), checked by the caller. */
  returnTo?: string | null;
}

/** What the confirmation page shows about a live link. */
export interface PendingSignUp {
  userName: string;
  email: string;
  /** The chosen user name belongs to an account now: the page asks for another. */
  userNameTaken: boolean;
  expiresAt: number;
  /** Where the user continues after confirming (a pending OAuth request), if anywhere. */
  returnTo: string | null;
}

export interface SignUp {
  readonly enabled: boolean;
  /** Empty: any domain. */
  readonly allowedDomains: readonly string[];
  /**
   * Checks the form (throws `OnboardingError` with per-field messages), spends the request budgets (throws
   * `OnboardingThrottledError`), then answers; the mail (a link, or a notice to an address's owner) follows.
   */
  request(input: SignUpRequest, context: RequestContext): Promise<void>;
  /** The sign-up behind a live link (for showing the confirmation form); does not consume it. */
  pending(token: string): Promise<PendingSignUp | undefined>;
  /**
   * Confirms a link with the password chosen at sign-up (and another user name when the first was taken):
   * creates the account and answers it with where to continue. Throws `invalid_sign_up_link`,
   * `invalid_credentials` (wrong password; five end the link), `user_exists` (field `userName`), `email_taken`.
   */
  complete(
    token: string,
    input: { password: string; userName?: string },
    context: RequestContext,
  ): Promise<{ user: User; returnTo: string | null }>;
  /** Deletes used and expired links; how many. */
  purgeExpired(): Promise<number>;
}

export interface SignUpDeps {
  enabled: boolean;
  allowedDomains: readonly string[];
  linkTtlSeconds: number;
  /** `pendingSignUpsRepository(storage.db)`. */
  repository: PendingSignUpsRepository;
  users: Users;
  hasher: PasswordHasher;
  audit: AuditLog;
  mailer: Mailer;
  /** Request budgets: `createRateLimiter({ clock, redis })`. */
  limiter: RateLimiter;
  clock: Clock;
  background: Background;
  issuer: string;
}

export function createSignUp(deps: SignUpDeps): SignUp {
  const { repository, users, clock } = deps;

  const closed = () =>
    new OnboardingError("not_found", "Self-service sign-up is not available.", { status: 404 });
  const invalidLink = (message = "This confirmation link is invalid, was already used or has expired.") =>
    new OnboardingError("invalid_sign_up_link", message);

  function checkForm(input: SignUpRequest): { email: string; userName: string; normalized: string } {
    const refusals: {
      field: FormField;
      code: "invalid_request" | "email_domain_not_allowed" | "password_rejected";
      message: string;
    }[] = [];
    const email = cleanAddress(typeof input.email === "string" ? input.email : "");
    if (email === undefined) {
      refusals.push({
        field: "email",
        code: "invalid_request",
        message: "Enter your e-mail address, like name@example.com.",
      });
    } else if (deps.allowedDomains.length > 0 && !deps.allowedDomains.includes(domainOf(email))) {
      refusals.push({
        field: "email",
        code: "email_domain_not_allowed",
        message: `Sign-up is open to addresses at ${deps.allowedDomains.join(", ")} only.`,
      });
    }
    const chosen = cleanChosenUserName(input.userName);
    if (!chosen.ok) refusals.push({ field: "userName", code: "invalid_request", message: chosen.message });
    const userName = chosen.ok && chosen.userName !== undefined ? chosen.userName : (email ?? "");
    const password = checkChosenPassword(
      users,
      typeof input.password === "string" ? input.password : "",
      input.confirmPassword,
      { userName, emails: email === undefined ? [] : [{ value: email, type: null, primary: true }] },
    );
    refusals.push(...password.refusals);
    const refused = fieldErrors(refusals);
    if (refused) throw refused;
    // Both refused above when missing; narrowed here for the compiler.
    if (password.normalized === undefined || email === undefined)
      throw new OnboardingError("invalid_request", "Invalid sign-up.");
    return { email, userName, normalized: password.normalized };
  }

  async function spendBudgets(email: string, context: RequestContext): Promise<void> {
    if (context.ip) {
      const byIp = await deps.limiter.take({
        scope: "sign-up:ip",
        id: clientAddressKey(context.ip),
        policy: SIGN_UP_IP_RATE,
      });
      if (!byIp.allowed) {
        throw new OnboardingThrottledError("Too many sign-ups from your network.", byIp.retryAfterMs);
      }
    }
    const byAddress = await deps.limiter.take({
      scope: "sign-up:address",
      id: addressKey(email),
      policy: SIGN_UP_ADDRESS_RATE,
    });
    if (!byAddress.allowed) {
      throw new OnboardingThrottledError(
        "Too many sign-ups for this e-mail address.",
        byAddress.retryAfterMs,
      );
    }
  }

  /** After the answer: a notice to the owner of a taken address, else a pending sign-up and its link. */
  async function deliver(
    form: { email: string; userName: string; normalized: string; returnTo: string | null },
    context: RequestContext,
  ): Promise<void> {
    const owners = await users.findByEmail(form.email);
    if (owners.length > 0) {
      await deps.mailer.send(addressTakenMessage({ to: form.email, issuer: deps.issuer }));
      await deps.audit.record({
        type: "sign_up.requested",
        outcome: "failure",
        userId: owners.length === 1 ? owners[0]!.id : null,
        actor: "anonymous",
        ip: context.ip,
        userAgent: context.userAgent,
        details: { reason: "address_taken", email: form.email },
      });
      return;
    }
    const passwordHash = await deps.hasher.hash(form.normalized);
    const token = generateOpaqueToken(FORMAT);
    const now = clock.now();
    await repository.insert({
      id: randomUUID(),
      token_hash: hashToken(token),
      user_name: form.userName,
      email: form.email,
      password_hash: passwordHash,
      return_to: form.returnTo,
      created_at: now,
      expires_at: now + deps.linkTtlSeconds * 1000,
      used_at: null,
    });
    await deps.mailer.send(
      signUpLinkMessage({
        to: form.email,
        userName: form.userName,
        link: `${deps.issuer}/signup/verify?token=${token}`,
        ttlSeconds: deps.linkTtlSeconds,
      }),
    );
    await deps.audit.record({
      type: "sign_up.requested",
      outcome: "success",
      actor: "anonymous",
      ip: context.ip,
      userAgent: context.userAgent,
      details: { email: form.email, userName: form.userName },
    });
  }

  async function liveRow(token: string): Promise<PendingSignUpRow | undefined> {
    if (!isWellFormedOpaqueToken(token, FORMAT)) return undefined;
    const row = await repository.findByHash(hashToken(token));
    if (!row || row.used_at !== null || row.expires_at <= clock.now()) return undefined;
    return row.attempts < MAX_CONFIRMATION_ATTEMPTS ? row : undefined;
  }

  return {
    enabled: deps.enabled,
    allowedDomains: deps.allowedDomains,

    async request(input, context) {
      if (!deps.enabled) throw closed();
      const form = checkForm(input);
      await spendBudgets(form.email, context);
      const returnTo = input.returnTo ?? null;
      deps.background.run("sign-up mail", () => deliver({ ...form, returnTo }, context));
    },

    async pending(token) {
      if (!deps.enabled) return undefined;
      const row = await liveRow(token);
      if (!row) return undefined;
      return {
        userName: row.user_name,
        email: row.email,
        userNameTaken: (await users.findByUserName(row.user_name)) !== undefined,
        expiresAt: row.expires_at,
        returnTo: row.return_to,
      };
    },

    async complete(token, input, context) {
      if (!deps.enabled) throw closed();
      const row = await liveRow(token);
      if (!row) throw invalidLink();
      const password = typeof input.password === "string" ? input.password : "";
      // First the password: only the person who signed up gets further (and learns anything about names).
      if (!(await deps.hasher.verify(row.password_hash, normalizePassword(password)))) {
        const counted = await repository.countFailure(row.id, MAX_CONFIRMATION_ATTEMPTS);
        if (!counted || row.attempts + 1 >= MAX_CONFIRMATION_ATTEMPTS) {
          throw invalidLink("Too many wrong passwords: this link no longer works. Please sign up again.");
        }
        const message = "That is not the password you chose when you signed up.";
        throw new OnboardingError("invalid_credentials", message, {
          status: 401,
          fields: { password: message },
        });
      }
      const chosen = cleanChosenUserName(input.userName);
      if (!chosen.ok) {
        throw new OnboardingError("invalid_request", chosen.message, {
          fields: { userName: chosen.message },
        });
      }
      const userName = chosen.userName ?? row.user_name;
      const now = clock.now();
      if ((await users.findByEmail(row.email)).length > 0) {
        // Someone confirmed this address first (or an administrator created it): the link is spent.
        await repository.consume(row.id, now, MAX_CONFIRMATION_ATTEMPTS);
        throw new OnboardingError(
          "email_taken",
          "An account with this e-mail address exists already. Sign in, or reset its password.",
          { status: 409 },
        );
      }
      if ((await users.findByUserName(userName)) !== undefined) {
        const message = "This user name is taken. Choose another.";
        throw new OnboardingError("user_exists", message, { status: 409, fields: { userName: message } });
      }
      if (!(await repository.consume(row.id, now, MAX_CONFIRMATION_ATTEMPTS))) throw invalidLink();
      const by = {
        actor: "sign-up",
        authority: "self" as const,
        ip: context.ip,
        userAgent: context.userAgent,
      };
      let user: User;
      try {
        user = await users.create(
          { userName, emails: [{ value: row.email, type: null, primary: true }], password },
          by,
        );
      } catch (error) {
        // Not created (a name taken meanwhile, a policy the new name breaks): the link works again.
        await repository.release(row.id, now);
        throw error instanceof TesseraError ? accountRefusal(error) : error;
      }
      await deps.audit.record({
        type: "user.signed_up",
        outcome: "success",
        userId: user.id,
        actor: `user:${user.id}`,
        ip: context.ip,
        userAgent: context.userAgent,
        details: { userName: user.userName, email: row.email },
      });
      return { user, returnTo: row.return_to };
    },

    purgeExpired: () => repository.deleteExpiredOrUsed(clock.now()),
  };
}
