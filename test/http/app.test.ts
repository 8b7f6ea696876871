import { calculateJwkThumbprint, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminToken } from "../../src/api-tokens/index.js";
import { DEFAULT_CSP } from "../../src/http/security-headers.js";
import { adminTokensRepository } from "../../src/storage/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";

/** A generated request id: the process's 64-bit random prefix in hex, then a base-36 counter. */
const GENERATED_ID = /^[0-9a-f]{16}-[0-9a-z]+$/;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

describe.each(["sqlite", "postgres"] as const)("HTTP basics on %s", (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ dialect });
  });
  afterAll(async () => {
    await t.close();
  });

  it("/healthz answers 200", async () => {
    const res = await t.app.inject({ url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("/readyz answers 200 when the database answers", async () => {
    const res = await t.app.inject({ url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok", checks: { database: "ok" } });
  });

  it("/.well-known/jwks.json serves the public keys, cacheable, with RFC 7638 thumbprints as kid", async () => {
    const res = await t.app.inject({ url: "/.well-known/jwks.json" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers["cache-control"]).toBe("public, max-age=300");
    const { keys } = res.json() as { keys: JWK[] };
    expect(keys.map((k) => k.alg).sort()).toEqual(["ES256", "ES256", "EdDSA", "EdDSA", "RS256", "RS256"]);
    for (const key of keys) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(key.kid).toBe(await calculateJwkThumbprint(key, "sha256"));
    }
  });
});

describe("HTTP behaviour", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("sets the security headers, and no HSTS on a plain-http issuer", async () => {
    const res = await t.app.inject({ url: "/healthz" });
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["strict-transport-security"]).toBeUndefined();
  });

  const expectSecurityHeaders = (headers: Record<string, unknown>) => {
    expect(headers["content-security-policy"]).toBe(DEFAULT_CSP);
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(headers["cache-control"]).toBe("no-store");
    expect(headers["x-request-id"]).toMatch(GENERATED_ID);
  };

  it("sets the security headers on 404s, on refusals and on errors raised by Fastify itself", async () => {
    const notFound = await t.app.inject({ url: "/nope" });
    expect(notFound.statusCode).toBe(404);
    expectSecurityHeaders(notFound.headers);
    const refused = await t.app.inject({ url: "/admin/keys" });
    expect(refused.statusCode).toBe(401);
    expectSecurityHeaders(refused.headers);
    // A JSON body where only forms are accepted: Fastify's content-type parser refuses it (415).
    const unsupported = await t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "text/plain" },
      payload: "grant_type=client_credentials",
    });
    expect(unsupported.statusCode).toBe(415);
    expectSecurityHeaders(unsupported.headers);
  });

  it("answers a URL Fastify cannot decode with a 400 in Tessera's format, security headers included", async () => {
    // A percent-escape that is not UTF-8 in a path parameter: Fastify refuses it before routing.
    const res = await t.app.inject({ url: "/scim/v2/Users/%E0%A4%A", headers: admin });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: "invalid_request",
      error_description: "The request URL is malformed.",
    });
    expectSecurityHeaders(res.headers);
  });

  it("answers a path parameter over Fastify's length limit with a 414 in Tessera's format", async () => {
    const res = await t.app.inject({ url: `/scim/v2/Users/${"a".repeat(101)}`, headers: admin });
    expect(res.statusCode).toBe(414);
    expect(res.json()).toEqual({
      error: "invalid_request",
      error_description: "A path segment of the URL is too long.",
    });
    expectSecurityHeaders(res.headers);
  });

  it("lets a route replace the default CSP, Referrer-Policy and Cache-Control, once each", async () => {
    const page = await t.app.inject({ url: "/login" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-security-policy"]).not.toBe(DEFAULT_CSP);
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers["referrer-policy"]).toBe("same-origin");
    const jwks = await t.app.inject({ url: "/.well-known/jwks.json" });
    expect(jwks.headers["cache-control"]).toBe("public, max-age=300");
    for (const res of [page, jwks]) {
      for (const [name, value] of Object.entries(res.headers)) {
        if (name !== "set-cookie") expect(Array.isArray(value), name).toBe(false);
      }
    }
  });

  it("echoes a well-formed X-Request-Id and replaces a malformed one", async () => {
    const kept = await t.app.inject({ url: "/healthz", headers: { "x-request-id": "abc-123" } });
    expect(kept.headers["x-request-id"]).toBe("abc-123");
    const replaced = await t.app.inject({ url: "/healthz", headers: { "x-request-id": "bad id\n{json}" } });
    expect(replaced.headers["x-request-id"]).toMatch(GENERATED_ID);
  });

  it("gives every request its own id: one prefix per process, a counter after it", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++)
      ids.push(String((await t.app.inject({ url: "/healthz" })).headers["x-request-id"]));
    expect(new Set(ids).size).toBe(ids.length);
    const prefixes = new Set(ids.map((id) => id.split("-")[0]));
    expect(prefixes.size).toBe(1);
    const counters = ids.map((id) => Number.parseInt(id.split("-")[1] as string, 36));
    for (let i = 1; i < counters.length; i++) expect(counters[i]).toBe((counters[i - 1] as number) + 1);
  });

  it("answers an unknown path with a JSON 404", async () => {
    const res = await t.app.inject({ url: "/nope" });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: "not_found", error_description: "No such resource." });
  });

  it("/metrics exposes request counters by route pattern and token issuance", async () => {
    await t.app.inject({ url: "/healthz" });
    t.ctx.keys.sign({ exp: Math.floor(t.clock.now() / 1000) + 60 }, { typ: "at+jwt" });
    const res = await t.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/http_requests_total\{method="GET",route="\/healthz",status_code="200"\} \d+/);
    expect(res.body).toMatch(
      /http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/healthz"/,
    );
    expect(res.body).toMatch(/tessera_tokens_issued_total\{kind="at\+jwt"\} 1/);
    expect(res.body).toContain("nodejs_eventloop_lag_seconds");
  });

  it("labels unmatched paths as one route, so a token in a path never reaches /metrics", async () => {
    await t.app.inject({ url: "/secret-path-tsr_token_value" });
    const res = await t.app.inject({ url: "/metrics" });
    expect(res.body).not.toContain("tsr_token_value");
    expect(res.body).toContain('route="unmatched"');
  });
});

describe("HTTPS issuer", () => {
  it("adds HSTS when the issuer is https", async () => {
    const t = await createTestApp({ env: { TESSERA_ISSUER: "https://id.example.com" } });
    try {
      const res = await t.app.inject({ url: "/healthz" });
      expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
    } finally {
      await t.close();
    }
  });
});

describe("readiness", () => {
  it("/readyz answers 503 when the database is gone, /healthz still 200", async () => {
    const t = await createTestApp();
    try {
      await t.ctx.storage.close();
      const ready = await t.app.inject({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers["retry-after"]).toBe("5");
      expect(ready.json()).toEqual({ status: "unavailable", checks: { database: "fail" } });
      expect((await t.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await t.app.close();
    }
  });

  it("/readyz checks Redis when REDIS_URL is set: ok with the real server, degraded (still 200) without it", async () => {
    const up = await createTestApp({ env: { REDIS_URL: "redis://127.0.0.1:6379" } });
    const down = await createTestApp({ env: { REDIS_URL: "redis://127.0.0.1:1" } });
    try {
      const ok = await up.app.inject({ url: "/readyz" });
      expect(ok.json()).toEqual({ status: "ok", checks: { database: "ok", redis: "ok" } });
      // Without Redis the instance still serves correctly (memory fallbacks): in rotation, visibly degraded.
      const degraded = await down.app.inject({ url: "/readyz" });
      expect(degraded.statusCode).toBe(200);
      expect(degraded.json()).toEqual({ status: "degraded", checks: { database: "ok", redis: "fail" } });
      const metrics = (await down.app.inject({ url: "/metrics" })).body;
      expect(metrics).toContain('tessera_dependency_up{dependency="redis"} 0');
      expect(metrics).toContain('tessera_dependency_up{dependency="database"} 1');
      // …and sign-in still works, throttled in memory.
      const user = await down.ctx.accounts.users.create(
        { userName: "degraded", password: "correct horse battery staple 42" },
        { actor: "test", authority: "admin" },
      );
      const signedIn = await down.ctx.accounts.signIn.signIn({
        userName: "degraded",
        password: "correct horse battery staple 42",
        ip: "192.0.2.9",
        userAgent: null,
      });
      expect(signedIn.id).toBe(user.id);
    } finally {
      await up.close();
      await down.close();
    }
  });
});

describe("metrics protection", () => {
  it("/metrics needs the bearer token when TESSERA_METRICS_TOKEN is set, and is open otherwise", async () => {
    const token = "metrics-token-0123456789abcdef-0123456789";
    const t = await createTestApp({ env: { TESSERA_METRICS_TOKEN: token } });
    const open = await createTestApp();
    try {
      const none = await t.app.inject({ url: "/metrics" });
      expect(none.statusCode).toBe(401);
      expect(none.headers["www-authenticate"]).toBe('Bearer realm="tessera-metrics"');
      expect(none.body).not.toContain("http_requests_total");
      const wrong = await t.app.inject({ url: "/metrics", headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.statusCode).toBe(401);
      const right = await t.app.inject({ url: "/metrics", headers: { authorization: `Bearer ${token}` } });
      expect(right.statusCode).toBe(200);
      expect(right.body).toContain("tessera_tokens_issued_total");
      expect((await open.app.inject({ url: "/metrics" })).statusCode).toBe(200);
    } finally {
      await t.close();
      await open.close();
    }
  });
});

describe("admin API authentication", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("refuses a request without credentials with 401 and a Bearer challenge", async () => {
    const res = await t.app.inject({ url: "/admin/keys" });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe('Bearer realm="tessera-admin"');
    expect(res.json().error).toBe("unauthorized");
  });

  it("refuses a wrong token with invalid_token", async () => {
    const res = await t.app.inject({ url: "/admin/keys", headers: { authorization: "Bearer nope-nope" } });
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
  });

  it("refuses a token in the query string (RFC 6750 §2.3 is not supported: it leaks)", async () => {
    const res = await t.app.inject({ url: `/admin/keys?access_token=${TEST_ADMIN_TOKEN}` });
    expect(res.statusCode).toBe(401);
  });

  it("accepts the bootstrap token and lists keys without key material", async () => {
    const res = await t.app.inject({ url: "/admin/keys", headers: admin });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json() as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(6);
    expect(JSON.stringify(keys)).not.toMatch(/private|v1\./);
  });

  it("accepts a minted admin token; refuses it with one character changed, and after revocation", async () => {
    const deps = { repository: adminTokensRepository(t.ctx.storage.db), clock: t.clock };
    const { token, id } = await createAdminToken(deps, { name: "ci" });
    expect(token).toMatch(/^tsr_adm_[0-9A-Za-z]{49}$/);
    const ok = await t.app.inject({ url: "/admin/keys", headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    const { listAdminTokens } = await import("../../src/api-tokens/index.js");
    // Last use is written behind the check (batched), not before the answer.
    expect((await listAdminTokens(deps)).find((x) => x.id === id)?.lastUsedAt).toBeNull();
    await t.ctx.adminTokens.flush();
    expect((await listAdminTokens(deps)).find((x) => x.id === id)?.lastUsedAt).toBe(t.clock.now());
    const last = token.at(-1) === "a" ? "b" : "a";
    const typo = await t.app.inject({
      url: "/admin/keys",
      headers: { authorization: `Bearer ${token.slice(0, -1)}${last}` },
    });
    expect(typo.statusCode).toBe(401);
    const { revokeAdminToken } = await import("../../src/api-tokens/index.js");
    expect(await revokeAdminToken(deps, id)).toBe(true);
    const revoked = await t.app.inject({ url: "/admin/keys", headers: { authorization: `Bearer ${token}` } });
    expect(revoked.statusCode).toBe(401);
  });

  it("rotation through the API: 409 while the next key is too fresh, 200 when forced", async () => {
    const early = await t.app.inject({
      method: "POST",
      url: "/admin/keys/rotate",
      headers: admin,
      payload: {},
    });
    expect(early.statusCode).toBe(409);
    expect(early.json().error).toBe("key_rotation_too_soon");
    const forced = await t.app.inject({
      method: "POST",
      url: "/admin/keys/rotate",
      headers: admin,
      payload: { alg: "EdDSA", force: true },
    });
    expect(forced.statusCode).toBe(200);
    expect(forced.json().results[0]).toMatchObject({ alg: "EdDSA", rotated: true });
  });
});
