/**
 * The WebAuthn routes in-process (SQLite and PostgreSQL), with a software authenticator: registering a key from
 * a session and from a required enrolment, the second factor after the password (and its attempt limit), step-up,
 * passwordless sign-in with a passkey, renaming and removing keys, CSRF and freshness refusals, and the scripts.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { SoftAuthenticator } from "../helpers/webauthn-authenticator.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const PENDING = "__Host-tessera_mfa";

describe.each(DIALECTS)("WebAuthn routes on %s", (dialect) => {
  let t: TestApp;
  let count = 0;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const key = () => new SoftAuthenticator({ origin: ISSUER, rpId: "id.example.test" });

  async function newUser() {
    count += 1;
    const userName = `key-user-${count}`;
    const user = await t.ctx.accounts.users.create(
      { userName, password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    return { id: user.id, userName, displayName: user.displayName };
  }

  /** A JSON POST with the page client's cookies; keeps the cookies it answers with. */
  async function postJson(
    page: PageClient,
    url: string,
    body: unknown,
    options: { csrf?: string | null; origin?: string } = {},
  ): Promise<LightMyRequestResponse> {
    const csrf = options.csrf === undefined ? page.lastCsrf : options.csrf;
    const response = await t.app.inject({
      method: "POST",
      url,
      headers: {
        "content-type": "application/json",
        origin: options.origin ?? ISSUER,
        ...(csrf ? { "x-tessera-csrf": csrf } : {}),
        ...(page.cookies.size > 0
          ? { cookie: [...page.cookies].map(([k, v]) => `${k}=${v}`).join("; ") }
          : {}),
      },
      payload: JSON.stringify(body),
    });
    for (const c of response.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (c.maxAge === 0 || c.value === "") page.cookies.delete(c.name);
      else page.cookies.set(c.name, c.value);
    }
    return response;
  }

  async function password(page: PageClient, userName: string) {
    await page.get("/login");
    return page.post("/login", { username: userName, password: PASSWORD });
  }

  async function sessionOf(page: PageClient) {
    const token = page.cookies.get(SESSION);
    return token ? (await t.ctx.accounts.sessions.check(token))?.session : undefined;
  }

  /** Signed in with the password only (the user has no factor yet); `lastCsrf` is the session's token. */
  async function signedIn(userName: string) {
    const page = new PageClient(t.app, ISSUER);
    expect((await password(page, userName)).headers.location).toBe("/account");
    await page.get("/account");
    return page;
  }

  /** Registers a key through the routes for a signed-in page client. */
  async function registerKey(page: PageClient, k = key(), name = "Blue key") {
    const options = await postJson(page, "/account/security/keys/options", {});
    expect(options.statusCode, options.body).toBe(200);
    const done = await postJson(page, "/account/security/keys", {
      name,
      response: k.register(options.json().options),
    });
    expect(done.statusCode, done.body).toBe(200);
    return { k, answer: done.json() as { redirect: string } };
  }

  it("serves the registration page with same-origin scripts and a CSP that allows only them", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const answer = await page.get("/account/security/keys/new");
    expect(answer.statusCode).toBe(200);
    const csp = String(answer.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(answer.body).toContain('<script src="/assets/simplewebauthn-browser.js" defer></script>');
    expect(answer.body).toContain('<script src="/assets/webauthn-register.js" defer></script>');
    expect(answer.body).toMatch(/<form id="webauthn-register" data-csrf="[^"]+">/);
    expect(answer.body).not.toMatch(/<script>|<script [^s]|\son[a-z]+="/);
  });

  it("registers a key for a signed-in user, records hwk on the session and lists it on the security page", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const { k, answer } = await registerKey(page);
    expect(answer).toEqual({ redirect: "/account/security?done=key-added" });
    // Registration (attestation none) proves nothing about the signer: the session keeps its amr.
    expect((await sessionOf(page))?.amr).toEqual(["pwd"]);
    const security = await page.get("/account/security?done=key-added");
    expect(security.body).toContain("Blue key");
    expect(security.body).toContain(`/account/security/keys/${encodeURIComponent(k.credentialId)}/remove`);
    expect(await t.ctx.mfa.webauthn.list(user.id)).toHaveLength(1);
  });

  it("refuses the JSON endpoints without the CSRF header, with another one, or from another origin", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    for (const options of [{ csrf: null }, { csrf: "forged" }, { origin: "https://evil.example" }]) {
      const answer = await postJson(page, "/account/security/keys/options", {}, options);
      expect(answer.statusCode).toBe(403);
      expect(answer.json().error).toBe("invalid_request");
    }
    const anonymous = new PageClient(t.app, ISSUER);
    await anonymous.get("/login");
    const passkey = await postJson(anonymous, "/login/passkey/options", {}, { csrf: null });
    expect(passkey.statusCode).toBe(403);
    // The session's token is not the anonymous one.
    expect(
      (await postJson(anonymous, "/login/passkey/options", {}, { csrf: page.lastCsrf })).statusCode,
    ).toBe(403);
  });

  it("refuses unknown body fields", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const answer = await postJson(page, "/account/security/keys/options", { userId: "someone-else" });
    expect(answer.statusCode).toBe(400);
  });

  it("sends a stale sign-in to step-up before a key can be added", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    const form = await page.get("/account/security/keys/new");
    expect(form.statusCode).toBe(303);
    expect(form.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Fsecurity%2Fkeys%2Fnew");
    const options = await postJson(page, "/account/security/keys/options", {});
    expect(options.statusCode).toBe(403);
    expect(options.json().redirect).toBe("/login/step-up?return_to=%2Faccount%2Fsecurity%2Fkeys%2Fnew");
  });

  it("sends the browser to sign in when there is no session and no pending enrolment", async () => {
    const page = new PageClient(t.app, ISSUER);
    expect((await page.get("/account/security/keys/new")).headers.location).toBe("/login");
    const answer = await postJson(page, "/account/security/keys/options", {});
    expect(answer.statusCode).toBe(401);
    expect(answer.json().redirect).toBe("/login");
  });

  it("asks for the key after the password and completes the sign-in with pwd + hwk (mfa)", async () => {
    const user = await newUser();
    const { k } = await registerKey(await signedIn(user.userName));
    const page = new PageClient(t.app, ISSUER);
    const answer = await password(page, user.userName);
    expect(answer.headers.location).toBe("/login/verify");
    expect(page.cookies.has(SESSION)).toBe(false);
    const options = await postJson(page, "/login/webauthn/options", {});
    expect(options.statusCode, options.body).toBe(200);
    expect(options.json().options.allowCredentials).toEqual([
      expect.objectContaining({ id: k.credentialId, type: "public-key" }),
    ]);
    const done = await postJson(page, "/login/webauthn/verify", {
      response: k.assert(options.json().options),
    });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toEqual({ redirect: "/account" });
    expect((await sessionOf(page))?.amr).toEqual(["pwd", "hwk", "user", "pin", "mfa"]);
    expect(page.cookies.has(PENDING)).toBe(false);
    // The pending sign-in is used up: the same ceremony cannot complete another sign-in.
    expect((await postJson(page, "/login/webauthn/options", {})).statusCode).toBe(401);
  });

  it("counts refused assertions and ends the pending sign-in at the fifth", async () => {
    const user = await newUser();
    const { k } = await registerKey(await signedIn(user.userName));
    const page = new PageClient(t.app, ISSUER);
    await password(page, user.userName);
    const stranger = key();
    for (let i = 0; i < 4; i++) {
      const options = await postJson(page, "/login/webauthn/options", {});
      const refused = await postJson(page, "/login/webauthn/verify", {
        response: stranger.assert(options.json().options),
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toBe("webauthn_failed");
    }
    const options = await postJson(page, "/login/webauthn/options", {});
    const last = await postJson(page, "/login/webauthn/verify", {
      response: stranger.assert(options.json().options),
    });
    expect(last.statusCode).toBe(401);
    expect(last.json().redirect).toBe("/login");
    expect(page.cookies.has(PENDING)).toBe(false);
    // Even the right key no longer completes anything.
    const late = await postJson(page, "/login/webauthn/verify", {
      response: k.assert(options.json().options),
    });
    expect(late.statusCode).toBe(401);
    expect(page.cookies.has(SESSION)).toBe(false);
    const failures = await t.ctx.accounts.audit.list({ userId: user.id, type: "mfa.webauthn_failed" });
    expect(failures.length).toBeGreaterThanOrEqual(5);
  });

  it("renews a stale session with a key (step-up) and goes back to the page asked for", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const { k } = await registerKey(page);
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    await page.get("/account");
    const before = await sessionOf(page);
    const options = await postJson(page, "/login/step-up/webauthn/options", {});
    expect(options.statusCode, options.body).toBe(200);
    const done = await postJson(page, "/login/step-up/webauthn/verify", {
      response: k.assert(options.json().options),
      returnTo: "/account/security/keys/new",
    });
    expect(done.json()).toEqual({ redirect: "/account/security/keys/new" });
    const after = await sessionOf(page);
    expect(after?.authTime).toBe(t.clock.now());
    expect(after?.authTime).toBeGreaterThan(before?.authTime ?? 0);
    expect(after?.amr).toEqual(expect.arrayContaining(["pwd", "hwk", "pin", "mfa"]));
    expect((await page.get("/account/security/keys/new")).statusCode).toBe(200);
    // An open redirect is not followed.
    const next = await postJson(page, "/login/step-up/webauthn/options", {});
    const offsite = await postJson(page, "/login/step-up/webauthn/verify", {
      response: k.assert(next.json().options),
      returnTo: "//evil.example/",
    });
    expect(offsite.json()).toEqual({ redirect: "/account/security" });
  });

  it("refuses a step-up with another user's key", async () => {
    const user = await newUser();
    const other = await newUser();
    const page = await signedIn(user.userName);
    await registerKey(page);
    const { k: othersKey } = await registerKey(await signedIn(other.userName));
    const options = await postJson(page, "/login/step-up/webauthn/options", {});
    const refused = await postJson(page, "/login/step-up/webauthn/verify", {
      response: othersKey.assert(options.json().options),
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error).toBe("webauthn_failed");
  });

  it("signs in without a password with a passkey (amr hwk user pin mfa), to the return_to asked for", async () => {
    const user = await newUser();
    const { k } = await registerKey(await signedIn(user.userName));
    const page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    const options = await postJson(page, "/login/passkey/options", {});
    expect(options.statusCode, options.body).toBe(200);
    expect(options.json().options.userVerification).toBe("required");
    const done = await postJson(page, "/login/passkey/verify", {
      response: k.assert(options.json().options),
      returnTo: "/account/sessions",
    });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toEqual({ redirect: "/account/sessions" });
    const session = await sessionOf(page);
    expect(session?.amr).toEqual(["hwk", "user", "pin", "mfa"]);
    expect(session?.userId).toBe(user.id);
  });

  it("refuses a passkey without user verification, and a disabled user's passkey", async () => {
    const user = await newUser();
    const { k } = await registerKey(await signedIn(user.userName));
    const page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    const first = await postJson(page, "/login/passkey/options", {});
    const noPin = await postJson(page, "/login/passkey/verify", {
      response: k.assert(first.json().options, { userVerified: false }),
    });
    expect(noPin.statusCode).toBe(400);
    expect(page.cookies.has(SESSION)).toBe(false);

    await t.ctx.accounts.users.setActive(user.id, false, { actor: "test", authority: "admin" as const });
    const second = await postJson(page, "/login/passkey/options", {});
    const disabled = await postJson(page, "/login/passkey/verify", {
      response: k.assert(second.json().options),
    });
    expect(disabled.statusCode).toBe(400);
    expect(disabled.json().error).toBe("webauthn_failed");
    expect(page.cookies.has(SESSION)).toBe(false);
  });

  it("registers a key during a required enrolment, then signs in with it at /login/verify", async () => {
    const user = await newUser();
    await t.ctx.mfa.policy.setRequired(user.id, true);
    const page = new PageClient(t.app, ISSUER);
    expect((await password(page, user.userName)).headers.location).toBe("/login/enrol");
    const form = await page.get("/account/security/keys/new");
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('href="/login/enrol"');
    expect(form.body).not.toContain('action="/logout"');
    const csrf = /data-csrf="([^"]+)"/.exec(form.body)?.[1];
    expect(csrf).toBe(page.lastCsrf);
    const options = await postJson(page, "/account/security/keys/options", {});
    expect(options.statusCode, options.body).toBe(200);
    const authenticator = key();
    const done = await postJson(page, "/account/security/keys", {
      name: "",
      response: authenticator.register(options.json().options),
    });
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toEqual({ redirect: "/login/verify" });
    expect(await sessionOf(page)).toBeUndefined();
    expect((await t.ctx.mfa.webauthn.list(user.id))[0]?.name).toBe("Security key");
    // The new key's first assertion completes the sign-in.
    const verifyPage = await page.get("/login/verify");
    expect(verifyPage.body).toContain('id="webauthn-verify"');
    const assertion = await postJson(page, "/login/webauthn/options", {});
    expect(assertion.statusCode, assertion.body).toBe(200);
    const signedInNow = await postJson(page, "/login/webauthn/verify", {
      response: authenticator.assert(assertion.json().options),
    });
    expect(signedInNow.statusCode, signedInNow.body).toBe(200);
    expect(signedInNow.json()).toEqual({ redirect: "/account" });
    expect((await sessionOf(page))?.amr).toContain("hwk");
  });

  it("answers a refused registration with its error code", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const options = await postJson(page, "/account/security/keys/options", {});
    const wrongOrigin = new SoftAuthenticator({ origin: "https://evil.example", rpId: "id.example.test" });
    const refused = await postJson(page, "/account/security/keys", {
      name: "Evil",
      response: wrongOrigin.register(options.json().options),
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ error: "webauthn_failed" });
    expect(refused.json().error_description).not.toContain("evil.example");
  });

  it("renames and removes a key with the forms; after removal the password alone signs in again", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const { k } = await registerKey(page);
    await page.get("/account/security");
    const base = `/account/security/keys/${encodeURIComponent(k.credentialId)}`;
    const renamed = await page.post(`${base}/rename`, { name: "Office key" });
    expect(renamed.statusCode).toBe(303);
    expect(renamed.headers.location).toBe("/account/security?done=key-renamed");
    expect((await page.get("/account/security")).body).toContain("Office key");
    const badName = await page.post(`${base}/rename`, { name: "   " });
    expect(badName.statusCode).toBe(400);
    await page.get("/account/security");
    const forged = await page.post(`${base}/remove`, {}, { csrf: false });
    expect(forged.statusCode).toBe(403);
    expect(await t.ctx.mfa.webauthn.list(user.id)).toHaveLength(1);

    const removed = await page.post(`${base}/remove`, {});
    expect(removed.statusCode).toBe(303);
    expect(removed.headers.location).toBe("/account/security?done=key-removed");
    expect(await t.ctx.mfa.webauthn.list(user.id)).toEqual([]);
    await page.get("/account/security");
    expect((await page.post(`${base}/remove`, {})).statusCode).toBe(404);
    expect((await password(new PageClient(t.app, ISSUER), user.userName)).headers.location).toBe("/account");
  });

  it("does not let one user rename or remove another user's key", async () => {
    const owner = await newUser();
    const { k } = await registerKey(await signedIn(owner.userName));
    const other = await signedIn((await newUser()).userName);
    await other.get("/account");
    const base = `/account/security/keys/${encodeURIComponent(k.credentialId)}`;
    expect((await other.post(`${base}/rename`, { name: "Mine" })).statusCode).toBe(404);
    await other.get("/account");
    expect((await other.post(`${base}/remove`, {})).statusCode).toBe(404);
    expect((await t.ctx.mfa.webauthn.list(owner.id))[0]?.name).toBe("Blue key");
  });

  it("asks for a fresh sign-in before a key is renamed or removed", async () => {
    const user = await newUser();
    const page = await signedIn(user.userName);
    const { k } = await registerKey(page);
    t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
    await page.get("/account");
    const answer = await page.post(`/account/security/keys/${encodeURIComponent(k.credentialId)}/remove`, {});
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Fsecurity");
    expect(await t.ctx.mfa.webauthn.list(user.id)).toHaveLength(1);
  });

  it("serves the scripts as JavaScript with an ETag, and 304 for a copy the browser has", async () => {
    for (const path of [
      "/assets/simplewebauthn-browser.js",
      "/assets/webauthn-register.js",
      "/assets/webauthn-verify.js",
      "/assets/webauthn-step-up.js",
      "/assets/webauthn-passkey.js",
    ]) {
      const answer = await t.app.inject({ method: "GET", url: path });
      expect(answer.statusCode, path).toBe(200);
      expect(answer.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(answer.headers["cache-control"]).toBe("no-cache");
      const etag = String(answer.headers.etag);
      const again = await t.app.inject({ method: "GET", url: path, headers: { "if-none-match": etag } });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe("");
    }
    const bundle = await t.app.inject({ method: "GET", url: "/assets/simplewebauthn-browser.js" });
    expect(bundle.body).toContain("SimpleWebAuthnBrowser");
  });
});
