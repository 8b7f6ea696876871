/**
 * Cached session checks must not outlive a revocation: through this process, through another process on the
 * same SQLite file (the CLI), or through another instance sharing PostgreSQL with Redis fan-out.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { manualClock } from "../../src/lib/clock.js";
import {
  createRedisRevocationBus,
  createSessions,
  type SessionPolicy,
  type Sessions,
} from "../../src/sessions/index.js";
import { type CachedSessionRow, SessionCache, VERSION_CHECK_MS } from "../../src/sessions/session-cache.js";
import { openStorage, type Storage, sessionsRepository } from "../../src/storage/index.js";
import { openTestStorage } from "../helpers/databases.js";

const POLICY: SessionPolicy = { idleTimeout: 1800, lifetime: 36000, rememberLifetime: 1209600 };
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TTL = 5000;

async function insertUser(storage: Storage, id: string) {
  await storage.db
    .insertInto("users")
    .values({
      id,
      user_name: id,
      user_name_key: id,
      external_id: null,
      display_name: null,
      given_name: null,
      family_name: null,
      active: 1,
      password_hash: null,
      password_updated_at: null,
      created_at: 0,
      updated_at: 0,
      version: 1,
    })
    .execute();
}

describe("SessionCache: tokens leave memory after the TTL", () => {
  const row = (id: string) =>
    ({ id, user_id: "u1", user_name: "u1", display_name: null, active: 1 }) as unknown as CachedSessionRow;

  it("sweep drops the entries older than the TTL and keeps the young ones", () => {
    const cache = new SessionCache({ ttlMs: 1000 });
    cache.set("token-a", row("a"), 0, cache.epoch);
    cache.set("token-b", row("b"), 400, cache.epoch);
    cache.set("token-c", row("c"), 900, cache.epoch);
    cache.sweep(1000);
    expect(cache.size).toBe(2);
    expect(cache.get("token-a", 1000)).toBeUndefined();
    cache.sweep(1400);
    expect(cache.size).toBe(1);
    expect(cache.get("token-c", 1400)?.id).toBe("c");
    cache.sweep(5000);
    expect(cache.size).toBe(0);
  });

  it("a reloaded entry counts from its new load, and an insert sweeps first", () => {
    const cache = new SessionCache({ ttlMs: 1000 });
    cache.set("token-a", row("a"), 0, cache.epoch);
    cache.set("token-b", row("b"), 100, cache.epoch);
    cache.set("token-a", row("a"), 800, cache.epoch);
    // token-b is now the oldest: a sweep at 1100 drops it and keeps the reloaded token-a.
    cache.sweep(1100);
    expect(cache.get("token-b", 1100)).toBeUndefined();
    expect(cache.get("token-a", 1100)?.id).toBe("a");
    // An insert at 2000 sweeps token-a (loaded at 800) before adding its own entry.
    cache.set("token-c", row("c"), 2000, cache.epoch);
    expect(cache.size).toBe(1);
  });

  it("a row read before a revocation is not inserted after it (the epoch moved)", () => {
    const cache = new SessionCache({ ttlMs: 1000 });
    for (const revoke of [
      () => cache.deleteSession("a"),
      () => cache.deleteUser("someone else"),
      () => cache.deleteToken("token-z"),
      () => cache.clear(),
    ]) {
      const before = cache.epoch;
      revoke();
      cache.set("token-a", row("a"), 0, before);
      expect(cache.get("token-a", 0)).toBeUndefined();
      cache.set("token-a", row("a"), 0, cache.epoch);
      expect(cache.get("token-a", 0)?.id).toBe("a");
      cache.clear();
    }
  });

  it("createSessions sweeps on a timer, so an unused token does not stay in memory", async () => {
    vi.useFakeTimers();
    try {
      const storage = await openTestStorage("sqlite");
      const clock = manualClock();
      const sessions = createSessions({
        repository: sessionsRepository(storage.db),
        clock,
        policy: POLICY,
        cache: { ttlMs: TTL },
      });
      await insertUser(storage, "u1");
      const { token } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
      expect(await sessions.check(token)).toBeDefined();
      expect(sessions.checkNow(token)).not.toBeInstanceOf(Promise);
      clock.advance(TTL);
      vi.advanceTimersByTime(TTL);
      // Swept by the timer: the next check is a miss (a promise), whatever the clock says after.
      clock.set(clock.now() - TTL);
      expect(sessions.checkNow(token)).toBeInstanceOf(Promise);
      await sessions.checkNow(token);
      expect(sessions.checkNow(token)).not.toBeInstanceOf(Promise);
      // close empties the cache: no token stays behind.
      await sessions.close();
      expect(sessions.checkNow(token)).toBeInstanceOf(Promise);
      await storage.close();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("SessionCache: the change counter", () => {
  const row = (id: string) =>
    ({ id, user_id: "u1", user_name: "u1", display_name: null, active: 1 }) as unknown as CachedSessionRow;
  // The version is read at most every VERSION_CHECK_MS of real (monotonic) time.
  const later = () => new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 5));

  it("a change it did not absorb empties it; one it absorbed from the version it had seen does not", async () => {
    let version = 10;
    const cache = new SessionCache({ ttlMs: 60_000, externalChangeVersion: () => version });
    cache.set("token-a", row("a"), 0, cache.epoch);
    // Own change 10 → 12, absorbed: still cached after the next check.
    version = 12;
    cache.absorb(10, 12);
    await later();
    expect(cache.get("token-a", 0)?.id).toBe("a");
    // Another process first (13), then an own change 13 → 14: the cache had seen 12, so it does not absorb.
    version = 14;
    cache.absorb(13, 14);
    await later();
    expect(cache.get("token-a", 0)).toBeUndefined();
    // Absorbing a change it has already seen, or one from the past, moves nothing back.
    cache.set("token-a", row("a"), 0, cache.epoch);
    cache.absorb(12, 13);
    await later();
    expect(cache.get("token-a", 0)?.id).toBe("a");
  });

  it("an unknown version (inside a transaction) neither empties it nor counts as checked: the next look-up asks again", async () => {
    let version: number | undefined = 1;
    const cache = new SessionCache({ ttlMs: 60_000, externalChangeVersion: () => version });
    cache.set("token-a", row("a"), 0, cache.epoch);
    await later();
    version = undefined;
    expect(cache.get("token-a", 0)?.id).toBe("a");
    // Without waiting another VERSION_CHECK_MS: the look-up right after asks again and sees the change.
    version = 2;
    expect(cache.get("token-a", 0)).toBeUndefined();
  });
});

describe("session cache on SQLite", () => {
  let storage: Storage & { url: string };
  let other: Storage;
  const clock = manualClock();
  let sessions: Sessions;
  let cli: Sessions;
  beforeAll(async () => {
    storage = await openTestStorage("sqlite");
    other = await openStorage(storage.url);
    sessions = createSessions({
      repository: sessionsRepository(storage.db),
      clock,
      policy: POLICY,
      cache: {
        ttlMs: TTL,
        externalChangeVersion: storage.externalChangeVersion!,
        ownChangeVersion: storage.ownChangeVersion!,
      },
    });
    // A second process on the same file, like `tessera users disable` while the server runs.
    cli = createSessions({ repository: sessionsRepository(other.db), clock, policy: POLICY });
    await insertUser(storage, "u1");
  });
  afterAll(async () => {
    await other.close();
    await storage.close();
  });

  it("serves repeated checks from memory (a row changed behind its back lives until the TTL)", async () => {
    const { token, session } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    // Bypassing the domain, in the one column no trigger watches: the row now says "idle for decades", which
    // a database read would refuse; the cached copy still answers.
    await storage.db.updateTable("sessions").set({ last_seen_at: 0 }).where("id", "=", session.id).execute();
    expect(await sessions.check(token)).toBeDefined();
    clock.advance(TTL);
    expect(await sessions.check(token)).toBeUndefined();
  });

  it("with a session cached, any other string of a token's length is refused (shape and checksum still count)", async () => {
    const { token } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect((await sessions.check(token))?.user.id).toBe("u1");
    const body = token.slice(0, -6);
    // The same body with a wrong checksum, and a non-base62 character in place of each of a few body ones.
    const variants = [
      `${body}AAAAAA`,
      ...[8, 20, 50].map((i) => `${token.slice(0, i)}-${token.slice(i + 1)}`),
    ];
    for (const bad of variants) expect(await sessions.check(bad)).toBeUndefined();
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: token.length, maxLength: token.length }), async (other) => {
        fc.pre(other !== token);
        expect(await sessions.check(other)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
    expect((await sessions.check(token))?.user.id).toBe("u1");
  });

  it("checkNow answers a cached session at once, a miss with a promise, and both as check does", async () => {
    const { token, session } = await sessions.create({ userId: "u1", amr: ["pwd", "otp"], remember: false });
    const first = sessions.checkNow(token);
    expect(first).toBeInstanceOf(Promise);
    const looked = await first;
    expect(looked?.session.id).toBe(session.id);
    const cached = sessions.checkNow(token);
    expect(cached).not.toBeInstanceOf(Promise);
    expect(cached).toEqual(looked);
    expect(await sessions.check(token)).toEqual(looked);
    // Strings that cannot be a token are refused at once, with no look-up.
    for (const bad of ["", "short", `${token}x`]) expect(sessions.checkNow(bad)).toBeUndefined();
    // A revoked session is refused at once too: its entry is gone and the database has no row.
    await sessions.revoke("u1", session.id);
    expect(await sessions.checkNow(token)).toBeUndefined();
  });

  it("a revocation through the domain takes effect at once", async () => {
    const { token, session } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    await sessions.revoke("u1", session.id);
    expect(await sessions.check(token)).toBeUndefined();
    const second = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(second.token)).toBeDefined();
    await sessions.revokeAll("u1");
    expect(await sessions.check(second.token)).toBeUndefined();
  });

  it("a commit by another connection that touches no session or account leaves the cache alone", async () => {
    await insertUser(storage, "u-audit");
    const { token, session } = await sessions.create({ userId: "u-audit", amr: ["pwd"], remember: false });
    // Earlier tests' revocations raised the counter too; let the cache see that first, then load the session.
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(token)).toBeDefined();
    // What the audit writer (a second connection) does ten times a second under sign-in load.
    await other.db
      .insertInto("audit_events")
      .values({ id: `a-${session.id}`, at: 1, type: "signin.password", outcome: "success" })
      .execute();
    await other.db.updateTable("sessions").set({ last_seen_at: 1 }).where("id", "=", session.id).execute();
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    // Still cached: a database read would now refuse the session (idle since 1970), the cache does not.
    expect(await sessions.check(token)).toBeDefined();
  });

  it("an account disabled by another process is noticed at once", async () => {
    await insertUser(storage, "u-disabled");
    const { token } = await sessions.create({ userId: "u-disabled", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    await other.db.updateTable("users").set({ active: 0 }).where("id", "=", "u-disabled").execute();
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(token)).toBeUndefined();
    await other.db.updateTable("users").set({ active: 1 }).where("id", "=", "u-disabled").execute();
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(token)).toBeDefined();
  });

  it("a rename or a deletion of the account by another process is noticed at once", async () => {
    await insertUser(storage, "u-renamed");
    const renamed = await sessions.create({ userId: "u-renamed", amr: ["pwd"], remember: false });
    await insertUser(storage, "u-deleted");
    const deleted = await sessions.create({ userId: "u-deleted", amr: ["pwd"], remember: false });
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect((await sessions.check(renamed.token))?.user.displayName).toBeNull();
    expect(await sessions.check(deleted.token)).toBeDefined();
    await other.db
      .updateTable("users")
      .set({ display_name: "New Name" })
      .where("id", "=", "u-renamed")
      .execute();
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect((await sessions.check(renamed.token))?.user.displayName).toBe("New Name");
    // Deleting the account deletes its sessions (foreign key cascade): both raise the counter.
    await other.db.deleteFrom("users").where("id", "=", "u-deleted").execute();
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(deleted.token)).toBeUndefined();
  });

  it("a revocation by another process on the same file takes effect at once (change_marks)", async () => {
    const { token } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    expect(await cli.revokeAll("u1")).toBe(1);
    // Seen within VERSION_CHECK_MS (50 ms of real time).
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(token)).toBeUndefined();
  });

  it("this process's own revocations leave the other cached sessions in the cache", async () => {
    await insertUser(storage, "u-own");
    const kept = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    const ended = await sessions.create({ userId: "u-own", amr: ["pwd"], remember: false });
    const others = await sessions.create({ userId: "u-own", amr: ["pwd"], remember: false });
    const rotated = await sessions.create({ userId: "u-own", amr: ["pwd"], remember: false });
    await insertUser(storage, "u-own-2");
    const stepUp = await sessions.create({ userId: "u-own-2", amr: ["pwd"], remember: false });
    await insertUser(storage, "u-own-3");
    const all = await sessions.create({ userId: "u-own-3", amr: ["pwd"], remember: false });
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    for (const s of [kept, ended, others, rotated, stepUp, all])
      expect(await sessions.check(s.token)).toBeDefined();
    // Behind the cache's back, in the one column no trigger watches: a database read would now refuse `kept`.
    await storage.db
      .updateTable("sessions")
      .set({ last_seen_at: 0 })
      .where("id", "=", kept.session.id)
      .execute();
    expect(await sessions.revoke("u-own", ended.session.id)).toBe(true);
    const next = await sessions.rotate(rotated.session.id);
    expect(await sessions.revokeOthers("u-own", rotated.session.id)).toBe(1);
    const stepped = await sessions.reauthenticate(stepUp.session.id, ["pwd", "otp"]);
    expect(await sessions.revokeAll("u-own-3")).toBe(1);
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(stepUp.token)).toBeUndefined();
    expect(await sessions.check(all.token)).toBeUndefined();
    expect((await sessions.check(stepped!))?.session.amr).toEqual(["pwd", "otp"]);
    // Every revoked token is refused at once …
    expect(await sessions.check(ended.token)).toBeUndefined();
    expect(await sessions.check(others.token)).toBeUndefined();
    expect(await sessions.check(rotated.token)).toBeUndefined();
    expect(await sessions.check(next!)).toBeDefined();
    // … and the untouched session is still answered from memory: the cache was not emptied.
    expect(await sessions.check(kept.token)).toBeDefined();
    clock.advance(TTL);
    expect(await sessions.check(kept.token)).toBeUndefined();
  });

  it("another process's change just before an own revocation is still noticed", async () => {
    await insertUser(storage, "u-race");
    const victim = await sessions.create({ userId: "u-race", amr: ["pwd"], remember: false });
    const mine = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(victim.token)).toBeDefined();
    expect(await sessions.check(mine.token)).toBeDefined();
    // The CLI ends the victim's sessions; before the cache has looked at the counter again, this process
    // revokes one of its own. Its absorb must not swallow the CLI's raise.
    expect(await cli.revokeAll("u-race")).toBe(1);
    expect(await sessions.revoke("u1", mine.session.id)).toBe(true);
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(victim.token)).toBeUndefined();
  });

  it("another process's revocation is noticed while this process holds a long transaction", async () => {
    await insertUser(storage, "u-long");
    const victim = await sessions.create({ userId: "u-long", amr: ["pwd"], remember: false });
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(victim.token)).toBeDefined();
    expect(await cli.revokeAll("u-long")).toBe(1);
    let pending: unknown;
    // Key rotation, say: a transaction that waits on something else (key generation) while it is open.
    await storage.db.transaction().execute(async () => {
      await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
      // Not answered from memory: the cache saw the CLI's change. (The database read waits for the connection,
      // which this transaction holds, so it is a promise for now.)
      pending = sessions.checkNow(victim.token);
      expect(pending).toBeInstanceOf(Promise);
    });
    expect(await pending).toBeUndefined();
  });

  it("a revoking transaction that fails at COMMIT, after reading the counter, is not absorbed", async () => {
    await insertUser(storage, "u-fail");
    const cached = await sessions.create({ userId: "u-fail", amr: ["pwd"], remember: false });
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(cached.token)).toBeDefined();
    // On this connection only: deleting u-fail's session inserts a row that breaks a deferred foreign key, so
    // the DELETE, the counter's raise and the read after it all succeed, and the COMMIT fails.
    await sql`create temp table fail_parent (id integer primary key)`.execute(storage.db);
    await sql`create temp table fail_child (parent integer references fail_parent (id) deferrable initially deferred)`.execute(
      storage.db,
    );
    await sql`create temp trigger fail_revoke after delete on sessions when old.user_id = 'u-fail'
      begin insert into fail_child (parent) values (42); end`.execute(storage.db);
    try {
      await expect(sessions.revoke("u-fail", cached.session.id)).rejects.toThrow(/FOREIGN KEY/);
    } finally {
      await sql`drop trigger temp.fail_revoke`.execute(storage.db);
      await sql`drop table temp.fail_child`.execute(storage.db);
      await sql`drop table temp.fail_parent`.execute(storage.db);
    }
    // Nothing was revoked; the CLI now revokes it, raising the counter to the value the failed transaction
    // had read after its DELETE. Had that value been absorbed, this change would go unnoticed.
    expect(await cli.revokeAll("u-fail")).toBe(1);
    await new Promise((r) => setTimeout(r, VERSION_CHECK_MS + 10));
    expect(await sessions.check(cached.token)).toBeUndefined();
  });

  it("expiry is still evaluated on every cached check", async () => {
    const { token } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    clock.advance(1800 * 1000);
    expect(await sessions.check(token)).toBeUndefined();
  });

  it("a rotated token stops working at once", async () => {
    const { token, session } = await sessions.create({ userId: "u1", amr: ["pwd"], remember: false });
    expect(await sessions.check(token)).toBeDefined();
    const next = await sessions.rotate(session.id);
    expect(await sessions.check(token)).toBeUndefined();
    expect(await sessions.check(next!)).toBeDefined();
  });
});

describe("session cache on PostgreSQL with Redis revocation fan-out", () => {
  let storage: Storage & { url: string };
  let second: Storage;
  let redisA: Redis;
  let redisB: Redis;
  const clock = manualClock();
  let a: Sessions & { ready: Promise<void> };
  let b: Sessions & { ready: Promise<void> };
  const buses: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    storage = await openTestStorage("postgres");
    second = await openStorage(storage.url);
    redisA = new Redis(REDIS_URL);
    redisB = new Redis(REDIS_URL);
    const channel = `tessera:test:${randomBytes(6).toString("hex")}`;
    const busA = createRedisRevocationBus(redisA, channel);
    const busB = createRedisRevocationBus(redisB, channel);
    buses.push(busA, busB);
    a = createSessions({
      repository: sessionsRepository(storage.db),
      clock,
      policy: POLICY,
      cache: { ttlMs: TTL },
      bus: busA,
    });
    b = createSessions({
      repository: sessionsRepository(second.db),
      clock,
      policy: POLICY,
      cache: { ttlMs: TTL },
      bus: busB,
    });
    await Promise.all([a.ready, b.ready]);
    await insertUser(storage, "u2");
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
    redisA.disconnect();
    redisB.disconnect();
    await second.close();
    await storage.close();
  });

  it("instance B drops its cached session as soon as instance A revokes it", async () => {
    const { token, session } = await a.create({ userId: "u2", amr: ["pwd"], remember: false });
    expect(await a.check(token)).toBeDefined();
    expect(await b.check(token)).toBeDefined();
    await a.revoke("u2", session.id);
    expect(await a.check(token)).toBeUndefined();
    await vi.waitFor(async () => expect(await b.check(token)).toBeUndefined(), {
      timeout: 2000,
      interval: 20,
    });
  });

  it("instance A drops its cached sessions when instance B ends all of the user's", async () => {
    const one = await a.create({ userId: "u2", amr: ["pwd"], remember: false });
    const two = await a.create({ userId: "u2", amr: ["pwd"], remember: true });
    expect(await a.check(one.token)).toBeDefined();
    expect(await a.check(two.token)).toBeDefined();
    expect(await b.revokeAll("u2")).toBe(2);
    await vi.waitFor(
      async () => {
        expect(await a.check(one.token)).toBeUndefined();
        expect(await a.check(two.token)).toBeUndefined();
      },
      { timeout: 2000, interval: 20 },
    );
  });

  it("messages carry ids only, never tokens", async () => {
    const listener = new Redis(REDIS_URL);
    const seen: string[] = [];
    await listener.psubscribe("tessera:test:*");
    listener.on("pmessage", (_p, _c, message: string) => seen.push(message));
    const { token, session } = await a.create({ userId: "u2", amr: ["pwd"], remember: false });
    await a.check(token);
    await a.revoke("u2", session.id);
    await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0), { timeout: 2000 });
    expect(seen).toEqual([JSON.stringify({ session: session.id })]);
    expect(seen.join()).not.toContain(token);
    listener.disconnect();
  });
});
