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
import type { Clock } from "../lib/clock.js";
import type { MfaRepositories } from "./types.js";

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

export function createMfaPolicy(deps: {
  repositories: Pick<MfaRepositories, "totpFactors" | "webauthnCredentials" | "recoveryCodes" | "users">;
  clock: Clock;
  organisationRequires: boolean;
}) {
  const { totpFactors, webauthnCredentials, recoveryCodes, users } = deps.repositories;
  return {
    async factors(userId: string): Promise<FactorSummary> {
      const [totp, webauthn, codes] = await Promise.all([
        totpFactors.hasConfirmed(userId),
        webauthnCredentials.countOf(userId),
        recoveryCodes.countUnused(userId),
      ]);
      return { totp, webauthn, recoveryCodes: codes };
    },

    /** The user's own flag or the organisation's. */
    async required(userId: string): Promise<boolean> {
      if (deps.organisationRequires) return true;
      return users.mfaRequired(userId);
    },

    async setRequired(userId: string, required: boolean): Promise<void> {
      await users.setMfaRequired(userId, required);
    },
  };
}

export type MfaPolicy = ReturnType<typeof createMfaPolicy>;

/** True when a session's sign-in is recent enough for a sensitive action. */
export function isFresh(authTime: number, now: number, maxAgeSeconds: number): boolean {
  return now - authTime <= maxAgeSeconds * 1000;
}
