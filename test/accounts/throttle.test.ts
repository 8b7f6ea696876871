/**
 * throttle.ts: exponential back-off without permanent lock-out, run against the memory throttle and against
 * the real Redis at 127.0.0.1:6379 (random key prefix per run, removed afterwards), plus the Redis-down
 * fallback and the memory bound.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ACCOUNT_POLICY,
  backoffDelayMs,
  createMemoryThrottle,
  createRedisThrottle,
  IP_POLICY,
  type Throttle,
  type ThrottleKey,
  type ThrottlePolicy,
} from "../../src/accounts/throttle.js";
import { manualClock } from "../../src/lib/clock.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN_PREFIX = `tessera-test:throttle:${randomBytes(6).toString("hex")}:`;

/** 3 free failures, then 1 s, 2 s, 4 s, 8 s, 16 s (cap); forgotten 60 s after the last failure. */
const POLICY: ThrottlePolicy = { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 16_000, decayMs: 60_000 };

let sequence = 0;
/** A user name no other test uses (so tests sharing one Redis prefix never see each other's counters). */
const uniqueName = (label = "user") => `${label}-${++sequence}-${randomBytes(3).toString("hex")}@example.com`;
const account = (id: string, policy: ThrottlePolicy = POLICY): ThrottleKey => ({
  scope: "account",
  id,
  policy,
});
const ip = (id: string, policy: ThrottlePolicy = POLICY): ThrottleKey => ({ scope: "ip", id, policy });

const blocked = (retryAfterMs: number) => ({ allowed: false, retryAfterMs });
const allowed = { allowed: true, retryAfterMs: 0 };

async function fail(throttle: Throttle, keys: ThrottleKey[], times: number): Promise<void> {
  for (let i = 0; i < times; i++) await throttle.recordFailure(keys);
}

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
const KINDS: { name: string; make: (clock: Clock) => Throttle }[] = [
  { name: "memory", make: (clock) => createMemoryThrottle({ clock }) },
  { name: "redis", make: (clock) => createRedisThrottle({ redis, clock, prefix: RUN_PREFIX }) },
];

describe("backoffDelayMs: min(maxDelayMs, baseDelayMs * 2^(failures - freeFailures)) once failures >= free", () => {
  it("follows the formula for the account policy", () => {
    const delays = [0, 1, 4, 5, 6, 7, 14, 15, 16, 100, 5000].map((n) => backoffDelayMs(ACCOUNT_POLICY, n));
    expect(delays).toEqual([0, 0, 0, 1000, 2000, 4000, 512_000, 900_000, 900_000, 900_000, 900_000]);
    expect(backoffDelayMs(IP_POLICY, 19)).toBe(0);
    expect(backoffDelayMs(IP_POLICY, 20)).toBe(1000);
  });

  it("the shipped policies decay no sooner than their longest delay", () => {
    for (const p of [ACCOUNT_POLICY, IP_POLICY]) expect(p.decayMs).toBeGreaterThanOrEqual(p.maxDelayMs);
  });
});

describe.each(KINDS)("$name throttle", ({ make }) => {
  const setup = () => {
    const clock = manualClock();
    return { clock, throttle: make(clock) };
  };

  it("lets the free failures through: each of the first freeFailures attempts is allowed", async () => {
    const { throttle } = setup();
    const keys = [account(uniqueName())];
    for (let i = 0; i < POLICY.freeFailures; i++) {
      expect(await throttle.check(keys)).toEqual(allowed);
      await throttle.recordFailure(keys);
    }
    expect((await throttle.check(keys)).allowed).toBe(false);
  });

  it("delays the attempt after the free failures by exactly baseDelayMs, then allows it", async () => {
    const { clock, throttle } = setup();
    const keys = [account(uniqueName())];
    await fail(throttle, keys, POLICY.freeFailures);
    expect(await throttle.check(keys)).toEqual(blocked(1000));
    clock.advance(999);
    expect(await throttle.check(keys)).toEqual(blocked(1));
    clock.advance(1);
    expect(await throttle.check(keys)).toEqual(allowed);
  });

  it("doubles the delay with each further failure, measured from the last failure", async () => {
    const { clock, throttle } = setup();
    const keys = [account(uniqueName())];
    await fail(throttle, keys, POLICY.freeFailures);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const decision = await throttle.check(keys);
      waits.push(decision.retryAfterMs);
      clock.advance(decision.retryAfterMs);
      expect(await throttle.check(keys)).toEqual(allowed);
      await throttle.recordFailure(keys);
    }
    waits.push((await throttle.check(keys)).retryAfterMs);
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000]);
  });

  it("caps the delay at maxDelayMs and never locks permanently", async () => {
    const { clock, throttle } = setup();
    const keys = [account(uniqueName())];
    await fail(throttle, keys, POLICY.freeFailures + 40);
    expect(await throttle.check(keys)).toEqual(blocked(POLICY.maxDelayMs));
    clock.advance(POLICY.maxDelayMs);
    expect(await throttle.check(keys)).toEqual(allowed);
    // One more counted failure: still only maxDelayMs.
    await throttle.recordFailure(keys);
    expect(await throttle.check(keys)).toEqual(blocked(POLICY.maxDelayMs));
  });

  it("forgets a key decayMs after its last failure, and not a millisecond earlier", async () => {
    const { clock, throttle } = setup();
    const early = [account(uniqueName())];
    await fail(throttle, early, POLICY.freeFailures - 1);
    clock.advance(POLICY.decayMs - 1);
    await throttle.recordFailure(early); // still within the window: this is failure number freeFailures
    expect(await throttle.check(early)).toEqual(blocked(1000));

    const late = [account(uniqueName())];
    await fail(throttle, late, POLICY.freeFailures + 5);
    clock.advance(POLICY.decayMs);
    expect(await throttle.check(late)).toEqual(allowed);
    // The counter starts again from one: freeFailures - 1 more failures still leave it free.
    await fail(throttle, late, POLICY.freeFailures - 1);
    expect(await throttle.check(late)).toEqual(allowed);
    await throttle.recordFailure(late);
    expect(await throttle.check(late)).toEqual(blocked(1000));
  });

  it("reset clears the account key but not the IP key", async () => {
    const { throttle } = setup();
    const user = account(uniqueName());
    const address = ip(uniqueName("ip"));
    await fail(throttle, [user, address], POLICY.freeFailures + 1);
    expect(await throttle.check([user])).toEqual(blocked(2000));
    expect(await throttle.check([address])).toEqual(blocked(2000));

    await throttle.reset([user, address]);
    expect(await throttle.check([user])).toEqual(allowed);
    expect(await throttle.check([address])).toEqual(blocked(2000));
    // The account counter really is back to zero: the free failures are available again.
    await fail(throttle, [user], POLICY.freeFailures - 1);
    expect(await throttle.check([user])).toEqual(allowed);
  });

  it("keeps keys independent, including the same id under different scopes", async () => {
    const { throttle } = setup();
    const name = uniqueName();
    await fail(throttle, [account(name)], POLICY.freeFailures);
    expect(await throttle.check([account(name)])).toEqual(blocked(1000));
    expect(await throttle.check([account(uniqueName())])).toEqual(allowed);
    expect(await throttle.check([ip(name)])).toEqual(allowed);
    expect(await throttle.check([{ scope: "client", id: name, policy: POLICY }])).toEqual(allowed);
  });

  it("with several keys, refuses when any is blocked and returns the longest wait", async () => {
    const { clock, throttle } = setup();
    const user = account(uniqueName());
    const address = ip(uniqueName("ip"), { ...POLICY, freeFailures: 1 });
    const free = account(uniqueName());
    await fail(throttle, [user, address], POLICY.freeFailures); // user: 1 s; address: 4 s
    expect(await throttle.check([user])).toEqual(blocked(1000));
    expect(await throttle.check([address])).toEqual(blocked(4000));
    expect(await throttle.check([free, user, address])).toEqual(blocked(4000));
    clock.advance(1500);
    expect(await throttle.check([user, free])).toEqual(allowed);
    expect(await throttle.check([user, address, free])).toEqual(blocked(2500));
    expect(await throttle.check([])).toEqual(allowed);
  });

  it("counts a key listed twice in one call once", async () => {
    const { throttle } = setup();
    const name = uniqueName();
    await fail(throttle, [account(name), account(name)], POLICY.freeFailures - 1);
    expect(await throttle.check([account(name)])).toEqual(allowed);
    await throttle.recordFailure([account(name)]);
    expect(await throttle.check([account(name)])).toEqual(blocked(1000));
  });

  it("a key object changed after use counts under its new scope, id and policy, never its old one", async () => {
    const { throttle } = setup();
    const first = uniqueName();
    const second = uniqueName();
    const key: ThrottleKey = account(first);
    await fail(throttle, [key], POLICY.freeFailures);
    expect(await throttle.check([key])).toEqual(blocked(1000));
    key.id = second;
    expect(await throttle.check([key])).toEqual(allowed);
    await throttle.recordFailure([key]);
    await throttle.reset([key]);
    expect(await throttle.check([account(first)])).toEqual(blocked(1000));
    key.scope = "ip";
    await fail(throttle, [key], POLICY.freeFailures);
    expect(await throttle.check([ip(second)])).toEqual(blocked(1000));
    expect(await throttle.check([account(second)])).toEqual(allowed);
    key.policy = { ...POLICY, decayMs: POLICY.maxDelayMs - 1 };
    await expect(throttle.check([key])).rejects.toThrow(/decayMs/);
  });

  it("counts 50 concurrent failures exactly", async () => {
    const { throttle } = setup();
    // With base 1 ms and a huge cap, the wait is 2^(count - free) ms: it reveals the exact count.
    const wide: ThrottlePolicy = { freeFailures: 20, baseDelayMs: 1, maxDelayMs: 2 ** 40, decayMs: 2 ** 40 };
    const keys = [account(uniqueName(), wide), ip(uniqueName("ip"), wide)];
    await Promise.all(Array.from({ length: 50 }, () => throttle.recordFailure(keys)));
    expect(await throttle.check([keys[0]!])).toEqual(blocked(2 ** 30));
    expect(await throttle.check([keys[1]!])).toEqual(blocked(2 ** 30));
  });

  it("attempts refused while blocked do not extend the block", async () => {
    const { clock, throttle } = setup();
    const keys = [account(uniqueName())];
    await fail(throttle, keys, POLICY.freeFailures + 2); // blocked for 4 s
    for (let elapsed = 0; elapsed < 4000; elapsed += 500) {
      // A refused attempt: the caller neither verifies nor records it.
      expect(await throttle.check(keys)).toEqual(blocked(4000 - elapsed));
      clock.advance(500);
    }
    expect(await throttle.check(keys)).toEqual(allowed);
  });

  it("refuses an invalid policy", async () => {
    const { throttle } = setup();
    const bad = (policy: ThrottlePolicy) => throttle.recordFailure([account(uniqueName(), policy)]);
    await expect(bad({ ...POLICY, decayMs: POLICY.maxDelayMs - 1 })).rejects.toThrow(/decayMs/);
    await expect(bad({ ...POLICY, maxDelayMs: 10, baseDelayMs: 20 })).rejects.toThrow(/maxDelayMs/);
    await expect(bad({ ...POLICY, baseDelayMs: 0 })).rejects.toThrow(/baseDelayMs/);
    await expect(bad({ ...POLICY, freeFailures: -1 })).rejects.toThrow(/freeFailures/);
    await expect(throttle.check([account(uniqueName(), { ...POLICY, decayMs: Number.NaN })])).rejects.toThrow(
      /decayMs/,
    );
  });
});

describe("memory throttle without promises (checkNow, resetNow)", () => {
  it("answers what check answers, and resets what reset resets", async () => {
    const throttle = createMemoryThrottle({ clock: manualClock() });
    const user = account(uniqueName());
    const address = ip(uniqueName("ip"));
    expect(throttle.checkNow([user, address])).toEqual(allowed);
    await fail(throttle, [user, address], POLICY.freeFailures + 1);
    expect(throttle.checkNow([user, address])).toEqual(await throttle.check([user, address]));
    expect(throttle.checkNow([user])).toEqual(blocked(2000));
    throttle.resetNow([user, address]);
    expect(throttle.checkNow([user])).toEqual(allowed);
    expect(throttle.checkNow([address])).toEqual(blocked(2000));
    expect(() => throttle.checkNow([account(uniqueName(), { ...POLICY, baseDelayMs: 0 })])).toThrow(
      /baseDelayMs/,
    );
  });
});

describe("redis throttle specifics", () => {
  it("stores only hashed keys: no user name or address in key names or values, expiry set to decayMs", async () => {
    const prefix = `${RUN_PREFIX}privacy:`;
    const clock = manualClock();
    const throttle = createRedisThrottle({ redis, clock, prefix });
    const name = `Alice.Privacy-${randomBytes(3).toString("hex")}@example.com`;
    const address = "203.0.113.77";
    await fail(throttle, [account(name), ip(address)], 2);

    const keys = await scanKeys(redis, `${prefix}*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key.slice(prefix.length)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const lower = key.toLowerCase();
      expect(lower).not.toContain("alice");
      expect(lower).not.toContain("example.com");
      expect(key).not.toContain(address);
      const values = await redis.hgetall(key);
      expect(values).toEqual({ c: "2", t: String(clock.now()) });
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(POLICY.decayMs - 5000);
      expect(ttl).toBeLessThanOrEqual(POLICY.decayMs);
    }
  });

  it("counts exactly across two instances with their own connections", async () => {
    const other = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    extraClients.push(other);
    await other.connect();
    const clock = manualClock();
    const a = createRedisThrottle({ redis, clock, prefix: RUN_PREFIX });
    const b = createRedisThrottle({ redis: other, clock, prefix: RUN_PREFIX });
    const wide: ThrottlePolicy = { freeFailures: 0, baseDelayMs: 1, maxDelayMs: 2 ** 40, decayMs: 2 ** 40 };
    const keys = [account(uniqueName(), wide)];
    // Free 0, base 1 ms: the wait is 2^count ms, so it reveals the exact count.
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).recordFailure(keys)));
    expect(await a.check(keys)).toEqual(blocked(2 ** 30));
    expect(await b.check(keys)).toEqual(blocked(2 ** 30));
  });
});

describe("memory throttle bound", () => {
  it("evicts the entry with the oldest last failure when full", async () => {
    const clock = manualClock();
    const throttle = createMemoryThrottle({ clock, maxEntries: 3 });
    const [k1, k2, k3, k4] = [1, 2, 3, 4].map(() => account(uniqueName()));
    for (const k of [k1!, k2!, k3!]) {
      await fail(throttle, [k], POLICY.freeFailures);
      clock.advance(1);
    }
    // A new failure on k1 makes it the most recent: k2 is now the oldest.
    await throttle.recordFailure([k1!]);
    await throttle.recordFailure([k4!]);
    expect(throttle.size()).toBe(3);
    expect(await throttle.check([k2!])).toEqual(allowed);
    expect((await throttle.check([k1!])).allowed).toBe(false);
    expect((await throttle.check([k3!])).allowed).toBe(false);
  });

  it("drops expired entries instead of keeping them", async () => {
    const clock = manualClock();
    const throttle = createMemoryThrottle({ clock });
    for (let i = 0; i < 10; i++) await throttle.recordFailure([account(uniqueName())]);
    expect(throttle.size()).toBe(10);
    clock.advance(POLICY.decayMs);
    await throttle.recordFailure([account(uniqueName())]);
    expect(throttle.size()).toBe(1);
  });

  it("refuses a bound below one", () => {
    expect(() => createMemoryThrottle({ clock: manualClock(), maxEntries: 0 })).toThrow(/maxEntries/);
  });
});

describe("redis unreachable: per-instance memory fallback", () => {
  const unreachable = () => {
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
    return client;
  };

  it("neither fails open nor closed: it throttles with the same back-off, in memory", async () => {
    const clock = manualClock();
    const throttle = createRedisThrottle({ redis: unreachable(), clock, prefix: RUN_PREFIX });
    const user = account(uniqueName());
    const address = ip(uniqueName("ip"));
    for (let i = 0; i < POLICY.freeFailures; i++) {
      expect(await throttle.check([user, address])).toEqual(allowed);
      await throttle.recordFailure([user, address]);
    }
    expect(await throttle.check([user, address])).toEqual(blocked(1000));
    clock.advance(1000);
    await throttle.recordFailure([user, address]);
    expect(await throttle.check([user])).toEqual(blocked(2000));
    await throttle.reset([user, address]);
    expect(await throttle.check([user])).toEqual(allowed);
    expect(await throttle.check([address])).toEqual(blocked(2000));
  });

  it("still applies failures counted during an outage once Redis is back", async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    client.on("error", () => undefined);
    extraClients.push(client);
    await client.connect();
    const clock = manualClock();
    const throttle = createRedisThrottle({ redis: client, clock, prefix: RUN_PREFIX });
    const user = account(uniqueName());

    await throttle.recordFailure([user]); // counted in Redis
    const ended = new Promise((resolve) => client.once("end", resolve));
    client.disconnect();
    await ended;
    await fail(throttle, [user], POLICY.freeFailures + 1); // counted in memory: 4 failures -> 2 s
    expect(await throttle.check([user])).toEqual(blocked(2000));

    await client.connect();
    expect(await client.ping()).toBe("PONG");
    expect(await throttle.check([user])).toEqual(blocked(2000));
    // A success clears both the shared and the local counter.
    await throttle.reset([user]);
    expect(await throttle.check([user])).toEqual(allowed);
    // The shared counter is gone too: a fresh instance (no local memory) starts again from zero.
    const fresh = createRedisThrottle({ redis, clock, prefix: RUN_PREFIX });
    await fail(fresh, [user], POLICY.freeFailures - 1);
    expect(await fresh.check([user])).toEqual(allowed);
    await fresh.recordFailure([user]);
    expect(await fresh.check([user])).toEqual(blocked(1000));
  });
});
