/**
 * TOTP software tokens (RFC 6238): enrolment, verification, removal.
 *
 * - SHA-1, 6 digits, 30-second steps (RFC 6238's defaults, the only parameters every authenticator app honours),
 *   through `otpauth`; the secret is 20 random bytes (RFC 4226 §4 R6 recommends 160 bits).
 * - At rest the secret is sealed with the master key (AES-256-GCM, associated data `totp-secret:<userId>`, so a
 *   ciphertext copied to another user's row does not open). The plain secret exists only in the enrolment page.
 * - One authenticator per user. The sealed value holds the confirmed (`active`) secret and, while an enrolment
 *   waits for its first correct code, the `candidate`: re-enrolling keeps the old authenticator working until
 *   the new one is confirmed, and a wrong code changes nothing.
 * - Confirmation swaps the candidate in with an UPDATE conditional on the exact sealed value that was read, so
 *   an enrolment restarted meanwhile (another tab) is not confirmed with the code of the older secret.
 * - A code is accepted within ±1 step (RFC 6238 §5.2: one step of clock drift and network delay).
 * - Replay: the step of every accepted code is kept, and a code of that step or an earlier one is refused
 *   (RFC 6238 §5.2: the verifier MUST NOT accept the second attempt of an OTP after a successful validation).
 *   One conditional UPDATE (`last_step IS NULL OR last_step < :step`) decides, so two concurrent submissions
 *   of one code cannot both pass, on either database.
 * - Throttled per user, with recovery codes (attempts.ts); every failure is audited (`mfa.totp_failed`, with a
 *   reason, never the code), every change too (`mfa.totp_enrolled`, `mfa.totp_removed`), and each change is a
 *   `credential.changed` domain event written in its transaction (src/events).
 */
import { randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import QRCode from "qrcode";
import type { AuditEventInput } from "../audit/index.js";
import { NO_EVENTS } from "../events/outbox.js";
import { throttledAttempt } from "./attempts.js";
import { recordMfaEvent } from "./audit.js";
import type { MfaActor, MfaDeps, Totp } from "./types.js";

/** RFC 6238 parameters (the defaults of the `otpauth://` key URI format). */
export const TOTP_PARAMETERS = Object.freeze({ algorithm: "SHA1", digits: 6, period: 30 });

/** Steps either side of the current one that are accepted. */
export const TOTP_WINDOW = 1;

export const TOTP_SECRET_BYTES = 20;

/**
 * The `otpauth` generator Tessera uses for a secret. `digits` is for the RFC 6238 Appendix B vectors only (they
 * are 8 digits); everything else uses the 6-digit default.
 */
export function totpFor(
  secret: Uint8Array,
  options: { issuer?: string; label?: string; digits?: number } = {},
): TOTP {
  return new TOTP({
    issuer: options.issuer ?? "",
    label: options.label ?? "",
    // A copy: otpauth keeps the buffer it is given.
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
    algorithm: TOTP_PARAMETERS.algorithm,
    digits: options.digits ?? TOTP_PARAMETERS.digits,
    period: TOTP_PARAMETERS.period,
  });
}

/** The time step (RFC 6238 `T`) of an instant, epoch ms. */
export function totpStep(at: number): number {
  return TOTP.counter({ period: TOTP_PARAMETERS.period, timestamp: at });
}

/**
 * The step whose code `code` is, within ±1 step of `at`; undefined when it matches none. Spaces are ignored
 * (apps show `123 456`).
 */
export function matchTotpStep(
  secret: Uint8Array,
  code: string,
  at: number,
  options: { digits?: number } = {},
): number | undefined {
  const token = code.slice(0, 32).replace(/\s+/g, "");
  const digits = options.digits ?? TOTP_PARAMETERS.digits;
  if (token.length !== digits || !/^[0-9]+$/.test(token)) return undefined;
  const delta = totpFor(secret, { digits }).validate({ token, timestamp: at, window: TOTP_WINDOW });
  return delta === null ? undefined : totpStep(at) + delta;
}

interface Secrets {
  active: Uint8Array | null;
  candidate: Uint8Array | null;
}

const sealContext = (userId: string) => `totp-secret:${userId}`;

export function createTotp(deps: MfaDeps): Totp {
  const { clock, masterKey, audit, throttle } = deps;
  const factors = deps.repositories.totpFactors;
  const outbox = deps.events ?? NO_EVENTS;
  const changed = (userId: string, change: string, by: MfaActor) =>
    outbox.events({
      type: "credential.changed",
      userId,
      data: { credential: "totp", change, actor: by.actor },
    });
  // What the authenticator app shows next to the account: the issuer's host name (`id.example.com: alice`);
  // without a port, since the key URI format uses a colon between issuer and account.
  const issuer = new URL(deps.config.issuer).hostname;

  function seal(userId: string, secrets: Secrets): string {
    const encode = (bytes: Uint8Array | null) => (bytes ? Buffer.from(bytes).toString("base64url") : null);
    const plaintext = JSON.stringify({
      active: encode(secrets.active),
      candidate: encode(secrets.candidate),
    });
    return masterKey.seal(Buffer.from(plaintext, "utf8"), sealContext(userId));
  }

  function open(userId: string, sealed: string): Secrets {
    const parsed = JSON.parse(masterKey.open(sealed, sealContext(userId)).toString("utf8")) as {
      active: string | null;
      candidate: string | null;
    };
    const decode = (text: string | null) => (text === null ? null : Buffer.from(text, "base64url"));
    return { active: decode(parsed.active), candidate: decode(parsed.candidate) };
  }

  const load = (userId: string) => factors.find(userId);

  const record = (
    type: AuditEventInput["type"],
    outcome: AuditEventInput["outcome"],
    userId: string,
    by: MfaActor,
    details?: AuditEventInput["details"],
  ) => recordMfaEvent(audit, { type, outcome, userId, ...(details ? { details } : {}) }, by);

  const failed = (userId: string, by: MfaActor, stage: "enrol" | "verify", reason: string) =>
    record("mfa.totp_failed", "failure", userId, by, { stage, reason });

  /** Stores a new candidate next to the active secret; retries when another request changed the row meanwhile. */
  async function storeCandidate(userId: string, candidate: Uint8Array): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = await load(userId);
      if (!row) {
        const inserted = await factors.insertIfAbsent({
          user_id: userId,
          secret_sealed: seal(userId, { active: null, candidate }),
          created_at: clock.now(),
          confirmed_at: null,
          last_step: null,
        });
        if (inserted) return;
        continue;
      }
      const { active } = open(userId, row.secret_sealed);
      const updated = await factors.replaceSealed(userId, row.secret_sealed, {
        secret_sealed: seal(userId, { active, candidate }),
      });
      if (updated) return;
    }
    throw new Error("TOTP enrolment: the factor kept changing; try again");
  }

  return {
    async status(userId) {
      const row = await load(userId);
      if (!row) return { enrolled: false, pending: false };
      return {
        enrolled: row.confirmed_at !== null,
        pending: open(userId, row.secret_sealed).candidate !== null,
      };
    },

    async beginEnrolment(user, _by) {
      const candidate = randomBytes(TOTP_SECRET_BYTES);
      await storeCandidate(user.id, candidate);
      const totp = totpFor(candidate, { issuer, label: user.userName });
      const uri = totp.toString();
      const qrSvg = await QRCode.toString(uri, {
        type: "svg",
        errorCorrectionLevel: "M",
        margin: 4,
        width: 224,
      });
      return { secret: totp.secret.base32, uri, qrSvg };
    },

    confirmEnrolment(userId, code, by) {
      return throttledAttempt(throttle, userId, async () => {
        const row = await load(userId);
        const secrets = row ? open(userId, row.secret_sealed) : undefined;
        if (!row || !secrets?.candidate) {
          await failed(userId, by, "enrol", "no_enrolment");
          return false;
        }
        const now = clock.now();
        const step = matchTotpStep(secrets.candidate, code, now);
        if (step === undefined) {
          await failed(userId, by, "enrol", "wrong_code");
          return false;
        }
        const confirmed = await factors.replaceSealed(
          userId,
          row.secret_sealed,
          {
            secret_sealed: seal(userId, { active: secrets.candidate, candidate: null }),
            created_at: now,
            confirmed_at: now,
            // The confirming code is used up: it cannot sign in afterwards.
            last_step: step,
          },
          changed(userId, secrets.active === null ? "create" : "update", by),
        );
        if (!confirmed) {
          await failed(userId, by, "enrol", "superseded");
          return false;
        }
        outbox.committed();
        await record("mfa.totp_enrolled", "success", userId, by, { replaced: secrets.active !== null });
        return true;
      });
    },

    verify(userId, code, by) {
      return throttledAttempt(throttle, userId, async () => {
        const row = await load(userId);
        const confirmedAt = row?.confirmed_at ?? null;
        const active = row && confirmedAt !== null ? open(userId, row.secret_sealed).active : null;
        if (!row || confirmedAt === null || !active) {
          await failed(userId, by, "verify", "not_enrolled");
          return false;
        }
        const step = matchTotpStep(active, code, clock.now());
        if (step === undefined) {
          await failed(userId, by, "verify", "wrong_code");
          return false;
        }
        // Conditional on the authenticator that was read: not one confirmed (or removed and re-added) meanwhile.
        if (!(await factors.acceptStep(userId, confirmedAt, step))) {
          await failed(userId, by, "verify", "replayed");
          return false;
        }
        return true;
      });
    },

    async remove(userId, by, change = "delete") {
      const row = await load(userId);
      if (!row) return false;
      // An enrolment never confirmed was no credential: nothing to announce.
      if (!(await factors.delete(userId, row.confirmed_at === null ? [] : changed(userId, change, by))))
        return false;
      outbox.committed();
      await record("mfa.totp_removed", "success", userId, by, { confirmed: row.confirmed_at !== null });
      return true;
    },
  };
}
