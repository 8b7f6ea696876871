/**
 * Real-browser tests (Debian's Chromium through playwright-core) of the sign-in and account pages, against a
 * real Tessera listening over HTTPS on 127.0.0.1 (issuer `https://localhost:<port>`), so the production cookie
 * attributes (`__Host-` prefix, Secure, HttpOnly, SameSite=Lax) are the ones the browser sees and enforces.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/chromium.js";
import {
  type StaticHttpsServer,
  startStaticHttpsServer,
  startTlsTessera,
  type TlsTessera,
} from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";
const INVALID = "The user name or password is incorrect.";
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
  "Version/17.5 Mobile/15E148 Safari/604.1";
const FOURTEEN_DAYS = 14 * 24 * 60 * 60;

// The browser globals used inside `page.evaluate` callbacks (which run in the page). The project compiles
// without the DOM library, so these module-scoped declarations type just what is used here.
interface PageElement {
  tagName: string;
  id: string;
  type?: string;
  attributes: ArrayLike<{ name: string }>;
  labels?: ArrayLike<unknown> | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  cookie: string;
  scripts: ArrayLike<{ src: string; text: string }>;
  activeElement: { id: string } | null;
  styleSheets: ArrayLike<{ cssRules: ArrayLike<unknown> }>;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  addEventListener(
    type: "securitypolicyviolation",
    listener: (event: { violatedDirective: string; blockedURI: string }) => void,
  ): void;
};
declare const window: { __violations: string[] };

describe("sign-in and account pages in Chromium", () => {
  let server: TlsTessera;
  let browser: Browser;
  let attacker: StaticHttpsServer;
  let origin: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTlsTessera(), launchChromium()]);
    origin = server.origin;
    // Pages of "another site": plain forms (no script, nothing auto-submits) posting to Tessera.
    attacker = await startStaticHttpsServer(server.certificate, (path) => {
      const action = { "/logout": "/logout", "/revoke-others": "/account/sessions/revoke-others" }[path];
      if (!action) return undefined;
      return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title></head>
<body><h1>Win a prize</h1>
<form method="post" action="${origin}${action}"><button type="submit">Claim your prize</button></form>
</body></html>`;
    });
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    await browser?.close();
    await attacker?.close();
    await server?.close();
  });

  async function newContext(options: { userAgent?: string } = {}): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context;
  }

  let userCount = 0;
  /** A fresh user per test, so session lists and throttling counters do not mix between tests. */
  async function createUser(displayName: string): Promise<{ userName: string; displayName: string }> {
    userCount += 1;
    const userName = `user${userCount}-${Date.now().toString(36)}`;
    await server.ctx.accounts.users.create(
      {
        userName,
        displayName,
        emails: [{ value: `${userName}@example.test`, type: "work", primary: true }],
        password: PASSWORD,
      },
      { actor: "test", authority: "admin" as const },
    );
    return { userName, displayName };
  }

  /** Clicks a submit button and waits for the resulting navigation (after any redirects) to load. */
  async function submit(page: Page, button: ReturnType<Page["locator"]>) {
    const navigation = page.waitForNavigation({ waitUntil: "load" });
    await button.click();
    return navigation;
  }

  async function signIn(page: Page, userName: string, password: string, remember = false) {
    await page.goto(`${origin}/login`);
    await page.locator("#username").fill(userName);
    await page.locator("#password").fill(password);
    if (remember) await page.locator("#remember").check();
    return submit(page, page.getByRole("button", { name: "Sign in", exact: true }));
  }

  async function sessionCookie(context: BrowserContext) {
    return (await context.cookies(origin)).find((c) => c.name === SESSION);
  }

  /** `GET /session` with the context's cookie jar (Node-side request; the certificate is self-signed). */
  async function sessionStatus(context: BrowserContext): Promise<number> {
    const response = await context.request.get(`${origin}/session`, { ignoreHTTPSErrors: true });
    return response.status();
  }

  it("signs in through the form; the session cookie is __Host-, HttpOnly, Secure, Lax, host-only", async () => {
    const user = await createUser("Ada Lovelace");

    // Without "keep me signed in": a browser-session cookie.
    const context = await newContext();
    const page = await context.newPage();
    const response = await signIn(page, user.userName, PASSWORD);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe("/account");
    await expect(page.locator("h1").textContent()).resolves.toBe("Your account");
    await expect(page.locator(".page-intro strong").textContent()).resolves.toBe("Ada Lovelace");
    await expect(page.locator(".session-user").textContent()).resolves.toBe("Signed in as Ada Lovelace");
    await expect(page.locator("dl.details dd").first().textContent()).resolves.toBe("Ada Lovelace");

    const cookie = await sessionCookie(context);
    expect(cookie).toBeDefined();
    expect(cookie).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: "Lax",
      path: "/",
      domain: "localhost", // host-only: no leading dot
      expires: -1, // a browser-session cookie
    });
    expect(cookie?.value.length).toBeGreaterThan(20);
    // HttpOnly: page scripts cannot read it.
    const visible = await page.evaluate(() => document.cookie);
    expect(visible).not.toContain("tessera_session");
    expect(visible).not.toContain(cookie!.value);
    expect(await sessionStatus(context)).toBe(200);

    // With "keep me signed in": a persistent cookie for the 14-day remember lifetime.
    const remembered = await newContext();
    const page2 = await remembered.newPage();
    const before = Date.now() / 1000;
    await signIn(page2, user.userName, PASSWORD, true);
    expect(new URL(page2.url()).pathname).toBe("/account");
    const persistent = await sessionCookie(remembered);
    expect(persistent).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: "Lax",
      path: "/",
      domain: "localhost",
    });
    expect(persistent!.expires).toBeGreaterThan(before + FOURTEEN_DAYS - 60);
    expect(persistent!.expires).toBeLessThan(Date.now() / 1000 + FOURTEEN_DAYS + 60);
    expect(persistent!.value).not.toBe(cookie!.value);
    expect(await page2.evaluate(() => document.cookie)).not.toContain("tessera_session");
  });

  it("shows one message for a wrong password and an unknown user, keeping the user name only", async () => {
    const user = await createUser("Grace Hopper");
    const context = await newContext();
    const page = await context.newPage();

    const wrong = await signIn(page, user.userName, "not the right password at all");
    expect(wrong?.status()).toBe(401);
    expect(new URL(page.url()).pathname).toBe("/login");
    const alert = page.getByRole("alert");
    expect(await alert.isVisible()).toBe(true);
    expect((await alert.textContent())?.trim()).toBe(INVALID);
    expect(await page.locator("#username").inputValue()).toBe(user.userName);
    expect(await page.locator("#password").inputValue()).toBe("");
    expect(await page.locator("#password").getAttribute("value")).toBeNull();
    // The fields point at the message for screen readers; focus moved to the password.
    expect(await page.locator("#password").getAttribute("aria-describedby")).toContain("form-error");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("password");
    expect(await sessionCookie(context)).toBeUndefined();

    const unknown = await signIn(page, `nobody-${Date.now().toString(36)}`, "not the right password at all");
    expect(unknown?.status()).toBe(401);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.getByRole("alert").isVisible()).toBe(true);
    expect((await page.getByRole("alert").textContent())?.trim()).toBe(INVALID);
    expect(await page.locator("#password").inputValue()).toBe("");
    expect(await sessionCookie(context)).toBeUndefined();
    expect(await sessionStatus(context)).toBe(401);
  });

  it("lists both devices and signs the other one out from the sessions page", async () => {
    const user = await createUser("Katherine Johnson");
    const laptop = await newContext();
    const phone = await newContext({ userAgent: IPHONE_UA });
    const laptopPage = await laptop.newPage();
    const phonePage = await phone.newPage();
    await signIn(laptopPage, user.userName, PASSWORD);
    await signIn(phonePage, user.userName, PASSWORD);
    expect(new URL(laptopPage.url()).pathname).toBe("/account");
    expect(new URL(phonePage.url()).pathname).toBe("/account");
    const phoneCookie = await sessionCookie(phone);
    expect(phoneCookie).toBeDefined();
    expect(await sessionStatus(phone)).toBe(200);

    await laptopPage.goto(`${origin}/account/sessions`);
    const rows = laptopPage.locator("table tbody tr");
    expect(await rows.count()).toBe(2);
    const current = rows.filter({ hasText: "This device" });
    expect(await current.count()).toBe(1);
    expect(await current.getByRole("button").count()).toBe(0);
    const other = rows.filter({ hasNotText: "This device" });
    expect(await other.count()).toBe(1);
    expect(await other.locator("th").textContent()).toContain("iOS");

    const after = await submit(laptopPage, other.getByRole("button", { name: /^Sign out/ }));
    expect(after?.status()).toBe(200);
    expect(laptopPage.url()).toBe(`${origin}/account/sessions?done=session-revoked`);
    expect((await laptopPage.getByRole("status").textContent())?.trim()).toBe("That device is signed out.");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("This device");
    expect(await laptopPage.getByText("You are not signed in anywhere else.").isVisible()).toBe(true);
    expect(await sessionStatus(laptop)).toBe(200);

    // The phone's session is dead on the server at once: its still-present cookie gets 401…
    expect((await sessionCookie(phone))?.value).toBe(phoneCookie!.value);
    expect(await sessionStatus(phone)).toBe(401);
    // …and its next page load lands on the sign-in page.
    await phonePage.reload();
    const url = new URL(phonePage.url());
    expect(url.pathname).toBe("/login");
    expect(url.searchParams.get("return_to")).toBe("/account");
    expect(await phonePage.locator("h1").textContent()).toBe("Sign in");
    expect(await sessionStatus(phone)).toBe(401);
  });

  it("signs out from the header; the old cookie value is dead when replayed", async () => {
    const user = await createUser("Margaret Hamilton");
    const context = await newContext();
    const page = await context.newPage();
    await signIn(page, user.userName, PASSWORD);
    const old = await sessionCookie(context);
    expect(old).toBeDefined();

    const response = await submit(page, page.locator("header").getByRole("button", { name: "Sign out" }));
    expect(response?.status()).toBe(200);
    expect(await page.locator("h1").textContent()).toBe("Sign in");
    expect(await page.getByRole("status").filter({ hasText: "You are signed out." }).count()).toBe(1);
    expect(await page.locator("#username").isVisible()).toBe(true);
    expect(await page.locator("header").getByRole("button", { name: "Sign out" }).count()).toBe(0);
    expect(await sessionCookie(context)).toBeUndefined();

    // A copy of the cookie taken before signing out is worthless now.
    const replay = await newContext();
    await replay.addCookies([
      { name: SESSION, value: old!.value, url: origin, secure: true, httpOnly: true, sameSite: "Lax" },
    ]);
    expect((await sessionCookie(replay))?.value).toBe(old!.value);
    expect(await sessionStatus(replay)).toBe(401);
    const replayPage = await replay.newPage();
    await replayPage.goto(`${origin}/account`);
    expect(new URL(replayPage.url()).pathname).toBe("/login");
    expect(await replayPage.locator("h1").textContent()).toBe("Sign in");
  });

  it("renders every page without scripts and without CSP violations; every field has a label", async () => {
    const user = await createUser("Hedy Lamarr");
    const context = await newContext();
    // Runs in every document before its own content (injected by the driver, so CSP does not apply to it).
    await context.addInitScript(() => {
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (message) => {
      if (
        message.type() === "error" ||
        message.type() === "warning" ||
        /Content Security Policy/i.test(message.text())
      ) {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));

    const check = async (path: string, expectedPath = path) => {
      const response = await page.goto(`${origin}${path}`, { waitUntil: "load" });
      expect(response?.status(), path).toBe(200);
      expect(new URL(page.url()).pathname).toBe(expectedPath);
      const csp = response!.headers()["content-security-policy"];
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("style-src 'self'");
      // The sign-in pages run WebAuthn ceremonies from same-origin script files; every other page has none.
      const scripted = path.startsWith("/login");
      if (scripted) {
        expect(csp, path).toContain("script-src 'self';");
        expect(csp, path).not.toContain("unsafe-");
      } else {
        expect(csp, path).not.toContain("script-src");
      }
      const facts = await page.evaluate(() => ({
        scripts: Array.from(document.scripts).map((s) =>
          s.src ? new URL(s.src).pathname : `inline:${s.text}`,
        ),
        handlers: Array.from(document.querySelectorAll("*")).flatMap((el) =>
          Array.from(el.attributes)
            .filter((a) => a.name.startsWith("on"))
            .map((a) => `${el.tagName} ${a.name}`),
        ),
        inlineStyles: document.querySelectorAll("[style], style").length,
        // The stylesheet (style-src 'self') really applied.
        cssRules: Array.from(document.styleSheets).reduce((n, s) => n + s.cssRules.length, 0),
        unlabelled: Array.from(document.querySelectorAll("input, select, textarea"))
          .filter((el) => el.type !== "hidden")
          .filter((el) => (el.labels?.length ?? 0) === 0)
          .map((el) => el.id || el.getAttribute("name")),
        violations: window.__violations,
      }));
      if (scripted)
        for (const script of facts.scripts) expect(script, path).toMatch(/^\/assets\/[a-z0-9-]+\.js$/);
      else expect(facts.scripts, path).toEqual([]);
      expect(facts.handlers, path).toEqual([]);
      expect(facts.inlineStyles, path).toBe(0);
      expect(facts.cssRules, path).toBeGreaterThan(10);
      expect(facts.unlabelled, path).toEqual([]);
      expect(facts.violations, path).toEqual([]);
    };

    await check("/login");
    expect(await page.getByLabel("User name").getAttribute("id")).toBe("username");
    expect(await page.getByLabel("Password").getAttribute("id")).toBe("password");
    expect(await page.getByLabel("Keep me signed in on this device").getAttribute("id")).toBe("remember");
    await page.locator("#username").fill(user.userName);
    await page.locator("#password").fill(PASSWORD);
    await submit(page, page.getByRole("button", { name: "Sign in", exact: true }));
    expect(new URL(page.url()).pathname).toBe("/account");
    await check("/account");
    await check("/account/sessions");
    await check("/account/password");
    expect(await page.getByLabel("Current password").getAttribute("type")).toBe("password");
    expect(await page.getByLabel("New password", { exact: true }).getAttribute("autocomplete")).toBe(
      "new-password",
    );
    expect(await page.getByLabel("Confirm new password").getAttribute("autocomplete")).toBe("new-password");
    expect(problems).toEqual([]);
  });

  it("refuses cross-site and cross-origin form posts: the session survives", async () => {
    const user = await createUser("Radia Perlman");
    const victim = await newContext();
    const other = await newContext({ userAgent: IPHONE_UA });
    const page = await victim.newPage();
    await signIn(page, user.userName, PASSWORD);
    await signIn(await other.newPage(), user.userName, PASSWORD);
    const cookie = await sessionCookie(victim);
    expect(cookie).toBeDefined();
    expect(await sessionStatus(victim)).toBe(200);
    expect(await sessionStatus(other)).toBe(200);
    const claim = () => submit(page, page.getByRole("button", { name: "Claim your prize" }));

    // Cross-site: https://127.0.0.1:<p> is another site than https://localhost:<port>. Layer 1 refuses it: the
    // cookie is SameSite=Lax, so Chromium sends no session cookie with a cross-site POST; the server sees an
    // anonymous request and sends it to the sign-in page (no session, nothing to revoke). Had the cookie gone
    // along, the missing CSRF token (layer 2) and the foreign Origin (layer 3) would each have refused it.
    const crossSite = `https://127.0.0.1:${attacker.port}`;
    await page.goto(`${crossSite}/revoke-others`);
    const revokeResponse = page.waitForResponse(
      (r) => r.request().method() === "POST" && r.url() === `${origin}/account/sessions/revoke-others`,
    );
    await claim();
    const posted = await revokeResponse;
    const postedHeaders = await posted.request().allHeaders();
    expect(postedHeaders["sec-fetch-site"]).toBe("cross-site");
    expect(postedHeaders.cookie ?? "").not.toContain(SESSION);
    expect(posted.status()).toBe(303);
    expect(posted.headers().location).toBe("/login?return_to=%2Faccount");
    // The redirect chain ends in GETs, which do carry a Lax cookie: the victim is still signed in.
    expect(new URL(page.url()).pathname).toBe("/account");
    expect(await sessionStatus(victim)).toBe(200);
    expect(await sessionStatus(other)).toBe(200); // "sign out all other devices" did not happen

    // Same site, other origin (https://localhost:<p>): SameSite=Lax lets the cookie through, so here the
    // server's own layers refuse: no CSRF token in the form, and an Origin that is not the issuer's.
    const sameSite = `https://localhost:${attacker.port}`;
    await page.goto(`${sameSite}/revoke-others`);
    const refused = await claim();
    expect(refused?.status()).toBe(403);
    const refusedHeaders = await refused!.request().allHeaders();
    expect(refusedHeaders["sec-fetch-site"]).toBe("same-site");
    expect(refusedHeaders.cookie ?? "").toContain(SESSION);
    expect(refusedHeaders.origin).toBe(sameSite);
    expect(await page.locator("h1").textContent()).toBe("Request refused");
    expect(await sessionStatus(victim)).toBe(200);
    expect(await sessionStatus(other)).toBe(200);

    await page.goto(`${sameSite}/logout`);
    const refusedLogout = await claim();
    expect(refusedLogout?.status()).toBe(403);
    expect(await page.locator("h1").textContent()).toBe("Sign-out refused");
    expect((await sessionCookie(victim))?.value).toBe(cookie!.value);
    expect(await sessionStatus(victim)).toBe(200);

    // Cross-site POST /logout: no cookie goes along, so the session is not ended on the server (a copy of the
    // cookie still works). What it does to the victim's cookie jar is the known bug in the next test.
    await page.goto(`${crossSite}/logout`);
    const logoutResponse = page.waitForResponse(
      (r) => r.request().method() === "POST" && r.url() === `${origin}/logout`,
    );
    await claim();
    const loggedOut = await logoutResponse;
    expect((await loggedOut.request().allHeaders()).cookie ?? "").not.toContain(SESSION);
    const replay = await newContext();
    await replay.addCookies([
      { name: SESSION, value: cookie!.value, url: origin, secure: true, httpOnly: true, sameSite: "Lax" },
    ]);
    expect(await sessionStatus(replay)).toBe(200);
    expect(await sessionStatus(other)).toBe(200);
  });

  // Regression: `POST /logout` without a live session used to answer with `Set-Cookie: …; Max-Age=0`. A
  // cross-site form post carries no cookie (SameSite=Lax), but its response is a top-level navigation that may
  // still set cookies, so any site could delete the victim's session cookie (logout CSRF). It no longer touches
  // the cookie.
  it("a cross-site POST /logout leaves the browser's session cookie alone", async () => {
    const user = await createUser("Barbara Liskov");
    const victim = await newContext();
    const page = await victim.newPage();
    await signIn(page, user.userName, PASSWORD);
    const cookie = await sessionCookie(victim);
    expect(cookie).toBeDefined();

    await page.goto(`https://127.0.0.1:${attacker.port}/logout`);
    await submit(page, page.getByRole("button", { name: "Claim your prize" }));
    expect((await sessionCookie(victim))?.value).toBe(cookie!.value);
    await page.goto(`${origin}/account`);
    expect(new URL(page.url()).pathname).toBe("/account");
  });
});
