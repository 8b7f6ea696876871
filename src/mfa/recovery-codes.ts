/**
 * Recovery codes: ten single-use codes that stand in for the second factor when the authenticator is lost.
 *
 * - Format `xxxx-xxxx-xxxx`: 12 characters of Crockford's base32 (digits and lower-case letters without `i l o u`),
 *   60 random bits each. Typing is forgiving: case, spaces and dashes are ignored, and `o`, `i`, `l` are read as
 *   `0`, `1`, `1` (Crockford's decoding rules), so no code can be mistyped through a look-alike character.
 * - Stored as SHA-256 of `<userId>:<normalised code>` only: the code exists in plain text in the one response
 *   that shows it. Binding the hash to the user means a stolen table cannot be attacked for all users at once.
 * - Single use: one conditional UPDATE (`used_at IS NULL`) consumes a code, so two concurrent uses of one code
 *   produce one success.
 * - Regenerating replaces the whole set in one transaction (the old codes die). The transaction first touches
 *   the user's row, which serialises two regenerations of one user on PostgreSQL (a double-clicked button
 *   would otherwise leave both sets alive).
 * - A new set and a removal are `credential.changed` domain events, written in their transaction (src/events).
 * - Verification is throttled with TOTP's per-user key (attempts.ts); audited: `mfa.recovery_codes_generated`,
 *   `mfa.recovery_code_used` (with how many remain), `mfa.recovery_code_failed`.
 */
import { randomBytes } from "node:crypto";
import type { AuditEventInput } from "../audit/index.js";
import { hashToken } from "../crypto/index.js";
import { NO_EVENTS } from "../events/outbox.js";
import { throttledAttempt } from "./attempts.js";
import { recordMfaEvent } from "./audit.js";
import type { MfaActor, MfaDeps, RecoveryCodes } from "./types.js";

export const RECOVERY_CODE_COUNT = 10;

/** Crockford's base32 alphabet, lower case: 32 symbols, so one random byte masked to 5 bits is uniform. */
export const RECOVERY_CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

const CODE_LENGTH = 12;
const NORMALISED = /^[0-9abcdefghjkmnpqrstvwxyz]{12}$/;

/** A new code, `xxxx-xxxx-xxxx` (60 random bits). */
export function generateRecoveryCode(): string {
  const bytes = randomBytes(CODE_LENGTH);
  let code = "";
  for (let i = 0; i < CODE_LENGTH; i++) {
    if (i > 0 && i % 4 === 0) code += "-";
    code += RECOVERY_CODE_ALPHABET[bytes[i]! & 31];
  }
  return code;
}

/** The canonical form of what a user typed (12 symbols, no separators), or undefined when it cannot be a code. */
export function normaliseRecoveryCode(input: string): string | undefined {
  if (input.length > 64) return undefined;
  const text = input
    .toLowerCase()
    .replace(/[\s-]+/g, "")
    .replace(/o/g, "0")
    .replace(/[il]/g, "1");
  return NORMALISED.test(text) ? text : undefined;
}

/** What is stored for a (normalised) code of `userId`. */
export function recoveryCodeHash(userId: string, normalised: string): string {
  return hashToken(`${userId}:${normalised}`);
}

export function createRecoveryCodes(deps: MfaDeps): RecoveryCodes {
  const { clock, audit, throttle } = deps;
  const stored = deps.repositories.recoveryCodes;
  const outbox = deps.events ?? NO_EVENTS;
  const changed = (userId: string, change: string, actor: string | null) =>
    outbox.events({
      type: "credential.changed",
      userId,
      data: { credential: "recovery_codes", change, actor },
    });

  const record = (
    type: AuditEventInput["type"],
    outcome: AuditEventInput["outcome"],
    userId: string,
    by: MfaActor,
    details?: AuditEventInput["details"],
  ) => recordMfaEvent(audit, { type, outcome, userId, ...(details ? { details } : {}) }, by);

  const remaining = (userId: string): Promise<number> => stored.countUnused(userId);

  return {
    async generate(userId, by) {
      const codes = new Set<string>();
      while (codes.size < RECOVERY_CODE_COUNT) codes.add(generateRecoveryCode());
      const now = clock.now();
      const rows = [...codes].map((code) => ({
        id: randomBytes(16).toString("base64url"),
        user_id: userId,
        code_hash: recoveryCodeHash(userId, normaliseRecoveryCode(code)!),
        created_at: now,
        used_at: null,
      }));
      // One transaction that first takes the user's row lock (PostgreSQL): see the module comment.
      const replaced = await stored.replaceAll(userId, rows, changed(userId, "create", by.actor));
      outbox.committed();
      await record("mfa.recovery_codes_generated", "success", userId, by, {
        count: RECOVERY_CODE_COUNT,
        replaced,
      });
      return [...codes];
    },

    verify(userId, code, by) {
      return throttledAttempt(throttle, userId, async () => {
        const normalised = normaliseRecoveryCode(code);
        const consumed =
          normalised !== undefined &&
          (await stored.consume(userId, recoveryCodeHash(userId, normalised), clock.now()));
        if (!consumed) {
          await record("mfa.recovery_code_failed", "failure", userId, by, {
            reason: normalised === undefined ? "malformed" : "unknown_or_used",
          });
          return false;
        }
        await record("mfa.recovery_code_used", "success", userId, by, { remaining: await remaining(userId) });
        return true;
      });
    },

    remaining,

    async removeAll(userId, change = "delete") {
      await stored.deleteAll(userId, changed(userId, change, null));
      outbox.committed();
    },
  };
}
