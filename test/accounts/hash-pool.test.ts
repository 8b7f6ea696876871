import { hash as libHash, verify as libVerify } from "@node-rs/argon2";
import { afterAll, describe, expect, it } from "vitest";
import { createHashPool } from "../../src/accounts/passwords/hash-pool.js";

const OPTIONS = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32 };

describe("argon2id hash pool (low-priority worker threads)", () => {
  const pool = createHashPool({ threads: 2 });
  afterAll(async () => {
    await pool.close();
  });

  it("hashes what the library verifies, and verifies what the library hashed", async () => {
    const fromPool = await pool.hash("pässwörd ünïcode 🔑", OPTIONS);
    expect(fromPool).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await libVerify(fromPool, "pässwörd ünïcode 🔑")).toBe(true);
    const fromLib = await libHash("another secret", OPTIONS);
    expect(await pool.verify(fromLib, "another secret")).toBe(true);
    expect(await pool.verify(fromLib, "another secreT")).toBe(false);
  });

  it("runs many jobs concurrently across its threads, each answered correctly", async () => {
    const hashes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.hash(`password-${i}`, OPTIONS)),
    );
    const verdicts = await Promise.all(
      hashes.flatMap((h, i) => [pool.verify(h, `password-${i}`), pool.verify(h, `password-${i + 1}`)]),
    );
    expect(verdicts).toEqual(hashes.flatMap(() => [true, false]));
  });

  it("reports a malformed hash as an error, not a crash of the pool", async () => {
    await expect(pool.verify("$argon2id$v=19$m=19456,t=2,p=1$AAAA$", "x")).rejects.toThrow(/argon2/);
    expect(await pool.verify(await pool.hash("still works", OPTIONS), "still works")).toBe(true);
  });

  it("refuses work after close", async () => {
    const closing = createHashPool({ threads: 1 });
    await closing.hash("warm", OPTIONS);
    await closing.close();
    await expect(closing.hash("late", OPTIONS)).rejects.toThrow(/closed/);
  });
});
