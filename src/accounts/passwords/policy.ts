/**
 * Password policy after NIST SP 800-63B (§ 3.1.1.2, rev. 4).
 *
 * - Normalisation. Every password is NFKC-normalised (`normalizePassword`) before it is checked, hashed or
 *   compared; the normalised form is the one that gets hashed, everywhere.
 * - Length. Counted in Unicode code points after normalisation (an emoji is one, not two UTF-16 units).
 *   At least `minLength` (default 8) for accounts with a second factor, at least
 *   `minLengthWithoutSecondFactor` (default 15; never below `minLength`) when the password is the only
 *   factor, at most `maxLength` (default 128, ≥ 64 allowed): the upper bound keeps hashing cost in check.
 *   Input whose raw length already exceeds 8 × `maxLength` UTF-16 units is refused as too long before it is
 *   normalised (NFKC shrinks text at most fourfold, and a code point is at most two units).
 * - Characters. All printing characters are allowed, spaces and emoji included; control characters (tab,
 *   line feed, NUL, DEL, C1 controls) and lone surrogates (not encodable as UTF-8) are refused.
 * - No composition rules (no "one digit, one symbol"), no hints, no periodic expiry.
 * - Blocklist. Passwords on the list of common and breached passwords are refused, compared NFKC-normalised
 *   and lower-cased (`blocklist.ts`).
 * - Context. Words tied to the account (user name, e-mail local part, …) of at least 4 code points are
 *   refused when the password equals or contains them, case-insensitively after NFKC; so is each word with
 *   its punctuation and spaces removed ("john.smith" also refuses "JohnSmith2024!").
 * - Refusals carry a machine reason and a friendly sentence for the person choosing the password.
 */
import { isBlocklisted } from "./blocklist.js";

export interface PasswordPolicy {
  /** Shortest password for accounts with a second factor (code points after NFKC). */
  minLength: number;
  /** Shortest password for accounts whose only factor is the password. */
  minLengthWithoutSecondFactor: number;
  /** Longest password accepted (code points after NFKC). */
  maxLength: number;
}

export const DEFAULT_PASSWORD_POLICY: Readonly<PasswordPolicy> = Object.freeze({
  minLength: 8,
  minLengthWithoutSecondFactor: 15,
  maxLength: 128,
});

export type PasswordRejection =
  | "too_short"
  | "too_long"
  | "blocklisted"
  | "contains_context"
  | "invalid_characters";

export type PasswordCheck =
  | { ok: true; normalized: string }
  | { ok: false; reason: PasswordRejection; message: string };

export interface PasswordCheckOptions {
  policy: PasswordPolicy;
  hasSecondFactor: boolean;
  /** Words tied to the account, such as the user name and the e-mail local part. */
  context?: string[];
}

/** Context words shorter than this (in code points) are ignored. */
const MIN_CONTEXT_LENGTH = 4;
/** NFKC output has at least a quarter of the input's code points; a code point is at most 2 UTF-16 units. */
const RAW_UNITS_PER_CODE_POINT = 8;

const INVALID_CHARACTER = /[\p{Cc}\p{Cs}]/u;
const SEPARATORS = /[\p{P}\p{S}\p{Z}]+/gu;

/** NFKC form of a password: what gets checked, hashed and compared. */
export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function refuse(reason: PasswordRejection, message: string): PasswordCheck {
  return { ok: false, reason, message };
}

function contextWords(context: readonly string[]): string[] {
  const words = new Set<string>();
  for (const word of context) {
    const key = normalizePassword(word).toLowerCase().trim();
    for (const variant of [key, key.replace(SEPARATORS, "")]) {
      if (codePoints(variant) >= MIN_CONTEXT_LENGTH) words.add(variant);
    }
  }
  return [...words];
}

/** The shortest password the policy accepts, for an account with or without a second factor. */
export function minimumLength(policy: PasswordPolicy, hasSecondFactor: boolean): number {
  return hasSecondFactor ? policy.minLength : Math.max(policy.minLength, policy.minLengthWithoutSecondFactor);
}

/** Checks a new password against the policy; on success returns the normalised form to hash. */
export function checkPassword(password: string, options: PasswordCheckOptions): PasswordCheck {
  const { policy, hasSecondFactor } = options;
  const min = minimumLength(policy, hasSecondFactor);
  const tooLong = () => refuse("too_long", `Use at most ${policy.maxLength} characters.`);

  if (password.length > policy.maxLength * RAW_UNITS_PER_CODE_POINT) return tooLong();
  const normalized = normalizePassword(password);
  if (INVALID_CHARACTER.test(normalized)) {
    return refuse(
      "invalid_characters",
      "Passwords can't contain control characters such as tabs or line breaks. Spaces are fine.",
    );
  }
  const length = codePoints(normalized);
  if (length < min) return refuse("too_short", `Use at least ${min} characters.`);
  if (length > policy.maxLength) return tooLong();
  if (isBlocklisted(normalized)) {
    return refuse(
      "blocklisted",
      "This password is too common: it appears in lists of breached passwords. Choose another.",
    );
  }
  const lower = normalized.toLowerCase();
  if (contextWords(options.context ?? []).some((word) => lower.includes(word))) {
    return refuse(
      "contains_context",
      "Don't use your user name or e-mail address in your password. Choose another.",
    );
  }
  return { ok: true, normalized };
}
