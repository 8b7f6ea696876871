/**
 * The dispatcher's promises to sinks (src/events/types.ts): events in outbox order, again (same ids) after a
 * refusal, each sink on its own (a stuck sink does not hold up another), woken by a local commit without
 * waiting for a poll; and the outbox's: a published event (no change) is written in the background. On SQLite
 * and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createEventDispatcher,
  createEventOutbox,
  type DomainEvent,
  type EventSink,
} from "../../src/events/index.js";
import { systemClock } from "../../src/lib/clock.js";
import {
  eventOutboxRepository,
  OUTBOX_START,
  type Storage,
  withOutboxEvents,
} from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";
import { eventually } from "./helpers.js";

function recordingSink(name: string, behaviour: (call: number) => Promise<void> = async () => {}) {
  const calls: string[][] = [];
  const sink: EventSink = {
    name,
    async deliver(events: readonly DomainEvent[]) {
      calls.push(events.map((e) => e.id));
      await behaviour(calls.length);
    },
  };
  return { sink, calls };
}

describe.each(DIALECTS)("event dispatcher (%s)", (dialect) => {
  let storage: Storage & { url: string };
  beforeAll(async () => {
    storage = await openTestStorage(dialect);
  });
  afterAll(async () => {
    await storage?.close();
  });

  const setup = () => {
    const repository = eventOutboxRepository(storage.db, storage.dialect);
    const outbox = createEventOutbox({ repository, clock: systemClock });
    const dispatcher = createEventDispatcher({ repository, clock: systemClock });
    outbox.onCommitted(() => dispatcher.nudge());
    return { repository, outbox, dispatcher };
  };

  /** Commits events the way a domain change does: in a transaction, then `committed()`. */
  async function commit(outbox: ReturnType<typeof setup>["outbox"], count: number): Promise<DomainEvent[]> {
    const events = outbox.events(
      ...Array.from({ length: count }, (_, i) => ({
        type: "user.created" as const,
        userId: `u${i}`,
        data: { userName: `u${i}` },
      })),
    );
    await withOutboxEvents(storage.db, events, async () => undefined);
    outbox.committed();
    return events;
  }

  it("offers events in order; a refusal offers the same ids again; the cursor moves only on success", async () => {
    const { outbox, dispatcher, repository } = setup();
    const refusing = recordingSink(`refusing-${dialect}`, async (call) => {
      if (call === 1) throw new Error("not now");
    });
    // Start the new sink after what earlier cases wrote: only this case's events matter here.
    await repository.claim(refusing.sink.name, "setup", Date.now(), Date.now() + 1000);
    const head = (await repository.readAfter(OUTBOX_START, 100_000)).at(-1)?.position ?? OUTBOX_START;
    await repository.advance(refusing.sink.name, "setup", head, Date.now());
    await repository.release(refusing.sink.name, "setup");
    dispatcher.register(refusing.sink);

    const events = await commit(outbox, 3);
    await dispatcher.dispatchNow();
    expect(refusing.calls).toEqual([events.map((e) => e.id)]);
    expect(await repository.cursor(refusing.sink.name)).toEqual(head);
    // Offered again after the back-off: the same ids, in the same order.
    await eventually(async () => {
      await dispatcher.dispatchNow();
      return refusing.calls.length >= 2 ? true : undefined;
    }, "a second offer");
    expect(refusing.calls[1]).toEqual(events.map((e) => e.id));
    const cursor = await repository.cursor(refusing.sink.name);
    const stored = await repository.readAfter(head, 10);
    expect(cursor).toEqual(stored.at(-1)?.position);
    await dispatcher.close();
  });

  it("a local commit wakes the dispatcher (no poll running); a stuck sink does not hold up another", async () => {
    const { outbox, dispatcher } = setup();
    let release!: () => void;
    const stuck = recordingSink(
      `stuck-${dialect}`,
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    const quick = recordingSink(`quick-${dialect}`);
    dispatcher.register(stuck.sink);
    dispatcher.register(quick.sink);
    // Never started: only `committed()` → nudge can make it dispatch.
    const events = await commit(outbox, 2);
    await eventually(
      async () => (quick.calls.flat().includes(events[1]!.id) ? true : undefined),
      "the quick sink to get the events",
    );
    expect(stuck.calls.length).toBe(1);
    release();
    await dispatcher.close();
  });

  it("writes published events (no change) in the background, and they are dispatched", async () => {
    const { outbox, dispatcher } = setup();
    const sink = recordingSink(`published-${dialect}`);
    dispatcher.register(sink.sink);
    outbox.publish({
      type: "signin.failed",
      userId: null,
      data: { reason: "unknown_user", ip: "192.0.2.1" },
    });
    await eventually(async () => {
      const failed = await storage.db
        .selectFrom("event_outbox")
        .select("data")
        .where("type", "=", "signin.failed")
        .execute();
      return failed.length > 0 ? failed : undefined;
    }, "the published event to be written");
    await dispatcher.dispatchNow();
    expect(sink.calls.flat().length).toBeGreaterThan(0);
    await outbox.close();
    await dispatcher.close();
  });

  it("refuses event data under a secret's name", () => {
    const { outbox } = setup();
    expect(() => outbox.events({ type: "user.updated", userId: null, data: { password: "x" } })).toThrow(
      /secret/,
    );
    expect(() => outbox.publish({ type: "signin.failed", userId: null, data: { token: "x" } })).toThrow(
      /secret/,
    );
  });
});
