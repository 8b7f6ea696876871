/**
 * The authenticator-app and recovery-code pages (src/http/routes/mfa-totp.ts) through `app.inject`, SQLite and
 * PostgreSQL: enrolment from the account pages (sign-in, freshness, QR code and key, the code input, confirm,
 * recovery codes shown once), enrolment inside a sign-in that requires it, removal, regeneration, and one test
 * per refusal (CSRF, stale sign-in, wrong code, throttling, last required factor, no factor).
 * Codes come from oathtool (an independent implementation) at the test clock's time.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECOND_FACTOR_POLICY } from "../../src/mfa/attempts.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const PENDING = "__Host-tessera_mfa";
const ENROL = "/account/security/totp";
const STEP_MS = 30_000;
const run = promisify(execFile);

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

/** The base32 key the enrolment page shows (grouped in fours). */
function secretOn(page: LightMyRequestResponse): string {
  const shown = /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)?.[1];
  expect(shown, "the key on the page").toBeDefined();
  return shown!.replaceAll(" ", "");
}

function recoveryCodesOn(page: LightMyRequestResponse): string[] {
  return [...page.body.matchAll(/<li><code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})<\/code><\/li>/g)].map(
    (m) => m[1]!,
  );
}

describe.each(DIALECTS)("authenticator app pages on %s", (dialect) => {
  let t: TestApp;
  let count = 0;
  let base: number;

  async function newUser() {
    count += 1;
    const user = await t.ctx.accounts.users.create(
      { userName: `totp-page-${count}`, password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    return { id: user.id, userName: user.userName };
  }

  async function password(page: PageClient, userName: string) {
    await page.get("/login");
    return page.post("/login", { username: userName, password: PASSWORD });
  }

  async function signedIn() {
    const user = await newUser();
    const page = new PageClient(t.app, ISSUER);
    const answer = await password(page, user.userName);
    expect(answer.headers.location).toBe("/account");
    return { user, page };
  }

  async function sessionOf(page: PageClient) {
    const token = page.cookies.get(SESSION);
    return token ? (await t.ctx.accounts.sessions.check(token))?.session : undefined;
  }

  /** A signed-in user who set up an authenticator through the pages; the clock is one step past the confirmation. */
  async function enrolled() {
    const { user, page } = await signedIn();
    const secret = secretOn(await page.get(ENROL));
    const done = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) });
    expect(done.statusCode, done.body.slice(0, 400)).toBe(200);
    t.clock.advance(STEP_MS);
    return { user, page, secret, codes: recoveryCodesOn(done) };
  }

  const wrongCode = async (secret: string) => {
    const valid = new Set<string>();
    for (let d = -2; d <= 2; d++) valid.add(await oathtool(secret, t.clock.now() + d * STEP_MS));
    return ["111111", "222222", "333333"].find((c) => !valid.has(c))!;
  };

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    base = Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000;
    t.clock.set(base);
  });
  afterAll(async () => {
    await t.close();
  });

  it("sends a signed-out browser to sign in", async () => {
    const page = await t.app.inject({ url: ENROL });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe("/login");
    for (const url of [`${ENROL}/remove`, "/account/security/recovery-codes"]) {
      const post = await t.app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ISSUER },
        payload: "csrf=x",
      });
      expect(post.statusCode).toBe(303);
      expect(post.headers.location).toBe("/login?return_to=%2Faccount%2Fsecurity");
    }
  });

  it("shows the QR code, the key and a one-time-code input", async () => {
    const { user, page } = await signedIn();
    const setup = await page.get(ENROL);
    expect(setup.statusCode).toBe(200);
    expect(setup.headers["cache-control"]).toBe("no-store");
    expect(String(setup.headers["content-security-policy"])).toContain("default-src 'none'");
    expect(setup.body).toMatch(
      /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*role="img" aria-labelledby="qr-label"[^>]*><path /,
    );
    expect(setup.body).toContain('id="qr-label"');
    expect(setup.body).not.toMatch(/<script/i);
    const secret = secretOn(setup);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.body).toContain(`secret=${secret}`);
    const input = /<input[^>]*name="code"[^>]*>/.exec(setup.body)?.[0] ?? "";
    for (const attribute of [
      'autocomplete="one-time-code"',
      'inputmode="numeric"',
      'pattern="[0-9]*"',
      'maxlength="6"',
      'type="text"',
      "required",
    ]) {
      expect(input).toContain(attribute);
    }
    expect(setup.body).toContain(`<form method="post" action="${ENROL}">`);
    expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: false, pending: true });
  });

  it("sends a stale sign-in to step-up before showing a key", async () => {
    const { user, page } = await signedIn();
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    const stale = await page.get(ENROL);
    expect(stale.statusCode).toBe(303);
    expect(stale.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Fsecurity%2Ftotp");
    expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: false, pending: false });
  });

  it("confirms with a correct code: ten recovery codes shown once, and the sign-in stepped up", async () => {
    const { user, page } = await signedIn();
    const secret = secretOn(await page.get(ENROL));
    t.clock.advance(40_000);
    const before = page.cookies.get(SESSION);
    const done = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) });
    expect(done.statusCode).toBe(200);
    expect(done.headers["cache-control"]).toBe("no-store");
    const codes = recoveryCodesOn(done);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(done.body).toContain("They will not be shown again.");
    expect(done.body).toContain('href="/account/security"');
    expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: true, pending: false });
    expect(await t.ctx.mfa.recoveryCodes.remaining(user.id)).toBe(10);
    // The user just proved the factor: the session records it (new token, auth time now, amr with otp).
    expect(page.cookies.get(SESSION)).not.toBe(before);
    const session = await sessionOf(page);
    expect(session?.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(session?.authTime).toBe(t.clock.now());
    // Nothing shows the codes again.
    expect((await page.get("/account/security/recovery-codes")).statusCode).toBe(404);
    expect(await t.ctx.mfa.recoveryCodes.verify(user.id, codes[0]!, { actor: "test" })).toBe(true);
  });

  it("asks again after a wrong code (400), keeping the key the app already holds", async () => {
    const { user, page } = await signedIn();
    const secret = secretOn(await page.get(ENROL));
    const empty = await page.post(ENROL, { code: "" });
    expect(empty.statusCode).toBe(400);
    const wrong = await page.post(ENROL, { code: await wrongCode(secret) });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.body).toContain('role="alert"');
    expect(wrong.body).toContain("That code is not right.");
    expect(wrong.body).toMatch(/aria-describedby="code-hint form-error"/);
    // No new key: the one already scanned still confirms.
    expect(wrong.body).not.toContain('id="totp-secret"');
    expect(wrong.body).toContain(`<a href="${ENROL}">Start again</a>`);
    expect((await t.ctx.mfa.totp.status(user.id)).enrolled).toBe(false);
    const done = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) });
    expect(done.statusCode).toBe(200);
    expect(recoveryCodesOn(done)).toHaveLength(10);
  });

  it("answers 429 with Retry-After after repeated wrong codes", async () => {
    const { page } = await signedIn();
    const secret = secretOn(await page.get(ENROL));
    const wrong = await wrongCode(secret);
    for (let i = 0; i < SECOND_FACTOR_POLICY.freeFailures; i++) {
      expect((await page.post(ENROL, { code: wrong })).statusCode).toBe(400);
    }
    const blocked = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers["retry-after"]).toBe(String(SECOND_FACTOR_POLICY.baseDelayMs / 1000));
    t.clock.advance(SECOND_FACTOR_POLICY.baseDelayMs);
    expect((await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) })).statusCode).toBe(200);
  });

  it("refuses forms without their CSRF token (403) and changes nothing", async () => {
    const { user, page, secret, codes } = await enrolled();
    await page.get(ENROL);
    const confirm = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) }, { csrf: false });
    expect(confirm.statusCode).toBe(403);
    const forged = await page.post(ENROL, { csrf: "forged", code: "123456" });
    expect(forged.statusCode).toBe(403);
    expect((await page.post(`${ENROL}/remove`, {}, { csrf: false })).statusCode).toBe(403);
    expect((await page.post("/account/security/recovery-codes", {}, { csrf: false })).statusCode).toBe(403);
    expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: true, pending: true });
    expect(await t.ctx.mfa.recoveryCodes.verify(user.id, codes[0]!, { actor: "test" })).toBe(true);
  });

  it("replaces an authenticator: the old one works until the new one is confirmed, the codes stay", async () => {
    const { user, page, secret: old } = await enrolled();
    const setup = await page.get(ENROL);
    expect(setup.body).toContain("Replace your authenticator app");
    expect(setup.body).toContain("keeps working until you confirm the new one");
    const next = secretOn(setup);
    expect(await t.ctx.mfa.totp.verify(user.id, await oathtool(old, t.clock.now()), { actor: "test" })).toBe(
      true,
    );
    t.clock.advance(STEP_MS);
    const done = await page.post(ENROL, { code: await oathtool(next, t.clock.now()) });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe("/account/security?done=totp-enrolled");
    expect(await t.ctx.mfa.recoveryCodes.remaining(user.id)).toBe(10);
    t.clock.advance(STEP_MS);
    expect(await t.ctx.mfa.totp.verify(user.id, await oathtool(old, t.clock.now()), { actor: "test" })).toBe(
      false,
    );
    expect(await t.ctx.mfa.totp.verify(user.id, await oathtool(next, t.clock.now()), { actor: "test" })).toBe(
      true,
    );
  });

  it("removes the authenticator and, with no other factor left, the recovery codes", async () => {
    const { user, page } = await enrolled();
    await page.get(ENROL);
    const removed = await page.post(`${ENROL}/remove`, {});
    expect(removed.statusCode).toBe(303);
    expect(removed.headers.location).toBe("/account/security?done=totp-removed");
    expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: false, pending: false });
    expect(await t.ctx.mfa.recoveryCodes.remaining(user.id)).toBe(0);
    const [event] = await t.ctx.accounts.audit.list({ userId: user.id, type: "mfa.totp_removed" });
    expect(event).toMatchObject({ outcome: "success", actor: `user:${user.id}`, ip: "127.0.0.1" });
  });

  it("sends a stale sign-in to step-up before removing", async () => {
    const { user, page } = await enrolled();
    await page.get(ENROL);
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    const stale = await page.post(`${ENROL}/remove`, {});
    expect(stale.statusCode).toBe(303);
    expect(stale.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Fsecurity");
    expect((await t.ctx.mfa.totp.status(user.id)).enrolled).toBe(true);
  });

  it("refuses to remove the only factor of a user who must use one (409)", async () => {
    const { user, page } = await enrolled();
    await t.ctx.mfa.policy.setRequired(user.id, true);
    await page.get(ENROL);
    const refused = await page.post(`${ENROL}/remove`, {});
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain("Two-step verification is required for your account");
    expect((await t.ctx.mfa.totp.status(user.id)).enrolled).toBe(true);
    expect(await t.ctx.mfa.recoveryCodes.remaining(user.id)).toBe(10);
  });

  it("regenerates recovery codes: shown once, the old set dies", async () => {
    const { user, page, codes: old } = await enrolled();
    await page.get(ENROL);
    const fresh = await page.post("/account/security/recovery-codes", {});
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers["cache-control"]).toBe("no-store");
    expect(fresh.body).toContain("Your old codes no longer work.");
    const codes = recoveryCodesOn(fresh);
    expect(codes).toHaveLength(10);
    expect(codes.some((c) => old.includes(c))).toBe(false);
    const by = { actor: "test", authority: "admin" as const };
    expect(await t.ctx.mfa.recoveryCodes.verify(user.id, old[0]!, by)).toBe(false);
    expect(await t.ctx.mfa.recoveryCodes.verify(user.id, codes[0]!, by)).toBe(true);
    const events = await t.ctx.accounts.audit.list({ userId: user.id, type: "mfa.recovery_codes_generated" });
    expect(events.map((e) => e.details.replaced).sort()).toEqual([0, 10]);
  });

  it("refuses to generate recovery codes for a user without a second factor (409)", async () => {
    const { user, page } = await signedIn();
    await page.get(ENROL);
    const refused = await page.post("/account/security/recovery-codes", {});
    expect(refused.statusCode).toBe(409);
    expect(await t.ctx.mfa.recoveryCodes.remaining(user.id)).toBe(0);
  });

  describe("inside a sign-in that requires a second factor", () => {
    async function pendingEnrolment() {
      const user = await newUser();
      await t.ctx.mfa.policy.setRequired(user.id, true);
      const page = new PageClient(t.app, ISSUER);
      const answer = await password(page, user.userName);
      expect(answer.headers.location).toBe("/login/enrol");
      expect(page.cookies.has(PENDING)).toBe(true);
      return { user, page };
    }

    it("enrols, shows the recovery codes once and completes the sign-in", async () => {
      const { user, page } = await pendingEnrolment();
      const setup = await page.get(ENROL);
      expect(setup.statusCode).toBe(200);
      // Not signed in yet: no account navigation, no sign-out form.
      expect(setup.body).not.toContain('action="/logout"');
      expect(setup.body).toContain('href="/login/enrol"');
      const secret = secretOn(setup);
      expect((await page.post(ENROL, { code: await wrongCode(secret) })).statusCode).toBe(400);
      expect(page.cookies.has(SESSION)).toBe(false);
      const done = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) });
      expect(done.statusCode).toBe(200);
      expect(done.headers["cache-control"]).toBe("no-store");
      expect(recoveryCodesOn(done)).toHaveLength(10);
      expect(done.body).toContain('<a class="button" href="/account">Continue</a>');
      expect(page.cookies.has(PENDING)).toBe(false);
      expect((await sessionOf(page))?.amr).toEqual(["pwd", "otp", "mfa"]);
      expect((await page.get("/account")).statusCode).toBe(200);
      expect((await t.ctx.mfa.policy.factors(user.id)).totp).toBe(true);
    });

    it("refuses a form without the sign-in's CSRF token (403)", async () => {
      const { user, page } = await pendingEnrolment();
      const secret = secretOn(await page.get(ENROL));
      const forged = await page.post(ENROL, { code: await oathtool(secret, t.clock.now()) }, { csrf: false });
      expect(forged.statusCode).toBe(403);
      expect(page.cookies.has(SESSION)).toBe(false);
      expect((await t.ctx.mfa.totp.status(user.id)).enrolled).toBe(false);
    });

    it("is not open to a sign-in that is waiting for a code", async () => {
      const { user, page, secret } = await enrolled();
      expect(page.cookies.has(SESSION)).toBe(true);
      const other = new PageClient(t.app, ISSUER);
      const answer = await password(other, user.userName);
      expect(answer.headers.location).toBe("/login/verify");
      const setup = await other.get(ENROL);
      expect(setup.statusCode).toBe(303);
      expect(setup.headers.location).toBe("/login");
      expect(setup.body).not.toContain(secret);
      expect(await t.ctx.mfa.totp.status(user.id)).toEqual({ enrolled: true, pending: false });
    });
  });
});
