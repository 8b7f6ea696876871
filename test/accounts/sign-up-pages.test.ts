/**
 * The sign-up pages over HTTP (`app.inject()`, a cookie-keeping form client): off by default, the form, "check
 * your e-mail", the confirmation, every refusal shown next to its field, enumeration-safe answers, throttling,
 * CSRF, and continuing a pending OAuth request (checked with openid-client).
 */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutboxMailer } from "../../src/mail/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { discover, runAuthorization } from "../helpers/oauth.js";
import { signUpToken } from "./sign-up-helpers.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const CALLBACK = "https://notes.example.test/cb";

/** The markup of the input with this id, and what describes it. */
function fieldOf(body: string, id: string) {
  const input = new RegExp(`<input[^>]*\\bid="${id}"[^>]*>`).exec(body)?.[0];
  if (!input) throw new Error(`no input #${id}`);
  const describedBy = /aria-describedby="([^"]*)"/.exec(input)?.[1]?.split(" ") ?? [];
  const error = new RegExp(
    `<p class="hint field-error" id="${id}-error"><strong>Error:</strong> ([^<]*)</p>`,
  ).exec(body)?.[1];
  return { input, invalid: input.includes('aria-invalid="true"'), describedBy, error };
}

const decode = (text: string) =>
  text
    .replaceAll("&#39;", "'")
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

describe("sign-up pages, off by default", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("answers 404 pages on every sign-up route, and the sign-in page has no link to it", async () => {
    const client = new PageClient(t.app, ISSUER);
    for (const url of ["/signup", `/signup/verify?token=tsr_sup_${"0".repeat(49)}`]) {
      const page = await client.get(url);
      expect(page.statusCode, url).toBe(404);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.body).toContain("Sign-up is not available");
    }
    await client.get("/login");
    for (const url of ["/signup", "/signup/verify"]) {
      const posted = await client.post(url, {
        email: "a@example.test",
        new_password: PASSWORD,
        confirm_password: PASSWORD,
      });
      expect(posted.statusCode, url).toBe(404);
    }
    expect((await client.get("/login")).body).not.toContain('href="/signup');
    expect((t.ctx.mailer as OutboxMailer).messages).toHaveLength(0);
  });
});

describe("sign-up pages", () => {
  let t: TestApp;
  let outbox: OutboxMailer;
  let ipCount = 0;
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER, TESSERA_SIGN_UP: "on" } });
    outbox = t.ctx.mailer as OutboxMailer;
  });
  afterAll(async () => {
    await t.close();
  });

  /** A client from its own address (the per-address budget is tested on its own). */
  function newClient(ip?: string) {
    ipCount += 1;
    return new PageClient(t.app, ISSUER, ip ?? `192.0.2.${ipCount}`);
  }

  async function mailTo(email: string) {
    await t.ctx.onboarding.idle();
    return outbox.messages.filter((m) => m.to === email);
  }

  async function submit(client: PageClient, form: Record<string, string>) {
    await client.get("/signup");
    return client.post("/signup", { new_password: PASSWORD, confirm_password: PASSWORD, ...form });
  }

  it("links the sign-in page to the form, keeping where the user was going", async () => {
    const client = newClient();
    const login = await client.get("/login?return_to=%2Faccount%2Fsessions");
    expect(login.body).toContain('<a href="/signup?return_to=%2Faccount%2Fsessions">Create account</a>');
    const form = await client.get("/signup?return_to=%2Faccount%2Fsessions");
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<input type="hidden" name="return_to" value="/account/sessions">');
  });

  it("serves a labelled form with a CSRF field under the strict page CSP", async () => {
    const client = newClient();
    const page = await client.get("/signup");
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toContain("script-src");
    expect(page.body).not.toMatch(/<script/i);
    expect(client.lastCsrf).toBeDefined();
    for (const [id, autocomplete] of [
      ["email", "email"],
      ["username", "username"],
      ["new_password", "new-password"],
      ["confirm_password", "new-password"],
    ]) {
      expect(page.body).toContain(`<label for="${id}">`);
      expect(fieldOf(page.body, id as string).input).toContain(`autocomplete="${autocomplete}"`);
    }
    expect(page.body).toContain('action="/signup"');
  });

  it("signs up: check your e-mail, a confirmation page that changes nothing on GET, then signed in", async () => {
    const client = newClient();
    const email = "ada@example.test";
    const sent = await submit(client, { email, username: "ada" });
    expect(sent.statusCode).toBe(200);
    expect(sent.body).toContain("Check your e-mail");
    expect(sent.body).toContain(`We sent a message to ${email}.`);
    const token = signUpToken((await mailTo(email)).at(-1));

    // A mail scanner opening the link twice creates nothing.
    for (let i = 0; i < 2; i++) {
      const page = await newClient().get(`/signup/verify?token=${token}`);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain("Confirm your account");
      expect(page.headers["referrer-policy"]).toBe("same-origin");
    }
    expect(await t.ctx.accounts.users.findByUserName("ada")).toBeUndefined();

    // Confirmed from another browser (the mail opened on a phone).
    const phone = newClient();
    const confirm = await phone.get(`/signup/verify?token=${token}`);
    expect(fieldOf(confirm.body, "password").input).toContain('autocomplete="current-password"');
    const done = await phone.post("/signup/verify", { token, password: PASSWORD });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe("/account");
    expect(phone.cookies.get(SESSION)).toBeDefined();
    const account = await phone.get("/account");
    expect(account.statusCode).toBe(200);
    expect(account.body).toContain("ada");

    // And the account signs in normally.
    const later = newClient();
    await later.get("/login");
    const signedIn = await later.post("/login", { username: "ada", password: PASSWORD });
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe("/account");
  });

  it("shows each refusal next to its field (aria-invalid, aria-describedby) and keeps the typed values", async () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ email: "not-an-address" }, "email", /e-mail address, like/],
      [
        { email: "weak@example.test", new_password: "short one", confirm_password: "short one" },
        "new_password",
        /at least 15/,
      ],
      [
        {
          email: "breached@example.test",
          new_password: "qwertyuiopasdfgh",
          confirm_password: "qwertyuiopasdfgh",
        },
        "new_password",
        /breached/,
      ],
      [
        {
          email: "named@example.test",
          username: "hedy-lamarr",
          new_password: "hedy-lamarr frequency hops",
          confirm_password: "hedy-lamarr frequency hops",
        },
        "new_password",
        /user name/,
      ],
      [
        { email: "mismatch@example.test", confirm_password: `${PASSWORD}?` },
        "confirm_password",
        /do not match/,
      ],
    ];
    for (const [form, id, message] of cases) {
      const page = await submit(newClient(), form);
      expect(page.statusCode, id).toBe(400);
      const field = fieldOf(page.body, id);
      expect(field.invalid, id).toBe(true);
      expect(field.describedBy, id).toContain(`${id}-error`);
      expect(decode(field.error ?? ""), id).toMatch(message);
      expect(field.input, id).toContain("autofocus");
      // The summary links to the field.
      expect(page.body).toContain(`<a href="#${id}">`);
      expect(page.body).toContain('role="alert"');
      // Typed values are kept, passwords never.
      if (form.email) expect(page.body).toContain(`value="${form.email}"`);
      expect(page.body).not.toContain(form.new_password ?? PASSWORD);
    }
    expect(await mailTo("weak@example.test")).toHaveLength(0);
  });

  it("a forged form (no CSRF token, or another site's Origin) is refused and sends nothing", async () => {
    const client = newClient();
    await client.get("/signup");
    const noToken = await client.post(
      "/signup",
      { email: "csrf@example.test", new_password: PASSWORD, confirm_password: PASSWORD },
      { csrf: false },
    );
    expect(noToken.statusCode).toBe(403);
    const otherSite = await client.post(
      "/signup",
      { email: "csrf@example.test", new_password: PASSWORD, confirm_password: PASSWORD },
      { headers: { origin: "https://evil.example" } },
    );
    expect(otherSite.statusCode).toBe(403);
    expect(await mailTo("csrf@example.test")).toHaveLength(0);
  });

  it("answers a taken address exactly like a free one, and mails its owner a notice", async () => {
    await t.ctx.accounts.users.create(
      { userName: "owner", emails: [{ value: "owner@example.test", type: null, primary: true }] },
      { actor: "test", authority: "admin" },
    );
    const taken = await submit(newClient(), { email: "owner@example.test", username: "owner" });
    const free = await submit(newClient(), { email: "newbie@example.test", username: "newbie" });
    expect(taken.statusCode).toBe(200);
    expect(free.statusCode).toBe(200);
    expect(taken.body.replaceAll("owner@example.test", "X")).toBe(
      free.body.replaceAll("newbie@example.test", "X"),
    );
    expect(Object.keys(taken.headers).sort()).toEqual(Object.keys(free.headers).sort());
    const notice = (await mailTo("owner@example.test")).at(-1);
    expect(notice?.subject).toBe("Someone tried to sign up with your e-mail address");
    expect(() => signUpToken(notice)).toThrow();
    signUpToken((await mailTo("newbie@example.test")).at(-1));
  });

  it("a taken user name is asked again on the confirmation page, not on the sign-up page", async () => {
    await t.ctx.accounts.users.create({ userName: "popular" }, { actor: "test", authority: "admin" });
    const sent = await submit(newClient(), { email: "popular@example.test", username: "Popular" });
    expect(sent.statusCode).toBe(200);
    const token = signUpToken((await mailTo("popular@example.test")).at(-1));
    const client = newClient();
    const page = await client.get(`/signup/verify?token=${token}`);
    expect(fieldOf(page.body, "username").input).toContain('value="Popular"');
    const again = await client.post("/signup/verify", { token, password: PASSWORD, username: "popular" });
    expect(again.statusCode).toBe(409);
    const field = fieldOf(again.body, "username");
    expect(field.invalid).toBe(true);
    expect(field.error).toBe("This user name is taken. Choose another.");
    const done = await client.post("/signup/verify", { token, password: PASSWORD, username: "popular-too" });
    expect(done.statusCode).toBe(303);
    expect(await t.ctx.accounts.users.findByUserName("popular-too")).toBeDefined();
  });

  it("a wrong password at the confirmation is said next to the field; the fifth ends the link", async () => {
    await submit(newClient(), { email: "forgetful@example.test" });
    const token = signUpToken((await mailTo("forgetful@example.test")).at(-1));
    const client = newClient();
    await client.get(`/signup/verify?token=${token}`);
    for (let i = 1; i <= 4; i++) {
      const wrong = await client.post("/signup/verify", { token, password: `nope nope nope ${i}` });
      expect(wrong.statusCode).toBe(401);
      expect(fieldOf(wrong.body, "password").error).toBe(
        "That is not the password you chose when you signed up.",
      );
    }
    const fifth = await client.post("/signup/verify", { token, password: "nope nope nope 5" });
    expect(fifth.statusCode).toBe(400);
    expect(fifth.body).toContain("Link expired");
  });

  it("refuses reused, expired and forged links with the same page", async () => {
    await submit(newClient(), { email: "links@example.test" });
    const used = signUpToken((await mailTo("links@example.test")).at(-1));
    const client = newClient();
    await client.get(`/signup/verify?token=${used}`);
    expect((await client.post("/signup/verify", { token: used, password: PASSWORD })).statusCode).toBe(303);
    await submit(newClient(), { email: "links2@example.test" });
    const expired = signUpToken((await mailTo("links2@example.test")).at(-1));
    t.clock.advance(3600_000);
    const forged = `tsr_sup_${"A".repeat(49)}`;
    for (const token of [used, expired, forged]) {
      const page = await newClient().get(`/signup/verify?token=${token}`);
      expect(page.statusCode).toBe(400);
      expect(page.body).toContain("Link expired");
      const other = newClient();
      await other.get("/signup");
      const posted = await other.post("/signup/verify", { token, password: PASSWORD });
      expect(posted.statusCode).toBe(400);
      expect(posted.body).toContain("Link expired");
    }
    expect(await t.ctx.accounts.users.findByEmail("links2@example.test")).toEqual([]);
    expect((await newClient().get("/signup/verify")).statusCode).toBe(400);
  });

  it("throttles per address with 429, Retry-After and the wait on the page", async () => {
    const email = "spammed@example.test";
    for (let i = 0; i < 3; i++) expect((await submit(newClient(), { email })).statusCode).toBe(200);
    const limited = await submit(newClient(), { email });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["retry-after"]).toBe("1200");
    expect(limited.body).toContain("Too many sign-ups for this e-mail address.");
    expect(limited.body).toContain("Please wait 20 minutes before trying again.");
    expect(await mailTo(email)).toHaveLength(3);
  });

  it("throttles per client address", async () => {
    const ip = "203.0.113.50";
    for (let i = 0; i < 10; i++) {
      expect((await submit(newClient(ip), { email: `crowd${i}@example.test` })).statusCode).toBe(200);
    }
    const limited = await submit(newClient(ip), { email: "crowd10@example.test" });
    expect(limited.statusCode).toBe(429);
    expect(limited.body).toContain("Too many sign-ups from your network.");
  });

  it("continues the OAuth request the user started from, after confirming", async () => {
    const created = await t.ctx.oauth.clients.create({ name: "Notes", redirectUris: [CALLBACK] });
    const config = await discover(t.app, ISSUER, created.client.id, created.secret as string);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid email",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const browser = newClient();
    let response = await browser.get(url.pathname + url.search);
    while (response.statusCode === 302 || response.statusCode === 303) {
      const next = new URL(String(response.headers.location), ISSUER);
      response = await browser.get(next.pathname + next.search);
    }
    const signUpHref = /<a href="(\/signup\?return_to=[^"]+)">Create account<\/a>/.exec(response.body)?.[1];
    expect(signUpHref).toBeDefined();
    const form = await browser.get(decode(signUpHref!));
    const returnTo = decode(/name="return_to" value="([^"]+)"/.exec(form.body)?.[1] ?? "");
    expect(returnTo).toMatch(/^\/authorize\/continue\?request=/);
    await browser.post("/signup", {
      email: "oauth@example.test",
      username: "oauth-user",
      new_password: PASSWORD,
      confirm_password: PASSWORD,
      return_to: returnTo,
    });
    const token = signUpToken((await mailTo("oauth@example.test")).at(-1));
    const confirm = await browser.get(`/signup/verify?token=${token}`);
    // The confirmation's answer redirects on to the client: its origin is an allowed form action.
    expect(String(confirm.headers["content-security-policy"])).toContain(
      "form-action 'self' https://notes.example.test",
    );
    const done = await browser.post("/signup/verify", { token, password: PASSWORD });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe(returnTo);
    const callback = await runAuthorization(browser, new URL(String(done.headers.location), ISSUER));
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const user = await t.ctx.accounts.users.findByUserName("oauth-user");
    expect(tokens.claims()?.sub).toBe(user?.id);
  });

  it("records the sign-up in the audit log without the password or the link", async () => {
    const user = await t.ctx.accounts.users.findByUserName("ada");
    const events = await t.ctx.accounts.audit.list({ userId: user!.id });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["user.created", "user.signed_up"]));
    const all = JSON.stringify(await t.ctx.accounts.audit.list({ limit: 1000 }));
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain("tsr_sup_");
  });
});

describe("sign-up pages with an allow-list of domains", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: { TESSERA_ISSUER: ISSUER, TESSERA_SIGN_UP: "on", TESSERA_SIGN_UP_ALLOWED_DOMAINS: "example.com" },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it("says which domains are accepted, and refuses others next to the address", async () => {
    const client = new PageClient(t.app, ISSUER);
    const form = await client.get("/signup");
    expect(form.body).toContain("Use an address at example.com.");
    const refused = await client.post("/signup", {
      email: "someone@example.org",
      new_password: PASSWORD,
      confirm_password: PASSWORD,
    });
    expect(refused.statusCode).toBe(400);
    expect(fieldOf(refused.body, "email").error).toBe("Sign-up is open to addresses at example.com only.");
    const accepted = await client.post("/signup", {
      email: "someone@example.com",
      new_password: PASSWORD,
      confirm_password: PASSWORD,
    });
    expect(accepted.statusCode).toBe(200);
  });
});
