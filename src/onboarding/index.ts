/**
 * Onboarding: how accounts come to exist besides an administrator, the CLI or SCIM creating them (issue 23).
 *
 * - `signUp`: self-service sign-up, off by default, confirmed by an e-mailed link (sign-up.ts).
 * - `invitations`: an administrator invites an address, optionally into groups (invitations.ts); the hook
 *   `invitations.acceptWithUpstream` lets sign-in through an upstream identity provider complete one.
 *
 * Both create accounts only through `accounts.users.create`, so the user name rules, the password policy and the
 * audit trail are the ones every other entry point gets.
 *
 * @example
 * const onboarding = createOnboarding({ accounts, storage, mailer, clock, log, limiter, issuer, settings: config });
 * await onboarding.invitations.create({ email: "ada@example.com" }, { actor: "cli", authority: "admin" });
 */
import type { Accounts } from "../accounts/index.js";
import type { RateLimiter } from "../accounts/throttle.js";
import type { Clock } from "../lib/clock.js";
import type { Mailer } from "../mail/index.js";
import type { Logger } from "../observability/log.js";
import { invitationsRepository, pendingSignUpsRepository, type Storage } from "../storage/index.js";
import { parseAllowedDomains } from "./addresses.js";
import { createBackground } from "./background.js";
import { createInvitations, type Invitations } from "./invitations.js";
import { createSignUp, type SignUp } from "./sign-up.js";

export { parseAllowedDomains } from "./addresses.js";
export { type FormField, OnboardingError, OnboardingThrottledError } from "./errors.js";
export {
  INVITATION_TOKEN_PREFIX,
  type Invitation,
  type InvitationStatus,
  type Invitations,
  MAX_INVITATION_GROUPS,
  MAX_INVITATION_TTL,
  MIN_INVITATION_TTL,
  type PendingInvitation,
  type UpstreamAcceptance,
} from "./invitations.js";
export type { RequestContext } from "./shared.js";
export {
  MAX_CONFIRMATION_ATTEMPTS,
  type PendingSignUp,
  SIGN_UP_ADDRESS_RATE,
  SIGN_UP_IP_RATE,
  SIGN_UP_TOKEN_PREFIX,
  type SignUp,
  type SignUpRequest,
} from "./sign-up.js";

export interface Onboarding {
  signUp: SignUp;
  invitations: Invitations;
  /** Deletes used and expired sign-up links (invitations are kept as the record of who invited whom). */
  purgeExpired(): Promise<number>;
  /** Resolves once the mails and checks started after answers so far have finished. */
  idle(): Promise<void>;
}

export interface OnboardingOptions {
  accounts: Pick<Accounts, "users" | "groups" | "hasher" | "audit">;
  storage: Pick<Storage, "db">;
  mailer: Mailer;
  clock: Clock;
  log: Logger;
  /** Request budgets of sign-up: `createRateLimiter({ clock, redis })`. */
  limiter: RateLimiter;
  issuer: string;
  /** The configuration keys of onboarding (the `Config` object fits). */
  settings: {
    signUp: "off" | "on";
    /** Comma-separated; a malformed entry throws `ConfigError`. */
    signUpAllowedDomains: string | undefined;
    signUpLinkTtl: number;
    invitationTtl: number;
  };
}

/** Builds sign-up and invitations over the accounts domain. */
export function createOnboarding(options: OnboardingOptions): Onboarding {
  const { accounts, clock, log, mailer, issuer } = options;
  const background = createBackground(log);
  const signUp = createSignUp({
    enabled: options.settings.signUp === "on",
    allowedDomains: parseAllowedDomains(options.settings.signUpAllowedDomains),
    linkTtlSeconds: options.settings.signUpLinkTtl,
    repository: pendingSignUpsRepository(options.storage.db),
    users: accounts.users,
    hasher: accounts.hasher,
    audit: accounts.audit,
    mailer,
    limiter: options.limiter,
    clock,
    background,
    issuer,
  });
  const invitations = createInvitations({
    repository: invitationsRepository(options.storage.db),
    users: accounts.users,
    groups: accounts.groups,
    audit: accounts.audit,
    mailer,
    clock,
    log,
    issuer,
    ttlSeconds: options.settings.invitationTtl,
  });
  return {
    signUp,
    invitations,
    purgeExpired: () => signUp.purgeExpired(),
    idle: () => background.idle(),
  };
}
