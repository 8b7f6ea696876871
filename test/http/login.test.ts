import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { OutboxMailer } from "../../src/mail/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";

describe("sign-in pages (https issuer)", () => {
  let t: TestApp;
  let userId: string;
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        {
          userName: "pat",
          displayName: "Pat Doe",
          emails: [{ value: "pat@example.test", type: "work", primary: true }],
          password: PASSWORD,
        },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  async function signIn(client = new PageClient(t.app, ISSUER), remember = false) {
    await client.get("/login");
    const response = await client.post("/login", {
      username: "pat",
      password: PASSWORD,
      ...(remember ? { remember: "on" } : {}),
    });
    expect(response.statusCode).toBe(303);
    return client;
  }

  it("serves the form with password-manager autocomplete, a CSRF field and a strict page CSP", async () => {
    const client = new PageClient(t.app, ISSUER);
    const page = await client.get("/login");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain('autocomplete="username webauthn"');
    expect(page.body).toContain('autocomplete="current-password"');
    // Scripts only as same-origin files (the passkey button), never inline.
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.map((m) => /src="([^"]+)"/.exec(m[1] ?? "")?.[1])).toEqual([
      "/assets/simplewebauthn-browser.js",
      "/assets/webauthn-common.js",
      "/assets/webauthn-passkey.js",
    ]);
    expect(scripts.every((m) => (m[2] ?? "").trim() === "")).toBe(true);
    expect(client.lastCsrf).toBeDefined();
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Not no-referrer: with it Chromium sends `Origin: null` on the form post and the origin check fails.
    expect(page.headers["referrer-policy"]).toBe("same-origin");
    const csrfCookie = (page.cookies as { name: string; httpOnly?: boolean; secure?: boolean }[]).find(
      (c) => c.name === "__Host-tessera_csrf",
    );
    expect(csrfCookie).toMatchObject({ httpOnly: true, secure: true });
  });

  it("signs in: 303 to /account and a __Host- session cookie (HttpOnly, Secure, SameSite=Lax, Path=/)", async () => {
    const client = new PageClient(t.app, ISSUER);
    await client.get("/login");
    const response = await client.post("/login", { username: "PAT", password: PASSWORD });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe("/account");
    const cookie = (response.cookies as Record<string, unknown>[]).find((c) => c.name === SESSION)!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax", path: "/" });
    expect(cookie.domain).toBeUndefined();
    expect(cookie.maxAge).toBeUndefined();
    const account = await client.get("/account");
    expect(account.statusCode).toBe(200);
    expect(account.body).toContain("Pat Doe");
  });

  it("a remembered sign-in sets a cookie for 14 days", async () => {
    const client = new PageClient(t.app, ISSUER);
    await client.get("/login");
    const response = await client.post("/login", { username: "pat", password: PASSWORD, remember: "on" });
    const cookie = (response.cookies as Record<string, unknown>[]).find((c) => c.name === SESSION)!;
    expect(cookie.maxAge).toBe(14 * 24 * 3600);
  });

  it("one message, in place, for a wrong password and an unknown user; the password is never echoed", async () => {
    const bodies: string[] = [];
    for (const [username, ip] of [
      ["pat", "192.0.2.10"],
      ["nobody-here", "192.0.2.11"],
    ] as const) {
      const client = new PageClient(t.app, ISSUER, ip);
      await client.get("/login");
      const response = await client.post("/login", { username, password: "Wrong-Password-123!" });
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain("The user name or password is incorrect.");
      expect(response.body).not.toContain("Wrong-Password-123!");
      expect(response.body).toContain(`value="${username}"`);
      bodies.push(response.body.replace(/(value|data-csrf)="[^"]*"/g, ""));
    }
    expect(bodies[0]).toBe(bodies[1]);
  });

  it("refuses a sign-in without the CSRF token, with a forged one, or from another origin", async () => {
    const client = new PageClient(t.app, ISSUER, "192.0.2.20");
    await client.get("/login");
    const missing = await client.post("/login", { username: "pat", password: PASSWORD }, { csrf: false });
    expect(missing.statusCode).toBe(403);
    const forged = await client.post("/login", { username: "pat", password: PASSWORD, csrf: "A".repeat(43) });
    expect(forged.statusCode).toBe(403);
    const crossSite = await client.post(
      "/login",
      { username: "pat", password: PASSWORD },
      { headers: { origin: "https://evil.example" } },
    );
    expect(crossSite.statusCode).toBe(403);
    // Browsers send `Origin: null` from opaque origins (sandboxed frames, data: URLs): refused too.
    const nullOrigin = await client.post(
      "/login",
      { username: "pat", password: PASSWORD },
      { headers: { origin: "null" } },
    );
    expect(nullOrigin.statusCode).toBe(403);
    const fetchSite = await client.post(
      "/login",
      { username: "pat", password: PASSWORD },
      { headers: { origin: "", "sec-fetch-site": "cross-site" } },
    );
    expect(fetchSite.statusCode).toBe(403);
    // A token minted for another browser's CSRF cookie does not work with ours.
    const other = new PageClient(t.app, ISSUER);
    await other.get("/login");
    const swapped = await client.post("/login", {
      username: "pat",
      password: PASSWORD,
      csrf: other.lastCsrf!,
    });
    expect(swapped.statusCode).toBe(403);
    for (const r of [missing, forged, crossSite, nullOrigin, fetchSite, swapped]) {
      expect(r.cookies.find((c: { name: string }) => c.name === SESSION)).toBeUndefined();
    }
  });

  it("follows a same-site return_to and ignores off-site ones (no open redirect)", async () => {
    for (const [returnTo, expected] of [
      ["/account/sessions", "/account/sessions"],
      ["//evil.example/x", "/account"],
      ["https://evil.example/", "/account"],
      ["/\\evil.example", "/account"],
    ] as const) {
      const client = new PageClient(t.app, ISSUER);
      await client.get("/login");
      const response = await client.post("/login", {
        username: "pat",
        password: PASSWORD,
        return_to: returnTo,
      });
      expect(response.headers.location).toBe(expected);
    }
  });

  it("renews the session at sign-in: the session the browser already had ends", async () => {
    const client = await signIn();
    const first = client.cookies.get(SESSION)!;
    await signIn(client);
    const second = client.cookies.get(SESSION)!;
    expect(second).not.toBe(first);
    const old = await t.app.inject({ url: "/session", headers: { cookie: `${SESSION}=${first}` } });
    expect(old.statusCode).toBe(401);
  });

  it("GET /session answers the user and expiry for a live cookie, 401 otherwise", async () => {
    const client = await signIn();
    const response = await client.get("/session");
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.user).toEqual({ id: userId, userName: "pat", displayName: "Pat Doe" });
    expect(body.session.amr).toEqual(["pwd"]);
    expect(body.session.expires_at).toBe(Math.floor((t.clock.now() + 30 * 60_000) / 1000));
    expect(JSON.stringify(body)).not.toContain(client.cookies.get(SESSION)!);
    // The first check read the database; the second is answered from the session cache, identically.
    const again = await client.get("/session");
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(body);
    const anonymous = await t.app.inject({ url: "/session" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().error).toBe("unauthorized");
    expect(anonymous.headers["www-authenticate"]).toBe('Session realm="tessera"');
    const forged = await t.app.inject({ url: "/session", headers: { cookie: `${SESSION}=tsr_ses_forged` } });
    expect(forged.statusCode).toBe(401);
    expect(forged.json()).toEqual({ error: "unauthorized", error_description: "No live session." });
  });

  it("pages need a session: /account redirects to /login with return_to", async () => {
    const response = await t.app.inject({ url: "/account/sessions" });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe("/login?return_to=%2Faccount%2Fsessions");
  });

  it("signs out with a CSRF-checked POST: the session dies on the server", async () => {
    const client = await signIn();
    const token = client.cookies.get(SESSION)!;
    await client.get("/account");
    const refused = await client.post("/logout", {}, { csrf: false });
    expect(refused.statusCode).toBe(403);
    const out = await client.post("/logout", {});
    expect(out.statusCode).toBe(200);
    expect(client.cookies.has(SESSION)).toBe(false);
    const after = await t.app.inject({ url: "/session", headers: { cookie: `${SESSION}=${token}` } });
    expect(after.statusCode).toBe(401);
    const events = await t.ctx.accounts.audit.list({ userId, type: "signout" });
    expect(events.length).toBeGreaterThan(0);
  });

  it("lists sessions per device and revokes another one, which stops working at once", async () => {
    const laptop = await signIn(new PageClient(t.app, ISSUER, "198.51.100.7"));
    const phone = new PageClient(t.app, ISSUER, "198.51.100.8");
    await phone.get("/login", {
      "user-agent":
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    });
    await phone.post(
      "/login",
      { username: "pat", password: PASSWORD },
      {
        headers: {
          "user-agent":
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        },
      },
    );
    expect((await phone.get("/session")).statusCode).toBe(200);
    const list = await laptop.get("/account/sessions");
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain("198.51.100.8");
    expect(list.body).toContain("Safari");
    expect(list.body).toContain("iOS");
    const phoneSession = (await phone.get("/session")).json().session.id as string;
    const revoke = await laptop.post(`/account/sessions/${phoneSession}/revoke`, {});
    expect(revoke.statusCode).toBe(303);
    expect((await phone.get("/session")).statusCode).toBe(401);
    expect((await laptop.get("/session")).statusCode).toBe(200);
  });

  it("a revoke without CSRF, or of another user's session, changes nothing", async () => {
    const mine = await signIn();
    const theirsUser = await t.ctx.accounts.users.create(
      { userName: "quinn", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    const theirs = await t.ctx.accounts.sessions.create({
      userId: theirsUser.id,
      amr: ["pwd"],
      remember: false,
    });
    await mine.get("/account/sessions");
    const noCsrf = await mine.post(`/account/sessions/${theirs.session.id}/revoke`, {}, { csrf: false });
    expect(noCsrf.statusCode).toBe(403);
    await mine.post(`/account/sessions/${theirs.session.id}/revoke`, {});
    expect(await t.ctx.accounts.sessions.check(theirs.token)).toBeDefined();
  });

  it("throttles repeated failures with 429 and Retry-After", async () => {
    const client = new PageClient(t.app, ISSUER, "192.0.2.77");
    await t.ctx.accounts.users.create(
      { userName: "victim", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    await client.get("/login");
    for (let i = 0; i < 5; i++) {
      expect(
        (await client.post("/login", { username: "victim", password: `nope-${i}-nope-nope` })).statusCode,
      ).toBe(401);
    }
    const blocked = await client.post("/login", { username: "victim", password: PASSWORD });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers["retry-after"]).toBe("1");
  });

  it("disabling a user ends their browser sessions at once", async () => {
    const user = await t.ctx.accounts.users.create(
      { userName: "dora", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    const client = new PageClient(t.app, ISSUER);
    await client.get("/login");
    await client.post("/login", { username: "dora", password: PASSWORD });
    expect((await client.get("/session")).statusCode).toBe(200);
    await t.ctx.accounts.users.setActive(user.id, false, { actor: "test", authority: "admin" as const });
    expect((await client.get("/session")).statusCode).toBe(401);
    await client.get("/login");
    expect((await client.post("/login", { username: "dora", password: PASSWORD })).statusCode).toBe(401);
  });

  it("changes the password: needs the current one, renews the cookie, signs out other devices", async () => {
    const user = await t.ctx.accounts.users.create(
      { userName: "cleo", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    const other = new PageClient(t.app, ISSUER);
    await other.get("/login");
    await other.post("/login", { username: "cleo", password: PASSWORD });
    const client = new PageClient(t.app, ISSUER);
    await client.get("/login");
    await client.post("/login", { username: "cleo", password: PASSWORD });
    const before = client.cookies.get(SESSION);
    const page = await client.get("/account/password");
    expect(page.body).toContain('autocomplete="new-password"');
    const next = "a fresh long passphrase 77";
    const wrong = await client.post("/account/password", {
      current_password: "not it at all!!",
      new_password: next,
      confirm_password: next,
      sign_out_others: "on",
    });
    expect(wrong.statusCode).toBe(401);
    const mismatch = await client.post("/account/password", {
      current_password: PASSWORD,
      new_password: next,
      confirm_password: `${next}x`,
      sign_out_others: "on",
    });
    expect(mismatch.statusCode).toBe(400);
    const weak = await client.post("/account/password", {
      current_password: PASSWORD,
      new_password: "short",
      confirm_password: "short",
    });
    expect(weak.statusCode).toBe(400);
    const ok = await client.post("/account/password", {
      current_password: PASSWORD,
      new_password: next,
      confirm_password: next,
      sign_out_others: "on",
    });
    expect(ok.statusCode).toBe(303);
    expect(client.cookies.get(SESSION)).not.toBe(before);
    expect((await client.get("/session")).statusCode).toBe(200);
    expect((await other.get("/session")).statusCode).toBe(401);
    await expect(
      t.ctx.accounts.signIn.signIn({ userName: "cleo", password: next, ip: null, userAgent: null }),
    ).resolves.toMatchObject({ id: user.id });
  });

  it("resets a forgotten password through the e-mailed link; the answer never tells whether the account exists", async () => {
    const outbox = t.ctx.mailer as OutboxMailer;
    const client = new PageClient(t.app, ISSUER, "192.0.2.150");
    await client.get("/password/forgot");
    const before = outbox.messages.length;
    const unknown = await client.post("/password/forgot", { username: "nobody@example.test" });
    const known = await client.post("/password/forgot", { username: "pat@example.test" });
    expect(unknown.statusCode).toBe(200);
    expect(known.statusCode).toBe(200);
    const strip = (s: string) => s.replace(/value="[^"]*"/g, "");
    expect(strip(unknown.body)).toBe(strip(known.body));
    await vi.waitFor(() => expect(outbox.messages.length).toBe(before + 1));
    const link = /https:\/\/id\.example\.test(\/password\/reset\?token=\S+)/.exec(
      outbox.messages.at(-1)!.text,
    )![1]!;
    const form = await client.get(link);
    expect(form.statusCode).toBe(200);
    const token = new URL(link, ISSUER).searchParams.get("token")!;
    const next = "reset to this passphrase 31";
    const done = await client.post("/password/reset", { token, new_password: next, confirm_password: next });
    expect(done.statusCode).toBe(200);
    const again = await client.get(link);
    expect(again.statusCode).toBe(400);
    await expect(
      t.ctx.accounts.signIn.signIn({ userName: "pat", password: next, ip: null, userAgent: null }),
    ).resolves.toBeDefined();
    expect(t.logs()).not.toContain(token);
  });
});

describe("sign-in pages on http://localhost (development)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await t.ctx.accounts.users.create(
      { userName: "dev", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it("relaxes Secure (and so the __Host- prefix) only for a plain-http loopback issuer", async () => {
    const client = new PageClient(t.app, t.config.issuer);
    await client.get("/login");
    const response = await client.post("/login", { username: "dev", password: PASSWORD });
    expect(response.statusCode).toBe(303);
    const cookie = (response.cookies as Record<string, unknown>[]).find((c) => c.name === "tessera_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(cookie.secure).toBeUndefined();
  });
});
