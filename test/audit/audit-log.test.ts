/**
 * The audit log writes behind the request, in batches: what that promises (read-your-writes in the process,
 * a bounded wait, nothing lost to a passing database failure, close writes the queue) and what it refuses.
 */
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type AuditLog,
  auditEventId,
  createAuditLog,
  MAX_ATTEMPTS,
  MAX_BATCH,
} from "../../src/audit/index.js";
import { manualClock } from "../../src/lib/clock.js";
import { auditEventsRepository, type BackgroundWriter, type Storage } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

/** How many audit rows the database holds. */
async function storedEvents(storage: Storage): Promise<number> {
  const row = await storage.db
    .selectFrom("audit_events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

// SQLite twice: through Kysely on the main connection, and through the background writer (production's path
// on a SQLite file: a second connection in a worker thread).
const SETUPS = [
  ...DIALECTS.map((dialect) => ({ dialect, background: false })),
  { dialect: "sqlite" as const, background: true },
];

describe.each(SETUPS)("audit log on $dialect (background writer: $background)", ({ dialect, background }) => {
  let storage: Storage;
  let audit: AuditLog;
  let lost: { error: unknown; lost: number }[];
  const clock = manualClock(Date.UTC(2026, 10, 29, 12));

  const stored = () => storedEvents(storage);
  // Moves the table away and back: the database refuses writes for a while, then takes them again.
  const rename = (from: string, to: string) =>
    sql`alter table ${sql.id(from)} rename to ${sql.id(to)}`.execute(storage.db);

  beforeEach(async () => {
    storage = await openTestStorage(dialect);
    lost = [];
    if (background && !storage.backgroundWriter) throw new Error("no background writer on a SQLite file");
    audit = createAuditLog({
      repository: auditEventsRepository(storage.db, background ? storage.backgroundWriter : undefined),
      clock,
      onError: (error, n) => lost.push({ error, lost: n }),
    });
  });
  afterEach(async () => {
    await audit.close();
    await storage.close();
  });

  it("returns before writing, lists its own events at once, and writes them within the flush interval", async () => {
    await audit.record({ type: "signin.password", outcome: "success", userId: "u1", actor: "user:u1" });
    expect(await stored()).toBe(0);
    const listed = await audit.list({ userId: "u1" });
    expect(listed.map((e) => [e.type, e.outcome, e.actor])).toEqual([
      ["signin.password", "success", "user:u1"],
    ]);
    expect(await stored()).toBe(1);

    await audit.record({ type: "signout", outcome: "success", userId: "u1" });
    const deadline = Date.now() + 2000;
    while ((await stored()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await stored()).toBe(2);
  });

  it("writes a burst larger than one INSERT's batch completely, newest first when listed", async () => {
    const count = MAX_BATCH * 2 + 37;
    for (let i = 0; i < count; i++) {
      clock.advance(1);
      await audit.record({ type: "signin.password", outcome: "failure", details: { n: i } });
    }
    await audit.flush();
    expect(await stored()).toBe(count);
    const newest = await audit.list({ limit: 3 });
    expect(newest.map((e) => e.details.n)).toEqual([count - 1, count - 2, count - 3]);
  });

  it("refuses a secret-named detail at once and queues nothing", async () => {
    await expect(
      audit.record({ type: "password.changed", outcome: "success", details: { password: "x" } }),
    ).rejects.toThrow(/must not carry secrets/);
    await audit.flush();
    expect(await stored()).toBe(0);
  });

  it("keeps events through a passing write failure and writes them when the database takes writes again", async () => {
    await rename("audit_events", "audit_events_away");
    await audit.record({ type: "user.created", outcome: "success", userId: "u2" });
    await audit.record({ type: "user.updated", outcome: "success", userId: "u2" });
    await audit.flush(); // fails: the table is gone
    await rename("audit_events_away", "audit_events");
    expect(await stored()).toBe(0);
    await audit.flush();
    expect(await stored()).toBe(2);
    expect(lost).toEqual([]);
  });

  it("retries a failed write by itself, without another event or an explicit flush", async () => {
    const slow = createAuditLog({
      repository: auditEventsRepository(storage.db),
      clock,
      flushMs: 500,
      onError: (error, n) => lost.push({ error, lost: n }),
    });
    await rename("audit_events", "audit_events_away");
    await slow.record({ type: "user.enabled", outcome: "success", userId: "u5" });
    await slow.flush(); // fails while the table is away; a retry is scheduled 500 ms later
    await rename("audit_events_away", "audit_events");
    expect(await stored()).toBe(0);
    const deadline = Date.now() + 3000;
    while ((await stored()) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await stored()).toBe(1);
    expect(lost).toEqual([]);
    await slow.close();
  });

  it("reports what close could not write", async () => {
    await rename("audit_events", "audit_events_away");
    await audit.record({ type: "user.disabled", outcome: "success", userId: "u6" });
    await audit.close();
    expect(lost.map((l) => l.lost)).toEqual([1]);
    await rename("audit_events_away", "audit_events");
  });

  it(`reports events lost after ${MAX_ATTEMPTS} failed writes, and goes on with later ones`, async () => {
    await rename("audit_events", "audit_events_away");
    await audit.record({ type: "user.deleted", outcome: "success", userId: "u3" });
    for (let i = 0; i < MAX_ATTEMPTS; i++) await audit.flush();
    expect(lost.map((l) => l.lost)).toEqual([1]);
    await rename("audit_events_away", "audit_events");
    await audit.record({ type: "user.created", outcome: "success", userId: "u4" });
    await audit.flush();
    expect((await audit.list()).map((e) => e.userId)).toEqual(["u4"]);
  });

  it("close writes the queue; an event recorded after close is written at once", async () => {
    await audit.record({ type: "group.created", outcome: "success" });
    await audit.close();
    expect(await stored()).toBe(1);
    await audit.record({ type: "group.deleted", outcome: "success" });
    await audit.flush();
    expect(await stored()).toBe(2);
  });
});

describe("audit event ids", () => {
  it("are 10 base-36 digits of the time, then 16 random hex digits: unique, and sorted by time", () => {
    const ids: string[] = [];
    for (let i = 0; i < 5000; i++) ids.push(auditEventId(Date.UTC(2026, 11, 6) + Math.floor(i / 10)));
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{10}[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const byTime = ids.map((id) => Number.parseInt(id.slice(0, 10), 36));
    expect([...ids].sort().map((id) => Number.parseInt(id.slice(0, 10), 36))).toEqual(byTime);
    // The random part takes every hex digit in every position (no fixed version or variant digit).
    for (let position = 10; position < 26; position++) {
      expect(new Set(ids.map((id) => id[position])).size, `position ${position}`).toBe(16);
    }
  });
});

describe("audit log with a background writer", () => {
  let storage: Storage;
  const withWriter = (writer: BackgroundWriter, lost: number[] = []) =>
    createAuditLog({
      repository: auditEventsRepository(storage.db, writer),
      clock: manualClock(1_000),
      onError: (_error, n) => lost.push(n),
    });
  beforeEach(async () => {
    storage = await openTestStorage("sqlite");
  });
  afterEach(async () => {
    await storage.close();
  });
  const count = () => storedEvents(storage);

  it("hands each batch to the writer as one call, columns in order, and lists what it wrote", async () => {
    const real = storage.backgroundWriter!;
    const calls: Array<{ sql: string; rows: number }> = [];
    const audit = withWriter({
      write(sql, rows) {
        calls.push({ sql, rows: rows.length });
        return real.write(sql, rows);
      },
    });
    for (let i = 0; i < 5; i++) {
      await audit.record({
        type: "signin.password",
        outcome: i % 2 ? "failure" : "success",
        userId: `u${i}`,
        actor: "anonymous",
        ip: "192.0.2.1",
        userAgent: "ua",
        details: { n: i },
      });
    }
    const listed = await audit.list();
    expect(calls).toHaveLength(1);
    expect(calls[0]!.rows).toBe(5);
    expect(calls[0]!.sql).toMatch(/^insert into "audit_events"/);
    // Same time, so the ids' order is their random part's: compare by user.
    const byUser = listed.map((e) => [e.userId, e.outcome, e.ip, e.userAgent, e.details]).sort();
    expect(byUser).toEqual(
      [0, 1, 2, 3, 4].map((i) => [`u${i}`, i % 2 ? "failure" : "success", "192.0.2.1", "ua", { n: i }]),
    );
    expect(listed.every((e) => e.at === 1_000 && e.type === "signin.password")).toBe(true);
    await audit.close();
  });

  it("writes through Kysely when the writer cannot take the batch", async () => {
    let asked = 0;
    const audit = withWriter({
      async write() {
        asked++;
        return false;
      },
    });
    await audit.record({ type: "signout", outcome: "success", userId: "u1" });
    await audit.flush();
    expect(asked).toBe(1);
    expect(await count()).toBe(1);
    await audit.close();
  });

  it("a batch committed but not acknowledged is retried without duplicates or losses", async () => {
    const real = storage.backgroundWriter!;
    let calls = 0;
    const lost: number[] = [];
    const audit = withWriter(
      {
        async write(sql, rows) {
          const done = await real.write(sql, rows);
          if (calls++ === 0) throw new Error("the answer was lost");
          return done;
        },
      },
      lost,
    );
    await audit.record({ type: "signout", outcome: "success", userId: "u1" });
    await audit.flush();
    expect(await count()).toBe(1);
    await audit.record({ type: "signout", outcome: "success", userId: "u2" });
    await audit.flush();
    expect(await count()).toBe(2);
    expect((await audit.list()).map((e) => e.userId).sort()).toEqual(["u1", "u2"]);
    expect(lost).toEqual([]);
    await audit.close();
  });

  it("keeps events through a failing writer and writes them when it recovers", async () => {
    const real = storage.backgroundWriter!;
    let failures = 1;
    const lost: number[] = [];
    const audit = withWriter(
      {
        write(sql, rows) {
          if (failures-- > 0) return Promise.reject(new Error("worker busy"));
          return real.write(sql, rows);
        },
      },
      lost,
    );
    await audit.record({ type: "signout", outcome: "success", userId: "u1" });
    await audit.flush();
    expect(await count()).toBe(0);
    await audit.flush();
    expect(await count()).toBe(1);
    expect(lost).toEqual([]);
    await audit.close();
  });
});
