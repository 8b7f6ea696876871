/**
 * BFF sessions in Redis (ioredis): one hash per session, plus a set per `sid` and per `sub` for logout.
 *
 * - Keys: `<prefix>s:<idHash>` (hash), `<prefix>sid:<sid>` and `<prefix>sub:<sub>` (sets of id hashes).
 * - Every session key expires with the session (the earlier of its absolute end and its idle deadline), so
 *   Redis forgets abandoned sessions by itself; `purgeExpired` has nothing to do.
 * - Token replacement is a Lua compare-and-set on the `generation` field, atomic on the server.
 */
import { Redis } from "ioredis";
import type { SessionStore, SessionTokens, StoredSession } from "./session-store.js";

const REPLACE_TOKENS = `
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`;

const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

type RedisWithScripts = Redis & {
  bffReplaceTokens(key: string, ...args: string[]): Promise<number>;
  bffTouch(key: string, lastSeenAt: string, ttl: string): Promise<number>;
};

function fromHash(idHash: string, h: Record<string, string>): StoredSession | undefined {
  if (h.sub === undefined || h.accessToken === undefined) return undefined;
  return {
    idHash,
    sub: h.sub,
    sid: h.sid ? h.sid : null,
    claims: h.claims ?? "{}",
    accessToken: h.accessToken,
    refreshToken: h.refreshToken ? h.refreshToken : null,
    idToken: h.idToken ? h.idToken : null,
    accessExpiresAt: Number(h.accessExpiresAt),
    createdAt: Number(h.createdAt),
    lastSeenAt: Number(h.lastSeenAt),
    expiresAt: Number(h.expiresAt),
    generation: Number(h.generation),
  };
}

function tokenFields(t: SessionTokens): string[] {
  return [
    "accessToken",
    t.accessToken,
    "refreshToken",
    t.refreshToken ?? "",
    "idToken",
    t.idToken ?? "",
    "accessExpiresAt",
    String(t.accessExpiresAt),
    "claims",
    t.claims,
    "generation",
    String(t.generation),
  ];
}

export function createRedisSessionStore(options: {
  url: string;
  /** Key prefix, `bff:` by default; tests use one per run. */
  prefix?: string;
  /** Idle timeout in ms, for the keys' expiry. */
  idleTimeoutMs: number;
  /** The BFF's clock, for the keys' expiry. */
  now: () => number;
}): SessionStore {
  const redis = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: 2 }) as RedisWithScripts;
  redis.defineCommand("bffReplaceTokens", { numberOfKeys: 1, lua: REPLACE_TOKENS });
  redis.defineCommand("bffTouch", { numberOfKeys: 1, lua: TOUCH });
  const prefix = options.prefix ?? "bff:";
  const key = (idHash: string) => `${prefix}s:${idHash}`;
  const ttlOf = (expiresAt: number, lastSeenAt: number) =>
    Math.max(1, Math.min(expiresAt, lastSeenAt + options.idleTimeoutMs) - options.now());

  async function deleteSet(setKey: string): Promise<StoredSession[]> {
    const members = await redis.smembers(setKey);
    const deleted: StoredSession[] = [];
    for (const idHash of members) {
      const [[, hash]] = (await redis.multi().hgetall(key(idHash)).del(key(idHash)).exec()) as [
        [Error | null, Record<string, string>],
      ];
      const session = fromHash(idHash, hash);
      if (session) deleted.push(session);
    }
    await redis.del(setKey);
    return deleted;
  }

  return {
    async migrate() {},
    async create(s) {
      const ttl = ttlOf(s.expiresAt, s.lastSeenAt);
      const indexTtl = Math.max(1, s.expiresAt - options.now());
      const multi = redis
        .multi()
        .hset(key(s.idHash), {
          sub: s.sub,
          sid: s.sid ?? "",
          createdAt: String(s.createdAt),
          lastSeenAt: String(s.lastSeenAt),
          expiresAt: String(s.expiresAt),
        })
        .hset(key(s.idHash), ...tokenFields(s))
        .pexpire(key(s.idHash), ttl)
        .sadd(`${prefix}sub:${s.sub}`, s.idHash)
        .pexpire(`${prefix}sub:${s.sub}`, indexTtl);
      if (s.sid) multi.sadd(`${prefix}sid:${s.sid}`, s.idHash).pexpire(`${prefix}sid:${s.sid}`, indexTtl);
      await multi.exec();
    },
    async get(idHash) {
      return fromHash(idHash, await redis.hgetall(key(idHash)));
    },
    async replaceTokens(idHash, expectedGeneration, t) {
      return (await redis.bffReplaceTokens(key(idHash), String(expectedGeneration), ...tokenFields(t))) === 1;
    },
    async touch(idHash, lastSeenAt) {
      const expiresAt = Number(await redis.hget(key(idHash), "expiresAt"));
      if (!Number.isFinite(expiresAt)) return;
      await redis.bffTouch(key(idHash), String(lastSeenAt), String(ttlOf(expiresAt, lastSeenAt)));
    },
    async delete(idHash) {
      const [[, hash]] = (await redis.multi().hgetall(key(idHash)).del(key(idHash)).exec()) as [
        [Error | null, Record<string, string>],
      ];
      const session = fromHash(idHash, hash);
      if (session) {
        await redis.srem(`${prefix}sub:${session.sub}`, idHash);
        if (session.sid) await redis.srem(`${prefix}sid:${session.sid}`, idHash);
      }
      return session;
    },
    deleteBySid: (sid) => deleteSet(`${prefix}sid:${sid}`),
    deleteBySub: (sub) => deleteSet(`${prefix}sub:${sub}`),
    async purgeExpired() {
      return 0;
    },
    async close() {
      await redis.quit();
    },
  };
}
