/**
 * The storage contract of the event outbox and the webhook tables (in the spirit of
 * test/storage/repositories.contract.test.ts, kept beside the events tests): the same answers on SQLite and
 * PostgreSQL, asserted on what the database holds — events written with their change or not at all, read in
 * order, sink leases that one instance wins, a purge that never passes a cursor; deliveries enqueued once per
 * (endpoint, event), claimed once under a race, outcomes written only by the lease holder. PostgreSQL also: an
 * event whose transaction commits after later ones is still read, in its place, by a cursor that was waiting.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEventDispatcher, type DomainEvent, eventId } from "../../src/events/index.js";
import { systemClock } from "../../src/lib/clock.js";
import {
  eventOutboxRepository,
  OUTBOX_START,
  type OutboxEvent,
  type Storage,
  usersRepository,
  type WebhookDeliveryRow,
  webhooksRepository,
  withOutboxEvents,
} from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

let at = Date.UTC(2026, 0, 1);
const event = (type = "user.created", data: Record<string, string> = {}): OutboxEvent => {
  at += 1;
  return { id: eventId(at), type, at, userId: null, data };
};

describe.each(DIALECTS)("event storage contract (%s)", (dialect) => {
  let storage: Storage & { url: string };
  beforeAll(async () => {
    storage = await openTestStorage(dialect);
  });
  afterAll(async () => {
    await storage?.close();
  });

  const outbox = () => eventOutboxRepository(storage.db, storage.dialect);
  const all = async () => outbox().readAfter(OUTBOX_START, 10_000);

  it("writes a change's events in its transaction, and none when it fails", async () => {
    const before = (await all()).length;
    const users = usersRepository(storage.db, storage.dialect);
    const id = randomUUID();
    const row = {
      id,
      user_name: id,
      user_name_key: id,
      external_id: null,
      display_name: null,
      given_name: null,
      family_name: null,
      active: 1 as const,
      password_hash: null,
      password_updated_at: null,
      created_at: 1,
      updated_at: 1,
      version: 1,
    };
    const created = event("user.created", { marker: "committed" });
    await users.insert(row, [], [created]);
    // The same user again: the INSERT fails on its primary key, the event goes with it.
    const lost = event("user.created", { marker: "rolled back" });
    await expect(users.insert(row, [], [lost])).rejects.toThrow();
    // A write that throws after its statement: nothing of it stays.
    const thrown = event("user.updated", { marker: "thrown" });
    await expect(
      withOutboxEvents(storage.db, [thrown], async (db) => {
        await db.updateTable("users").set({ display_name: "changed" }).where("id", "=", id).execute();
        throw new Error("refused after the write");
      }),
    ).rejects.toThrow("refused after the write");
    // Events built from the result: only when the conditional write changed something.
    await users.setActive(`${id}-missing`, false, 2, [event("user.disabled", { marker: "no such user" })]);
    const ids = (await all()).slice(before).map((e) => e.id);
    expect(ids).toEqual([created.id]);
    expect((await users.findById(id))?.display_name).toBeNull();
  });

  it("reads in order after a position, and appends idempotently", async () => {
    const repository = outbox();
    const start = (await all()).at(-1)?.position ?? OUTBOX_START;
    const batch = [event(), event(), event()];
    await repository.append(batch);
    await repository.append([batch[1]!]);
    const read = await repository.readAfter(start, 10);
    expect(read.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    expect(read[0]).toMatchObject({ type: "user.created", userId: null, data: {} });
    expect(await repository.readAfter(read[0]!.position, 1)).toEqual([read[1]]);
    expect(await repository.hasAfter(read[2]!.position)).toBe(false);
    expect(await repository.hasAfter(read[1]!.position)).toBe(true);
  });

  it("gives a sink's lease to one owner at a time; only the holder moves the cursor", async () => {
    const repository = outbox();
    const sink = `sink-${randomUUID()}`;
    const now = 1_000_000;
    const [a, b] = await Promise.all([
      repository.claim(sink, "a", now, now + 10_000),
      repository.claim(sink, "b", now, now + 10_000),
    ]);
    expect([a, b].filter((claimed) => claimed !== undefined)).toEqual([OUTBOX_START]);
    const holder = a ? "a" : "b";
    const other = a ? "b" : "a";
    expect(await repository.advance(sink, other, { tx: 0, seq: 5 }, now + 10_000)).toBe(false);
    expect(await repository.advance(sink, holder, { tx: 0, seq: 5 }, now + 10_000)).toBe(true);
    expect(await repository.claim(sink, other, now + 1, now + 10_000)).toBeUndefined();
    // Expired: another takes it, and the old holder can no longer move it.
    expect(await repository.claim(sink, other, now + 10_000, now + 20_000)).toEqual({ tx: 0, seq: 5 });
    expect(await repository.advance(sink, holder, { tx: 0, seq: 9 }, now + 20_000)).toBe(false);
    await repository.release(sink, other);
    expect(await repository.claim(sink, holder, now + 10_001, now + 30_000)).toEqual({ tx: 0, seq: 5 });
    expect(await repository.cursor(sink)).toEqual({ tx: 0, seq: 5 });
  });

  it("purges old events only behind every active cursor", async () => {
    const repository = outbox();
    const events = await all();
    const last = events.at(-1)!;
    const middle = events[Math.floor(events.length / 2)]!;
    // Every other cursor of this database is old (inactive since 0): only this one holds events back.
    await storage.db.updateTable("event_sink_cursors").set({ active_at: 0 }).execute();
    const sink = `purge-${randomUUID()}`;
    await repository.claim(sink, "p", 5_000, 6_000);
    await repository.advance(sink, "p", middle.position, 6_000);
    const farFuture = Number.MAX_SAFE_INTEGER;
    const deleted = await repository.purge(farFuture, 5_000);
    const left = await all();
    expect(deleted).toBe(events.length - left.length);
    expect(left.map((e) => e.id)).toEqual(events.filter((e) => e.id > middle.id).map((e) => e.id));
    // Not old enough: nothing goes, whatever the cursors.
    await repository.advance(sink, "p", last.position, 6_000);
    expect(await repository.purge(0, 5_000)).toBe(0);
    expect((await all()).length).toBe(left.length);
  });

  it("dispatches every event at least once to a sink, in order, across two dispatchers", async () => {
    const repository = outbox();
    await repository.append(Array.from({ length: 30 }, () => event("user.deleted")));
    const expected = (await all()).map((e) => e.id);
    const seen: string[][] = [[], []];
    const dispatchers = seen.map((list, i) => {
      const dispatcher = createEventDispatcher({
        repository,
        clock: systemClock,
        batchSize: 7,
        owner: `instance-${i}`,
      });
      dispatcher.register({
        name: "contract-sink",
        async deliver(events: readonly DomainEvent[]) {
          list.push(...events.map((e) => e.id));
        },
      });
      return dispatcher;
    });
    await Promise.all([...dispatchers, ...dispatchers].map((d) => d.dispatchNow()));
    await Promise.all(dispatchers.map((d) => d.dispatchNow()));
    const union = new Set([...seen[0]!, ...seen[1]!]);
    expect([...union].sort()).toEqual([...expected].sort());
    // Each dispatcher's own view is in outbox order.
    for (const list of seen) expect(list).toEqual(expected.filter((id) => list.includes(id)));
    expect(await repository.cursor("contract-sink")).toEqual((await all()).at(-1)?.position);
    await Promise.all(dispatchers.map((d) => d.close()));
  });

  it("enqueues one delivery per (endpoint, event); one claim wins; only the holder records the outcome", async () => {
    const webhooks = webhooksRepository(storage.db);
    const endpoint = randomUUID();
    await webhooks.insertEndpoint({
      id: endpoint,
      url: "https://example.com/hook",
      events: '["*"]',
      enabled: 1,
      secret_sealed: "sealed",
      previous_secret_sealed: null,
      previous_secret_until: null,
      created_at: 1,
      updated_at: 1,
      created_by: "test",
    });
    const delivery = (eventIdValue: string, nextAttemptAt = 100): WebhookDeliveryRow => ({
      id: randomUUID(),
      endpoint_id: endpoint,
      event_id: eventIdValue,
      event_type: "user.created",
      event_at: 1,
      payload: "{}",
      state: "pending",
      attempts: 0,
      next_attempt_at: nextAttemptAt,
      lease_owner: null,
      lease_until: null,
      last_attempt_at: null,
      last_status: null,
      last_error: null,
      delivered_at: null,
      created_at: 1,
    });
    const first = delivery("evt-1");
    await webhooks.enqueue([first, delivery("evt-2", 500)]);
    await webhooks.enqueue([delivery("evt-1")]);
    expect((await webhooks.listDeliveries(endpoint, { limit: 10 })).map((d) => d.event_id).sort()).toEqual([
      "evt-1",
      "evt-2",
    ]);

    expect((await webhooks.due(100, 10, [])).map((d) => d.event_id)).toEqual(["evt-1"]);
    expect(await webhooks.due(100, 10, [endpoint])).toEqual([]);
    const claims = await Promise.all([
      webhooks.claim(first.id, "a", 100, 1_000),
      webhooks.claim(first.id, "b", 100, 1_000),
    ]);
    expect(claims.filter((n) => n !== undefined)).toEqual([1]);
    const holder = claims[0] === undefined ? "b" : "a";
    const other = holder === "a" ? "b" : "a";
    expect(await webhooks.due(200, 10, [])).toEqual([]);
    expect(await webhooks.delivered(first.id, other, 150, 200)).toBe(false);
    expect(
      await webhooks.failed(first.id, holder, {
        status: 500,
        error: "HTTP 500",
        at: 150,
        nextAttemptAt: 300,
      }),
    ).toBe(true);
    expect(await webhooks.findDelivery(endpoint, first.id)).toMatchObject({
      state: "pending",
      attempts: 1,
      next_attempt_at: 300,
      last_status: 500,
      lease_owner: null,
    });
    expect(await webhooks.claim(first.id, "a", 299, 2_000)).toBeUndefined();
    expect(await webhooks.claim(first.id, "a", 300, 2_000)).toBe(2);
    // A lease that expired is taken over (a crash between send and outcome), counting another attempt.
    expect(await webhooks.claim(first.id, "b", 2_000, 3_000)).toBe(3);
    expect(
      await webhooks.failed(first.id, "a", {
        status: null,
        error: "late",
        at: 2_001,
        nextAttemptAt: undefined,
      }),
    ).toBe(false);
    expect(
      await webhooks.failed(first.id, "b", {
        status: null,
        error: "timed out",
        at: 2_001,
        nextAttemptAt: undefined,
      }),
    ).toBe(true);
    expect(await webhooks.findDelivery(endpoint, first.id)).toMatchObject({ state: "dead", attempts: 3 });
    expect(await webhooks.due(10_000, 10, [])).toHaveLength(1);

    expect(await webhooks.redeliver(endpoint, first.id, 5_000)).toBe(true);
    expect(await webhooks.redeliver(randomUUID(), first.id, 5_000)).toBe(false);
    expect(await webhooks.findDelivery(endpoint, first.id)).toMatchObject({ state: "pending", attempts: 0 });
    expect(await webhooks.claim(first.id, "a", 5_000, 6_000)).toBe(1);
    expect(await webhooks.delivered(first.id, "a", 5_001, 204)).toBe(true);
    expect(await webhooks.findDelivery(endpoint, first.id)).toMatchObject({
      state: "delivered",
      delivered_at: 5_001,
      last_status: 204,
    });

    // Disabled endpoints' deliveries wait; deleted ones go with their deliveries.
    await webhooks.updateEndpoint(endpoint, { enabled: 0, updated_at: 2 });
    expect(await webhooks.due(10_000, 10, [])).toEqual([]);
    expect(await webhooks.purge(5_002, 0)).toBe(1);
    expect(await webhooks.deleteEndpoint(endpoint)).toBe(true);
    expect(await webhooks.listDeliveries(endpoint, { limit: 10 })).toEqual([]);
    expect(await webhooks.deleteEndpoint(endpoint)).toBe(false);
  });
});

describe("event storage contract: late commits (postgres)", () => {
  let storage: Storage & { url: string };
  beforeAll(async () => {
    storage = await openTestStorage("postgres");
  });
  afterAll(async () => {
    await storage?.close();
  });
  const outbox = () => eventOutboxRepository(storage.db, storage.dialect);
  const all = async () => outbox().readAfter(OUTBOX_START, 10_000);

  it("reads an event whose transaction commits after later ones, in its place", async () => {
    const repository = outbox();
    const start = (await all()).at(-1)?.position ?? OUTBOX_START;
    const early = event("session.ended", { marker: "early" });
    let commit!: () => void;
    const held = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let written!: () => void;
    const inserted = new Promise<void>((resolve) => {
      written = resolve;
    });
    // A transaction that writes its event first and commits last.
    const slow = storage.db.transaction().execute(async (trx) => {
      await withOutboxEvents(trx, [early], async () => undefined);
      written();
      await held;
    });
    await inserted;
    const later = [event("user.created", { marker: "later" }), event("user.created", { marker: "later" })];
    await repository.append(later);
    // Committed but behind a transaction still running: not readable yet, so a cursor cannot pass `early`.
    expect(await repository.readAfter(start, 10)).toEqual([]);
    expect(await repository.hasAfter(start)).toBe(false);
    commit();
    await slow;
    // The horizon is the cluster's: a write transaction of another test file running at this moment holds it
    // back a little longer, so wait (bounded) for the three events rather than read once.
    let read = await repository.readAfter(start, 10);
    for (let attempt = 0; attempt < 100 && read.length < 3; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      read = await repository.readAfter(start, 10);
    }
    expect(read.map((e) => e.id)).toEqual([early.id, ...later.map((e) => e.id)]);
  });
});
