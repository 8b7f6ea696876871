/**
 * Pending sign-ins: the state between a correct password and the end of sign-in, when a second factor is due
 * (`verify`) or the policy requires a factor the user does not have yet (`enrol`).
 *
 * - No session exists yet: the browser holds a random 256-bit token in the `__Host-tessera_mfa` cookie
 *   (HttpOnly, SameSite=Lax, 10 minutes); the server stores its SHA-256 with the user, what was proven so far
 *   (`amr`), the sign-in's options and a counter of failed second-factor attempts (at most 5, then the pending
 *   sign-in is dropped and the user starts again with the password).
 * - Single use: `take` deletes the record in the statement that reads it, so one pending sign-in completes once.
 */
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { PendingSignInsRepository } from "../storage/index.js";

export const PENDING_FORMAT = { prefix: "tsr_mfa_", checksum: true } as const;
export const PENDING_TTL_MS = 10 * 60_000;
export const MAX_SECOND_FACTOR_ATTEMPTS = 5;

export interface PendingSignIn {
  tokenHash: string;
  userId: string;
  amr: string[];
  authTime: number;
  stage: "verify" | "enrol";
  remember: boolean;
  returnTo: string | null;
  attempts: number;
  expiresAt: number;
}

export interface PendingSignIns {
  create(input: {
    userId: string;
    amr: string[];
    stage: "verify" | "enrol";
    remember: boolean;
    returnTo: string | null;
  }): Promise<{ token: string; pending: PendingSignIn }>;
  /** The live pending sign-in for a cookie value, or undefined. */
  load(token: string | undefined): Promise<PendingSignIn | undefined>;
  /** Counts a failed attempt; false (and the record gone) once the limit is reached. */
  failedAttempt(pending: PendingSignIn): Promise<boolean>;
  /** Moves an enrolment-stage sign-in to the verify stage (its first factor now exists). */
  toVerifyStage(pending: PendingSignIn): Promise<void>;
  /** Consumes the pending sign-in (once): true when this call removed it. */
  take(pending: PendingSignIn): Promise<boolean>;
  purgeExpired(): Promise<number>;
}

export function createPendingSignIns(deps: {
  repository: PendingSignInsRepository;
  clock: Clock;
}): PendingSignIns {
  const { repository, clock } = deps;
  return {
    async create(input) {
      const token = generateOpaqueToken(PENDING_FORMAT);
      const now = clock.now();
      const row = {
        token_hash: hashToken(token),
        user_id: input.userId,
        amr: input.amr.join(" "),
        auth_time: now,
        stage: input.stage,
        remember: input.remember ? (1 as const) : (0 as const),
        return_to: input.returnTo,
        attempts: 0,
        expires_at: now + PENDING_TTL_MS,
      };
      await repository.insert(row);
      return {
        token,
        pending: {
          tokenHash: row.token_hash,
          userId: row.user_id,
          amr: input.amr,
          authTime: now,
          stage: input.stage,
          remember: input.remember,
          returnTo: input.returnTo,
          attempts: 0,
          expiresAt: row.expires_at,
        },
      };
    },

    async load(token) {
      if (!isWellFormedOpaqueToken(token, PENDING_FORMAT)) return undefined;
      const row = await repository.findByHash(hashToken(token));
      if (!row || Number(row.expires_at) <= clock.now()) return undefined;
      return {
        tokenHash: row.token_hash,
        userId: row.user_id,
        amr: row.amr.split(" ").filter(Boolean),
        authTime: Number(row.auth_time),
        stage: row.stage,
        remember: row.remember === 1,
        returnTo: row.return_to,
        attempts: row.attempts,
        expiresAt: Number(row.expires_at),
      };
    },

    async failedAttempt(pending) {
      if (await repository.countFailure(pending.tokenHash, MAX_SECOND_FACTOR_ATTEMPTS - 1)) return true;
      await repository.delete(pending.tokenHash);
      return false;
    },

    async toVerifyStage(pending) {
      await repository.setStage(pending.tokenHash, "verify");
    },

    take: (pending) => repository.take(pending.tokenHash, clock.now()),

    purgeExpired: () => repository.deleteExpired(clock.now()),
  };
}
