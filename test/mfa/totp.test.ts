/**
 * TOTP software tokens (src/mfa/totp.ts): the RFC 6238 Appendix B vectors through Tessera's otpauth
 * configuration, then the service on both dialects with codes from an independent generator (oathtool) at the
 * test clock's time: the window, replay, concurrency, throttling, sealing at rest, enrolment and re-enrolment,
 * removal, and one test per refusal.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { Secret } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TooManyAttemptsError } from "../../src/accounts/index.js";
import type { AuditEventType } from "../../src/audit/index.js";
import { SECOND_FACTOR_POLICY } from "../../src/mfa/attempts.js";
import { matchTotpStep, totpFor, totpStep } from "../../src/mfa/totp.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

const ISSUER = "https://id.example.test";
const STEP_MS = 30_000;
const by = { actor: "test", ip: "192.0.2.7", userAgent: "vitest" };
const run = promisify(execFile);

interface Rfc6238Vectors {
  secretAscii: string;
  digits: number;
  vectors: { time: number; step: string; totp: string }[];
}

const RFC6238 = JSON.parse(
  readFileSync(new URL("../vectors/rfc6238-b-totp-sha1.json", import.meta.url), "utf8"),
) as Rfc6238Vectors;

/** The code Debian's oathtool computes for a base32 secret at an instant (epoch ms). */
async function oathtool(base32: string, at: number): Promise<string> {
  const { stdout } = await run("/usr/bin/oathtool", [
    "--totp",
    "-b",
    base32,
    "-N",
    `@${Math.floor(at / 1000)}`,
  ]);
  return stdout.trim();
}

/** A 6-digit code that no step within ±`spread` of `at` produces. */
async function wrongCode(base32: string, at: number, spread = 2): Promise<string> {
  const valid = new Set<string>();
  for (let d = -spread; d <= spread; d++) valid.add(await oathtool(base32, at + d * STEP_MS));
  for (let n = 0; ; n++) {
    const candidate = String(n * 7919).padStart(6, "0");
    if (!valid.has(candidate)) return candidate;
  }
}

describe("RFC 6238 Appendix B (SHA-1)", () => {
  const secret = Buffer.from(RFC6238.secretAscii, "ascii");

  it.each(RFC6238.vectors)("T = $time s gives $totp", ({ time, step, totp }) => {
    const at = time * 1000;
    expect(totpStep(at)).toBe(Number.parseInt(step, 16));
    expect(totpFor(secret, { digits: RFC6238.digits }).generate({ timestamp: at })).toBe(totp);
    expect(matchTotpStep(secret, totp, at, { digits: RFC6238.digits })).toBe(Number.parseInt(step, 16));
  });

  it("refuses the same code one step later than its window", () => {
    const [first] = RFC6238.vectors;
    expect(matchTotpStep(secret, first!.totp, (first!.time + 2 * 30) * 1000, { digits: 8 })).toBeUndefined();
  });
});

describe.each(DIALECTS)("TOTP (%s)", (dialect) => {
  let t: TestApp;
  let count = 0;
  /** The start of a time step, plus 5 s: codes are computed at well-defined steps. */
  let base: number;

  const totp = () => t.ctx.mfa.totp;

  async function newUser() {
    count += 1;
    const user = await t.ctx.accounts.users.create(
      { userName: `totp-user-${count}` },
      { actor: "test", authority: "admin" as const },
    );
    return { id: user.id, userName: user.userName };
  }

  /** An enrolled user; the confirming code was the step at `base`, and the clock is one step later. */
  async function enrolled() {
    const user = await newUser();
    t.clock.set(base);
    const { secret } = await totp().beginEnrolment(user, by);
    expect(await totp().confirmEnrolment(user.id, await oathtool(secret, t.clock.now()), by)).toBe(true);
    t.clock.advance(STEP_MS);
    return { user, secret };
  }

  const codeAt = (secret: string, steps = 0) => oathtool(secret, t.clock.now() + steps * STEP_MS);

  async function events(userId: string, type: AuditEventType) {
    return t.ctx.accounts.audit.list({ userId, type });
  }

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    base = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
  });
  afterAll(async () => {
    await t.close();
  });

  it("begins enrolment with a 20-byte secret, an otpauth URI (SHA1, 6 digits, 30 s) and a QR code", async () => {
    const user = await newUser();
    const { secret, uri, qrSvg } = await totp().beginEnrolment(user, by);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(uri);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(decodeURIComponent(url.pathname)).toBe(`/id.example.test:${user.userName}`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      issuer: "id.example.test",
      secret,
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(qrSvg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>.*<\/svg>\s*$/s);
  });

  it("accepts codes from oathtool at the matching clock time", async () => {
    const user = await newUser();
    t.clock.set(base);
    const { secret } = await totp().beginEnrolment(user, by);
    expect(await totp().confirmEnrolment(user.id, await codeAt(secret), by)).toBe(true);
    for (let i = 1; i <= 3; i++) {
      t.clock.set(base + i * STEP_MS + 11_000);
      expect(await totp().verify(user.id, await codeAt(secret), by)).toBe(true);
    }
  });

  it("accepts a code of the previous and of the next step, refuses one two steps away", async () => {
    const { user, secret } = await enrolled();
    t.clock.advance(10 * STEP_MS);
    expect(await totp().verify(user.id, await codeAt(secret, -2), by)).toBe(false);
    expect(await totp().verify(user.id, await codeAt(secret, 2), by)).toBe(false);
    expect(await totp().verify(user.id, await codeAt(secret, -1), by)).toBe(true);
    expect(await totp().verify(user.id, await codeAt(secret, 0), by)).toBe(true);
    expect(await totp().verify(user.id, await codeAt(secret, 1), by)).toBe(true);
    const failures = await events(user.id, "mfa.totp_failed");
    expect(failures.map((e) => e.details)).toEqual([
      { stage: "verify", reason: "wrong_code" },
      { stage: "verify", reason: "wrong_code" },
    ]);
  });

  it("refuses a code whose step was already used (replay)", async () => {
    const { user, secret } = await enrolled();
    const code = await codeAt(secret);
    expect(await totp().verify(user.id, code, by)).toBe(true);
    expect(await totp().verify(user.id, code, by)).toBe(false);
    // Still refused later in the window, while the code is otherwise valid.
    t.clock.advance(STEP_MS);
    expect(await totp().verify(user.id, code, by)).toBe(false);
    const [replay] = await events(user.id, "mfa.totp_failed");
    expect(replay).toMatchObject({ outcome: "failure", actor: "test", ip: "192.0.2.7" });
    expect(replay!.details).toEqual({ stage: "verify", reason: "replayed" });
  });

  it("refuses an earlier step after a later one was used", async () => {
    const { user, secret } = await enrolled();
    expect(await totp().verify(user.id, await codeAt(secret, 1), by)).toBe(true);
    expect(await totp().verify(user.id, await codeAt(secret, 0), by)).toBe(false);
    expect(await totp().verify(user.id, await codeAt(secret, -1), by)).toBe(false);
  });

  it("refuses the code that confirmed the enrolment", async () => {
    const user = await newUser();
    t.clock.set(base);
    const { secret } = await totp().beginEnrolment(user, by);
    const code = await codeAt(secret);
    expect(await totp().confirmEnrolment(user.id, code, by)).toBe(true);
    expect(await totp().verify(user.id, code, by)).toBe(false);
  });

  it("lets exactly one of two concurrent verifications of one code pass", async () => {
    const { user, secret } = await enrolled();
    const code = await codeAt(secret);
    const results = await Promise.all([totp().verify(user.id, code, by), totp().verify(user.id, code, by)]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("throttles after five failures, then accepts a correct code once the back-off has passed", async () => {
    const { user, secret } = await enrolled();
    const wrong = await wrongCode(secret, t.clock.now());
    for (let i = 0; i < SECOND_FACTOR_POLICY.freeFailures; i++) {
      expect(await totp().verify(user.id, wrong, by)).toBe(false);
    }
    // Blocked: even a correct code is not checked (nor counted, nor used up).
    const correct = await codeAt(secret);
    await expect(totp().verify(user.id, correct, by)).rejects.toBeInstanceOf(TooManyAttemptsError);
    await expect(totp().confirmEnrolment(user.id, correct, by)).rejects.toBeInstanceOf(TooManyAttemptsError);
    t.clock.advance(SECOND_FACTOR_POLICY.baseDelayMs - 1_000);
    await expect(totp().verify(user.id, correct, by)).rejects.toThrow(TooManyAttemptsError);
    t.clock.advance(1_000);
    expect(await totp().verify(user.id, await codeAt(secret), by)).toBe(true);
    // A success clears the counter: the next failure is free again.
    expect(await totp().verify(user.id, wrong, by)).toBe(false);
    expect(await totp().verify(user.id, await codeAt(secret, 1), by)).toBe(true);
  });

  it("doubles the back-off with each further failure, and never locks out for good", async () => {
    const { user, secret } = await enrolled();
    const wrong = await wrongCode(secret, t.clock.now(), 3);
    for (let i = 0; i < SECOND_FACTOR_POLICY.freeFailures + 1; i++) {
      if (i === SECOND_FACTOR_POLICY.freeFailures) t.clock.advance(SECOND_FACTOR_POLICY.baseDelayMs);
      expect(await totp().verify(user.id, wrong, by)).toBe(false);
    }
    const blocked = await totp()
      .verify(user.id, wrong, by)
      .catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(TooManyAttemptsError);
    expect((blocked as TooManyAttemptsError).retryAfterSeconds).toBe(
      (2 * SECOND_FACTOR_POLICY.baseDelayMs) / 1000,
    );
    t.clock.advance(SECOND_FACTOR_POLICY.maxDelayMs);
    expect(await totp().verify(user.id, await codeAt(secret), by)).toBe(true);
  });

  it("stores the secret sealed: neither base32 nor raw bytes appear in the table", async () => {
    const user = await newUser();
    const { secret } = await totp().beginEnrolment(user, by);
    const raw = Buffer.from(Secret.fromBase32(secret).bytes);
    expect(raw).toHaveLength(20);
    const rows = await t.ctx.storage.db.selectFrom("totp_factors").selectAll().execute();
    const dump = JSON.stringify(rows);
    for (const form of [
      secret,
      secret.toLowerCase(),
      raw.toString("hex"),
      raw.toString("base64"),
      raw.toString("base64url"),
      raw.toString("latin1"),
    ]) {
      expect(dump).not.toContain(form);
    }
    const row = rows.find((r) => r.user_id === user.id)!;
    expect(row.secret_sealed).toMatch(/^v1\./);
    // Bound to the row: the same ciphertext does not open as another user's.
    expect(() => t.ctx.masterKey.open(row.secret_sealed, `totp-secret:${user.id}x`)).toThrow();
    const opened = JSON.parse(
      t.ctx.masterKey.open(row.secret_sealed, `totp-secret:${user.id}`).toString("utf8"),
    );
    expect(Buffer.from(opened.candidate, "base64url").equals(raw)).toBe(true);
  });

  it("is not enrolled until a correct code confirms it", async () => {
    const user = await newUser();
    t.clock.set(base);
    expect(await totp().status(user.id)).toEqual({ enrolled: false, pending: false });
    const { secret } = await totp().beginEnrolment(user, by);
    expect(await totp().status(user.id)).toEqual({ enrolled: false, pending: true });
    expect((await t.ctx.mfa.policy.factors(user.id)).totp).toBe(false);
    // Not a factor yet: a code of the unconfirmed secret does not verify.
    expect(await totp().verify(user.id, await codeAt(secret), by)).toBe(false);
    expect(await totp().confirmEnrolment(user.id, await wrongCode(secret, t.clock.now()), by)).toBe(false);
    expect(await totp().status(user.id)).toEqual({ enrolled: false, pending: true });
    expect(await totp().confirmEnrolment(user.id, await codeAt(secret), by)).toBe(true);
    expect(await totp().status(user.id)).toEqual({ enrolled: true, pending: false });
    expect((await t.ctx.mfa.policy.factors(user.id)).totp).toBe(true);
    const failures = await events(user.id, "mfa.totp_failed");
    expect(failures.map((e) => e.details)).toEqual(
      expect.arrayContaining([
        { stage: "verify", reason: "not_enrolled" },
        { stage: "enrol", reason: "wrong_code" },
      ]),
    );
    const [enrolledEvent] = await events(user.id, "mfa.totp_enrolled");
    expect(enrolledEvent).toMatchObject({ outcome: "success", actor: "test", details: { replaced: false } });
  });

  it("refuses to confirm without an enrolment in progress", async () => {
    const { user, secret } = await enrolled();
    expect(await totp().confirmEnrolment(user.id, await codeAt(secret), by)).toBe(false);
    const [failure] = await events(user.id, "mfa.totp_failed");
    expect(failure!.details).toEqual({ stage: "enrol", reason: "no_enrolment" });
  });

  it("keeps the old authenticator through a re-enrolment until the new one is confirmed", async () => {
    const { user, secret: old } = await enrolled();
    const { secret: next } = await totp().beginEnrolment(user, by);
    expect(next).not.toBe(old);
    expect(await totp().status(user.id)).toEqual({ enrolled: true, pending: true });
    expect(await totp().verify(user.id, await codeAt(old), by)).toBe(true);
    // The old authenticator's code does not confirm the new one.
    expect(await totp().confirmEnrolment(user.id, await codeAt(old, 1), by)).toBe(false);
    t.clock.advance(STEP_MS);
    expect(await totp().confirmEnrolment(user.id, await codeAt(next), by)).toBe(true);
    expect(await totp().status(user.id)).toEqual({ enrolled: true, pending: false });
    t.clock.advance(STEP_MS);
    expect(await totp().verify(user.id, await codeAt(old), by)).toBe(false);
    expect(await totp().verify(user.id, await codeAt(next), by)).toBe(true);
    const replaced = await events(user.id, "mfa.totp_enrolled");
    expect(replaced.map((e) => e.details.replaced).sort()).toEqual([false, true]);
  });

  it("confirms only the newest of two enrolments started in turn", async () => {
    const user = await newUser();
    t.clock.set(base);
    const first = await totp().beginEnrolment(user, by);
    const second = await totp().beginEnrolment(user, by);
    expect(await totp().confirmEnrolment(user.id, await codeAt(first.secret), by)).toBe(false);
    expect(await totp().confirmEnrolment(user.id, await codeAt(second.secret), by)).toBe(true);
  });

  it("ignores spaces in a code and refuses anything but six digits", async () => {
    const { user, secret } = await enrolled();
    for (const malformed of ["", "12345", `${await codeAt(secret)}0`, "12a456", "١٢٣٤٥٦"]) {
      expect(await totp().verify(user.id, malformed, by)).toBe(false);
    }
    t.clock.advance(SECOND_FACTOR_POLICY.baseDelayMs);
    const code = await codeAt(secret);
    expect(await totp().verify(user.id, ` ${code.slice(0, 3)} ${code.slice(3)} `, by)).toBe(true);
  });

  it("removes the authenticator: codes stop working, the removal is audited", async () => {
    const { user, secret } = await enrolled();
    expect(await totp().remove(user.id, by)).toBe(true);
    expect(await totp().status(user.id)).toEqual({ enrolled: false, pending: false });
    expect(await totp().verify(user.id, await codeAt(secret), by)).toBe(false);
    expect(await totp().remove(user.id, by)).toBe(false);
    const removed = await events(user.id, "mfa.totp_removed");
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ outcome: "success", actor: "test", details: { confirmed: true } });
  });

  it("never writes a code into the audit log", async () => {
    const { user, secret } = await enrolled();
    const code = await codeAt(secret);
    await totp().verify(user.id, code, by);
    await totp().verify(user.id, code, by);
    const all = await t.ctx.accounts.audit.list({ userId: user.id });
    expect(all.length).toBeGreaterThan(1);
    expect(JSON.stringify(all)).not.toContain(code);
  });
});
