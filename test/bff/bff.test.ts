/**
 * The BFF end to end, on each session store (SQLite, PostgreSQL, Redis): a real, listening Tessera (http on
 * loopback), the BFF listening on its own port, and a small upstream API that records what it receives.
 *
 * - Sign-in: /bff/login → Tessera's pages (PAR, sign-in, consent skipped for a first-party client) →
 *   /bff/callback → the session cookie (HttpOnly, SameSite=Strict, no Secure on http) → returnTo.
 * - The browser never sees a token: /bff/user answers claims only; the proxy adds the bearer.
 * - Proxy: bodies stream, `set-cookie`, hop-by-hop and CORS headers from the upstream are dropped; the
 *   browser's cookie, authorization and hop-by-hop headers never reach the upstream.
 * - CSRF, returnTo open redirects, refresh (one refresh for many concurrent requests), dead refresh token,
 *   logout (revocation checked by introspection), back-channel logout.
 * Tessera's manual clock is the BFF's clock too, as in a deployment where both read the same time.
 */
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bffPlugin, loadBffConfig, openSessionStore, type SessionStore } from "../../src/bff/index.js";
import { createMasterKey, hashToken } from "../../src/crypto/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { runAuthorization } from "../helpers/oauth.js";
import { freePort } from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";
const MASTER_KEY = "5a".repeat(32);
const TOKEN_PATTERN = /eyJ[A-Za-z0-9_-]{8,}\.eyJ|tsr_rt_|tsr_at_/;
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

type StoreKind = "sqlite" | "postgres" | "redis";

interface Received {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyHash?: string;
  bodyLength?: number;
}

describe.each<StoreKind>(["sqlite", "postgres", "redis"])("the BFF with sessions in %s", (kind) => {
  let t: TestApp;
  let issuer: string;
  let bff: FastifyInstance;
  let bffOrigin: string;
  let upstream: FastifyInstance;
  let store: SessionStore;
  let database: TestDatabase | undefined;
  let client: { id: string; secret: string };
  const received: Received[] = [];
  let refreshCalls = 0;

  beforeAll(async () => {
    const [tesseraPort, bffPort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${tesseraPort}`;
    bffOrigin = `http://127.0.0.1:${bffPort}`;
    // The BFF (back-channel logout receiver) is on loopback, which outbound requests reach only when allowed.
    t = await createTestApp({
      env: { TESSERA_ISSUER: issuer, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" },
    });
    await t.app.listen({ port: tesseraPort, host: "127.0.0.1" });
    const shop = await t.ctx.oauth.clients.create({
      name: "Shop",
      redirectUris: [`${bffOrigin}/bff/callback`],
      postLogoutRedirectUris: [`${bffOrigin}/`],
      backchannelLogoutUri: `${bffOrigin}/bff/backchannel-logout`,
      scope: "openid profile email offline_access",
      firstParty: true,
      accessTokenTtl: 60,
    });
    client = { id: shop.client.id, secret: shop.secret! };
    await t.ctx.accounts.users.create(
      { userName: "pat", displayName: "Pat Doe", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );

    upstream = Fastify();
    upstream.removeAllContentTypeParsers();
    upstream.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: 16 * 1024 * 1024 }, (_r, body, done) =>
      done(null, body),
    );
    upstream.all("/*", async (request, reply) => {
      const body = request.body as Buffer | undefined;
      received.push({
        method: request.method,
        url: request.url,
        headers: { ...request.headers },
        ...(body
          ? { bodyHash: createHash("sha256").update(body).digest("hex"), bodyLength: body.length }
          : {}),
      });
      reply.header("set-cookie", "upstream=1; Path=/");
      reply.header("proxy-authenticate", "Basic");
      reply.header("access-control-allow-origin", "*");
      reply.header("x-upstream", "yes");
      return { ok: true, method: request.method, url: request.url, length: body?.length ?? 0 };
    });
    await upstream.listen({ port: 0, host: "127.0.0.1" });
    const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;

    let databaseUrl: string;
    if (kind === "redis") databaseUrl = REDIS_URL;
    else {
      database = await createTestDatabase(kind);
      databaseUrl = database.url;
    }
    const config = loadBffConfig({
      BFF_ISSUER: issuer,
      BFF_CLIENT_ID: client.id,
      BFF_CLIENT_SECRET: client.secret,
      BFF_PUBLIC_URL: bffOrigin,
      BFF_SCOPE: "openid profile email offline_access",
      BFF_UPSTREAMS: `/api=${upstreamUrl}/v1`,
      BFF_RETURN_TO: "/app,/",
      BFF_DATABASE_URL: databaseUrl,
      BFF_MASTER_KEY: MASTER_KEY,
      BFF_ALLOW_INSECURE: "1",
    });
    store = await openSessionStore({
      databaseUrl,
      idleTimeoutMs: config.sessionIdleTimeout * 1000,
      now: () => t.clock.now(),
      redisPrefix: `bff-test-${randomBytes(6).toString("hex")}:`,
    });
    const countingFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.endsWith("/token") && String(init?.body ?? "").includes("grant_type=refresh_token")) {
        refreshCalls++;
      }
      return fetch(input, init);
    }) as typeof fetch;
    bff = Fastify();
    await bff.register(bffPlugin, { config, store, clock: t.clock, fetch: countingFetch });
    await bff.listen({ port: bffPort, host: "127.0.0.1" });
  });

  afterAll(async () => {
    await bff?.close();
    await store?.close();
    await upstream?.close();
    await t?.close();
    await database?.drop();
  });

  /** Signs in through the BFF and Tessera's pages; answers the session cookie and Tessera's page client. */
  async function signIn(returnTo = "/app?tab=1") {
    const login = await fetch(`${bffOrigin}/bff/login?returnTo=${encodeURIComponent(returnTo)}`, {
      redirect: "manual",
    });
    expect(login.status).toBe(303);
    const authorize = new URL(login.headers.get("location")!);
    expect(authorize.origin).toBe(issuer);
    const loginCookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    const page = new PageClient(t.app, issuer);
    const callback = await runAuthorization(page, authorize);
    expect(callback.origin).toBe(bffOrigin);
    const finished = await fetch(callback, { headers: { cookie: loginCookie }, redirect: "manual" });
    expect(finished.status, await finished.clone().text()).toBe(303);
    const setCookies = finished.headers.getSetCookie();
    const session = setCookies.find((c) => c.startsWith("bff_session="))!;
    return {
      page,
      location: finished.headers.get("location"),
      authorize,
      sessionSetCookie: session,
      cookie: session.split(";")[0]!,
      id: session.split(";")[0]!.split("=")[1]!,
      body: await finished.text(),
    };
  }

  /** A GET over node:http, which sends paths and headers as given (fetch normalises both). */
  function rawRequest(path: string, headers: Record<string, string>): Promise<{ status: number }> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(bffOrigin);
      const req = httpRequest({ hostname, port, path, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  const csrfHeaders = (cookie: string) => ({ cookie, origin: bffOrigin, "x-bff-csrf": "1" });

  async function storedTokens(id: string) {
    const idHash = hashToken(id);
    const stored = await store.get(idHash);
    if (!stored) return undefined;
    const key = createMasterKey(Buffer.from(MASTER_KEY, "hex"));
    const open = (field: string, sealed: string | null) =>
      sealed === null ? null : key.open(sealed, `bff-session:${idHash}:${field}`).toString("utf8");
    return {
      stored,
      accessToken: open("access_token", stored.accessToken)!,
      refreshToken: open("refresh_token", stored.refreshToken),
    };
  }

  async function introspect(token: string): Promise<{ active: boolean }> {
    const response = await fetch(`${issuer}/introspect`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token }),
    });
    return (await response.json()) as { active: boolean };
  }

  it("signs in through Tessera (PAR), sets an HttpOnly SameSite=Strict cookie and returns to returnTo", async () => {
    const s = await signIn();
    expect(s.authorize.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(s.location).toBe("/app?tab=1");
    expect(s.sessionSetCookie).toMatch(/^bff_session=[A-Za-z0-9_-]{43};/);
    expect(s.sessionSetCookie).toContain("HttpOnly");
    expect(s.sessionSetCookie).toContain("SameSite=Strict");
    expect(s.sessionSetCookie).toContain("Path=/");
    expect(s.sessionSetCookie).not.toContain("Secure");
    expect(s.body).not.toMatch(TOKEN_PATTERN);
  });

  it("keeps tokens sealed at rest and the session keyed by the id's hash", async () => {
    const s = await signIn();
    const tokens = await storedTokens(s.id);
    expect(tokens?.accessToken).toMatch(/^eyJ/);
    expect(tokens?.stored.accessToken).toMatch(/^v1\./);
    expect(tokens?.stored.accessToken).not.toContain(tokens!.accessToken);
    expect(tokens?.stored.refreshToken).toMatch(/^v1\./);
    expect(await store.get(s.id)).toBeUndefined();
  });

  it("answers the user's claims at /bff/user, never a token; 401 login_required without a session", async () => {
    const s = await signIn();
    const user = await fetch(`${bffOrigin}/bff/user`, { headers: { cookie: s.cookie } });
    expect(user.status).toBe(200);
    expect(user.headers.get("cache-control")).toBe("no-store");
    const text = await user.text();
    expect(text).not.toMatch(TOKEN_PATTERN);
    const claims = JSON.parse(text) as Record<string, unknown>;
    expect(claims).toMatchObject({ preferred_username: "pat", name: "Pat Doe" });
    expect(typeof claims.sub).toBe("string");
    expect(claims.nonce).toBeUndefined();
    const anonymous = await fetch(`${bffOrigin}/bff/user`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: "login_required" });
    const forged = await fetch(`${bffOrigin}/bff/user`, {
      headers: { cookie: `bff_session=${"A".repeat(43)}` },
    });
    expect(forged.status).toBe(401);
  });

  it("proxies GET with the bearer token, strips the browser's credentials and the upstream's cookies", async () => {
    const s = await signIn();
    received.length = 0;
    const response = await fetch(`${bffOrigin}/bff/api/orders?status=open`, {
      headers: {
        cookie: s.cookie,
        authorization: "Bearer browser-made-this-up",
        "proxy-authorization": "Basic eA==",
        "x-keep-me": "1",
      },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: "GET", url: "/v1/orders?status=open" });
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(response.headers.get("proxy-authenticate")).toBeNull();
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("x-upstream")).toBe("yes");
    const seen = received[0]!;
    const { accessToken } = (await storedTokens(s.id))!;
    expect(seen.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers["proxy-authorization"]).toBeUndefined();
    expect(seen.headers["x-keep-me"]).toBe("1");
    // Headers the browser's Connection header names are hop-by-hop too (fetch cannot send one: raw http).
    received.length = 0;
    const raw = await rawRequest("/bff/api/orders", {
      cookie: s.cookie,
      connection: "keep-alive, x-drop-me",
      "x-drop-me": "1",
    });
    expect(raw.status).toBe(200);
    expect(received[0]?.headers["x-drop-me"]).toBeUndefined();
    const anonymous = await fetch(`${bffOrigin}/bff/api/orders`);
    expect(anonymous.status).toBe(401);
    expect(received).toHaveLength(1);
  });

  it("streams a request body to the upstream (POST, chunked) and refuses dot segments", async () => {
    const s = await signIn();
    received.length = 0;
    const payload = randomBytes(2 * 1024 * 1024 + 17);
    const chunks = [payload.subarray(0, 1_000_000), payload.subarray(1_000_000)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const response = await fetch(`${bffOrigin}/bff/api/uploads`, {
      method: "POST",
      headers: { ...csrfHeaders(s.cookie), "content-type": "application/octet-stream" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: "POST", length: payload.length });
    expect(received[0]?.bodyHash).toBe(createHash("sha256").update(payload).digest("hex"));
    expect(received[0]?.headers["x-bff-csrf"]).toBeUndefined();
    for (const path of ["/bff/api/%2e%2e/admin", "/bff/api/../admin", "/bff/api/x/./y"]) {
      expect((await rawRequest(path, { cookie: s.cookie })).status, path).toBe(400);
    }
    expect(received).toHaveLength(1);
  });

  it("refuses state-changing requests without x-bff-csrf, from a foreign origin, or cross-site (403 csrf)", async () => {
    const s = await signIn();
    received.length = 0;
    const attempts: Record<string, string>[] = [
      { cookie: s.cookie, origin: bffOrigin },
      { cookie: s.cookie, origin: "http://localhost:1234", "x-bff-csrf": "1" },
      { cookie: s.cookie, origin: "null", "x-bff-csrf": "1" },
      { cookie: s.cookie, "sec-fetch-site": "cross-site", "x-bff-csrf": "1" },
      { cookie: s.cookie, "x-bff-csrf": "1" },
      { cookie: s.cookie, origin: bffOrigin, "x-bff-csrf": "true" },
    ];
    for (const headers of attempts) {
      const response = await fetch(`${bffOrigin}/bff/api/orders`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(await response.json()).toEqual({ error: "csrf" });
    }
    const logout = await fetch(`${bffOrigin}/bff/logout`, { method: "POST", headers: { cookie: s.cookie } });
    expect(logout.status).toBe(403);
    expect(received).toHaveLength(0);
    const sameOrigin = await fetch(`${bffOrigin}/bff/api/orders`, {
      method: "DELETE",
      headers: { cookie: s.cookie, "sec-fetch-site": "same-origin", "x-bff-csrf": "1" },
    });
    expect(sameOrigin.status).toBe(200);
    const preflight = await fetch(`${bffOrigin}/bff/api/orders`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:1234", "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(received).toHaveLength(1);
  });

  it("refuses open-redirect returnTo values with 400", async () => {
    for (const returnTo of [
      "//evil.example/",
      "https://evil.example/",
      "/\\evil.example",
      "/%2F%2Fevil.example",
      "/app//evil",
      "javascript:alert(1)",
      "app",
      "/\tevil",
    ]) {
      const response = await fetch(`${bffOrigin}/bff/login?returnTo=${encodeURIComponent(returnTo)}`, {
        redirect: "manual",
      });
      expect(response.status, returnTo).toBe(400);
      expect(await response.json()).toEqual({ error: "invalid_return_to" });
    }
  });

  it("refreshes a nearly expired access token once for many concurrent requests", async () => {
    const s = await signIn();
    const before = (await storedTokens(s.id))!.accessToken;
    received.length = 0;
    refreshCalls = 0;
    t.clock.advance(45_000); // within 30 s of the 60-second lifetime
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${bffOrigin}/bff/api/orders`, { headers: { cookie: s.cookie } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(refreshCalls).toBe(1);
    const after = (await storedTokens(s.id))!.accessToken;
    expect(after).not.toBe(before);
    expect(new Set(received.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${after}`]));
    // Fresh again: no further refresh.
    await fetch(`${bffOrigin}/bff/api/orders`, { headers: { cookie: s.cookie } });
    expect(refreshCalls).toBe(1);
  });

  it("ends the session and answers 401 login_required when the refresh token is dead", async () => {
    const s = await signIn();
    const { refreshToken } = (await storedTokens(s.id))!;
    const revoked = await fetch(`${issuer}/revoke`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token: refreshToken!, token_type_hint: "refresh_token" }),
    });
    expect(revoked.status).toBe(200);
    t.clock.advance(45_000);
    const response = await fetch(`${bffOrigin}/bff/api/orders`, { headers: { cookie: s.cookie } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "login_required" });
    expect(response.headers.get("set-cookie")).toMatch(/^bff_session=;.*Max-Age=0/);
    expect(await store.get(hashToken(s.id))).toBeUndefined();
    const user = await fetch(`${bffOrigin}/bff/user`, { headers: { cookie: s.cookie } });
    expect(user.status).toBe(401);
  });

  it("logs out: revokes the refresh token, clears the cookie, answers Tessera's end-session URL", async () => {
    const s = await signIn();
    const { refreshToken } = (await storedTokens(s.id))!;
    expect((await introspect(refreshToken!)).active).toBe(true);
    const response = await fetch(`${bffOrigin}/bff/logout`, {
      method: "POST",
      headers: csrfHeaders(s.cookie),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toMatch(/^bff_session=;.*Max-Age=0/);
    const { logoutUrl } = (await response.json()) as { logoutUrl: string };
    const url = new URL(logoutUrl);
    expect(`${url.origin}${url.pathname}`).toBe(`${issuer}/end-session`);
    expect(url.searchParams.get("post_logout_redirect_uri")).toBe(`${bffOrigin}/`);
    expect(url.searchParams.get("id_token_hint")).toMatch(/^eyJ/);
    expect((await introspect(refreshToken!)).active).toBe(false);
    const user = await fetch(`${bffOrigin}/bff/user`, { headers: { cookie: s.cookie } });
    expect(user.status).toBe(401);
    // Tessera signs the user out at once with that hint and comes back to the BFF's origin.
    const end = await s.page.get(url.pathname + url.search);
    expect(end.statusCode).toBe(303);
    expect(end.headers.location).toBe(`${bffOrigin}/`);
  });

  it("ends the BFF session when Tessera sends a back-channel logout token; refuses a forged one", async () => {
    const s = await signIn();
    const forged = await fetch(`${bffOrigin}/bff/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0." }),
    });
    expect(forged.status).toBe(400);
    const missing = await fetch(`${bffOrigin}/bff/backchannel-logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(missing.status).toBe(400);
    expect((await fetch(`${bffOrigin}/bff/user`, { headers: { cookie: s.cookie } })).status).toBe(200);
    await s.page.get("/account");
    const out = await s.page.post("/logout", {});
    expect(out.statusCode).toBe(200);
    await t.ctx.oauth.logout.idle();
    expect((await fetch(`${bffOrigin}/bff/user`, { headers: { cookie: s.cookie } })).status).toBe(401);
    expect(await store.get(hashToken(s.id))).toBeUndefined();
  });
});
