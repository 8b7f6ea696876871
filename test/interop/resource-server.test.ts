/**
 * End to end: the example resource server (examples/resource-server, protected by the SDK's `createVerifier`
 * through its Fastify adapter) accepts tokens from a real, listening Tessera and refuses what it must.
 *
 * - Tokens come from Tessera's real endpoints: client_credentials (JWT), the code flow through the sign-in and
 *   consent pages (openid-client), a personal access token from the admin API, an opaque access token.
 * - The example is imported as a package consumer does (`tessera/verify`, resolved to `dist/`), and talks to
 *   Tessera over real HTTP (discovery, JWKS, introspection, revocation feed).
 * - Revocation: a cached JWT and a cached API token are refused after Tessera revokes them, once the
 *   verifier's next poll of the revocation feed has run (polled here until refused, with a generous deadline).
 */
import type { FastifyInstance } from "fastify";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { codeFlowTokens, runAuthorization } from "../helpers/oauth.js";
import { freePort } from "../helpers/tls-server.js";

const API = "https://api.example.test";
const CALLBACK = "https://rp.example.test/cb";
const PASSWORD = "correct horse battery staple 42";

describe("the example resource server, with tokens from a real Tessera", () => {
  let t: TestApp;
  let issuer: string;
  let api: FastifyInstance;
  let apiUrl: string;
  let machine: { id: string; secret: string };
  let rp: oidc.Configuration;
  let userId: string;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await createTestApp({ env: { TESSERA_ISSUER: issuer, TESSERA_REVOCATION_POLL_INTERVAL: "200" } });
    await t.app.listen({ port, host: "127.0.0.1" });
    const { clients } = t.ctx.oauth;
    await clients.createResourceServer({ audience: API, name: "Orders", scope: "orders:read orders:write" });
    // The API's own confidential client: introspection and the revocation feed.
    const rs = await clients.create({
      name: "Orders API",
      grantTypes: ["client_credentials"],
      resources: [API],
      scope: "orders:read",
    });
    const m = await clients.create({
      name: "Billing job",
      grantTypes: ["client_credentials"],
      resources: [API],
      scope: "orders:read",
    });
    machine = { id: m.client.id, secret: m.secret! };
    const app = await clients.create({
      name: "Shop",
      redirectUris: [CALLBACK],
      resources: [API],
      scope: "openid profile orders:read orders:write",
      firstParty: true,
    });
    // Over the real socket (plain http on loopback, hence allowInsecureRequests).
    rp = await oidc.discovery(
      new URL(issuer),
      app.client.id,
      { client_secret: app.secret },
      oidc.ClientSecretBasic(app.secret),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;

    const example = await import("../../examples/resource-server/server.mjs");
    api = await example.buildServer({
      TESSERA_ISSUER: issuer,
      API_AUDIENCE: API,
      CLIENT_ID: rs.client.id,
      CLIENT_SECRET: rs.secret,
      LOG_LEVEL: "silent",
    });
    await api.listen({ port: 0, host: "127.0.0.1" });
    const address = api.server.address();
    apiUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await api?.close();
    await t?.close();
  });

  async function call(path: string, token?: string, init: RequestInit = {}) {
    const response = await fetch(`${apiUrl}${path}`, {
      ...init,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
    });
    return {
      status: response.status,
      challenge: response.headers.get("www-authenticate"),
      body: (await response.json()) as { orders?: unknown[]; [field: string]: unknown },
    };
  }

  async function machineToken(): Promise<string> {
    const response = await fetch(`${issuer}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${machine.id}:${machine.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: "orders:read", resource: API }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** Calls until the answer is a refusal (the verifier's next feed poll), or gives up after 10 s. */
  async function untilRefused(path: string, token: string) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await call(path, token);
      if (answer.status !== 200 || Date.now() > deadline) return answer;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("answers 401 with a Bearer challenge without a token, and invalid_token for garbage", async () => {
    const none = await call("/orders");
    expect(none.status).toBe(401);
    expect(none.challenge).toMatch(/^Bearer\b/);
    expect(none.challenge).not.toContain("error=");
    const garbage = await call("/orders", "not-a-token");
    expect(garbage.status).toBe(401);
    expect(garbage.challenge).toContain('error="invalid_token"');
  });

  it("accepts a client_credentials JWT for its scope and refuses a missing scope with 403", async () => {
    const token = await machineToken();
    const read = await call("/orders", token);
    expect(read.status).toBe(200);
    expect(read.body.orders).toHaveLength(1);
    const me = await call("/me", token);
    expect(me.body).toMatchObject({ sub: machine.id, kind: "jwt", client_id: machine.id });
    const write = await call("/orders", token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item: "grout", quantity: 1 }),
    });
    expect(write.status).toBe(403);
    expect(write.challenge).toContain('error="insufficient_scope"');
    expect(write.challenge).toContain('scope="orders:write"');
  });

  it("asks for a fresh sign-in (RFC 9470) where the route needs one and the token has none", async () => {
    const answer = await call("/orders/export", await machineToken());
    expect(answer.status).toBe(401);
    expect(answer.challenge).toContain('error="insufficient_user_authentication"');
    expect(answer.challenge).toContain('max_age="300"'); // quoted, as in RFC 9470 §3's example
  });

  it("accepts a user's token from the code flow, and a fresh sign-in passes the step-up route", async () => {
    const tokens = await codeFlowTokens(
      rp,
      new PageClient(t.app, issuer),
      CALLBACK,
      "openid orders:read orders:write",
    );
    const me = await call("/me", tokens.access_token);
    expect(me.status).toBe(200);
    expect(me.body.sub).toBe(userId);
    const created = await call("/orders", tokens.access_token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item: "smalti", quantity: 12 }),
    });
    expect(created.status).toBe(201);
    expect((await call("/orders/export", tokens.access_token)).status).toBe(200);
  });

  it("refuses a cached JWT once the client revokes it (revocation feed)", async () => {
    const token = await machineToken();
    expect((await call("/orders", token)).status).toBe(200);
    const revoked = await fetch(`${issuer}/revoke`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${machine.id}:${machine.secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    const answer = await untilRefused("/orders", token);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toContain('error="invalid_token"');
  });

  it("accepts a personal access token through introspection, and refuses it once revoked", async () => {
    const created = await t.app.inject({
      method: "POST",
      url: "/admin/api-tokens",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: {
        kind: "personal",
        name: "script",
        ownerId: userId,
        scopes: ["orders:read"],
        resources: [API],
      },
    });
    expect(created.statusCode).toBe(201);
    const { token, apiToken } = created.json() as { token: string; apiToken: { id: string } };
    const me = await call("/me", token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: userId, kind: "personal", scope: "orders:read" });
    expect((await call("/orders", token)).status).toBe(200);
    const revoke = await t.app.inject({
      method: "DELETE",
      url: `/admin/api-tokens/${apiToken.id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(revoke.statusCode).toBe(204);
    const answer = await untilRefused("/orders", token);
    expect(answer.status).toBe(401);
  });

  it("refuses a mistyped API token without asking Tessera", async () => {
    const before = t
      .logs()
      .split("\n")
      .filter((l) => l.includes('"url":"/introspect"')).length;
    const answer = await call("/orders", `tsr_pat_${"A".repeat(49)}`);
    expect(answer.status).toBe(401);
    const after = t
      .logs()
      .split("\n")
      .filter((l) => l.includes('"url":"/introspect"')).length;
    expect(after).toBe(before);
  });

  it("refuses every token of a user who is disabled (sub event), even a cached one", async () => {
    const other = await t.ctx.accounts.users.create(
      { userName: "grace", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK,
      scope: "openid orders:read",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const callback = await runAuthorization(new PageClient(t.app, issuer), url, {
      userName: "grace",
      password: PASSWORD,
    });
    const tokens = await oidc.authorizationCodeGrant(rp, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    expect((await call("/orders", tokens.access_token)).status).toBe(200);
    await t.ctx.accounts.users.setActive(other.id, false, { actor: "test", authority: "admin" as const });
    const answer = await untilRefused("/orders", tokens.access_token);
    expect(answer.status).toBe(401);
  });
});
