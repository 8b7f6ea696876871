/**
 * The contracts of the multi-factor domain (issue 4). Domain code only: no Fastify types. Every method that
 * changes a factor records an audit event; every failed second-factor attempt too.
 */
import type { Throttle } from "../accounts/index.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Config } from "../config/index.js";
import type { MasterKey } from "../crypto/index.js";
import type { EventOutbox } from "../events/outbox.js";
import type { Clock } from "../lib/clock.js";
import type {
  PendingSignInsRepository,
  RecoveryCodesRepository,
  TotpFactorsRepository,
  UsersRepository,
  WebAuthnChallengesRepository,
  WebAuthnCredentialsRepository,
} from "../storage/index.js";

/** Where the multi-factor domain's state is stored (built from `storage.db` by the composition root). */
export interface MfaRepositories {
  pendingSignIns: PendingSignInsRepository;
  totpFactors: TotpFactorsRepository;
  recoveryCodes: RecoveryCodesRepository;
  webauthnCredentials: WebAuthnCredentialsRepository;
  webauthnChallenges: WebAuthnChallengesRepository;
  /** The users' own "MFA required" flag. */
  users: Pick<UsersRepository, "mfaRequired" | "setMfaRequired">;
}

export interface MfaDeps {
  repositories: MfaRepositories;
  clock: Clock;
  masterKey: MasterKey;
  audit: AuditLog;
  /** Per-key exponential back-off (memory or Redis), the same as sign-in's: keys like `totp:<userId>`. */
  throttle: Throttle;
  config: Config;
  /** Where `credential.changed` events are written with each factor change (absent: none). */
  events?: EventOutbox;
}

/** What a removal is, as its `credential.changed` event says: the user's own, or an administrator's MFA reset. */
export type FactorRemoval = "delete" | "reset";

/** Who is acting, for the audit log. */
export interface MfaActor {
  actor: string;
  ip?: string | null;
  userAgent?: string | null;
}

export interface Totp {
  /** `enrolled`: a confirmed authenticator; `pending`: enrolment started, no correct code yet. */
  status(userId: string): Promise<{ enrolled: boolean; pending: boolean }>;
  /**
   * Starts (or restarts) enrolment: a fresh secret, sealed at rest; answers what the page shows (the secret in
   * base32 for manual entry, the `otpauth://` URI, and its QR code as an SVG string). An enrolled authenticator
   * stays in force until the new one is confirmed.
   */
  beginEnrolment(
    user: { id: string; userName: string },
    by: MfaActor,
  ): Promise<{ secret: string; uri: string; qrSvg: string }>;
  /** Confirms enrolment with a correct code; false for a wrong one. Throws TooManyAttemptsError when throttled. */
  confirmEnrolment(userId: string, code: string, by: MfaActor): Promise<boolean>;
  /**
   * Checks a code of an enrolled authenticator: ±1 step, a step already used is refused (replay), throttled per
   * user. Throws TooManyAttemptsError when throttled.
   */
  verify(userId: string, code: string, by: MfaActor): Promise<boolean>;
  remove(userId: string, by: MfaActor, change?: FactorRemoval): Promise<boolean>;
}

export interface RecoveryCodes {
  /** Ten new codes, shown once; the previous set dies. */
  generate(userId: string, by: MfaActor): Promise<string[]>;
  /** Consumes a code (single use, atomically); false when unknown or used. Throttled with TOTP's key. */
  verify(userId: string, code: string, by: MfaActor): Promise<boolean>;
  remaining(userId: string): Promise<number>;
  removeAll(userId: string, change?: FactorRemoval): Promise<void>;
}

export interface WebAuthnCredential {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  deviceType: string;
  backedUp: boolean;
  discoverable: boolean;
  transports: string[];
  aaguid: string;
}

/** WebAuthn JSON (as @simplewebauthn/browser produces and consumes it). */
export type WebAuthnJson = Record<string, unknown>;

export interface WebAuthn {
  /** Options for registering a new credential for this user (excluding their existing ones). */
  registrationOptions(user: {
    id: string;
    userName: string;
    displayName: string | null;
  }): Promise<WebAuthnJson>;
  /** Verifies a registration response; stores the credential under `name`. Throws MfaError on refusal. */
  register(userId: string, response: WebAuthnJson, name: string, by: MfaActor): Promise<WebAuthnCredential>;
  /** Options for an assertion by this user's credentials (second factor, step-up). */
  authenticationOptions(userId: string): Promise<WebAuthnJson>;
  /** Options for passwordless sign-in with a discoverable credential (passkey), no user known yet. */
  passwordlessOptions(): Promise<WebAuthnJson>;
  /**
   * Verifies an assertion. With `userId`, the credential must be that user's (second factor, step-up);
   * without, it is a passwordless sign-in and user verification is required. A counter that goes backwards is
   * refused and audited (cloned authenticator). Answers the user, the credential and what was proven.
   */
  authenticate(
    response: WebAuthnJson,
    expected: { userId?: string },
    by: MfaActor,
  ): Promise<{ userId: string; credentialId: string; userVerified: boolean } | undefined>;
  list(userId: string): Promise<WebAuthnCredential[]>;
  rename(userId: string, credentialId: string, name: string, by: MfaActor): Promise<boolean>;
  remove(userId: string, credentialId: string, by: MfaActor, change?: FactorRemoval): Promise<boolean>;
}
