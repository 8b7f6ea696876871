/**
 * Shared by the onboarding tests: the onboarding domain over the accounts test harness (real database, manual
 * clock, the development outbox), and readers of the links in the mails.
 */
import { Writable } from "node:stream";
import { createMemoryRateLimiter } from "../../src/accounts/throttle.js";
import type { MailMessage } from "../../src/mail/index.js";
import { createLogger } from "../../src/observability/log.js";
import { createOnboarding, type Onboarding, type OnboardingOptions } from "../../src/onboarding/index.js";
import type { DialectName } from "../../src/storage/index.js";
import { createTestAccounts, type TestAccounts } from "../helpers/accounts.js";

export const ISSUER = "https://id.example.test";
export const NET = { ip: "192.0.2.7", userAgent: "test" };
export const ADMIN = { actor: "admin:test", authority: "admin" as const };

export interface TestOnboarding extends TestAccounts {
  onboarding: Onboarding;
  /** Messages sent to `to` so far (case-insensitive). */
  mailTo(to: string): MailMessage[];
}

export async function createTestOnboarding(
  dialect: DialectName,
  settings: Partial<OnboardingOptions["settings"]> = {},
): Promise<TestOnboarding> {
  const t = await createTestAccounts(dialect);
  const log = createLogger({
    level: "silent",
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const onboarding = createOnboarding({
    accounts: t.accounts,
    storage: t.storage,
    mailer: t.outbox,
    clock: t.clock,
    log,
    limiter: createMemoryRateLimiter({ clock: t.clock }),
    issuer: ISSUER,
    settings: {
      signUp: "off",
      signUpAllowedDomains: undefined,
      signUpLinkTtl: 3600,
      invitationTtl: 604800,
      ...settings,
    },
  });
  return {
    ...t,
    onboarding,
    mailTo: (to) => t.outbox.messages.filter((m) => m.to.toLowerCase() === to.toLowerCase()),
    close: async () => {
      await onboarding.idle();
      await t.close();
    },
  };
}

/** The token of the `/signup/verify` link in a message (throws when there is none). */
export function signUpToken(message: Pick<MailMessage, "text"> | undefined): string {
  const match = /\/signup\/verify\?token=(tsr_sup_[0-9A-Za-z]+)/.exec(message?.text ?? "");
  if (!match) throw new Error("no sign-up link in the message");
  return match[1]!;
}

/** The token of the `/invitations/accept` link in a message (throws when there is none). */
export function invitationToken(message: Pick<MailMessage, "text"> | undefined): string {
  const match = /\/invitations\/accept\?token=(tsr_inv_[0-9A-Za-z]+)/.exec(message?.text ?? "");
  if (!match) throw new Error("no invitation link in the message");
  return match[1]!;
}
