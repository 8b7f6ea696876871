/**
 * Self-service sign-up and invitations in a real browser (Debian's Chromium through playwright-core), against a
 * real Tessera over HTTPS with the development mail outbox: the whole flows (form → mail → link → signed in →
 * signing in again), every refusal as the page shows it, and the pages' CSP, labels and error wiring.
 *
 * The flows run with JavaScript turned off: the pages must work without it. Each browser context presents its own
 * client address through `X-Forwarded-For` (the server trusts the proxy header here only for that), so the
 * per-client sign-up budget binds where a test wants it to, and nowhere else.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OutboxMailer } from "../../src/mail/index.js";
import { launchChromium } from "../helpers/chromium.js";
import { startTlsTessera, type TlsTessera } from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";
const ADMIN_TOKEN = "browser-test-admin-token-0123456789abcdef";
const SESSION = "__Host-tessera_session";

// The browser globals used inside `page.evaluate` callbacks (the project compiles without the DOM library).
interface PageElement {
  tagName: string;
  id: string;
  type?: string;
  attributes: ArrayLike<{ name: string }>;
  labels?: ArrayLike<unknown> | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  scripts: ArrayLike<{ src: string; text: string }>;
  activeElement: { id: string } | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  addEventListener(
    type: "securitypolicyviolation",
    listener: (event: { violatedDirective: string; blockedURI: string }) => void,
  ): void;
};
declare const window: { __violations: string[] };

describe("sign-up and invitations in Chromium", () => {
  let server: TlsTessera;
  let browser: Browser;
  let origin: string;
  let outbox: OutboxMailer;
  const contexts: BrowserContext[] = [];
  let clients = 0;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startTlsTessera({
        env: {
          TESSERA_SIGN_UP: "on",
          TESSERA_SIGN_UP_ALLOWED_DOMAINS: "example.test",
          TESSERA_ADMIN_TOKEN: ADMIN_TOKEN,
          TESSERA_TRUST_PROXY: "true",
        },
      }),
      launchChromium(),
    ]);
    origin = server.origin;
    outbox = server.ctx.mailer as OutboxMailer;
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await browser?.close();
    await server?.close();
  });

  /** A browser context of its own client address; JavaScript off unless asked for. */
  async function newContext(options: { javaScript?: boolean; ip?: string } = {}): Promise<BrowserContext> {
    clients += 1;
    const context = await browser.newContext({
      javaScriptEnabled: options.javaScript ?? false,
      extraHTTPHeaders: { "x-forwarded-for": options.ip ?? `198.51.100.${clients}` },
    });
    contexts.push(context);
    return context;
  }

  async function submit(page: Page, name: string) {
    const navigation = page.waitForNavigation({ waitUntil: "load" });
    await page.getByRole("button", { name, exact: true }).click();
    return navigation;
  }

  /** The last message to `to`, once the background mail has gone out. */
  async function lastMail(to: string) {
    await server.ctx.onboarding.idle();
    return outbox.messages.filter((m) => m.to === to).at(-1);
  }

  async function linkIn(to: string, path: "/signup/verify" | "/invitations/accept"): Promise<string> {
    const text = (await lastMail(to))?.text ?? "";
    const link = new RegExp(`${origin.replaceAll(".", "\\.")}${path}\\?token=tsr_[a-z]{3}_[0-9A-Za-z]+`).exec(
      text,
    )?.[0];
    if (!link) throw new Error(`no ${path} link in the mail to ${to}`);
    return link;
  }

  async function fillSignUp(
    page: Page,
    fields: { email: string; userName?: string; password?: string; confirm?: string },
  ) {
    await page.getByLabel("E-mail address").fill(fields.email);
    if (fields.userName !== undefined) await page.getByLabel("User name (optional)").fill(fields.userName);
    await page.getByLabel("Password", { exact: true }).fill(fields.password ?? PASSWORD);
    await page.getByLabel("Confirm password").fill(fields.confirm ?? fields.password ?? PASSWORD);
    return submit(page, "Create account");
  }

  /** The message next to a field, checking the field points at it and is marked invalid. */
  async function fieldError(page: Page, id: string): Promise<string> {
    const input = page.locator(`#${id}`);
    expect(await input.getAttribute("aria-invalid"), id).toBe("true");
    expect((await input.getAttribute("aria-describedby"))?.split(" "), id).toContain(`${id}-error`);
    return ((await page.locator(`#${id}-error`).textContent()) ?? "").trim();
  }

  async function signIn(page: Page, userName: string, password: string) {
    await page.goto(`${origin}/login`);
    await page.locator("#username").fill(userName);
    await page.locator("#password").fill(password);
    return submit(page, "Sign in");
  }

  it("signs up without JavaScript: sign-in page → form → e-mail → confirmation → signed in; then signs in again", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/login`);
    await Promise.all([page.waitForNavigation(), page.getByRole("link", { name: "Create account" }).click()]);
    expect(new URL(page.url()).pathname).toBe("/signup");
    await expect(page.locator("h1").textContent()).resolves.toBe("Create an account");

    const sent = await fillSignUp(page, { email: "ada@example.test", userName: "ada" });
    expect(sent?.status()).toBe(200);
    await expect(page.locator("h1").textContent()).resolves.toBe("Check your e-mail");
    expect(await page.getByRole("status").textContent()).toContain("We sent a message to ada@example.test.");
    expect(await server.ctx.accounts.users.findByUserName("ada")).toBeUndefined();

    // The link opens in another browser (the phone that reads the mail); opening it creates nothing yet.
    const link = await linkIn("ada@example.test", "/signup/verify");
    const phone = await (await newContext()).newPage();
    expect((await phone.goto(link))?.status()).toBe(200);
    await expect(phone.locator("h1").textContent()).resolves.toBe("Confirm your account");
    expect(await phone.locator("main").textContent()).toContain("ada@example.test");
    expect(await server.ctx.accounts.users.findByUserName("ada")).toBeUndefined();
    await phone.getByLabel("Your password").fill(PASSWORD);
    const done = await submit(phone, "Create account");
    expect(done?.status()).toBe(200);
    expect(new URL(phone.url()).pathname).toBe("/account");
    await expect(phone.locator("h1").textContent()).resolves.toBe("Your account");
    expect((await phone.context().cookies(origin)).some((c) => c.name === SESSION)).toBe(true);

    // Signing out and in again with what was chosen.
    await submit(phone, "Sign out");
    const again = await signIn(phone, "ada", PASSWORD);
    expect(again?.status()).toBe(200);
    expect(new URL(phone.url()).pathname).toBe("/account");
    const user = await server.ctx.accounts.users.findByUserName("ada");
    expect(user?.emails).toEqual([{ value: "ada@example.test", type: null, primary: true }]);
  });

  it("shows each refusal next to its field, focused, with the summary linking to it", async () => {
    const page = await (await newContext()).newPage();
    const cases: [Parameters<typeof fillSignUp>[1], string, string][] = [
      [
        { email: "someone@elsewhere.test" },
        "email",
        "Error: Sign-up is open to addresses at example.test only.",
      ],
      [{ email: "not an address" }, "email", "Error: Enter your e-mail address, like name@example.com."],
      [
        { email: "weak@example.test", password: "tiny pass" },
        "new_password",
        "Error: Use at least 15 characters.",
      ],
      [
        { email: "breached@example.test", password: "qwertyuiopasdfgh" },
        "new_password",
        "Error: This password is too common: it appears in lists of breached passwords. Choose another.",
      ],
      [
        { email: "named@example.test", userName: "radia-perlman", password: "radia-perlman spanning tree" },
        "new_password",
        "Error: Don't use your user name or e-mail address in your password. Choose another.",
      ],
      [
        { email: "mismatch@example.test", password: PASSWORD, confirm: `${PASSWORD} !` },
        "confirm_password",
        "Error: The two passwords do not match.",
      ],
    ];
    for (const [fields, id, message] of cases) {
      await page.goto(`${origin}/signup`);
      const response = await fillSignUp(page, fields);
      expect(response?.status(), id).toBe(400);
      expect(await fieldError(page, id), id).toBe(message);
      expect(await page.evaluate(() => document.activeElement?.id), id).toBe(id);
      const summary = page.getByRole("alert");
      expect(await summary.getByRole("link").first().getAttribute("href"), id).toBe(`#${id}`);
      // The address is kept, the passwords never.
      expect(await page.getByLabel("E-mail address").inputValue()).toBe(fields.email);
      expect(await page.getByLabel("Password", { exact: true }).inputValue()).toBe("");
    }
    await server.ctx.onboarding.idle();
    expect(outbox.messages.filter((m) => /weak|breached|named|mismatch|elsewhere/.test(m.to))).toEqual([]);
  });

  it("a taken address shows the same page as a free one; the owner gets a notice, not a link", async () => {
    await server.ctx.accounts.users.create(
      {
        userName: "owner",
        emails: [{ value: "owner@example.test", type: null, primary: true }],
        password: PASSWORD,
      },
      { actor: "test", authority: "admin" },
    );
    const texts: string[] = [];
    for (const email of ["owner@example.test", "stranger@example.test"]) {
      const page = await (await newContext()).newPage();
      await page.goto(`${origin}/signup`);
      const response = await fillSignUp(page, { email });
      expect(response?.status()).toBe(200);
      texts.push(((await page.locator("main").textContent()) ?? "").replace(email, "ADDRESS"));
    }
    expect(texts[0]).toBe(texts[1]);
    const notice = await lastMail("owner@example.test");
    expect(notice?.subject).toBe("Someone tried to sign up with your e-mail address");
    expect(notice?.text).not.toContain("/signup/verify");
    await linkIn("stranger@example.test", "/signup/verify");
  });

  it("throttles the fourth sign-up for one address within the hour, saying how long to wait", async () => {
    const email = "eager@example.test";
    for (let i = 0; i < 3; i++) {
      const page = await (await newContext()).newPage();
      await page.goto(`${origin}/signup`);
      expect((await fillSignUp(page, { email }))?.status()).toBe(200);
    }
    const page = await (await newContext()).newPage();
    await page.goto(`${origin}/signup`);
    const limited = await fillSignUp(page, { email });
    expect(limited?.status()).toBe(429);
    // The system clock runs here: the wait is what is left of the 20 minutes.
    const wait = Number(limited?.headers()["retry-after"]);
    expect(wait).toBeGreaterThan(19 * 60);
    expect(wait).toBeLessThanOrEqual(20 * 60);
    expect(await page.getByRole("alert").textContent()).toContain(
      "Too many sign-ups for this e-mail address. Please wait 20 minutes before trying again.",
    );
  });

  it("refuses a wrong password at the confirmation next to the field, then reused, expired and forged links", async () => {
    const page = await (await newContext()).newPage();
    await page.goto(`${origin}/signup`);
    await fillSignUp(page, { email: "careful@example.test" });
    const link = await linkIn("careful@example.test", "/signup/verify");
    await page.goto(link);
    await page.getByLabel("Your password").fill("not the one I chose");
    expect((await submit(page, "Create account"))?.status()).toBe(401);
    expect(await fieldError(page, "password")).toBe(
      "Error: That is not the password you chose when you signed up.",
    );
    await page.getByLabel("Your password").fill(PASSWORD);
    await submit(page, "Create account");
    expect(new URL(page.url()).pathname).toBe("/account");

    // The same link again.
    const other = await (await newContext()).newPage();
    expect((await other.goto(link))?.status()).toBe(400);
    await expect(other.locator("h1").textContent()).resolves.toBe("Link expired");

    // A link past its lifetime (its expiry moved into the past, as time would).
    const late = await (await newContext()).newPage();
    await late.goto(`${origin}/signup`);
    await fillSignUp(late, { email: "slow@example.test" });
    const lateLink = await linkIn("slow@example.test", "/signup/verify");
    await late.goto(lateLink);
    await server.ctx.storage.db
      .updateTable("pending_sign_ups")
      .set({ expires_at: Date.now() - 1 })
      .where("email", "=", "slow@example.test")
      .execute();
    await late.getByLabel("Your password").fill(PASSWORD);
    expect((await submit(late, "Create account"))?.status()).toBe(400);
    await expect(late.locator("h1").textContent()).resolves.toBe("Link expired");
    expect(await server.ctx.accounts.users.findByEmail("slow@example.test")).toEqual([]);

    // A forged token.
    const forged = lateLink.replace(/token=tsr_sup_.{10}/, "token=tsr_sup_AAAAAAAAAA");
    expect((await other.goto(forged))?.status()).toBe(400);
    await expect(other.locator("h1").textContent()).resolves.toBe("Link expired");
  });

  async function invite(email: string, groups: string[] = []): Promise<{ id: string; link: string }> {
    const context = await newContext();
    const response = await context.request.post(`${origin}/admin/invitations`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      data: { email, groups },
      ignoreHTTPSErrors: true,
    });
    expect(response.status()).toBe(201);
    const { id } = (await response.json()) as { id: string };
    return { id, link: await linkIn(email, "/invitations/accept") };
  }

  it("accepts an invitation without JavaScript: admin API → e-mail → page → signed in, in the groups", async () => {
    const group = await server.ctx.accounts.groups.create(
      { displayName: "Research" },
      { actor: "test", authority: "admin" },
    );
    const { link } = await invite("barbara@example.test", [group.id]);
    const page = await (await newContext()).newPage();
    expect((await page.goto(link))?.status()).toBe(200);
    await expect(page.locator("h1").textContent()).resolves.toBe("Accept your invitation");
    expect(await page.locator("main").textContent()).toContain("You will join: Research.");
    expect(await page.getByLabel("User name").inputValue()).toBe("barbara@example.test");
    await page.getByLabel("User name").fill("barbara");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await submit(page, "Create account");
    expect(new URL(page.url()).pathname).toBe("/account");

    await submit(page, "Sign out");
    await signIn(page, "barbara", PASSWORD);
    expect(new URL(page.url()).pathname).toBe("/account");
    const user = await server.ctx.accounts.users.findByUserName("barbara");
    const response = await page.context().request.get(`${origin}/admin/users/${user!.id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ignoreHTTPSErrors: true,
    });
    expect(((await response.json()) as { groups: { displayName: string }[] }).groups).toEqual([
      expect.objectContaining({ displayName: "Research" }),
    ]);
  });

  it("shows the invitation page's refusals, and refuses revoked and used links", async () => {
    await server.ctx.accounts.users.create({ userName: "occupied" }, { actor: "test", authority: "admin" });
    const { link } = await invite("frances@example.test");
    const page = await (await newContext()).newPage();
    const cases: [{ userName: string; password: string; confirm?: string }, string, string, number][] = [
      [
        { userName: "frances", password: "tiny pass" },
        "new_password",
        "Error: Use at least 15 characters.",
        400,
      ],
      [
        { userName: "frances", password: PASSWORD, confirm: "something else" },
        "confirm_password",
        "Error: The two passwords do not match.",
        400,
      ],
      [
        { userName: "Occupied", password: PASSWORD },
        "username",
        "Error: This user name is taken. Choose another.",
        409,
      ],
    ];
    for (const [fields, id, message, status] of cases) {
      await page.goto(link);
      await page.getByLabel("User name").fill(fields.userName);
      await page.getByLabel("Password", { exact: true }).fill(fields.password);
      await page.getByLabel("Confirm password").fill(fields.confirm ?? fields.password);
      expect((await submit(page, "Create account"))?.status(), id).toBe(status);
      expect(await fieldError(page, id), id).toBe(message);
      expect(await page.evaluate(() => document.activeElement?.id), id).toBe(id);
    }
    await page.goto(link);
    await page.getByLabel("User name").fill("frances");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await submit(page, "Create account");
    expect(new URL(page.url()).pathname).toBe("/account");

    const used = await (await newContext()).newPage();
    expect((await used.goto(link))?.status()).toBe(400);
    await expect(used.locator("h1").textContent()).resolves.toBe("Invitation not valid");

    const revoked = await invite("withdrawn@example.test");
    const opened = await (await newContext()).newPage();
    await opened.goto(revoked.link);
    const api = await opened.context().request.delete(`${origin}/admin/invitations/${revoked.id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ignoreHTTPSErrors: true,
    });
    expect(api.status()).toBe(204);
    await opened.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await opened.getByLabel("Confirm password").fill(PASSWORD);
    expect((await submit(opened, "Create account"))?.status()).toBe(400);
    await expect(opened.locator("h1").textContent()).resolves.toBe("Invitation not valid");
    expect(await server.ctx.accounts.users.findByEmail("withdrawn@example.test")).toEqual([]);
  });

  it("an administrator's invite needs admin credentials", async () => {
    const context = await newContext();
    const response = await context.request.post(`${origin}/admin/invitations`, {
      data: { email: "nobody@example.test" },
      ignoreHTTPSErrors: true,
    });
    expect(response.status()).toBe(401);
    expect(outbox.messages.filter((m) => m.to === "nobody@example.test")).toEqual([]);
  });

  it("renders the pages without scripts or CSP violations; every field has a label", async () => {
    const context = await newContext({ javaScript: true });
    await context.addInitScript(() => {
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || /Content Security Policy/i.test(message.text())) {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    await page.goto(`${origin}/signup`);
    await fillSignUp(page, { email: "checked@example.test" });
    const verify = await linkIn("checked@example.test", "/signup/verify");
    const { link: accept } = await invite("checked-invite@example.test");
    for (const url of [`${origin}/signup`, verify, accept]) {
      const response = await page.goto(url, { waitUntil: "load" });
      expect(response?.status(), url).toBe(200);
      const csp = response!.headers()["content-security-policy"];
      expect(csp, url).toContain("default-src 'none'");
      expect(csp, url).not.toContain("script-src");
      const facts = await page.evaluate(() => ({
        scripts: Array.from(document.scripts).length,
        handlers: Array.from(document.querySelectorAll("*")).flatMap((el) =>
          Array.from(el.attributes)
            .filter((a) => a.name.startsWith("on"))
            .map((a) => `${el.tagName} ${a.name}`),
        ),
        inlineStyles: document.querySelectorAll("[style], style").length,
        unlabelled: Array.from(document.querySelectorAll("input, select, textarea"))
          .filter((el) => el.type !== "hidden")
          .filter((el) => (el.labels?.length ?? 0) === 0)
          .map((el) => el.id || el.getAttribute("name")),
        violations: window.__violations,
      }));
      expect(facts, url).toEqual({
        scripts: 0,
        handlers: [],
        inlineStyles: 0,
        unlabelled: [],
        violations: [],
      });
    }
    expect(problems).toEqual([]);
  });
});
