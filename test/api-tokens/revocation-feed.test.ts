/**
 * The revocation feed's cursor (src/revocation/feed.ts), on SQLite and PostgreSQL: paging makes progress
 * however many events share a millisecond (more than a read returns), events behind a full page's position
 * that commit late are still delivered, old time cursors keep their meaning, anything else reads from the
 * start, and the SDK's poller (src/sdk/verify/revocations.ts) follows the new cursors unchanged.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { manualClock } from "../../src/lib/clock.js";
import { READ_LIMIT } from "../../src/revocation/feed.js";
import {
  CURSOR_OVERLAP_MS,
  createRevocationFeed,
  KEEP_EVENTS_MS,
  type RevocationEvent,
  type RevocationFeed,
} from "../../src/revocation/index.js";
import { createRevocations } from "../../src/sdk/verify/revocations.js";
import { revocationEventsRepository, type Storage } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

const T0 = Date.UTC(2026, 0, 1);

describe.each(DIALECTS)("revocation feed cursor on %s", (dialect) => {
  let storage: Storage;
  let clock: ReturnType<typeof manualClock>;

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
  });
  afterAll(async () => {
    await storage.close();
  });
  afterEach(async () => {
    await storage.db.deleteFrom("revocation_events").execute();
  });

  function feedWith(readLimit?: number): RevocationFeed {
    clock = manualClock(T0);
    return createRevocationFeed({
      repository: revocationEventsRepository(storage.db),
      clock,
      ...(readLimit === undefined ? {} : { readLimit }),
    });
  }

  /** Inserts events with these ids at `at` directly (in chunks: both databases cap bound parameters). */
  async function insertAt(at: number, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 2000) {
      await storage.db
        .insertInto("revocation_events")
        .values(
          ids.slice(i, i + 2000).map((id) => ({
            id,
            type: "jti" as const,
            value: `v-${id}`,
            at,
            keep_until: at + KEEP_EVENTS_MS,
          })),
        )
        .execute();
    }
  }

  async function allIds(): Promise<string[]> {
    const rows = await storage.db.selectFrom("revocation_events").select("id").execute();
    return rows.map((r) => r.id);
  }

  /**
   * Reads from `cursor` until a read is not full (caught up), as a poller does; returns every read's events
   * and cursor. Fails instead of looping forever.
   */
  async function pageUntilCaughtUp(feed: RevocationFeed, limit: number, cursor: string | undefined) {
    const pages: { events: RevocationEvent[]; cursor: string }[] = [];
    for (let i = 0; i < 100; i++) {
      const page = await feed.read(cursor);
      pages.push(page);
      cursor = page.cursor;
      if (page.events.length < limit)
        return { pages, cursor, ids: pages.flatMap((p) => p.events.map((e) => e.id)) };
    }
    throw new Error("the reader never caught up");
  }

  it("pages through more than READ_LIMIT events in one millisecond and reaches the later ones", async () => {
    const feed = feedWith();
    const burst = Array.from({ length: READ_LIMIT + 500 }, (_, i) => `burst-${String(i).padStart(6, "0")}`);
    await insertAt(T0, burst);
    clock.advance(1_000);
    await feed.record([
      { type: "jti", value: "later-1" },
      { type: "sub", value: "later-2" },
    ]);
    clock.advance(1_000);

    const first = await feed.read(undefined);
    expect(first.events).toHaveLength(READ_LIMIT);
    expect(first.events.every((e) => e.at === T0)).toBe(true);
    const second = await feed.read(first.cursor);
    // Progress: the second read starts after the first one's last event, inside the same millisecond.
    expect(second.events).toHaveLength(502);
    expect(new Set([...first.events, ...second.events].map((e) => e.id)).size).toBe(READ_LIMIT + 502);
    expect(
      second.events
        .slice(-2)
        .map((e) => e.value)
        .sort(),
    ).toEqual(["later-1", "later-2"]);
    expect(second.cursor).toBe(String(clock.now()));
    expect(new Set([...first.events, ...second.events].map((e) => e.id))).toEqual(new Set(await allIds()));
  });

  it("delivers every event of a crowded millisecond at least once, from no cursor or an old time cursor", async () => {
    const limit = 7;
    const feed = feedWith(limit);
    await feed.record([{ type: "jti", value: "early" }]);
    clock.advance(60_000);
    const crowded = clock.now();
    await feed.record(
      Array.from({ length: 40 }, (_, i) => ({ type: "jti" as const, value: `same-ms-${i}` })),
    );
    clock.advance(1);
    await feed.record([{ type: "jti", value: "next-ms" }]);
    clock.advance(30_000);
    await feed.record([
      { type: "sub", value: "later-a" },
      { type: "jti", value: "later-b" },
    ]);
    clock.advance(60_000);
    const everything = new Set(await allIds());
    expect(everything.size).toBe(44);

    const fromStart = await pageUntilCaughtUp(feed, limit, undefined);
    expect(new Set(fromStart.ids)).toEqual(everything);
    // Nothing was repeated while paging (no overlap inside a run of full reads), and every full read moved on.
    expect(fromStart.ids).toHaveLength(44);
    expect(fromStart.pages).toHaveLength(Math.ceil(44 / limit));
    expect(fromStart.cursor).toBe(String(clock.now()));

    // A time cursor (all an older Tessera handed out) from before the crowded millisecond: the overlap behind
    // it still applies, and the reader gets through.
    const fromOldCursor = await pageUntilCaughtUp(feed, limit, String(crowded + 2_000));
    const values = (
      await storage.db.selectFrom("revocation_events").select(["id", "value"]).execute()
    ).filter((r) => r.value !== "early");
    expect(new Set(fromOldCursor.ids)).toEqual(new Set(values.map((r) => r.id)));
    expect(fromOldCursor.pages.flatMap((p) => p.events).every((e) => e.at >= crowded)).toBe(true);
    expect(fromOldCursor.cursor).toBe(String(clock.now()));
  });

  it("keeps reading recent bursts larger than a page without stalling, even while the clock stands still", async () => {
    const limit = 5;
    const feed = feedWith(limit);
    await feed.record(Array.from({ length: 12 }, (_, i) => ({ type: "jti" as const, value: `burst-${i}` })));
    const first = await pageUntilCaughtUp(feed, limit, undefined);
    expect(new Set(first.ids).size).toBe(12);
    // The burst lies inside the overlap window: the next poll re-reads it (fine, readers de-duplicate), and
    // still gets through it to what came after.
    clock.advance(1);
    await feed.record([{ type: "jti", value: "after" }]);
    const again = await pageUntilCaughtUp(feed, limit, first.cursor);
    expect(again.pages.flatMap((p) => p.events).map((e) => e.value)).toContain("after");
    expect(new Set(again.ids)).toEqual(new Set(await allIds()));
    // Once time has moved past the overlap, the burst is read once more (it was inside the overlap behind
    // the last cursor), and then no more.
    clock.advance(CURSOR_OVERLAP_MS + 1);
    const later = await pageUntilCaughtUp(feed, limit, again.cursor);
    expect(new Set(later.ids).size).toBe(13);
    expect(later.cursor).toBe(String(clock.now()));
    expect((await pageUntilCaughtUp(feed, limit, later.cursor)).ids).toEqual([]);
  });

  it("delivers an event that commits late behind a full read's position", async () => {
    const limit = 10;
    const feed = feedWith(limit);
    const t = clock.now();
    await insertAt(
      t - 1_000,
      Array.from({ length: 15 }, (_, i) => `recent-${String(i).padStart(2, "0")}`),
    );
    const first = await feed.read(undefined);
    expect(first.events).toHaveLength(limit);
    expect(first.cursor).toMatch(/^p\./);
    // A transaction that took its time `at` before the read committed after it, behind the read's position.
    await insertAt(t - 2_000, ["late-commit"]);
    // The reader carries on a few seconds later (less than the overlap after the late event).
    clock.advance(4_000);
    const second = await feed.read(first.cursor);
    expect(second.events.map((e) => e.id)).toEqual(
      Array.from({ length: 5 }, (_, i) => `recent-${String(10 + i).padStart(2, "0")}`),
    );
    // Caught up: the cursor steps back to the first full read's horizon (its time less the overlap), not to
    // this read's, so the window behind the old position is read again...
    expect(second.cursor).toBe(String(t));
    const third = await pageUntilCaughtUp(feed, limit, second.cursor);
    expect(third.ids).toContain("late-commit");
    expect(new Set(third.ids)).toEqual(new Set(await allIds()));
    // ...and after that the cursor follows the clock again.
    expect(third.cursor).toBe(String(clock.now()));
  });

  it("never skips an event, with inserts late and on time between reads (randomised)", async () => {
    const limit = 6;
    const feed = feedWith(limit);
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const delivered = new Set<string>();
    let cursor: string | undefined;
    let n = 0;
    for (let round = 0; round < 60; round++) {
      const count = Math.floor(random() * 12);
      const ids = Array.from({ length: count }, () => `e-${String(n++).padStart(4, "0")}`);
      // On time (now) or committing late (up to 4 s behind now, less than the overlap).
      const at = clock.now() - (random() < 0.5 ? 0 : Math.floor(random() * 4_000));
      if (ids.length > 0) await insertAt(at, ids);
      const page = await feed.read(cursor);
      for (const e of page.events) delivered.add(e.id);
      cursor = page.cursor;
      clock.advance(Math.floor(random() * 1_500));
    }
    // The poller keeps polling: once caught up, one more run re-reads the window behind the last position.
    clock.advance(60_000);
    for (let run = 0; run < 2; run++) {
      const r = await pageUntilCaughtUp(feed, limit, cursor);
      for (const id of r.ids) delivered.add(id);
      cursor = r.cursor;
    }
    expect(n).toBeGreaterThan(100);
    expect([...delivered].sort()).toEqual((await allIds()).sort());
  });

  it("reads anything that is not a cursor from the start, as before", async () => {
    const feed = feedWith(3);
    await feed.record([{ type: "jti", value: "old" }]);
    clock.advance(600_000);
    await feed.record([{ type: "jti", value: "new" }]);
    const full = await feed.read(undefined);
    expect(full.events.map((e) => e.value)).toEqual(["old", "new"]);
    const position = (
      await createRevocationFeed({
        repository: revocationEventsRepository(storage.db),
        clock,
        readLimit: 1,
      }).read(undefined)
    ).cursor;
    expect(position).toMatch(/^p\./);
    const malformed = [
      "",
      "not-a-cursor",
      "12345678901234567",
      "-5",
      "1.5",
      "p.",
      "p.123",
      "p.abc.ZXZ0",
      "p.123.!!!",
      "p.123.ZXZ0.x",
      `${position}.`,
      `${position}x`.replace(/^p\./, "q."),
      // Not the canonical encoding of an id.
      "p.123.ZXZ0=",
      "p.123.ZXZ",
      // Not UTF-8.
      "p.123.gA",
    ];
    const reader = createRevocationFeed({
      repository: revocationEventsRepository(storage.db),
      clock,
      readLimit: 3,
    });
    for (const cursor of malformed) {
      const answer = await reader.read(cursor);
      expect(
        answer.events.map((e) => e.value),
        cursor,
      ).toEqual(["old", "new"]);
      expect(answer.cursor, cursor).toBe(String(clock.now()));
    }
  });

  it("keeps the meaning of time cursors: the overlap behind them, and a time cursor once caught up", async () => {
    const feed = feedWith();
    const start = await feed.read(undefined);
    expect(start).toEqual({ events: [], cursor: String(clock.now()) });
    await feed.record([{ type: "jti", value: "a" }]);
    clock.advance(10_000);
    await feed.record([{ type: "jti", value: "b" }]);
    const first = await feed.read(start.cursor);
    expect(first.events.map((e) => e.value)).toEqual(["a", "b"]);
    expect(first.cursor).toBe(String(clock.now()));
    clock.advance(3_000);
    // From 5 s behind the cursor: b (at the cursor's time) again, a (10 s before it) no more.
    expect((await feed.read(first.cursor)).events.map((e) => e.value)).toEqual(["b"]);
    expect((await feed.read(String(T0 + CURSOR_OVERLAP_MS))).events.map((e) => e.value)).toEqual(["a", "b"]);
    expect((await feed.read(String(T0 + CURSOR_OVERLAP_MS + 1))).events.map((e) => e.value)).toEqual(["b"]);
  });

  it("is followed by the SDK's poller through a crowded millisecond to later revocations", async () => {
    const limit = 4;
    const feed = feedWith(limit);
    await feed.record(Array.from({ length: 30 }, (_, i) => ({ type: "jti" as const, value: `jti-${i}` })));
    clock.advance(2_000);
    await feed.record([{ type: "sub", value: "user-1" }]);
    const cursors: (string | null)[] = [];
    const warnings: string[] = [];
    const revocations = createRevocations({
      http: {
        allowHttp: true,
        timeoutMs: 5_000,
        fetch: async (input) => {
          const since = new URL(String(input)).searchParams.get("since");
          cursors.push(since);
          const answer = await feed.read(since ?? undefined);
          return new Response(JSON.stringify({ ...answer, interval_ms: feed.intervalMs }), {
            headers: { "content-type": "application/json" },
          });
        },
      },
      endpoint: async () => "https://id.example.test/revocations",
      authorization: "Basic eA==",
      intervalMs: 5,
      retentionMs: KEEP_EVENTS_MS,
      now: () => Date.now(),
      onWarning: (message) => warnings.push(message),
      onEvent: () => undefined,
    });
    try {
      revocations.start();
      await revocations.ready();
      await vi.waitFor(
        () => {
          for (let i = 0; i < 30; i++)
            expect(revocations.isRevoked({ jti: `jti-${i}`, sub: "x" })).toBe(true);
          expect(revocations.isRevoked({ sub: "user-1", iat: Math.floor(T0 / 1000) })).toBe(true);
        },
        { timeout: 5_000 },
      );
      expect(revocations.isRevoked({ jti: "other", sub: "x" })).toBe(false);
      // It sent the position cursors back as they were.
      expect(cursors.filter((c) => c?.startsWith("p.")).length).toBeGreaterThanOrEqual(7);
      expect(warnings).toEqual([]);
    } finally {
      revocations.close();
    }
  });
});
