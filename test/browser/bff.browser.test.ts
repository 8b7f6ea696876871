/**
 * The backend-for-frontend example in a real browser (Debian's Chromium through playwright-core): the SPA of
 * examples/spa, built with Vite, served with the BFF on one origin by examples/spa/serve.mjs, in front of the
 * example API (examples/resource-server), signing in at a real, listening Tessera.
 *
 * - Sign-in goes through Tessera's real pages (user name and password typed on /login); the SPA then shows the
 *   user and the orders it fetched through the BFF's proxy.
 * - No token is reachable from the page: the session cookie is HttpOnly, web storage is empty, and no response
 *   the page receives (Tessera's pages included) carries an access, refresh or ID token.
 * - CSRF: a form post and `fetch` from another site, and a `fetch` from another origin of the same site, create
 *   no order (checked at the API directly); a same-origin POST without `x-bff-csrf` is refused 403.
 * - Expiry: Tessera's clock, shared with the BFF, moves past the access token's 60-second lifetime; the next call
 *   still works, with a new access token (seen at the API) obtained by refresh.
 * - Logout: RP-initiated logout brings the browser back to the SPA; the BFF then answers 401 for the user and the
 *   API.
 * Everything is plain HTTP on 127.0.0.1 (loopback), so the BFF's cookie is `bff_session` (no `__Host-`, which
 * needs https). The "other site" is `localhost`, a different site from `127.0.0.1`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { launchChromium } from "../helpers/chromium.js";
import { freePort } from "../helpers/tls-server.js";

const API = "https://api.example.test";
const PASSWORD = "correct horse battery staple 42";
const SPA_DIR = fileURLToPath(new URL("../../examples/spa", import.meta.url));
const SCOPE = "openid profile offline_access orders:read orders:write";
/** A JWT (header and payload both start with `{"`), or one of Tessera's refresh / opaque access tokens. */
const TOKEN_PATTERN = /eyJ[A-Za-z0-9_-]{8,}\.eyJ|tsr_rt_|tsr_at_/;

// The browser globals used inside `page.evaluate` callbacks (which run in the page). The project compiles
// without the DOM library, so these module-scoped declarations type just what is used here.
interface PageStorage {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
}
declare const document: { cookie: string };
declare const localStorage: PageStorage;
declare const sessionStorage: PageStorage;

interface Order {
  id: number;
  item: string;
  quantity: number;
}

describe("the BFF example (SPA + BFF + API) in Chromium", () => {
  let t: TestApp;
  let issuer: string;
  let browser: Browser;
  let api: FastifyInstance;
  let apiUrl: string;
  let bff: FastifyInstance;
  let bffOrigin: string;
  let otherSite: Server;
  let otherPort: number;
  let auditor: { id: string; secret: string };
  let dataDir: string;
  let context: BrowserContext;
  let page: Page;
  let shopClientId: string;
  /** Authorization headers the API received (test-side only: the browser never sees them). */
  const bearers: string[] = [];
  /** The claims of a bearer JWT. */
  const claimsOf = (header: string | undefined) =>
    JSON.parse(Buffer.from(header?.split(".")[1] ?? "", "base64url").toString()) as {
      client_id: string;
      iat: number;
      exp: number;
    };
  /** The access tokens the BFF forwarded (not the auditor's). */
  const forwarded = () => bearers.filter((h) => claimsOf(h).client_id === shopClientId);
  /** Every response body the page received, with its URL. */
  const received: Promise<{ url: string; body: string }>[] = [];

  beforeAll(async () => {
    const [tesseraPort, bffPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${tesseraPort}`;
    bffOrigin = `http://127.0.0.1:${bffPort}`;
    [t, browser] = await Promise.all([
      createTestApp({ env: { TESSERA_ISSUER: issuer, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" } }),
      launchChromium(),
      build({ root: SPA_DIR, configFile: join(SPA_DIR, "vite.config.js"), logLevel: "warn" }),
    ]);
    await t.app.listen({ port: tesseraPort, host: "127.0.0.1" });
    const { clients } = t.ctx.oauth;
    await clients.createResourceServer({ audience: API, name: "Orders", scope: "orders:read orders:write" });
    const shop = await clients.create({
      name: "Shop",
      redirectUris: [`${bffOrigin}/bff/callback`],
      postLogoutRedirectUris: [`${bffOrigin}/`],
      backchannelLogoutUri: `${bffOrigin}/bff/backchannel-logout`,
      resources: [API],
      scope: SCOPE,
      firstParty: true,
      accessTokenTtl: 60,
    });
    // A machine client that reads the orders at the API directly (the test's independent view).
    const machine = await clients.create({
      name: "Auditor",
      grantTypes: ["client_credentials"],
      resources: [API],
      scope: "orders:read",
    });
    auditor = { id: machine.client.id, secret: machine.secret! };
    shopClientId = shop.client.id;
    await t.ctx.accounts.users.create(
      { userName: "pat", displayName: "Pat Doe", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );

    const example = await import("../../examples/resource-server/server.mjs");
    api = await example.buildServer({ TESSERA_ISSUER: issuer, API_AUDIENCE: API, LOG_LEVEL: "silent" });
    api.addHook("onRequest", async (request) => {
      if (request.headers.authorization) bearers.push(request.headers.authorization);
    });
    await api.listen({ port: 0, host: "127.0.0.1" });
    apiUrl = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;

    dataDir = mkdtempSync(join(tmpdir(), "tessera-bff-browser-"));
    const spa = await import("../../examples/spa/serve.mjs");
    bff = await spa.buildApp(
      {
        BFF_ISSUER: issuer,
        BFF_CLIENT_ID: shop.client.id,
        BFF_CLIENT_SECRET: shop.secret,
        BFF_PUBLIC_URL: bffOrigin,
        BFF_SCOPE: SCOPE,
        BFF_RESOURCE: API,
        BFF_UPSTREAMS: `/api=${apiUrl}`,
        BFF_DATABASE_URL: join(dataDir, "bff.db"),
        BFF_MASTER_KEY: "5a".repeat(32),
        BFF_ALLOW_INSECURE: "1",
        LOG_LEVEL: "silent",
      },
      // The BFF reads time from Tessera's manual clock, so moving it expires the access token for both.
      { clock: t.clock },
    );
    await bff.listen({ port: bffPort, host: "127.0.0.1" });

    // Pages of another origin: served for `localhost` (another site) and `127.0.0.1` (same site, other port).
    otherSite = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://x").pathname;
      if (path === "/form") {
        // A classic CSRF: a text/plain form whose body happens to be JSON, posted to the proxy by the browser.
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
          `<!doctype html><title>Prizes</title><form id="f" method="POST" enctype="text/plain"
             action="${bffOrigin}/bff/api/orders"><input type="hidden"
             name='{"item":"forged by form","quantity":1,"x":"' value='"}'></form>`,
        );
        return;
      }
      response
        .writeHead(200, { "content-type": "text/html; charset=utf-8" })
        .end("<!doctype html><title>Elsewhere</title><p>another origin</p>");
    });
    await new Promise<void>((resolve) => otherSite.listen(0, "127.0.0.1", resolve));
    otherPort = (otherSite.address() as AddressInfo).port;

    context = await browser.newContext();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("response", (response) => {
      received.push(
        response.text().then(
          (body) => ({ url: response.url(), body }),
          () => ({ url: response.url(), body: "" }), // redirects have no body
        ),
      );
    });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await new Promise((resolve) => (otherSite ? otherSite.close(resolve) : resolve(undefined)));
    await bff?.close();
    await api?.close();
    await t?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The orders as the API itself has them, read with the auditor's own token. */
  async function ordersAtApi(): Promise<Order[]> {
    const token = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${auditor.id}:${auditor.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "orders:read", resource: API }),
    }).then(async (r) => ((await r.json()) as { access_token: string }).access_token);
    const response = await fetch(`${apiUrl}/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { orders: Order[] }).orders;
  }

  /** A `fetch` from the current page (its origin, its cookies); answers the status and the body's text. */
  function fetchFromPage(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string },
  ) {
    return page.evaluate(
      async ({ url, init }) => {
        const response = await fetch(url, { ...init, credentials: "include" });
        return { status: response.status, body: await response.text() };
      },
      { url, init },
    );
  }

  it("signs in through Tessera's pages and shows the user and the orders fetched through the BFF", async () => {
    await page.goto(`${bffOrigin}/`);
    await page.locator("#sign-in").click();
    await page.waitForURL(`${issuer}/login**`);
    await page.locator("#username").fill("pat");
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([
      page.waitForURL(`${bffOrigin}/`),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    await expect.poll(() => page.locator("#user-name").textContent()).toBe("Pat Doe");
    await expect.poll(() => page.locator("#orders li").count()).toBe(1);
    expect(await page.locator("#orders li").first().textContent()).toContain("tesserae");

    // Placing an order from the SPA's form reaches the API with the user's token.
    await page.locator("#item").fill("smalti");
    await page.locator("#quantity").fill("12");
    await page.getByRole("button", { name: "Place order" }).click();
    await expect.poll(() => page.locator("#orders li").count()).toBe(2);
    expect((await ordersAtApi()).map((o) => o.item)).toEqual(["tesserae", "smalti"]);
    expect(forwarded().length).toBeGreaterThan(0);
  });

  it("keeps every token out of the page's reach", async () => {
    const cookies = await context.cookies(bffOrigin);
    const session = cookies.find((c) => c.name === "bff_session");
    expect(session).toBeDefined();
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Strict");
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      storage: [localStorage, sessionStorage].flatMap((store) =>
        Array.from(
          { length: store.length },
          (_, i) => `${store.key(i)}=${store.getItem(store.key(i) ?? "")}`,
        ),
      ),
    }));
    expect(visible.cookie).not.toContain("bff_session");
    expect(visible.cookie).not.toMatch(TOKEN_PATTERN);
    expect(visible.storage.filter((entry) => TOKEN_PATTERN.test(entry) || entry.includes("tsr_"))).toEqual(
      [],
    );

    const bodies = await Promise.all(received);
    expect(bodies.some((b) => b.url.startsWith(`${bffOrigin}/bff/api/orders`))).toBe(true);
    expect(bodies.some((b) => b.url === `${bffOrigin}/bff/user`)).toBe(true);
    expect(bodies.filter((b) => TOKEN_PATTERN.test(b.body)).map((b) => b.url)).toEqual([]);
    // The tokens do exist (server-side): the API got JWT access tokens from the BFF.
    expect(forwarded().every((h) => /^Bearer eyJ/.test(h))).toBe(true);
  });

  it("refuses a same-origin POST without the x-bff-csrf header with 403", async () => {
    const answer = await fetchFromPage(`${bffOrigin}/bff/api/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item: "no header", quantity: 1 }),
    });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ error: "csrf" });
    expect((await ordersAtApi()).map((o) => o.item)).not.toContain("no header");
  });

  it("creates no order from another site's form or fetch, nor from another origin of the same site", async () => {
    const before = (await ordersAtApi()).length;
    const attacker = await context.newPage();
    attacker.setDefaultTimeout(10_000);
    // 1. Another site (localhost ≠ 127.0.0.1) auto-submits a form to the proxy.
    await attacker.goto(`http://localhost:${otherPort}/form`);
    const [formAnswer] = await Promise.all([
      attacker.waitForResponse(`${bffOrigin}/bff/api/orders`),
      attacker.locator("#f").evaluate((form: { submit(): void }) => form.submit()),
    ]);
    expect(formAnswer.status()).toBe(403);
    expect(await formAnswer.json()).toEqual({ error: "csrf" });
    // 2. fetch from another site and from another origin of the same site: no-cors (the custom header is
    //    dropped; the SameSite=Strict cookie does go along from 127.0.0.1) and cors (the preflight fails).
    for (const origin of [`http://localhost:${otherPort}`, `http://127.0.0.1:${otherPort}`]) {
      await attacker.goto(`${origin}/`);
      const outcomes = await attacker.evaluate(async (target) => {
        const body = JSON.stringify({ item: "forged by fetch", quantity: 1 });
        const attempts: string[] = [];
        for (const mode of ["no-cors", "cors"] as const) {
          try {
            const response = await fetch(target, {
              method: "POST",
              mode,
              credentials: "include",
              headers: {
                "content-type": mode === "cors" ? "application/json" : "text/plain",
                "x-bff-csrf": "1",
              },
              body,
            });
            attempts.push(`${mode}: ${response.type} ${response.status}`);
          } catch (error) {
            attempts.push(`${mode}: ${String(error)}`);
          }
        }
        return attempts;
      }, `${bffOrigin}/bff/api/orders`);
      // no-cors answers are opaque (status 0); the cors attempt never gets past its preflight.
      expect(outcomes[0]).toBe("no-cors: opaque 0");
      expect(outcomes[1]).toMatch(/^cors: TypeError/);
    }
    await attacker.close();
    const after = await ordersAtApi();
    expect(after).toHaveLength(before);
    expect(after.map((o) => o.item).filter((item) => item.startsWith("forged"))).toEqual([]);
  });

  it("keeps calls working after the access token expires, with a token obtained by refresh", async () => {
    const before = forwarded().at(-1);
    t.clock.advance(61_000);
    await page.reload();
    await expect.poll(() => page.locator("#user-name").textContent()).toBe("Pat Doe");
    await expect.poll(() => page.locator("#orders li").count()).toBe(2);
    const after = forwarded().at(-1);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    // The new access token was issued at Tessera's (moved) time, once the old one had expired.
    expect(claimsOf(after).iat).toBeGreaterThanOrEqual(claimsOf(before).exp);
    // And the page still received no token.
    const bodies = await Promise.all(received);
    expect(bodies.filter((b) => TOKEN_PATTERN.test(b.body)).map((b) => b.url)).toEqual([]);
  });

  it("logs out through Tessera, after which the BFF answers 401 for the user and the API", async () => {
    const navigations: string[] = [];
    page.on("request", (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame())
        navigations.push(request.url());
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    // Through Tessera's end-session endpoint (which redirects at once) and back to the SPA.
    await expect.poll(() => navigations.some((url) => url.startsWith(`${issuer}/`))).toBe(true);
    await expect.poll(() => navigations.at(-1)?.startsWith(`${bffOrigin}/`)).toBe(true);
    await page.waitForLoadState();
    await expect.poll(() => page.locator("#sign-in").isVisible()).toBe(true);
    expect((await fetchFromPage(`${bffOrigin}/bff/user`, {})).status).toBe(401);
    const orders = await fetchFromPage(`${bffOrigin}/bff/api/orders`, { headers: { "x-bff-csrf": "1" } });
    expect(orders.status).toBe(401);
    // Signing in again asks for the password: Tessera's session ended too.
    await page.locator("#sign-in").click();
    await page.waitForURL(`${issuer}/login**`);
  });
});
