/**
 * "Same answer, same time" for an unknown user, a wrong password and a disabled account.
 *
 * Two independent checks:
 * 1. Structure: each path performs exactly one argon2id verification at the configured parameters (the
 *    unknown user against a dummy hash), so the expensive step cannot tell them apart.
 * 2. Measurement: interleaved rounds of the three cases; the medians must lie within noise of each other. The
 *    bound (slowest median < 3 × fastest) is loose on purpose — a missing dummy verification makes the
 *    unknown-user case ~50× faster — so machine load cannot make this flaky, while the leak it guards against
 *    cannot hide under it. (1.5× was seen to fail once in CI with other test files hashing on the same two
 *    cores: medians 12.6 / 20.1 / 14.0 ms.)
 */
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AccountError } from "../../src/lib/errors.js";
import { createTestAccounts, STRONG_PASSWORD, type TestAccounts } from "../helpers/accounts.js";

const ROUNDS = 15;
const CLI = { actor: "cli", authority: "admin" as const };

describe("sign-in timing does not reveal why it failed", () => {
  let t: TestAccounts;
  beforeAll(async () => {
    t = await createTestAccounts("sqlite");
    for (let i = 0; i < ROUNDS; i++) {
      await t.accounts.users.create({ userName: `wrong-${i}`, password: STRONG_PASSWORD }, CLI);
      const off = await t.accounts.users.create({ userName: `off-${i}`, password: STRONG_PASSWORD }, CLI);
      await t.accounts.users.setActive(off.id, false, CLI);
    }
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await t.close();
  });

  const attempt = async (userName: string, password: string, ip: string) => {
    const started = performance.now();
    const error = await t.accounts.signIn
      .signIn({ userName, password, ip, userAgent: null })
      .catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(AccountError);
    expect((error as AccountError).code).toBe("invalid_credentials");
    return elapsed;
  };

  it("each failure performs exactly one argon2id verification", async () => {
    const verify = vi.spyOn(t.accounts.hasher, "verify");
    const cases: [string, string][] = [
      ["no-such-user", STRONG_PASSWORD],
      ["wrong-0", "not the right password"],
      ["off-0", STRONG_PASSWORD],
    ];
    for (const [userName, password] of cases) {
      verify.mockClear();
      await attempt(userName, password, "198.51.100.200");
      expect(verify).toHaveBeenCalledTimes(1);
      const [storedHash] = verify.mock.calls[0]!;
      expect(storedHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    }
    verify.mockRestore();
  });

  it("the three cases take the same time within noise", async () => {
    const samples = { unknown: [] as number[], wrong: [] as number[], disabled: [] as number[] };
    // Warm up (the dummy hash is computed once, lazily).
    await attempt("warm-up-unknown", STRONG_PASSWORD, "198.51.100.250");
    for (let i = 0; i < ROUNDS; i++) {
      const order = [
        () =>
          attempt(`unknown-${i}`, STRONG_PASSWORD, `198.51.100.${i}`).then((ms) => samples.unknown.push(ms)),
        () =>
          attempt(`wrong-${i}`, "not the right password", `198.51.101.${i}`).then((ms) =>
            samples.wrong.push(ms),
          ),
        () => attempt(`off-${i}`, STRONG_PASSWORD, `198.51.102.${i}`).then((ms) => samples.disabled.push(ms)),
      ];
      // Rotate the order each round so drift hits all three alike.
      for (let k = 0; k < order.length; k++) await order[(k + i) % order.length]!();
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const medians = [median(samples.unknown), median(samples.wrong), median(samples.disabled)];
    const ratio = Math.max(...medians) / Math.min(...medians);
    console.info(
      `sign-in failure medians (ms): unknown ${medians[0]!.toFixed(1)}, wrong ${medians[1]!.toFixed(1)}, disabled ${medians[2]!.toFixed(1)}; ratio ${ratio.toFixed(2)}`,
    );
    expect(ratio).toBeLessThan(3);
  });
});
