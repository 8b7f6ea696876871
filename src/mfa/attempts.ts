/**
 * Throttling of guessable second-factor attempts (TOTP codes, recovery codes).
 *
 * - One key per user, scope `totp`, shared by TOTP and recovery codes: switching from one to the other buys no
 *   extra guesses.
 * - Five free failures, then 30 s, 1 min, 2 min … up to 15 min after each further failure; forgotten a day
 *   after the last one (a success clears it at once, so only a guesser waits that long). Never a permanent
 *   lock-out: the owner can always try again after the wait. A guesser gets about 100 attempts a day, each
 *   with 3 valid codes in a million (±1 step): about 3 in 10,000 a day against one account (RFC 6238 §5.2
 *   asks for throttling).
 * - Blocked attempts are refused before any check (TooManyAttemptsError) and not counted; a failure is
 *   counted; a success clears the counter.
 */
import {
  type Throttle,
  type ThrottleKey,
  type ThrottlePolicy,
  TooManyAttemptsError,
} from "../accounts/index.js";

export const SECOND_FACTOR_POLICY: ThrottlePolicy = Object.freeze({
  freeFailures: 5,
  baseDelayMs: 30_000,
  maxDelayMs: 15 * 60_000,
  decayMs: 24 * 60 * 60_000,
});

export function secondFactorKeys(userId: string): ThrottleKey[] {
  return [{ scope: "totp", id: userId, policy: SECOND_FACTOR_POLICY }];
}

/** Runs `attempt` unless the user is in a back-off window (then throws TooManyAttemptsError); counts the result. */
export async function throttledAttempt(
  throttle: Throttle,
  userId: string,
  attempt: () => Promise<boolean>,
): Promise<boolean> {
  const keys = secondFactorKeys(userId);
  const decision = await throttle.check(keys);
  if (!decision.allowed) throw new TooManyAttemptsError(decision.retryAfterMs);
  const ok = await attempt();
  if (ok) await throttle.reset(keys);
  else await throttle.recordFailure(keys);
  return ok;
}
