/**
 * Recovery codes (src/mfa/recovery-codes.ts): the format and its normalisation as properties, then the service
 * on both dialects: ten unique codes, hashes only at rest, single use (also under concurrency), regeneration,
 * throttling shared with TOTP, and the audit trail.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TooManyAttemptsError } from "../../src/accounts/index.js";
import { hashToken } from "../../src/crypto/index.js";
import { SECOND_FACTOR_POLICY } from "../../src/mfa/attempts.js";
import {
  generateRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_CODE_ALPHABET,
  recoveryCodeHash,
} from "../../src/mfa/recovery-codes.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

const FORMAT = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;
const by = { actor: "test", ip: "192.0.2.9", userAgent: "vitest" };

/** Upper-cases some letters and puts spaces or dashes between some characters. */
const mangled = (code: string) =>
  fc
    .array(fc.tuple(fc.boolean(), fc.constantFrom("", "", " ", "-", "  ", "\t")), {
      minLength: code.length,
      maxLength: code.length,
    })
    .map((choices) =>
      [...code.replaceAll("-", "")]
        .map((c, i) => (choices[i]![0] ? c.toUpperCase() : c) + choices[i]![1])
        .join(""),
    );

describe("recovery code format", () => {
  it("uses 32 symbols without look-alikes: 12 of them are 60 bits", () => {
    expect(new Set(RECOVERY_CODE_ALPHABET).size).toBe(32);
    for (const c of "ilou") expect(RECOVERY_CODE_ALPHABET).not.toContain(c);
    expect(12 * Math.log2(RECOVERY_CODE_ALPHABET.length)).toBeGreaterThanOrEqual(60);
  });

  it("generates xxxx-xxxx-xxxx codes that normalise to their own 12 symbols", () => {
    for (let i = 0; i < 200; i++) {
      const code = generateRecoveryCode();
      expect(code).toMatch(FORMAT);
      expect(normaliseRecoveryCode(code)).toBe(code.replaceAll("-", ""));
    }
  });

  it("uses every symbol in every position (no bias towards part of the alphabet)", () => {
    const seen = Array.from({ length: 12 }, () => new Set<string>());
    for (let i = 0; i < 2_000; i++) {
      const symbols = generateRecoveryCode().replaceAll("-", "");
      for (let position = 0; position < symbols.length; position++) seen[position]!.add(symbols[position]!);
    }
    for (const symbols of seen) expect(symbols.size).toBe(32);
  });

  it("ignores case, spaces and dashes", () => {
    const typedCode = fc
      .array(fc.constantFrom(...RECOVERY_CODE_ALPHABET), { minLength: 12, maxLength: 12 })
      .map((symbols) => symbols.join(""))
      .chain((code) => mangled(code).map((typed) => ({ code, typed })));
    fc.assert(fc.property(typedCode, ({ code, typed }) => normaliseRecoveryCode(typed) === code));
  });

  it("reads o as 0 and i, l as 1 (Crockford)", () => {
    expect(normaliseRecoveryCode("OOOO-IIII-LLLL")).toBe("000011111111");
    expect(normaliseRecoveryCode("o0o0 i1l1 abcd")).toBe("00001111abcd");
  });

  it("refuses anything that is not 12 symbols of the alphabet", () => {
    for (const typed of [
      "",
      "abcd-efgh-jkm",
      "abcd-efgh-jkmnp",
      "abcd-efgh-jkmu",
      "abcd_efgh_jkmn",
      "ábcd-efgh-jkmn",
    ]) {
      expect(normaliseRecoveryCode(typed)).toBeUndefined();
    }
    expect(normaliseRecoveryCode(`${"-".repeat(100)}abcdefghjkmn`)).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (typed) => {
        const normalised = normaliseRecoveryCode(typed);
        return normalised === undefined || /^[0-9a-hjkmnp-tv-z]{12}$/.test(normalised);
      }),
    );
  });
});

describe.each(DIALECTS)("recovery codes (%s)", (dialect) => {
  let t: TestApp;
  let count = 0;
  const codes = () => t.ctx.mfa.recoveryCodes;

  async function newUser() {
    count += 1;
    const user = await t.ctx.accounts.users.create(
      { userName: `codes-user-${count}` },
      { actor: "test", authority: "admin" as const },
    );
    return user.id;
  }

  const storedHashes = async (userId: string) =>
    (
      await t.ctx.storage.db
        .selectFrom("recovery_codes")
        .select("code_hash")
        .where("user_id", "=", userId)
        .where("used_at", "is", null)
        .execute()
    )
      .map((r) => r.code_hash)
      .sort();

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: "https://id.example.test" } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("generates ten unique codes in the format", async () => {
    const userId = await newUser();
    const set = await codes().generate(userId, by);
    expect(set).toHaveLength(10);
    expect(new Set(set).size).toBe(10);
    for (const code of set) expect(code).toMatch(FORMAT);
    expect(await codes().remaining(userId)).toBe(10);
  });

  it("stores only hashes bound to the user", async () => {
    const userId = await newUser();
    const set = await codes().generate(userId, by);
    const rows = await t.ctx.storage.db
      .selectFrom("recovery_codes")
      .selectAll()
      .where("user_id", "=", userId)
      .execute();
    const dump = JSON.stringify(rows);
    for (const code of set) {
      const normalised = code.replaceAll("-", "");
      expect(dump).not.toContain(code);
      expect(dump).not.toContain(normalised);
      // Not the bare SHA-256 of the code either (that could be attacked for all users at once).
      expect(dump).not.toContain(hashToken(normalised));
    }
    expect(await storedHashes(userId)).toEqual(
      set.map((code) => recoveryCodeHash(userId, code.replaceAll("-", ""))).sort(),
    );
    expect(rows.every((r) => r.used_at === null && r.created_at === t.clock.now())).toBe(true);
  });

  it("accepts each code once", async () => {
    const userId = await newUser();
    const [first, second] = await codes().generate(userId, by);
    expect(await codes().verify(userId, first!, by)).toBe(true);
    expect(await codes().remaining(userId)).toBe(9);
    expect(await codes().verify(userId, first!, by)).toBe(false);
    expect(await codes().verify(userId, second!, by)).toBe(true);
    expect(await codes().remaining(userId)).toBe(8);
  });

  it("lets exactly one of two concurrent uses of one code pass", async () => {
    const userId = await newUser();
    const [code] = await codes().generate(userId, by);
    const results = await Promise.all([codes().verify(userId, code!, by), codes().verify(userId, code!, by)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await codes().remaining(userId)).toBe(9);
  });

  it("refuses another user's code", async () => {
    const owner = await newUser();
    const other = await newUser();
    const [code] = await codes().generate(owner, by);
    await codes().generate(other, by);
    expect(await codes().verify(other, code!, by)).toBe(false);
    expect(await codes().verify(owner, code!, by)).toBe(true);
  });

  it("accepts a code typed in capitals, with spaces instead of dashes, or without them", async () => {
    const userId = await newUser();
    const [a, b, c] = await codes().generate(userId, by);
    expect(await codes().verify(userId, a!.toUpperCase(), by)).toBe(true);
    expect(await codes().verify(userId, ` ${b!.replaceAll("-", " ")} `, by)).toBe(true);
    expect(await codes().verify(userId, c!.replaceAll("-", ""), by)).toBe(true);
  });

  it("kills the old set when new codes are generated", async () => {
    const userId = await newUser();
    const old = await codes().generate(userId, by);
    await codes().verify(userId, old[0]!, by);
    const fresh = await codes().generate(userId, by);
    expect(fresh.some((code) => old.includes(code))).toBe(false);
    expect(await codes().remaining(userId)).toBe(10);
    expect(await codes().verify(userId, old[1]!, by)).toBe(false);
    expect(await codes().verify(userId, fresh[0]!, by)).toBe(true);
  });

  it("leaves exactly one set when two regenerations race", async () => {
    const userId = await newUser();
    await codes().generate(userId, by);
    const [a, b] = await Promise.all([codes().generate(userId, by), codes().generate(userId, by)]);
    const hashes = (set: string[]) =>
      set.map((code) => recoveryCodeHash(userId, code.replaceAll("-", ""))).sort();
    const stored = await storedHashes(userId);
    expect(stored).toHaveLength(10);
    expect([hashes(a), hashes(b)]).toContainEqual(stored);
  });

  it("removes every code", async () => {
    const userId = await newUser();
    const [code] = await codes().generate(userId, by);
    await codes().removeAll(userId);
    expect(await codes().remaining(userId)).toBe(0);
    expect(await codes().verify(userId, code!, by)).toBe(false);
  });

  it("is throttled with the authenticator's per-user key", async () => {
    const userId = await newUser();
    const [code] = await codes().generate(userId, by);
    for (let i = 0; i < SECOND_FACTOR_POLICY.freeFailures; i++) {
      expect(await codes().verify(userId, "aaaa-bbbb-cccc", by)).toBe(false);
    }
    await expect(codes().verify(userId, code!, by)).rejects.toBeInstanceOf(TooManyAttemptsError);
    await expect(t.ctx.mfa.totp.verify(userId, "123456", by)).rejects.toBeInstanceOf(TooManyAttemptsError);
    // The blocked attempt did not use the code up.
    expect(await codes().remaining(userId)).toBe(10);
    t.clock.advance(SECOND_FACTOR_POLICY.baseDelayMs);
    expect(await codes().verify(userId, code!, by)).toBe(true);
  });

  it("records generation, use and failures in the audit log, never a code", async () => {
    const userId = await newUser();
    const first = await codes().generate(userId, by);
    const second = await codes().generate(userId, by);
    await codes().verify(userId, second[0]!, by);
    await codes().verify(userId, first[0]!, by);
    await codes().verify(userId, "not a code", by);
    const events = await t.ctx.accounts.audit.list({ userId });
    const ofType = (type: string) => events.filter((e) => e.type === type);
    expect(ofType("mfa.recovery_codes_generated").map((e) => e.details)).toEqual(
      expect.arrayContaining([
        { count: 10, replaced: 0 },
        { count: 10, replaced: 10 },
      ]),
    );
    expect(ofType("mfa.recovery_code_used")).toEqual([
      expect.objectContaining({
        outcome: "success",
        actor: "test",
        ip: "192.0.2.9",
        details: { remaining: 9 },
      }),
    ]);
    expect(ofType("mfa.recovery_code_failed").map((e) => e.details)).toEqual(
      expect.arrayContaining([{ reason: "unknown_or_used" }, { reason: "malformed" }]),
    );
    const text = JSON.stringify(events);
    for (const code of [...first, ...second]) {
      expect(text).not.toContain(code);
      expect(text).not.toContain(code.replaceAll("-", ""));
    }
  });
});
