/**
 * Multi-factor policy: which factors a user has, whether a second factor is required, and what a sign-in
 * proved (RFC 8176 `amr`, and the `acr` Tessera derives from it).
 *
 * - Factors: a confirmed TOTP authenticator (`otp`, software token: `swk` is not claimed, the secret is shared),
 *   WebAuthn credentials (`hwk`: a key bound to hardware or a passkey provider; `user` when user presence was
 *   tested, `pin` when the authenticator verified the user), recovery codes (`otp`-like one-time codes: `kba` is
 *   wrong, so Tessera records them as `otp` too, with the audit log telling them apart).
 * - A second factor is required when the user has any factor, when the user's `mfa_required` flag is set, or
 *   when the organisation requires it (`TESSERA_MFA_REQUIRED`).
 * - `acr`: `urn:tessera:acr:password` (one factor), `urn:tessera:acr:mfa` (two), `urn:tessera:acr:phishing-resistant`
 *   (WebAuthn: origin-bound). See `oauth/issuer.ts` `acrFor`.
 */
import type { Kysely } from "kysely";
import type { Clock } from "../lib/clock.js";
import type { Database } from "../storage/database.js";

export interface FactorSummary {
  totp: boolean;
  webauthn: number;
  recoveryCodes: number;
}

/** `amr` after a password and a second factor: the methods, plus `mfa` (RFC 8176 §2) when more than one factor. */
export function combineAmr(first: readonly string[], second: readonly string[]): string[] {
  const out = [...first];
  for (const m of second) if (!out.includes(m)) out.push(m);
  const factors = out.filter((m) => m !== "mfa" && m !== "user" && m !== "pin");
  if (factors.length > 1 && !out.includes("mfa")) out.push("mfa");
  return out;
}

export function createMfaPolicy(deps: { db: Kysely<Database>; clock: Clock; organisationRequires: boolean }) {
  const { db } = deps;
  return {
    async factors(userId: string): Promise<FactorSummary> {
      const [totp, keys, codes] = await Promise.all([
        db
          .selectFrom("totp_factors")
          .select("user_id")
          .where("user_id", "=", userId)
          .where("confirmed_at", "is not", null)
          .executeTakeFirst(),
        db
          .selectFrom("webauthn_credentials")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("user_id", "=", userId)
          .executeTakeFirstOrThrow(),
        db
          .selectFrom("recovery_codes")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("user_id", "=", userId)
          .where("used_at", "is", null)
          .executeTakeFirstOrThrow(),
      ]);
      return { totp: totp !== undefined, webauthn: Number(keys.n), recoveryCodes: Number(codes.n) };
    },

    /** The user's own flag or the organisation's. */
    async required(userId: string): Promise<boolean> {
      if (deps.organisationRequires) return true;
      const row = await db
        .selectFrom("users")
        .select("mfa_required")
        .where("id", "=", userId)
        .executeTakeFirst();
      return row?.mfa_required === 1;
    },

    async setRequired(userId: string, required: boolean): Promise<void> {
      await db
        .updateTable("users")
        .set({ mfa_required: required ? 1 : 0 })
        .where("id", "=", userId)
        .execute();
    },
  };
}

export type MfaPolicy = ReturnType<typeof createMfaPolicy>;

/** True when a session's sign-in is recent enough for a sensitive action. */
export function isFresh(authTime: number, now: number, maxAgeSeconds: number): boolean {
  return now - authTime <= maxAgeSeconds * 1000;
}
