/**
 * The multi-factor sign-in flow through the real pages (SQLite and PostgreSQL): pending sign-in after the
 * password, `/login/verify` with an authenticator code or a recovery code, the attempt limit, required
 * enrolment, step-up for sensitive actions, the admin API's per-user policy and reset, and what OpenID Connect
 * clients see (amr, acr, acr_values).
 * Codes are computed with `otpauth` from the secret the enrolment page shows (oathtool cross-checks the same
 * algorithm in test/mfa/totp tests).
 */
import * as oidc from "openid-client";
import { Secret, TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/cb";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const PENDING = "__Host-tessera_mfa";

describe.each(DIALECTS)("multi-factor sign-in on %s", (dialect) => {
  let t: TestApp;
  let count = 0;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t.close();
  });

  async function newUser() {
    count += 1;
    const userName = `mfa-user-${count}`;
    const user = await t.ctx.accounts.users.create(
      { userName, password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    return { id: user.id, userName };
  }

  /** Enrols an authenticator through the domain; answers a code generator at the test clock's time. */
  async function withTotp(user: { id: string; userName: string }) {
    const by = { actor: "test", authority: "admin" as const };
    const { secret } = await t.ctx.mfa.totp.beginEnrolment(user, by);
    const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
    const code = (offsetSteps = 0) => totp.generate({ timestamp: t.clock.now() + offsetSteps * 30_000 });
    expect(await t.ctx.mfa.totp.confirmEnrolment(user.id, code(), by)).toBe(true);
    // The confirming code's step is used up: later codes come from the next steps.
    t.clock.advance(30_000);
    return code;
  }

  async function password(page: PageClient, userName: string, returnTo?: string) {
    await page.get(returnTo ? `/login?return_to=${encodeURIComponent(returnTo)}` : "/login");
    return page.post("/login", {
      username: userName,
      password: PASSWORD,
      ...(returnTo ? { return_to: returnTo } : {}),
    });
  }

  async function sessionOf(page: PageClient) {
    const token = page.cookies.get(SESSION);
    return token ? (await t.ctx.accounts.sessions.check(token))?.session : undefined;
  }

  it("signs a user without factors straight in (amr pwd)", async () => {
    const user = await newUser();
    const page = new PageClient(t.app, ISSUER);
    const answer = await password(page, user.userName);
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe("/account");
    expect((await sessionOf(page))?.amr).toEqual(["pwd"]);
    expect(page.cookies.has(PENDING)).toBe(false);
  });

  it("asks a user with an authenticator for a code before any session exists", async () => {
    const user = await newUser();
    const code = await withTotp(user);
    const page = new PageClient(t.app, ISSUER);
    const answer = await password(page, user.userName, "/account/sessions");
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe("/login/verify");
    expect(page.cookies.has(SESSION)).toBe(false);
    expect(page.cookies.get(PENDING)).toMatch(/^tsr_mfa_/);
    // The pending sign-in is not a session: account pages still send the browser to sign in.
    expect((await page.get("/account")).headers.location).toMatch(/^\/login/);

    const form = await page.get("/login/verify");
    expect(form.statusCode).toBe(200);
    expect(form.body).toMatch(
      /<input[^>]*name="code"[^>]*inputmode="numeric"[^>]*autocomplete="one-time-code"/,
    );

    const wrong = await page.post("/login/verify", { code: code(5) });
    expect(wrong.statusCode).toBe(401);
    expect(page.cookies.has(SESSION)).toBe(false);

    const right = await page.post("/login/verify", { code: code() });
    expect(right.statusCode).toBe(303);
    expect(right.headers.location).toBe("/account/sessions");
    const session = await sessionOf(page);
    expect(session?.amr).toEqual(["pwd", "otp", "mfa"]);
    expect(page.cookies.has(PENDING)).toBe(false);

    // The same code again (another browser that saw it): replay refused.
    const thief = new PageClient(t.app, ISSUER);
    await password(thief, user.userName);
    await thief.get("/login/verify");
    expect((await thief.post("/login/verify", { code: code() })).statusCode).toBe(401);
    const failures = await t.ctx.accounts.audit.list({ userId: user.id, type: "mfa.totp_failed" });
    expect(failures.length).toBeGreaterThanOrEqual(2);
  });

  it("drops the pending sign-in after five wrong codes: the password is needed again", async () => {
    const user = await newUser();
    const code = await withTotp(user);
    const page = new PageClient(t.app, ISSUER);
    await password(page, user.userName);
    await page.get("/login/verify");
    const bad = String((Number(code()) + 1) % 1_000_000).padStart(6, "0");
    for (let i = 0; i < 4; i++)
      expect((await page.post("/login/verify", { code: bad })).statusCode).toBe(401);
    const last = await page.post("/login/verify", { code: bad });
    expect(last.body).toContain("Sign in again");
    expect(page.cookies.has(PENDING)).toBe(false);
    // Even the right code no longer completes anything.
    const after = await page.post("/login/verify", { code: code() });
    expect(after.statusCode).toBe(303);
    expect(after.headers.location).toBe("/login");
    expect(page.cookies.has(SESSION)).toBe(false);
  });

  it("accepts a recovery code once, instead of the authenticator", async () => {
    const user = await newUser();
    await withTotp(user);
    const [first] = await t.ctx.mfa.recoveryCodes.generate(user.id, { actor: "test" });
    const page = new PageClient(t.app, ISSUER);
    await password(page, user.userName);
    const form = await page.get("/login/verify");
    expect(form.body).toContain('name="recovery_code"');
    const used = await page.post("/login/verify", { recovery_code: first! });
    expect(used.statusCode).toBe(303);
    expect((await sessionOf(page))?.amr).toContain("mfa");

    const again = new PageClient(t.app, ISSUER);
    await password(again, user.userName);
    await again.get("/login/verify");
    expect((await again.post("/login/verify", { recovery_code: first! })).statusCode).toBe(401);
  });

  it("leads a user who must use MFA but has no factor to enrol before the sign-in completes", async () => {
    const user = await newUser();
    const put = await t.app.inject({
      method: "PUT",
      url: `/admin/users/${user.id}/mfa`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: { required: true },
    });
    expect(put.statusCode, put.body).toBe(200);
    expect(put.json()).toMatchObject({ required: true, totp: false, securityKeys: [] });
    const page = new PageClient(t.app, ISSUER);
    const answer = await password(page, user.userName);
    expect(answer.headers.location).toBe("/login/enrol");
    expect(page.cookies.has(SESSION)).toBe(false);
    const enrol = await page.get("/login/enrol");
    expect(enrol.body).toContain('href="/account/security/totp"');
    expect(enrol.body).toContain('href="/account/security/keys/new"');

    // Enrolling an authenticator app from the pending sign-in completes it.
    const setup = await page.get("/account/security/totp");
    expect(setup.statusCode, setup.body.slice(0, 300)).toBe(200);
    const secret = /([A-Z2-7]{32})/.exec(setup.body.replace(/\s+/g, ""))?.[1];
    expect(secret).toBeDefined();
    const totp = new TOTP({ secret: Secret.fromBase32(secret!), algorithm: "SHA1", digits: 6, period: 30 });
    const done = await page.post("/account/security/totp", {
      code: totp.generate({ timestamp: t.clock.now() }),
    });
    expect([200, 303]).toContain(done.statusCode);
    expect((await sessionOf(page))?.amr).toEqual(["pwd", "otp", "mfa"]);
    expect((await t.ctx.mfa.policy.factors(user.id)).totp).toBe(true);
  });

  it("asks for a fresh proof before sensitive actions, and renews the sign-in time", async () => {
    const user = await newUser();
    const code = await withTotp(user);
    const page = new PageClient(t.app, ISSUER);
    await password(page, user.userName);
    await page.get("/login/verify");
    await page.post("/login/verify", { code: code() });
    expect((await page.get("/account/password")).statusCode).toBe(200);

    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    const stale = await page.get("/account/password");
    expect(stale.statusCode).toBe(303);
    expect(stale.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Fpassword");
    const stepUp = await page.get(stale.headers.location as string);
    expect(stepUp.body).toContain('autocomplete="one-time-code"');
    expect(stepUp.body).toContain('autocomplete="current-password"');

    expect(
      (await page.post("/login/step-up", { return_to: "/account/password", password: "wrong" })).statusCode,
    ).toBe(401);
    const confirmed = await page.post("/login/step-up", { return_to: "/account/password", code: code() });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe("/account/password");
    const session = await sessionOf(page);
    expect(session?.authTime).toBe(t.clock.now());
    // The stronger sign-in is kept: a step-up never lowers the amr.
    expect(session?.amr).toEqual(["pwd", "otp", "mfa"]);
    expect((await page.get("/account/password")).statusCode).toBe(200);
    // An off-site return_to is not followed.
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    const offsite = await page.post("/login/step-up", {
      return_to: "https://evil.example.test/",
      password: PASSWORD,
    });
    expect(offsite.headers.location).toBe("/account/security");
  });

  it("tells relying parties what the sign-in proved, and honours acr_values", async () => {
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "RP",
      redirectUris: [CALLBACK],
      firstParty: true,
      scope: "openid",
    });
    const config = await discover(t.app, ISSUER, client.id, secret);
    const flow = async (page: PageClient, user: { userName: string }, acr?: string, code?: () => string) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: "openid",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        ...(acr ? { acr_values: acr } : {}),
      });
      // Walk the pages by hand where a second factor comes in.
      let response = await page.get(url.pathname + url.search);
      for (let hops = 0; hops < 12; hops++) {
        const location = String(response.headers.location ?? "");
        if (response.statusCode === 303 && location.startsWith(CALLBACK)) {
          return oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: verifier });
        }
        if (response.statusCode === 303 || response.statusCode === 302) {
          response = await page.get(location);
          continue;
        }
        if (response.body.includes('action="/login"')) {
          const returnTo = /name="return_to" value="([^"]+)"/
            .exec(response.body)?.[1]
            ?.replaceAll("&amp;", "&");
          response = await page.post("/login", {
            username: user.userName,
            password: PASSWORD,
            ...(returnTo ? { return_to: returnTo } : {}),
          });
          continue;
        }
        if (response.body.includes('action="/login/verify"') && code) {
          response = await page.post("/login/verify", { code: code() });
          continue;
        }
        throw new Error(`unexpected page ${response.statusCode}: ${response.body.slice(0, 200)}`);
      }
      throw new Error("too many hops");
    };

    const strong = await newUser();
    const code = await withTotp(strong);
    const mfaTokens = await flow(new PageClient(t.app, ISSUER), strong, undefined, () => code());
    expect(mfaTokens.claims()).toMatchObject({ acr: "urn:tessera:acr:mfa", amr: ["pwd", "otp", "mfa"] });

    // A password-only session asked for MFA signs in again once; a user with a factor then proves it.
    t.clock.advance(30_000);
    const weakUser = await newUser();
    const page = new PageClient(t.app, ISSUER);
    await password(page, weakUser.userName);
    const sessionBefore = await sessionOf(page);
    const weak = await flow(page, weakUser, "urn:tessera:acr:mfa");
    // That user has no factor: one re-sign-in (a new session), then the token says what was achieved, no loop.
    expect(weak.claims()?.acr).toBe("urn:tessera:acr:password");
    expect((await sessionOf(page))?.id).not.toBe(sessionBefore?.id);

    // A password-only session (signed in before enrolling) asked for acr mfa: the re-sign-in proves the factor.
    const page2 = new PageClient(t.app, ISSUER);
    const strong2 = await newUser();
    await password(page2, strong2.userName);
    expect((await sessionOf(page2))?.amr).toEqual(["pwd"]);
    const code2 = await withTotp(strong2);
    const upgraded = await flow(page2, strong2, "urn:tessera:acr:mfa", () => code2());
    expect(upgraded.claims()).toMatchObject({ acr: "urn:tessera:acr:mfa" });
  });

  it("lets an admin see and reset a user's factors", async () => {
    const user = await newUser();
    await withTotp(user);
    await t.ctx.mfa.recoveryCodes.generate(user.id, { actor: "test" });
    const page = new PageClient(t.app, ISSUER);
    await password(page, user.userName);
    const headers = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const seen = await t.app.inject({ url: `/admin/users/${user.id}/mfa`, headers });
    expect(seen.json()).toMatchObject({
      required: false,
      totp: true,
      recoveryCodesLeft: 10,
      securityKeys: [],
    });
    const reset = await t.app.inject({ method: "DELETE", url: `/admin/users/${user.id}/mfa`, headers });
    expect(reset.statusCode).toBe(200);
    expect(reset.json()).toMatchObject({ totp: false, recoveryCodesLeft: 0 });
    expect((await t.ctx.accounts.audit.list({ userId: user.id, type: "mfa.reset" })).length).toBe(1);
    const fresh = new PageClient(t.app, ISSUER);
    expect((await password(fresh, user.userName)).headers.location).toBe("/account");
    expect((await t.app.inject({ url: "/admin/users/nobody/mfa", headers })).statusCode).toBe(404);
  });
});
