/**
 * WebAuthn challenges (`webauthn_challenges`): what the server asked an authenticator to sign.
 *
 * - 32 random bytes, base64url; the row's id is the SHA-256 of the challenge, so a response's challenge is found
 *   by primary key and the table never needs a second index.
 * - Bound to a purpose (`register`, `authenticate`, `passwordless`) and, except for passwordless sign-in, to
 *   the user it was issued for: a challenge issued to one user or ceremony is refused in another.
 * - Single use: `consume` is one conditional `DELETE … WHERE id AND purpose AND user AND expires_at > now`; the
 *   deleted-row count decides, so two responses racing with one challenge cannot both pass.
 * - Five minutes at most (`CHALLENGE_TTL_MS`, also the ceremony's `timeout`); `Mfa.purgeExpired` removes the
 *   rest.
 */
import { randomBytes } from "node:crypto";
import { hashToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { WebAuthnChallengeRow, WebAuthnChallengesRepository } from "../storage/index.js";

export const CHALLENGE_TTL_MS = 5 * 60_000;

export type ChallengePurpose = WebAuthnChallengeRow["purpose"];

export interface ChallengeStore {
  /** A new challenge (base64url) for this purpose and user (null: passwordless, no user known yet). */
  issue(purpose: ChallengePurpose, userId: string | null): Promise<string>;
  /** True once: when this call removed the live challenge issued for this purpose and user. */
  consume(challenge: string, purpose: ChallengePurpose, userId: string | null): Promise<boolean>;
}

export function createChallengeStore(deps: {
  repository: WebAuthnChallengesRepository;
  clock: Clock;
}): ChallengeStore {
  const { repository, clock } = deps;
  return {
    async issue(purpose, userId) {
      const challenge = randomBytes(32).toString("base64url");
      await repository.insert({
        id: hashToken(challenge),
        user_id: userId,
        purpose,
        challenge,
        expires_at: clock.now() + CHALLENGE_TTL_MS,
      });
      return challenge;
    },

    async consume(challenge, purpose, userId) {
      if (typeof challenge !== "string" || !/^[A-Za-z0-9_-]{16,128}$/.test(challenge)) return false;
      return repository.consume(hashToken(challenge), purpose, userId, clock.now());
    },
  };
}
