/**
 * throttle.ts request budgets (`createMemoryRateLimiter`, `createRedisRateLimiter`): a token bucket of `limit`
 * requests refilled over `windowMs`, run against memory and against the real Redis at 127.0.0.1:6379 (random
 * key prefix per run, removed afterwards), plus the Redis-down fallback, the memory bound and
 * `clientAddressKey`.
 */
import { createHash, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clientAddressKey,
  createMemoryRateLimiter,
  createRedisRateLimiter,
  type RateLimiter,
  type RateLimitKey,
  type RateLimitPolicy,
} from "../../src/accounts/throttle.js";
import { manualClock } from "../../src/lib/clock.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN_PREFIX = `tessera-test:ratelimit:${randomBytes(6).toString("hex")}:`;

/** 5 requests per 10 s: a burst of 5, then one every 2 s. */
const POLICY: RateLimitPolicy = { limit: 5, windowMs: 10_000 };

let sequence = 0;
const uniqueId = () => `198.51.100.${++sequence}-${randomBytes(3).toString("hex")}`;
const key = (id = uniqueId(), policy = POLICY, scope = "test:ip"): RateLimitKey => ({ scope, id, policy });

const allowed = { allowed: true, retryAfterMs: 0 };
const refused = (retryAfterMs: number) => ({ allowed: false, retryAfterMs });

async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

let redis: Redis;
const extraClients: Redis[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});

afterAll(async () => {
  const keys = await scanKeys(redis, `${RUN_PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  expect(await scanKeys(redis, `${RUN_PREFIX}*`)).toEqual([]);
  for (const client of extraClients) client.disconnect();
  await redis.quit();
});

type Clock = ReturnType<typeof manualClock>;
const KINDS: { name: string; make: (clock: Clock) => RateLimiter }[] = [
  { name: "memory", make: (clock) => createMemoryRateLimiter({ clock }) },
  { name: "redis", make: (clock) => createRedisRateLimiter({ redis, clock, prefix: RUN_PREFIX }) },
];

async function spend(limiter: RateLimiter, k: RateLimitKey, times: number) {
  const decisions = [];
  for (let i = 0; i < times; i++) decisions.push(await limiter.take(k));
  return decisions;
}

describe.each(KINDS)("$name rate limiter", ({ make }) => {
  const setup = () => {
    const clock = manualClock(Date.now());
    return { clock, limiter: make(clock) };
  };

  it("allows a burst of `limit`, then refuses with the wait until the next token (windowMs / limit)", async () => {
    const { limiter } = setup();
    const k = key();
    expect(await spend(limiter, k, POLICY.limit)).toEqual(Array(POLICY.limit).fill(allowed));
    expect(await limiter.take(k)).toEqual(refused(2000));
  });

  it("refills one request every windowMs / limit, to the millisecond", async () => {
    const { clock, limiter } = setup();
    const k = key();
    await spend(limiter, k, POLICY.limit);
    clock.advance(1999);
    expect(await limiter.take(k)).toEqual(refused(1));
    clock.advance(1);
    expect(await limiter.take(k)).toEqual(allowed);
    expect(await limiter.take(k)).toEqual(refused(2000));
  });

  it("does not count refused requests: hammering does not push the next allowed time back", async () => {
    const { clock, limiter } = setup();
    const k = key();
    await spend(limiter, k, POLICY.limit);
    for (let i = 0; i < 50; i++) expect((await limiter.take(k)).allowed).toBe(false);
    clock.advance(1500);
    expect(await limiter.take(k)).toEqual(refused(500));
    clock.advance(500);
    expect(await limiter.take(k)).toEqual(allowed);
  });

  it("gives the whole budget back windowMs after the last request, and never more than `limit`", async () => {
    const { clock, limiter } = setup();
    const k = key();
    await spend(limiter, k, POLICY.limit);
    clock.advance(POLICY.windowMs);
    expect(await spend(limiter, k, POLICY.limit)).toEqual(Array(POLICY.limit).fill(allowed));
    expect((await limiter.take(k)).allowed).toBe(false);
    // A long idle period does not bank more than one full bucket.
    clock.advance(100 * POLICY.windowMs);
    expect(await spend(limiter, k, POLICY.limit)).toEqual(Array(POLICY.limit).fill(allowed));
    expect((await limiter.take(k)).allowed).toBe(false);
  });

  it("lets a steady client through at the refill rate indefinitely", async () => {
    const { clock, limiter } = setup();
    const k = key();
    await spend(limiter, k, POLICY.limit);
    for (let i = 0; i < 20; i++) {
      clock.advance(2000);
      expect(await limiter.take(k)).toEqual(allowed);
    }
  });

  it("keeps ids, scopes and policies apart", async () => {
    const { limiter } = setup();
    const id = uniqueId();
    await spend(limiter, key(id), POLICY.limit);
    expect((await limiter.take(key(id))).allowed).toBe(false);
    expect(await limiter.take(key())).toEqual(allowed);
    expect(await limiter.take(key(id, POLICY, "other:ip"))).toEqual(allowed);
  });

  it("refuses invalid policies", async () => {
    const { limiter } = setup();
    for (const policy of [
      { limit: 0, windowMs: 1000 },
      { limit: 1.5, windowMs: 1000 },
      { limit: 3, windowMs: 1000 },
      { limit: 10, windowMs: 5 },
      { limit: 1, windowMs: Number.NaN },
    ]) {
      await expect(limiter.take(key(uniqueId(), policy))).rejects.toThrow(RangeError);
    }
  });
});

describe("redis rate limiter", () => {
  it("shares one budget between instances (two clients, one Redis), counted exactly under concurrency", async () => {
    const other = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    extraClients.push(other);
    await other.connect();
    const clock = manualClock(Date.now());
    const one = createRedisRateLimiter({ redis, clock, prefix: RUN_PREFIX });
    const two = createRedisRateLimiter({ redis: other, clock, prefix: RUN_PREFIX });
    const policy: RateLimitPolicy = { limit: 20, windowMs: 60_000 };
    const k = key(uniqueId(), policy);
    const decisions = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).take(k)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect((await one.take(k)).allowed).toBe(false);
    expect((await two.take(k)).allowed).toBe(false);
  });

  it("stores only a hash of the key, expiring when the bucket is full again", async () => {
    const clock = manualClock(Date.now());
    const limiter = createRedisRateLimiter({ redis, clock, prefix: RUN_PREFIX });
    const id = `203.0.113.9-${randomBytes(4).toString("hex")}`;
    await spend(limiter, key(id), 3);
    const all = await scanKeys(redis, `${RUN_PREFIX}*`);
    expect(all.some((k) => k.includes(id))).toBe(false);
    const hashed = `${RUN_PREFIX}${createHash("sha256")
      .update(JSON.stringify(["test:ip", id]))
      .digest("base64url")}`;
    expect(all).toContain(hashed);
    // The stored value is the theoretical arrival time: now + 3 requests of 2 s.
    expect(Number(await redis.get(hashed))).toBe(clock.now() + 6000);
    // It expires (Redis time) when the bucket is full again: 6 s, never more than windowMs.
    const ttl = await redis.pttl(hashed);
    expect(ttl).toBeGreaterThan(5000);
    expect(ttl).toBeLessThanOrEqual(6000);
  });
});

describe("redis unreachable: per-instance memory fallback", () => {
  it("neither fails open nor closed: the same budget applies, in memory", async () => {
    const client = new Redis({
      host: "127.0.0.1",
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    client.on("error", () => undefined);
    extraClients.push(client);
    const clock = manualClock(Date.now());
    const limiter = createRedisRateLimiter({ redis: client, clock, prefix: RUN_PREFIX });
    const k = key();
    expect(await spend(limiter, k, POLICY.limit)).toEqual(Array(POLICY.limit).fill(allowed));
    expect(await limiter.take(k)).toEqual(refused(2000));
    clock.advance(2000);
    expect(await limiter.take(k)).toEqual(allowed);
  });
});

describe("memory rate limiter bound", () => {
  it("holds at most maxEntries keys, and drops buckets that are full again", async () => {
    const clock = manualClock(Date.now());
    const limiter = createMemoryRateLimiter({ clock, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await limiter.take(key());
    expect(limiter.size()).toBe(3);
    clock.advance(POLICY.windowMs);
    await limiter.take(key());
    expect(limiter.size()).toBe(1);
    expect(() => createMemoryRateLimiter({ clock, maxEntries: 0 })).toThrow(RangeError);
  });
});

describe("clientAddressKey", () => {
  it("keeps IPv4 addresses, and maps IPv4-mapped IPv6 addresses to them", () => {
    expect(clientAddressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientAddressKey("::FFFF:cb00:7107")).toBe("203.0.113.7");
  });

  it("groups an IPv6 address by its /64, whatever its spelling", () => {
    const prefix = "2001:db8:0:12::/64";
    for (const ip of [
      "2001:db8:0:12::1",
      "2001:0db8:0000:0012:ffff:ffff:ffff:ffff",
      "2001:DB8::12:0:0:0:5",
      "2001:db8:0:12:1:2:3.4.5.6",
      "2001:db8:0:12::7%eth0",
    ]) {
      expect(clientAddressKey(ip), ip).toBe(prefix);
    }
    expect(clientAddressKey("2001:db8:0:13::1")).toBe("2001:db8:0:13::/64");
    expect(clientAddressKey("::1")).toBe("0:0:0:0::/64");
    expect(clientAddressKey("::")).toBe("0:0:0:0::/64");
    expect(clientAddressKey("fe80::1")).toBe("fe80:0:0:0::/64");
  });

  it("returns anything else unchanged", () => {
    for (const value of ["", "unknown", "1.2.3", "2001:db8::g"]) expect(clientAddressKey(value)).toBe(value);
  });
});
