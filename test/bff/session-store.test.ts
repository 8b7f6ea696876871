/**
 * The session store contract, run against SQLite, PostgreSQL and Redis: create and read back, the
 * compare-and-set token replacement (one winner among concurrent writers), deletion by id, sid and sub.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSessionStore, type SessionStore, type StoredSession } from "../../src/bff/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const NOW = Date.UTC(2026, 0, 1);

function session(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    idHash: randomBytes(32).toString("base64url"),
    sub: "user-1",
    sid: "sid-1",
    claims: JSON.stringify({ sub: "user-1", name: "Pat" }),
    accessToken: "v1.sealed-access",
    refreshToken: "v1.sealed-refresh",
    idToken: "v1.sealed-id",
    accessExpiresAt: NOW + 60_000,
    createdAt: NOW,
    lastSeenAt: NOW,
    expiresAt: NOW + 86_400_000,
    generation: 0,
    ...overrides,
  };
}

describe.each(["sqlite", "postgres", "redis"] as const)("the BFF session store on %s", (kind) => {
  let store: SessionStore;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = kind === "redis" ? undefined : await createTestDatabase(kind);
    store = await openSessionStore({
      databaseUrl: database?.url ?? REDIS_URL,
      idleTimeoutMs: 3_600_000,
      now: () => NOW,
      redisPrefix: `bff-test-${randomBytes(6).toString("hex")}:`,
    });
    await store.migrate(); // a second time: idempotent
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it("stores a session and reads it back as it was", async () => {
    const s = session();
    await store.create(s);
    expect(await store.get(s.idHash)).toEqual(s);
    expect(await store.get("unknown")).toBeUndefined();
  });

  it("replaces tokens only from the expected generation: one winner among concurrent writers", async () => {
    const s = session();
    await store.create(s);
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.replaceTokens(s.idHash, 0, {
          accessToken: `v1.access-${i}`,
          refreshToken: null,
          idToken: s.idToken,
          accessExpiresAt: NOW + 120_000,
          claims: s.claims,
          generation: 1,
        }),
      ),
    );
    expect(attempts.filter(Boolean)).toHaveLength(1);
    const after = await store.get(s.idHash);
    expect(after?.generation).toBe(1);
    expect(after?.accessToken).toBe(`v1.access-${attempts.indexOf(true)}`);
    expect(after?.refreshToken).toBeNull();
    expect(after?.accessExpiresAt).toBe(NOW + 120_000);
  });

  it("touches, and deletes by id, by sid and by sub", async () => {
    const a = session({ sid: "sid-a", sub: "user-a" });
    const b = session({ sid: "sid-a", sub: "user-a" });
    const c = session({ sid: "sid-c", sub: "user-a" });
    const d = session({ sid: null, sub: "user-d" });
    for (const s of [a, b, c, d]) await store.create(s);
    await store.touch(a.idHash, NOW + 5_000);
    expect((await store.get(a.idHash))?.lastSeenAt).toBe(NOW + 5_000);
    expect((await store.deleteBySid("sid-a")).map((s) => s.idHash).sort()).toEqual(
      [a.idHash, b.idHash].sort(),
    );
    expect(await store.get(a.idHash)).toBeUndefined();
    expect(await store.get(c.idHash)).toBeDefined();
    expect((await store.deleteBySub("user-a")).map((s) => s.idHash)).toEqual([c.idHash]);
    expect((await store.delete(d.idHash))?.sub).toBe("user-d");
    expect(await store.delete(d.idHash)).toBeUndefined();
  });

  it("purges sessions past their end or idle too long (Redis: its keys expire by themselves)", async () => {
    const ended = session({ expiresAt: NOW - 1 });
    const idle = session({ lastSeenAt: NOW - 10_000 });
    const live = session();
    for (const s of [ended, idle, live]) await store.create(s);
    const purged = await store.purgeExpired(NOW, NOW - 5_000);
    if (kind === "redis") {
      expect(purged).toBe(0);
    } else {
      expect(purged).toBeGreaterThanOrEqual(2);
      expect(await store.get(ended.idHash)).toBeUndefined();
      expect(await store.get(idle.idHash)).toBeUndefined();
    }
    expect(await store.get(live.idHash)).toBeDefined();
  });
});
