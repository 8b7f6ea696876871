/**
 * Multi-factor sign-in (issue 4): software tokens (TOTP, recovery codes), hardware tokens (WebAuthn security keys
 * and passkeys), the pending sign-in between password and second factor, and the policy (who must use a
 * second factor, freshness for step-up). `createMfa` wires them; `ctx.mfa` holds the result.
 */

import type { Accounts } from "../accounts/index.js";
import type { Config } from "../config/index.js";
import type { MasterKey } from "../crypto/index.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Clock } from "../lib/clock.js";
import { createPendingSignIns, type PendingSignIns } from "./pending.js";
import { createMfaPolicy, type MfaPolicy } from "./policy.js";
import { createRecoveryCodes } from "./recovery-codes.js";
import { createTotp } from "./totp.js";
import type { MfaDeps, MfaRepositories, RecoveryCodes, Totp, WebAuthn } from "./types.js";
import { createWebAuthn } from "./webauthn.js";

export {
  MAX_SECOND_FACTOR_ATTEMPTS,
  PENDING_FORMAT,
  type PendingSignIn,
  type PendingSignIns,
} from "./pending.js";
export { combineAmr, type FactorSummary, isFresh, type MfaPolicy } from "./policy.js";
export * from "./sign-in-flow.js";
export type {
  MfaActor,
  MfaDeps,
  MfaRepositories,
  RecoveryCodes,
  Totp,
  WebAuthn,
  WebAuthnCredential,
  WebAuthnJson,
} from "./types.js";

export interface Mfa {
  policy: MfaPolicy;
  pending: PendingSignIns;
  totp: Totp;
  recoveryCodes: RecoveryCodes;
  webauthn: WebAuthn;
  /**
   * An administrator's MFA reset: every second factor of the user removed (authenticator app, recovery codes,
   * security keys and passkeys), and the `mfa_reset` access-ending event (every session and app grant ends),
   * audited as `mfa.reset`.
   */
  reset(userId: string, by: { actor: string; ip?: string | null; userAgent?: string | null }): Promise<void>;
  purgeExpired(): Promise<number>;
}

export function createMfa(options: {
  /** Where factors, challenges and pending sign-ins are stored (built from `storage.db`). */
  repositories: MfaRepositories;
  clock: Clock;
  masterKey: MasterKey;
  accounts: Accounts;
  config: Config;
  /** Where factor changes' `credential.changed` events are written (src/events). */
  events?: EventOutbox;
}): Mfa {
  const { repositories } = options;
  const deps: MfaDeps = {
    repositories,
    clock: options.clock,
    masterKey: options.masterKey,
    audit: options.accounts.audit,
    throttle: options.accounts.throttle,
    config: options.config,
    ...(options.events ? { events: options.events } : {}),
  };
  const pending = createPendingSignIns({ repository: repositories.pendingSignIns, clock: options.clock });
  const totp = createTotp(deps);
  const recoveryCodes = createRecoveryCodes(deps);
  const webauthn = createWebAuthn(deps);
  return {
    policy: createMfaPolicy({
      repositories,
      clock: options.clock,
      organisationRequires: options.config.mfaRequired === "true",
    }),
    pending,
    totp,
    recoveryCodes,
    webauthn,
    async reset(userId, by) {
      // Each removal is a `credential.changed` event with `change: "reset"`, written in its transaction.
      await totp.remove(userId, by, "reset");
      await recoveryCodes.removeAll(userId, "reset");
      for (const key of await webauthn.list(userId)) await webauthn.remove(userId, key.id, by, "reset");
      await options.accounts.access.end({ type: "mfa_reset", userId }, by);
      await options.accounts.audit.record({
        type: "mfa.reset",
        outcome: "success",
        userId,
        actor: by.actor,
        ip: by.ip ?? null,
        userAgent: by.userAgent ?? null,
      });
    },
    async purgeExpired() {
      const challenges = await repositories.webauthnChallenges.deleteExpired(options.clock.now());
      return (await pending.purgeExpired()) + challenges;
    },
  };
}
