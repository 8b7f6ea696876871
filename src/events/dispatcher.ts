/**
 * The dispatcher: reads committed outbox events in order and offers them to each registered `EventSink`
 * (webhooks, the Shared Signals transmitter), at least once.
 *
 * - One durable cursor per sink name (`event_sink_cursors`). Events are offered in batches after the cursor;
 *   when `deliver` resolves the cursor moves past them; when it rejects the cursor stays and the same events
 *   are offered again (after a back-off). A crash between the two offers them again too: sinks de-duplicate
 *   by event id.
 * - Never skips an event that commits late: storage reads only events that no running transaction can still
 *   precede (PostgreSQL: transactions older than the snapshot's `xmin`; SQLite: transactions are serial).
 * - Many instances: each sink is dispatched by one instance at a time, the one that holds the sink's lease (a
 *   conditional UPDATE on its cursor row; renewed with every batch, kept between passes while more than half
 *   of it is left, released at close or after a failed pass, expiring on its own if the instance dies). Each sink runs on its own: a slow or failing sink never delays another.
 * - Wakes at once when a change in this process commits events (`nudge`, wired to the outbox), and polls
 *   every `pollMs` (≤ 500 ms) for what other instances and processes (the CLI) commit. A sink's passes start
 *   at least `minGapMs` (default 200 ms) apart: under steady writes the outbox commits every 100 ms, and a
 *   pass per commit (each a lease, a read, a cursor move and a release) cost PostgreSQL sign-in throughput
 *   about 8 % in `npm run bench -- events`; one pass every 200 ms takes the same events in bigger batches.
 * - Purge: every minute, events older than `retentionMs` that every cursor in use has passed are deleted. A
 *   cursor no instance has used for `retentionMs` stops holding them back (a sink that was removed).
 * - A sink seen for the first time starts at the oldest event kept.
 */
import { randomBytes } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/log.js";
import {
  type EventOutboxRepository,
  OUTBOX_START,
  type OutboxPosition,
  type StoredOutboxEvent,
} from "../storage/index.js";
import type { DomainEvent, DomainEventType, EventSink } from "./types.js";

export interface EventDispatcherOptions {
  repository: EventOutboxRepository;
  clock: Clock;
  log?: Logger;
  /** Milliseconds between polls (default 250, at most 500). */
  pollMs?: number;
  /** Least time between the starts of two passes of a sink, ms (default 200). */
  minGapMs?: number;
  /** Events per `deliver` call (default 100). */
  batchSize?: number;
  /** How long a sink's lease lasts without renewal, ms (default 5 s). */
  leaseMs?: number;
  /** How long events are kept once every sink has passed them, ms (default 24 h). */
  retentionMs?: number;
  /** This instance's name in leases (default random). */
  owner?: string;
}

export interface EventDispatcher {
  /** Adds a sink (one per name; adding the same one again does nothing); it is offered every event after its cursor. */
  register(sink: EventSink): void;
  /** The registered sinks' names. */
  readonly sinks: readonly string[];
  /** Something committed: dispatch now rather than at the next poll. */
  nudge(): void;
  /** Starts polling (and purging). */
  start(): void;
  /** One pass for every sink now; resolves when each has taken what it could. */
  dispatchNow(): Promise<void>;
  /** Deletes old events every sink has passed; how many. */
  purge(): Promise<number>;
  /** Stops polling and waits for passes in progress. */
  close(): Promise<void>;
}

const MAX_POLL_MS = 500;
const PURGE_EVERY_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

interface Runner {
  sink: EventSink;
  running: Promise<void> | undefined;
  again: boolean;
  failures: number;
  retryAt: number;
  /** `performance.now()` when its last pass started. */
  lastPass: number;
  /** The lease this instance holds on the sink's cursor, and where the cursor stands. */
  held: { position: OutboxPosition; until: number } | undefined;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

const toDomainEvent = (event: StoredOutboxEvent): DomainEvent => ({
  id: event.id,
  type: event.type as DomainEventType,
  at: event.at,
  userId: event.userId,
  data: event.data,
});

export function createEventDispatcher(options: EventDispatcherOptions): EventDispatcher {
  const { repository, clock, log } = options;
  const pollMs = Math.min(options.pollMs ?? 250, MAX_POLL_MS);
  const batchSize = options.batchSize ?? 100;
  const minGapMs = options.minGapMs ?? 200;
  const leaseMs = options.leaseMs ?? 5_000;
  const retentionMs = options.retentionMs ?? 24 * 3_600_000;
  const owner = options.owner ?? `dispatcher-${randomBytes(8).toString("hex")}`;
  const runners = new Map<string, Runner>();
  let poller: NodeJS.Timeout | undefined;
  let purger: NodeJS.Timeout | undefined;
  let nudged = false;
  let closed = false;

  /** Takes what follows the sink's cursor, batch after batch, while this instance holds the lease. */
  async function pass(runner: Runner): Promise<void> {
    const { sink } = runner;
    // The back-off after a refusal is this process's own pacing: measured on its monotonic clock.
    if (performance.now() < runner.retryAt) return;
    const now = clock.now();
    // A lease this instance renewed recently is kept between passes (with half its time as margin for other
    // instances' clocks): a pass then costs one read and one cursor move, not a claim and a release as well.
    let position: OutboxPosition | undefined =
      runner.held !== undefined && runner.held.until - leaseMs / 2 > now ? runner.held.position : undefined;
    if (position === undefined) {
      runner.held = undefined;
      const known = (await repository.cursor(sink.name)) ?? OUTBOX_START;
      if (!(await repository.hasAfter(known))) return;
      position = await repository.claim(sink.name, owner, now, now + leaseMs);
      if (position === undefined) return; // another instance is dispatching this sink
      runner.held = { position, until: now + leaseMs };
    } else if (!(await repository.hasAfter(position))) {
      return;
    }
    try {
      while (!closed) {
        const events = await repository.readAfter(position, batchSize);
        if (events.length === 0) break;
        await sink.deliver(events.map(toDomainEvent));
        position = (events[events.length - 1] as StoredOutboxEvent).position;
        const until = clock.now() + leaseMs;
        if (!(await repository.advance(sink.name, owner, position, until))) {
          runner.held = undefined; // another instance took the sink over
          break;
        }
        runner.held = { position, until };
        if (events.length < batchSize) break;
      }
      runner.failures = 0;
      runner.retryAt = 0;
    } catch (error) {
      runner.held = undefined;
      await repository.release(sink.name, owner).catch(() => undefined);
      runner.failures += 1;
      runner.retryAt = performance.now() + Math.min(MAX_BACKOFF_MS, 250 * 2 ** runner.failures);
      log?.warn(
        { err: { message: (error as Error).message }, sink: sink.name, failures: runner.failures },
        "event sink did not take events; offered again later",
      );
    }
  }

  function kick(runner: Runner): Promise<void> {
    if (runner.running) {
      runner.again = true;
      return runner.running;
    }
    runner.running = (async () => {
      do {
        runner.again = false;
        const wait = runner.lastPass + minGapMs - performance.now();
        if (wait > 0) await sleep(wait);
        if (closed) break;
        runner.lastPass = performance.now();
        try {
          await pass(runner);
        } catch (error) {
          // The outbox could not be read (database outage): the next poll tries again.
          log?.warn({ err: { message: (error as Error).message } }, "event dispatch failed");
        }
      } while (runner.again && !closed);
    })().finally(() => {
      runner.running = undefined;
    });
    return runner.running;
  }

  const dispatchNow = async () => {
    await Promise.all([...runners.values()].map(kick));
  };

  async function purge(): Promise<number> {
    const now = clock.now();
    await repository.markActive([...runners.keys()], now);
    return repository.purge(now - retentionMs, now - retentionMs);
  }

  return {
    register(sink) {
      const known = runners.get(sink.name);
      if (known?.sink === sink) return;
      if (known) throw new Error(`another event sink named ${sink.name} is registered already`);
      const runner: Runner = {
        sink,
        running: undefined,
        again: false,
        failures: 0,
        retryAt: 0,
        lastPass: Number.NEGATIVE_INFINITY,
        held: undefined,
      };
      runners.set(sink.name, runner);
      if (poller !== undefined) void kick(runner);
    },
    get sinks() {
      return [...runners.keys()];
    },
    nudge() {
      if (closed || nudged) return;
      nudged = true;
      // Several commits in one tick make one pass.
      setImmediate(() => {
        nudged = false;
        if (!closed) void dispatchNow();
      });
    },
    start() {
      if (poller !== undefined || closed) return;
      poller = setInterval(() => void dispatchNow(), pollMs);
      poller.unref();
      purger = setInterval(() => {
        purge().catch((error: unknown) =>
          log?.warn({ err: { message: (error as Error).message } }, "event outbox purge failed"),
        );
      }, PURGE_EVERY_MS);
      purger.unref();
      void dispatchNow();
    },
    dispatchNow,
    purge,
    async close() {
      closed = true;
      clearInterval(poller);
      clearInterval(purger);
      await Promise.all([...runners.values()].map((runner) => runner.running));
      // Hand the sinks over at once rather than when the leases expire.
      for (const runner of runners.values()) {
        if (runner.held === undefined) continue;
        runner.held = undefined;
        await repository.release(runner.sink.name, owner).catch(() => undefined);
      }
    },
  };
}
