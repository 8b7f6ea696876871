/**
 * The framework adapters over one verifier: real Express (listening on a port, called with fetch), real
 * Fastify (`inject`), real Hono (`app.request`) and the Fetch API. Each must set the claims, answer refusals
 * with RFC 6750 statuses, `WWW-Authenticate` and a JSON body, and pass the caller's IP for API tokens.
 */
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireAuth as expressAuth } from "../../src/sdk/verify/express.js";
import { requireAuth as fastifyAuth, tesseraAuth } from "../../src/sdk/verify/fastify.js";
import { createRequestVerifier, errorResponse, VerifyError } from "../../src/sdk/verify/fetch.js";
import { requireAuth as honoAuth, type TesseraAuthEnv } from "../../src/sdk/verify/hono.js";
import { createVerifier, type Verifier } from "../../src/sdk/verify/index.js";
import {
  AUDIENCE,
  CLIENT_ID,
  CLIENT_SECRET,
  type FakeIssuer,
  opaqueToken,
  startIssuer,
} from "./verify-issuer.js";

let issuer: FakeIssuer;
let verifier: Verifier;
let good: string;
let readOnly: string;

const INVALID =
  'Bearer realm="orders", error="invalid_token", error_description="The access token is invalid, expired or revoked."';

function restrictedToken(cidr: string): string {
  const token = opaqueToken("tsr_svc_");
  issuer.tokens.set(token, {
    active: true,
    token_type: "Bearer",
    sub: "svc-1",
    scope: "orders:write",
    aud: AUDIENCE,
    iat: Math.floor(Date.now() / 1000),
    jti: `svc-${token.slice(-8)}`,
    tessera_token_kind: "service",
    tessera_allowed_ips: [cidr],
  });
  return token;
}

beforeAll(async () => {
  issuer = await startIssuer();
  verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    realm: "orders",
  });
  good = await issuer.sign({ scope: "orders:write orders:read" });
  readOnly = await issuer.sign({ scope: "orders:read" });
});
afterAll(async () => {
  verifier.close();
  await issuer.close();
});

describe("Express", () => {
  let base: string;
  let server: ReturnType<ReturnType<typeof express>["listen"]>;
  beforeAll(async () => {
    const app = express();
    app.post("/orders", expressAuth(verifier, { scopes: ["orders:write"] }), (req, res) => {
      res.json({ sub: req.auth?.sub, kind: req.auth?.tokenKind });
    });
    await new Promise<void>((resolve) => {
      server = app.listen(0, "127.0.0.1", () => resolve());
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (headers: Record<string, string> = {}, path = "/orders") =>
    fetch(`${base}${path}`, { method: "POST", headers });

  it("sets req.auth for a valid token", async () => {
    const response = await post({ authorization: `Bearer ${good}` });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "user-1", kind: "jwt" });
  });

  it("answers RFC 6750 refusals", async () => {
    const none = await post();
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="orders"');
    expect(none.headers.get("cache-control")).toBe("no-store");

    const bad = await post({ authorization: "Bearer nope" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toBe(INVALID);
    expect(await bad.json()).toEqual({
      error: "invalid_token",
      error_description: "The access token is invalid, expired or revoked.",
    });

    const scope = await post({ authorization: `Bearer ${readOnly}` });
    expect(scope.status).toBe(403);
    expect(scope.headers.get("www-authenticate")).toContain('scope="orders:write"');

    expect((await post({ authorization: "Bearer a b" })).status).toBe(400);
    expect((await post({ authorization: `Bearer ${good}` }, `/orders?access_token=${good}`)).status).toBe(
      400,
    );
  });

  it("passes req.ip for network-restricted API tokens", async () => {
    expect((await post({ authorization: `Bearer ${restrictedToken("127.0.0.0/8")}` })).status).toBe(200);
    expect((await post({ authorization: `Bearer ${restrictedToken("10.0.0.0/8")}` })).status).toBe(401);
  });
});

describe("Fastify", () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    app.post(
      "/orders",
      { preHandler: fastifyAuth(verifier, { scopes: ["orders:write"] }) },
      async (request) => ({
        sub: request.auth?.sub,
      }),
    );
    await app.register(async (scoped) => {
      await scoped.register(tesseraAuth, { verifier, scopes: "orders:read" });
      scoped.get("/scoped", async (request) => ({ scopes: request.auth?.scopes }));
    });
    app.get("/public", async (request) => ({ auth: request.auth ?? null }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it("sets request.auth in a preHandler and in the plugin's scope only", async () => {
    const ok = await app.inject({
      method: "POST",
      url: "/orders",
      headers: { authorization: `Bearer ${good}` },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ sub: "user-1" });
    const scoped = await app.inject({ url: "/scoped", headers: { authorization: `Bearer ${readOnly}` } });
    expect(scoped.json()).toEqual({ scopes: ["orders:read"] });
    expect((await app.inject({ url: "/scoped" })).statusCode).toBe(401);
    expect((await app.inject({ url: "/public" })).json()).toEqual({ auth: null });
  });

  it("answers RFC 6750 refusals without running the handler", async () => {
    const none = await app.inject({ method: "POST", url: "/orders" });
    expect(none.statusCode).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="orders"');
    const bad = await app.inject({
      method: "POST",
      url: "/orders",
      headers: { authorization: "Bearer nope" },
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers["www-authenticate"]).toBe(INVALID);
    expect(bad.json()).toMatchObject({ error: "invalid_token" });
    const scope = await app.inject({
      method: "POST",
      url: "/orders",
      headers: { authorization: `Bearer ${readOnly}` },
    });
    expect(scope.statusCode).toBe(403);
    expect(scope.headers["www-authenticate"]).toContain('error="insufficient_scope"');
  });

  it("passes request.ip for network-restricted API tokens", async () => {
    const token = restrictedToken("192.0.2.0/24");
    const inside = await app.inject({
      method: "POST",
      url: "/orders",
      remoteAddress: "192.0.2.10",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(inside.statusCode).toBe(200);
    const outside = await app.inject({
      method: "POST",
      url: "/orders",
      remoteAddress: "198.51.100.1",
      headers: { authorization: `Bearer ${token}` },
    });
    expect(outside.statusCode).toBe(401);
  });
});

describe("Hono", () => {
  const app = new Hono<TesseraAuthEnv>();
  beforeAll(() => {
    app.post("/orders", honoAuth(verifier, { scopes: ["orders:write"] }), (c) =>
      c.json({ sub: c.get("auth").sub }),
    );
    app.get(
      "/step-up",
      honoAuth(verifier, { acrValues: ["mfa"], getIp: (c) => c.req.header("x-test-ip") }),
      (c) => c.json({ acr: c.get("auth").acr }),
    );
  });

  it("sets c.get('auth') for a valid token", async () => {
    const response = await app.request("/orders", {
      method: "POST",
      headers: { authorization: `Bearer ${good}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "user-1" });
  });

  it("answers RFC 6750 and RFC 9470 refusals", async () => {
    const none = await app.request("/orders", { method: "POST" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="orders"');
    const scope = await app.request("/orders", {
      method: "POST",
      headers: { authorization: `Bearer ${readOnly}` },
    });
    expect(scope.status).toBe(403);
    const stepUp = await app.request("/step-up", { headers: { authorization: `Bearer ${good}` } });
    expect(stepUp.status).toBe(401);
    expect(stepUp.headers.get("www-authenticate")).toContain('error="insufficient_user_authentication"');
    expect(stepUp.headers.get("www-authenticate")).toContain('acr_values="mfa"');
  });

  it("uses the Node socket address by default, or getIp", async () => {
    const token = restrictedToken("203.0.113.0/24");
    const request = (ip: string) =>
      app.request(
        "/orders",
        { method: "POST", headers: { authorization: `Bearer ${token}` } },
        {
          incoming: { socket: { remoteAddress: ip } },
        },
      );
    expect((await request("203.0.113.9")).status).toBe(200);
    expect((await request("198.51.100.1")).status).toBe(401);
    // No address known at all: refused.
    expect(
      (await app.request("/orders", { method: "POST", headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(401);
  });
});

describe("Fetch API", () => {
  const auth = () => createRequestVerifier(verifier, { scopes: ["orders:write"] });

  it("resolves to the claims, or throws a VerifyError that errorResponse answers", async () => {
    const check = auth();
    const claims = await check(
      new Request("https://api.example/orders", { headers: { authorization: `Bearer ${good}` } }),
    );
    expect(claims.sub).toBe("user-1");
    const error = await check(new Request("https://api.example/orders")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerifyError);
    const response = errorResponse(error as VerifyError);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="orders"');
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(await response.json()).toEqual({
      error: "unauthorized",
      error_description: "An access token is required.",
    });
  });

  it("takes the caller's IP from the context", async () => {
    const token = restrictedToken("2001:db8::/32");
    const request = () =>
      new Request("https://api.example/orders", { headers: { authorization: `Bearer ${token}` } });
    await expect(auth()(request(), { ip: "2001:db8::7" })).resolves.toMatchObject({ tokenKind: "service" });
    await expect(auth()(request())).rejects.toMatchObject({ status: 401, reason: "ip_not_allowed" });
  });
});

describe("injectable fetch", () => {
  it("verifies against a Fastify app reached through inject, without a socket", async () => {
    // A minimal Tessera stand-in as a Fastify app: discovery and JWKS only.
    const tessera = Fastify();
    const url = "https://tessera.test";
    tessera.get("/.well-known/openid-configuration", async () => ({ issuer: url, jwks_uri: `${url}/jwks` }));
    tessera.get("/jwks", async () => ({ keys: issuer.served() }));
    await tessera.ready();
    const injectFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const target = new URL(input instanceof Request ? input.url : input);
      const response = await tessera.inject({
        method: (init?.method ?? "GET") as "GET",
        url: `${target.pathname}${target.search}`,
        headers: init?.headers as Record<string, string>,
        ...(init?.body === undefined ? {} : { payload: init.body as string }),
      });
      return new Response(response.body, {
        status: response.statusCode,
        headers: response.headers as Record<string, string>,
      });
    }) as typeof fetch;
    const viaInject = createVerifier({ issuer: url, audience: AUDIENCE, fetch: injectFetch });
    await expect(viaInject.verify(await issuer.sign({ iss: url }))).resolves.toMatchObject({ iss: url });
    viaInject.close();
    await tessera.close();
  });
});
