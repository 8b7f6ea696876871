/**
 * Brute-force throttling for sign-in: exponential back-off per key (account, IP, …), never a permanent lock-out.
 *
 * - Back-off. A key's counter `n` counts its failures within the decay window. With `f = freeFailures`,
 *   `n < f` leaves the key free; `n >= f` blocks it until
 *   `lastFailure + min(maxDelayMs, baseDelayMs * 2^(n - f))`.
 *   So the first `f` failures pass without delay, the attempt after the `f`-th failure waits `baseDelayMs`,
 *   each further failure doubles the wait, and no wait ever exceeds `maxDelayMs` after the last failure.
 * - Decay. A counter is forgotten `decayMs` after its last failure (`now - lastFailure >= decayMs`); the next
 *   failure then starts again at 1. A policy must satisfy `decayMs >= maxDelayMs`, so a block always ends
 *   before its counter is forgotten.
 * - Blocked attempts are not counted. The caller calls `check` first and, when refused, does not verify the
 *   password and does not call `recordFailure`; `check` only reads, so hammering a blocked key does not extend
 *   its block. Every `recordFailure` counts (verified failures that raced past `check` are real guesses).
 * - Denial-of-service trade-off. Anyone who knows a user name can keep that account delayed (up to
 *   `maxDelayMs` after each counted failure) but never locked: the legitimate user can sign in as soon as the
 *   window ends. The IP key, with its own policy, slows a single source down first.
 * - Success. `reset` clears the keys it is given except those with scope `"ip"`: one success from an address
 *   does not wipe the failures of everyone else behind it (nor let an attacker with one valid account reset
 *   their own address between guesses). Callers may pass the same key list to all three methods.
 * - Several keys. `check` refuses when any key is blocked and returns the longest wait.
 * - Privacy. Keys are stored only as SHA-256 (base64url) of `[scope, id]`: user names and addresses never sit
 *   in memory maps or Redis in the clear. Callers pass the canonical form of `id` (e.g. the normalised user
 *   name) so that spelling variants share one counter.
 * - Memory throttle: at most `maxEntries` keys (default 100,000); expired entries are dropped when met and
 *   swept from the oldest end; when still full, the entry with the oldest last failure is evicted.
 * - Redis throttle: one Lua script per key increments the count, stores the last-failure time and sets
 *   `PEXPIRE` (atomic, so concurrent failures from many instances count exactly). `now` comes from the
 *   `Clock` as a script argument, never from Redis `TIME`; decay is also checked against that `now`, and
 *   `PEXPIRE` only collects garbage.
 * - Redis unreachable: neither open nor closed but degraded. Each key whose Redis call fails is handled by a
 *   per-instance memory throttle instead (failures are counted there, checks read it). `check` always consults
 *   that memory throttle too, and the longest wait wins, so failures counted during an outage still apply
 *   once Redis is back. Nothing is logged here (the Redis client's own `error` events are logged where it is
 *   created); limits are then per instance rather than shared.
 * - Request budgets (`createRateLimiter`, at the end of this file) are a separate, simpler mechanism for
 *   endpoints anyone may call: a token bucket per key, same storage (memory, or Redis with a memory fallback),
 *   same hashing of keys and the same `Clock`.
 */
import { hash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { Redis } from "ioredis";
import type { Clock } from "../lib/clock.js";

export interface ThrottlePolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  /** First delay after the free failures, ms; doubles with each further failure. */
  baseDelayMs: number;
  /** Upper bound of the delay, ms (no permanent lock-out). */
  maxDelayMs: number;
  /** Counters forget a key this long after its last failure, ms. */
  decayMs: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Per account: 5 free failures, then 1 s, 2 s, 4 s … up to 15 min; forgotten 1 h after the last failure. */
export const ACCOUNT_POLICY: ThrottlePolicy = Object.freeze({
  freeFailures: 5,
  baseDelayMs: SECOND,
  maxDelayMs: 15 * MINUTE,
  decayMs: HOUR,
});

/** Per client address: 20 free failures, then 1 s, 2 s, 4 s … up to 15 min; forgotten 1 h after the last. */
export const IP_POLICY: ThrottlePolicy = Object.freeze({
  freeFailures: 20,
  baseDelayMs: SECOND,
  maxDelayMs: 15 * MINUTE,
  decayMs: HOUR,
});

export interface ThrottleKey {
  scope: "account" | "ip" | string;
  id: string;
  policy: ThrottlePolicy;
}

export interface ThrottleDecision {
  allowed: boolean;
  retryAfterMs: number;
}

export interface Throttle {
  /** Before verifying: is any key currently in its back-off window? Returns the longest wait. */
  check(keys: ThrottleKey[]): Promise<ThrottleDecision>;
  /** After a failed attempt: count it for every key (sets the next allowed time). */
  recordFailure(keys: ThrottleKey[]): Promise<void>;
  /** After a success: clear the account key(s) given (the IP counter is not cleared by one success). */
  reset(keys: ThrottleKey[]): Promise<void>;
  /** `check` without a promise, when the counters are in this process (the memory throttle). */
  checkNow?(keys: ThrottleKey[]): ThrottleDecision;
  /** `reset` without a promise, when the counters are in this process (the memory throttle). */
  resetNow?(keys: ThrottleKey[]): void;
}

/** Default bound of the memory throttle. */
export const DEFAULT_MAX_ENTRIES = 100_000;

/** Default Redis key prefix. */
export const DEFAULT_REDIS_PREFIX = "tessera:throttle:";

/** The wait after `failures` counted failures under `policy`, ms (0 while the free failures last). */
export function backoffDelayMs(policy: ThrottlePolicy, failures: number): number {
  if (failures < policy.freeFailures) return 0;
  // 2^1100 is Infinity; min() then yields maxDelayMs, so no overflow check is needed beyond the clamp.
  const exponent = Math.min(failures - policy.freeFailures, 1100);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
}

const ALLOWED: ThrottleDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });

/** The decision for one key given its stored counter (already known not to have decayed). */
function decide(policy: ThrottlePolicy, count: number, lastFailure: number, now: number): ThrottleDecision {
  const until = lastFailure + backoffDelayMs(policy, count);
  return until > now ? { allowed: false, retryAfterMs: until - now } : ALLOWED;
}

function longest(decisions: ThrottleDecision[]): ThrottleDecision {
  let result = ALLOWED;
  for (const d of decisions) if (!d.allowed && d.retryAfterMs > result.retryAfterMs) result = d;
  return result;
}

const validated = new WeakSet<ThrottlePolicy>();

function assertPolicy(policy: ThrottlePolicy): void {
  if (validated.has(policy)) return;
  const { freeFailures, baseDelayMs, maxDelayMs, decayMs } = policy;
  if (!Number.isSafeInteger(freeFailures) || freeFailures < 0) {
    throw new RangeError(`throttle policy: freeFailures must be a non-negative integer, got ${freeFailures}`);
  }
  if (!Number.isSafeInteger(baseDelayMs) || baseDelayMs < 1) {
    throw new RangeError(`throttle policy: baseDelayMs must be a positive integer, got ${baseDelayMs}`);
  }
  if (!Number.isSafeInteger(maxDelayMs) || maxDelayMs < baseDelayMs) {
    throw new RangeError(`throttle policy: maxDelayMs must be an integer >= baseDelayMs, got ${maxDelayMs}`);
  }
  if (!Number.isSafeInteger(decayMs) || decayMs < maxDelayMs) {
    throw new RangeError(`throttle policy: decayMs must be an integer >= maxDelayMs, got ${decayMs}`);
  }
  validated.add(policy);
}

interface HashedKey {
  hash: string;
  scope: string;
  policy: ThrottlePolicy;
}

/** SHA-256 (base64url) of the unambiguous encoding of `[scope, id]`. */
function hashKey(scope: string, id: string): string {
  // One-shot `hash`: no Hash object per key.
  return hash("sha256", JSON.stringify([scope, id]), "base64url");
}

/**
 * The hashed form of each key object, remembered while the object lives: a sign-in passes the same key objects
 * to `check` and then to `reset` or `recordFailure`, and the second call then hashes nothing (under argon2 load
 * each SHA-256 here costs tens of µs of the event loop, caches being cold). The entry also keeps the scope, id
 * and policy it was computed from, so a key object changed in between is hashed again, never misfiled.
 */
const hashedKeys = new WeakMap<ThrottleKey, HashedKey & { id: string }>();

function hashedKey(key: ThrottleKey): HashedKey {
  const known = hashedKeys.get(key);
  if (
    known !== undefined &&
    known.scope === key.scope &&
    known.id === key.id &&
    known.policy === key.policy
  ) {
    return known;
  }
  assertPolicy(key.policy);
  const hashed = { hash: hashKey(key.scope, key.id), scope: key.scope, id: key.id, policy: key.policy };
  hashedKeys.set(key, hashed);
  return hashed;
}

/** Validates policies, hashes keys and drops duplicates (a key listed twice is counted once). */
function prepare(keys: readonly ThrottleKey[]): HashedKey[] {
  const list: HashedKey[] = [];
  for (const key of keys) {
    const hashed = hashedKey(key);
    if (!list.some((k) => k.hash === hashed.hash)) list.push(hashed);
  }
  return list;
}

function resettable(keys: readonly HashedKey[]): HashedKey[] {
  return keys.filter((k) => k.scope !== "ip");
}

function nowOf(clock: Clock): number {
  return Math.floor(clock.now());
}

// ---------------------------------------------------------------------------------------------------------
// Memory

interface MemoryEntry {
  count: number;
  lastFailure: number;
  /** lastFailure + decayMs of the policy it was recorded under: when the sweep may drop it. */
  expiresAt: number;
}

/** The memory throttle's operations on already-hashed keys, shared with the Redis fallback. */
interface MemoryCore {
  decision(key: HashedKey, now: number): ThrottleDecision;
  record(key: HashedKey, now: number): void;
  clear(key: HashedKey): void;
  size(): number;
}

function createMemoryCore(maxEntries: number): MemoryCore {
  // Map iteration follows insertion order; an entry is re-inserted on each failure, so the first entry is
  // the one with the oldest last failure.
  const entries = new Map<string, MemoryEntry>();

  const live = (key: HashedKey, now: number): MemoryEntry | undefined => {
    const entry = entries.get(key.hash);
    if (entry === undefined) return undefined;
    if (now - entry.lastFailure >= key.policy.decayMs) {
      entries.delete(key.hash);
      return undefined;
    }
    return entry;
  };

  const sweep = (now: number): void => {
    for (const [hash, entry] of entries) {
      if (entry.expiresAt > now) break;
      entries.delete(hash);
    }
  };

  return {
    decision(key, now) {
      const entry = live(key, now);
      return entry === undefined ? ALLOWED : decide(key.policy, entry.count, entry.lastFailure, now);
    },
    record(key, now) {
      sweep(now);
      const previous = live(key, now);
      const count = (previous?.count ?? 0) + 1;
      const lastFailure = Math.max(previous?.lastFailure ?? now, now);
      entries.delete(key.hash);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(key.hash, { count, lastFailure, expiresAt: lastFailure + key.policy.decayMs });
    },
    clear(key) {
      entries.delete(key.hash);
    },
    size: () => entries.size,
  };
}

export interface MemoryThrottle extends Throttle {
  /** Number of keys currently held (for tests and metrics). */
  size(): number;
  checkNow(keys: ThrottleKey[]): ThrottleDecision;
  resetNow(keys: ThrottleKey[]): void;
}

/** A throttle held in this process: for single-instance deployments and as the Redis fallback. */
export function createMemoryThrottle(options: { clock: Clock; maxEntries?: number }): MemoryThrottle {
  const { clock } = options;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`memory throttle: maxEntries must be a positive integer, got ${maxEntries}`);
  }
  const core = createMemoryCore(maxEntries);
  const checkNow = (keys: ThrottleKey[]): ThrottleDecision => {
    const now = nowOf(clock);
    return longest(prepare(keys).map((k) => core.decision(k, now)));
  };
  const resetNow = (keys: ThrottleKey[]): void => {
    for (const k of resettable(prepare(keys))) core.clear(k);
  };
  return {
    async check(keys) {
      return checkNow(keys);
    },
    async recordFailure(keys) {
      const now = nowOf(clock);
      for (const k of prepare(keys)) core.record(k, now);
    },
    async reset(keys) {
      resetNow(keys);
    },
    checkNow,
    resetNow,
    size: () => core.size(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Redis

/**
 * KEYS[1] = counter hash; ARGV[1] = now (ms), ARGV[2] = decayMs. Returns the new count.
 * A counter whose last failure is `decayMs` or more before `now` starts again from zero. The stored last
 * failure never moves backwards (instances with slightly different clocks), and the key expires `decayMs`
 * after it.
 */
const RECORD_FAILURE_LUA = `
-- Numbers are written with %.0f: Lua's default conversion would print large ones in exponent form.
local now = tonumber(ARGV[1])
local decay = tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'c', 't')
local count = tonumber(stored[1]) or 0
local last = tonumber(stored[2]) or now
if count > 0 and now - last >= decay then
  count = 0
end
if count == 0 or now > last then
  last = now
end
count = count + 1
redis.call('HSET', KEYS[1], 'c', string.format('%.0f', count), 't', string.format('%.0f', last))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(1, last + decay - now)))
return count
`;

const COMMAND_NAME = "tesseraThrottleRecordFailure";

type RecordFailureCommand = (key: string, now: number, decayMs: number) => Promise<number>;

export interface RedisThrottleOptions {
  redis: Redis;
  clock: Clock;
  /** Prefix of every Redis key (default `tessera:throttle:`). */
  prefix?: string;
}

/**
 * A throttle shared by every instance through Redis, falling back per key to a per-instance memory throttle
 * while Redis cannot be reached.
 */
export function createRedisThrottle(options: RedisThrottleOptions): Throttle {
  const { redis, clock } = options;
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  // defineCommand sends EVALSHA and falls back to EVAL once when the server does not have the script.
  if (typeof (redis as unknown as Record<string, unknown>)[COMMAND_NAME] !== "function") {
    redis.defineCommand(COMMAND_NAME, { numberOfKeys: 1, lua: RECORD_FAILURE_LUA });
  }
  const recordFailureCommand = (redis as unknown as Record<string, RecordFailureCommand>)[COMMAND_NAME]!.bind(
    redis,
  );
  const fallback = createMemoryCore(DEFAULT_MAX_ENTRIES);
  const redisKey = (k: HashedKey) => prefix + k.hash;

  const redisDecision = async (k: HashedKey, now: number): Promise<ThrottleDecision> => {
    const [count, last] = await redis.hmget(redisKey(k), "c", "t");
    if (count == null || last == null) return ALLOWED;
    const lastFailure = Number(last);
    if (now - lastFailure >= k.policy.decayMs) return ALLOWED;
    return decide(k.policy, Number(count), lastFailure, now);
  };

  return {
    async check(keys) {
      const now = nowOf(clock);
      const decisions = await Promise.all(
        prepare(keys).map(async (k) => {
          const local = fallback.decision(k, now);
          const shared = await redisDecision(k, now).catch(() => ALLOWED);
          return longest([local, shared]);
        }),
      );
      return longest(decisions);
    },
    async recordFailure(keys) {
      const now = nowOf(clock);
      await Promise.all(
        prepare(keys).map(async (k) => {
          try {
            await recordFailureCommand(redisKey(k), now, k.policy.decayMs);
          } catch {
            fallback.record(k, now);
          }
        }),
      );
    },
    async reset(keys) {
      await Promise.all(
        resettable(prepare(keys)).map(async (k) => {
          fallback.clear(k);
          await redis.del(redisKey(k)).catch(() => undefined);
        }),
      );
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Request budgets

/**
 * A plain request budget for endpoints anyone may call (no failure to count, no back-off): at most `limit`
 * requests in any `windowMs`, as a token bucket of `limit` tokens refilled one every `windowMs / limit` ms
 * (GCRA: one stored "theoretical arrival time" per key).
 *
 * - A fresh key may spend the whole bucket at once; after that one request per `windowMs / limit` ms; an idle
 *   key has its whole budget back `windowMs` after its last request. No window boundary lets `2 * limit` pass.
 * - Refused requests are not counted: hammering a limited key does not push its next allowed time back.
 * - `windowMs` must be a multiple of `limit` so that every step is a whole number of milliseconds.
 */
export interface RateLimitPolicy {
  /** Requests allowed in `windowMs` (and at once, from a full bucket). */
  limit: number;
  /** The period over which `limit` requests are allowed, ms. */
  windowMs: number;
}

export interface RateLimitKey {
  /** What is limited, e.g. `"leak-report:ip"`; hashed with `id`, so scopes never share a bucket. */
  scope: string;
  id: string;
  policy: RateLimitPolicy;
}

export interface RateLimiter {
  /** Spends one request of the key's budget; refused (with the wait) when none is left. */
  take(key: RateLimitKey): Promise<ThrottleDecision>;
}

/** Default Redis key prefix of the request budgets. */
export const DEFAULT_RATE_LIMIT_PREFIX = "tessera:ratelimit:";

const validatedRates = new WeakSet<RateLimitPolicy>();

function assertRatePolicy(policy: RateLimitPolicy): void {
  if (validatedRates.has(policy)) return;
  const { limit, windowMs } = policy;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`rate limit policy: limit must be a positive integer, got ${limit}`);
  }
  if (!Number.isSafeInteger(windowMs) || windowMs < limit || windowMs % limit !== 0) {
    throw new RangeError(`rate limit policy: windowMs must be a positive multiple of limit, got ${windowMs}`);
  }
  validatedRates.add(policy);
}

/** The milliseconds between two requests of a steady client. */
function intervalOf(policy: RateLimitPolicy): number {
  return policy.windowMs / policy.limit;
}

/**
 * The next theoretical arrival time if this request is allowed, or the wait (ms) if not. `stored` is the key's
 * last theoretical arrival time (undefined when it has none).
 */
function spend(
  policy: RateLimitPolicy,
  stored: number | undefined,
  now: number,
): { next: number } | { waitMs: number } {
  const next = Math.max(stored ?? now, now) + intervalOf(policy);
  const waitMs = next - policy.windowMs - now;
  return waitMs > 0 ? { waitMs } : { next };
}

/** The memory request budgets, on already-hashed keys (shared with the Redis fallback). */
function createMemoryBuckets(maxEntries: number) {
  // hash → theoretical arrival time. Re-inserted on each allowed request, so the first entry is the one
  // used least recently; an entry whose time has passed is a full bucket and may be dropped.
  const entries = new Map<string, number>();

  const sweep = (now: number): void => {
    for (const [hash, tat] of entries) {
      if (tat > now) break;
      entries.delete(hash);
    }
  };

  return {
    take(hash: string, policy: RateLimitPolicy, now: number): ThrottleDecision {
      sweep(now);
      const result = spend(policy, entries.get(hash), now);
      if ("waitMs" in result) return { allowed: false, retryAfterMs: result.waitMs };
      entries.delete(hash);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(hash, result.next);
      return ALLOWED;
    },
    size: () => entries.size,
  };
}

export interface MemoryRateLimiter extends RateLimiter {
  /** Number of keys currently held (for tests and metrics). */
  size(): number;
}

/** Request budgets held in this process (single instance; also the Redis fallback). */
export function createMemoryRateLimiter(options: { clock: Clock; maxEntries?: number }): MemoryRateLimiter {
  const { clock } = options;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`memory rate limiter: maxEntries must be a positive integer, got ${maxEntries}`);
  }
  const buckets = createMemoryBuckets(maxEntries);
  return {
    async take(key) {
      assertRatePolicy(key.policy);
      return buckets.take(hashKey(key.scope, key.id), key.policy, nowOf(clock));
    },
    size: () => buckets.size(),
  };
}

/**
 * KEYS[1] = the key's theoretical arrival time; ARGV[1] = now (ms), ARGV[2] = interval (ms), ARGV[3] =
 * windowMs. Returns 0 when the request is allowed (and stores the new time, expiring when the bucket is
 * full again), else the wait in ms (and stores nothing).
 */
const RATE_LIMIT_TAKE_LUA = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local nextTat = tat + interval
local wait = nextTat - window - now
if wait > 0 then
  return wait
end
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', string.format('%.0f', nextTat - now))
return 0
`;

const RATE_LIMIT_COMMAND = "tesseraRateLimitTake";

type RateLimitTakeCommand = (
  key: string,
  now: number,
  intervalMs: number,
  windowMs: number,
) => Promise<number>;

/**
 * Request budgets shared by every instance through Redis (one Lua script per request, so concurrent requests
 * on many instances count exactly; `now` comes from the `Clock`). While Redis cannot be reached, each request
 * is counted in a per-instance memory budget instead: limits are then per instance rather than shared.
 */
export function createRedisRateLimiter(options: RedisThrottleOptions): RateLimiter {
  const { redis, clock } = options;
  const prefix = options.prefix ?? DEFAULT_RATE_LIMIT_PREFIX;
  if (typeof (redis as unknown as Record<string, unknown>)[RATE_LIMIT_COMMAND] !== "function") {
    redis.defineCommand(RATE_LIMIT_COMMAND, { numberOfKeys: 1, lua: RATE_LIMIT_TAKE_LUA });
  }
  const takeCommand = (redis as unknown as Record<string, RateLimitTakeCommand>)[RATE_LIMIT_COMMAND]!.bind(
    redis,
  );
  const fallback = createMemoryBuckets(DEFAULT_MAX_ENTRIES);
  return {
    async take(key) {
      assertRatePolicy(key.policy);
      const hash = hashKey(key.scope, key.id);
      const now = nowOf(clock);
      let waitMs: number;
      try {
        waitMs = Number(await takeCommand(prefix + hash, now, intervalOf(key.policy), key.policy.windowMs));
      } catch {
        return fallback.take(hash, key.policy, now);
      }
      return waitMs > 0 ? { allowed: false, retryAfterMs: waitMs } : ALLOWED;
    },
  };
}

/** Redis-backed budgets when `redis` is given (REDIS_URL), memory ones otherwise. */
export function createRateLimiter(options: { clock: Clock; redis?: Redis | undefined }): RateLimiter {
  const { clock, redis } = options;
  return redis ? createRedisRateLimiter({ redis, clock }) : createMemoryRateLimiter({ clock });
}

/**
 * The budget key of a client address: an IPv4 address as it is (an IPv4-mapped IPv6 address as its IPv4
 * form), an IPv6 address as its /64 (one site or device usually holds a whole /64, so per-address budgets
 * would not bind). Anything else is returned unchanged.
 */
export function clientAddressKey(ip: string): string {
  const address = ip.split("%")[0] ?? ip;
  if (isIPv4(address) || !isIPv6(address)) return address;
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const words = groups.map((g) => Number.parseInt(g, 16));
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w))) return address;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const [hi = 0, lo = 0] = words.slice(6);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${words
    .slice(0, 4)
    .map((w) => w.toString(16))
    .join(":")}::/64`;
}
