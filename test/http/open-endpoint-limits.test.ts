/**
 * Request budgets of the two endpoints anyone may call: `POST /api-tokens/leaked` (LEAK_REPORT_RATE) and
 * `POST /login/passkey/options` (PASSKEY_OPTIONS_RATE), per client address (`request.ip`, an IPv6 client's
 * /64), in memory on one instance and shared through the real Redis at 127.0.0.1:6379 with REDIS_URL.
 */
import { createHash, randomBytes } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LEAK_REPORT_RATE } from "../../src/http/routes/leaked-tokens.js";
import { PASSKEY_OPTIONS_RATE } from "../../src/http/routes/mfa-webauthn.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";

const ISSUER = "https://id.example.test";
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** An address no other run uses (the Redis budgets outlive a run by up to a minute). */
/** Where the limiter keeps a budget: SHA-256 of [scope, id] under its default prefix. */
const redisKey = (scope: string, id: string) =>
  `tessera:ratelimit:${createHash("sha256")
    .update(JSON.stringify([scope, id]))
    .digest("base64url")}`;

const randomIp = () => {
  const [a = 0, b = 0, c = 0] = randomBytes(3);
  return `10.${a}.${b}.${c}`;
};

function reportLeak(t: TestApp, remoteAddress: string, body: unknown = { tokens: ["not-a-token"] }) {
  return t.app.inject({
    method: "POST",
    url: "/api-tokens/leaked",
    remoteAddress,
    headers: { "content-type": "application/json" },
    payload: JSON.stringify(body),
  });
}

/** A /login page client at `ip`: its anonymous CSRF token and cookie are what passkey options need. */
async function loginPage(t: TestApp, ip: string): Promise<PageClient> {
  const page = new PageClient(t.app, ISSUER, ip);
  expect((await page.get("/login")).statusCode).toBe(200);
  expect(page.lastCsrf).toBeTruthy();
  return page;
}

function passkeyOptions(t: TestApp, page: PageClient, ip: string, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: "POST",
    url: "/login/passkey/options",
    remoteAddress: ip,
    headers: {
      "content-type": "application/json",
      origin: ISSUER,
      "x-tessera-csrf": page.lastCsrf ?? "",
      cookie: [...page.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      ...headers,
    },
    payload: "{}",
  });
}

async function challengeRows(t: TestApp): Promise<number> {
  const row = await t.ctx.storage.db
    .selectFrom("webauthn_challenges")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function expectLimited(response: LightMyRequestResponse, retryAfter: string) {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.headers["retry-after"]).toBe(retryAfter);
  expect(response.headers["cache-control"]).toBe("no-store");
  const body = response.json() as { error: string; error_description: string };
  expect(body.error).toBe("too_many_attempts");
  expect(body.error_description).toEqual(expect.any(String));
  expect(body.error_description.length).toBeGreaterThan(0);
}

async function times<T>(n: number, run: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < n; i++) results.push(await run(i));
  return results;
}

const statuses = (responses: LightMyRequestResponse[]) => [...new Set(responses.map((r) => r.statusCode))];

describe("the shipped budgets", () => {
  it("are 120 leak reports and 60 passkey option requests per address per minute", () => {
    expect(LEAK_REPORT_RATE).toEqual({ limit: 120, windowMs: 60_000 });
    expect(PASSKEY_OPTIONS_RATE).toEqual({ limit: 60, windowMs: 60_000 });
  });
});

describe("open-endpoint budgets in memory (one instance)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t?.close();
  });

  describe("POST /api-tokens/leaked", () => {
    it("answers the budget, then 429 with Retry-After; another address is unaffected; it refills", async () => {
      const ip = "203.0.113.10";
      const within = await times(LEAK_REPORT_RATE.limit, () => reportLeak(t, ip));
      expect(statuses(within)).toEqual([200]);
      expect(within[0]?.json()).toEqual({ received: 1, recognised: 0, revoked: 0 });

      // One token every 500 ms: the next request may come in 0.5 s, announced as 1 s.
      expectLimited(await reportLeak(t, ip), "1");
      expect((await reportLeak(t, "203.0.113.11")).statusCode).toBe(200);

      t.clock.advance(500);
      expect((await reportLeak(t, ip)).statusCode).toBe(200);
      expectLimited(await reportLeak(t, ip), "1");

      // A minute after the last request the whole budget is back (and no more).
      t.clock.advance(LEAK_REPORT_RATE.windowMs);
      expect(statuses(await times(LEAK_REPORT_RATE.limit, () => reportLeak(t, ip)))).toEqual([200]);
      expectLimited(await reportLeak(t, ip), "1");
      t.clock.advance(LEAK_REPORT_RATE.windowMs);
    });

    it("counts malformed reports too, and does not count refused ones", async () => {
      const ip = "203.0.113.20";
      const malformed = await times(LEAK_REPORT_RATE.limit, () => reportLeak(t, ip, { tokens: [] }));
      expect(statuses(malformed)).toEqual([400]);
      expectLimited(await reportLeak(t, ip), "1");
      // Hammering while limited does not push the next allowed request back.
      await times(30, () => reportLeak(t, ip));
      t.clock.advance(500);
      expect((await reportLeak(t, ip)).statusCode).toBe(200);
      t.clock.advance(LEAK_REPORT_RATE.windowMs);
    });

    it("keys on the connection's address, not on X-Forwarded-For (no trusted proxy configured)", async () => {
      const ip = "203.0.113.30";
      const spoofed = await times(LEAK_REPORT_RATE.limit, (i) =>
        t.app.inject({
          method: "POST",
          url: "/api-tokens/leaked",
          remoteAddress: ip,
          headers: { "content-type": "application/json", "x-forwarded-for": `198.18.0.${i}` },
          payload: JSON.stringify({ tokens: ["x"] }),
        }),
      );
      expect(statuses(spoofed)).toEqual([200]);
      expectLimited(await reportLeak(t, ip), "1");
      t.clock.advance(LEAK_REPORT_RATE.windowMs);
    });

    it("gives an IPv6 client one budget per /64", async () => {
      const within = await times(LEAK_REPORT_RATE.limit, (i) =>
        reportLeak(t, `2001:db8:5:6::${i.toString(16)}`),
      );
      expect(statuses(within)).toEqual([200]);
      expectLimited(await reportLeak(t, "2001:db8:5:6:ffff:ffff:ffff:ffff"), "1");
      expect((await reportLeak(t, "2001:db8:5:7::1")).statusCode).toBe(200);
      t.clock.advance(LEAK_REPORT_RATE.windowMs);
    });
  });

  describe("POST /login/passkey/options", () => {
    it("answers the budget, then 429 with Retry-After and no challenge stored; another address is unaffected; it refills", async () => {
      const ip = "203.0.113.40";
      const page = await loginPage(t, ip);
      const before = await challengeRows(t);
      const within = await times(PASSKEY_OPTIONS_RATE.limit, () => passkeyOptions(t, page, ip));
      expect(statuses(within)).toEqual([200]);
      expect(within[0]?.json().options.challenge).toEqual(expect.any(String));
      expect(await challengeRows(t)).toBe(before + PASSKEY_OPTIONS_RATE.limit);

      // One token a second.
      const limited = await passkeyOptions(t, page, ip);
      expectLimited(limited, "1");
      expect(limited.json().redirect).toBeUndefined();
      expect(await challengeRows(t)).toBe(before + PASSKEY_OPTIONS_RATE.limit);

      const elsewhere = "203.0.113.41";
      expect((await passkeyOptions(t, await loginPage(t, elsewhere), elsewhere)).statusCode).toBe(200);

      t.clock.advance(999);
      expectLimited(await passkeyOptions(t, page, ip), "1");
      t.clock.advance(1);
      expect((await passkeyOptions(t, page, ip)).statusCode).toBe(200);
      expectLimited(await passkeyOptions(t, page, ip), "1");

      t.clock.advance(PASSKEY_OPTIONS_RATE.windowMs);
      expect(statuses(await times(PASSKEY_OPTIONS_RATE.limit, () => passkeyOptions(t, page, ip)))).toEqual([
        200,
      ]);
      expectLimited(await passkeyOptions(t, page, ip), "1");
      t.clock.advance(PASSKEY_OPTIONS_RATE.windowMs);
    });

    it("counts requests refused for CSRF too (every request to the endpoint spends the budget)", async () => {
      const ip = "203.0.113.50";
      const page = await loginPage(t, ip);
      const forged = await times(PASSKEY_OPTIONS_RATE.limit, () =>
        passkeyOptions(t, page, ip, { "x-tessera-csrf": "forged" }),
      );
      expect(statuses(forged)).toEqual([403]);
      expectLimited(await passkeyOptions(t, page, ip), "1");
      t.clock.advance(PASSKEY_OPTIONS_RATE.windowMs);
    });

    it("gives verify its own budget (a refused verify writes an audit event); the page is never limited", async () => {
      const ip = "203.0.113.60";
      const page = await loginPage(t, ip);
      await times(PASSKEY_OPTIONS_RATE.limit + 1, () => passkeyOptions(t, page, ip));
      expect((await page.get("/login")).statusCode).toBe(200);
      const verify = () =>
        t.app.inject({
          method: "POST",
          url: "/login/passkey/verify",
          remoteAddress: ip,
          headers: {
            "content-type": "application/json",
            origin: ISSUER,
            "x-tessera-csrf": page.lastCsrf ?? "",
            cookie: [...page.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
          },
          payload: JSON.stringify({ response: {} }),
        });
      // Options spent their budget; verify still has its own.
      const within = await times(PASSKEY_OPTIONS_RATE.limit, verify);
      expect(statuses(within)).toEqual([400]);
      expect(within[0]?.json().error).toBe("webauthn_failed");
      expectLimited(await verify(), "1");
      t.clock.advance(PASSKEY_OPTIONS_RATE.windowMs);
    });
  });
});

describe("open-endpoint budgets through Redis (REDIS_URL): shared by every instance", () => {
  let one: TestApp;
  let two: TestApp;
  let redis: Redis;
  const used: { scope: string; id: string }[] = [];

  beforeAll(async () => {
    one = await createTestApp({ env: { TESSERA_ISSUER: ISSUER, REDIS_URL } });
    two = await createTestApp({ env: { TESSERA_ISSUER: ISSUER, REDIS_URL } });
    two.clock.set(one.clock.now());
    redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    // Only this run's keys (they would expire within a minute anyway).
    if (used.length > 0) await redis.del(...used.map(({ scope, id }) => redisKey(scope, id)));
    await redis?.quit();
    await one?.close();
    await two?.close();
  });

  const advance = (ms: number) => {
    one.clock.advance(ms);
    two.clock.advance(ms);
  };

  it("spends one leak-report budget across two instances; another address is unaffected; it refills", async () => {
    const ip = randomIp();
    const other = randomIp();
    used.push({ scope: "leak-report:ip", id: ip }, { scope: "leak-report:ip", id: other });
    const within = await times(LEAK_REPORT_RATE.limit, (i) => reportLeak(i % 2 === 0 ? one : two, ip));
    expect(statuses(within)).toEqual([200]);
    expect(await redis.exists(redisKey("leak-report:ip", ip))).toBe(1);
    expectLimited(await reportLeak(one, ip), "1");
    expectLimited(await reportLeak(two, ip), "1");
    expect((await reportLeak(two, other)).statusCode).toBe(200);
    advance(LEAK_REPORT_RATE.windowMs);
    expect(statuses(await times(LEAK_REPORT_RATE.limit, () => reportLeak(two, ip)))).toEqual([200]);
    expectLimited(await reportLeak(one, ip), "1");
  });

  it("spends one passkey-options budget across two instances", async () => {
    const ip = randomIp();
    used.push({ scope: "passkey-options:ip", id: ip });
    const pageOne = await loginPage(one, ip);
    const pageTwo = await loginPage(two, ip);
    const half = PASSKEY_OPTIONS_RATE.limit / 2;
    expect(statuses(await times(half, () => passkeyOptions(one, pageOne, ip)))).toEqual([200]);
    expect(statuses(await times(half, () => passkeyOptions(two, pageTwo, ip)))).toEqual([200]);
    expectLimited(await passkeyOptions(one, pageOne, ip), "1");
    expectLimited(await passkeyOptions(two, pageTwo, ip), "1");
    advance(1000);
    expect((await passkeyOptions(two, pageTwo, ip)).statusCode).toBe(200);
    expectLimited(await passkeyOptions(one, pageOne, ip), "1");
  });
});
