/**
 * The event outbox: how domain modules say what happened, so that webhooks and the Shared Signals transmitter
 * hear of it (types.ts is the contract).
 *
 * - A change's events are written in the change's own transaction: the domain builds them here (`events`, or
 *   `eventsOf` when they depend on what the write did) and hands them to the repository method that makes the
 *   change, which writes both in one transaction (storage's `withOutboxEvents`). A rolled-back change has no
 *   event; a committed change always has its events. After the commit the domain calls `committed()`, which
 *   wakes the dispatcher at once (otherwise it polls).
 * - Events with no change (a failed or throttled sign-in) are `publish`ed: queued and written in the
 *   background within `flushMs` (on a SQLite file by the second connection, off the event loop), like the
 *   audit log, so the sign-in path waits for no commit. What a crash takes with it is at most those
 *   milliseconds of such events.
 * - Ids sort by time of writing (`evt_`, base-36 epoch ms, 64 random bits). Data is identifiers and outcomes:
 *   a key that names a secret is refused.
 * - Off (`enabled: false`, a createServices option for benchmarks): nothing is built or written; changes run
 *   exactly as they would without an outbox.
 */
import { randomFillSync } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import type { EventOutboxRepository } from "../storage/index.js";
import type { DomainEvent, DomainEventData, DomainEventType } from "./types.js";

/** An event before it has an id and a time. */
export interface EventDraft {
  type: DomainEventType;
  userId: string | null;
  data: DomainEventData;
}

export interface EventOutbox {
  readonly enabled: boolean;
  /** Events to write in the transaction of a change (an empty list when the outbox is off). */
  events(...drafts: EventDraft[]): DomainEvent[];
  /**
   * For a change whose events depend on its result (which sessions ended, which tokens a revocation reached):
   * a function the repository calls inside the transaction; undefined when the outbox is off.
   */
  eventsOf<T>(make: (result: T) => readonly EventDraft[]): ((result: T) => DomainEvent[]) | undefined;
  /** A change that carried events has committed: wakes the dispatcher. */
  committed(): void;
  /** Events with no change: queued, written within `flushMs`. */
  publish(...drafts: EventDraft[]): void;
  /** Called after each commit of events (`committed`, and each published batch written). */
  onCommitted(listener: () => void): void;
  /** Writes the published events queued now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export interface EventOutboxOptions {
  repository: EventOutboxRepository;
  clock: Clock;
  /** Default true. */
  enabled?: boolean;
  /** How long a published event may wait, ms (default 100). */
  flushMs?: number;
  /** A batch of published events could not be written after retries: `lost` events are gone. */
  onError?: (error: unknown, lost: number) => void;
}

const SECRET_KEY =
  /^(password|passcode|secret|token|code|otp|pin|key|client_secret|access_token|refresh_token|id_token)$/i;
const MAX_PENDING = 10_000;
const MAX_BATCH = 500;
const MAX_ATTEMPTS = 3;

const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;

/** `evt_` + base-36 epoch ms (10 characters) + 64 random bits in hex: unique, sorts by time. */
export function eventId(at: number): string {
  if (randomOffset + 8 > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const random = randomPool.toString("hex", randomOffset, randomOffset + 8);
  randomOffset += 8;
  return `evt_${at.toString(36).padStart(10, "0")}${random}`;
}

function checkData(data: DomainEventData): void {
  for (const key of Object.keys(data)) {
    if (SECRET_KEY.test(key)) throw new Error(`event data must not carry a secret (${key})`);
  }
}

/** An outbox that writes nothing: domain modules use it when none is given (their own tests). */
export const NO_EVENTS: EventOutbox = {
  enabled: false,
  events: () => [],
  eventsOf: () => undefined,
  committed: () => {},
  publish: () => {},
  onCommitted: () => {},
  flush: async () => {},
  close: async () => {},
};

export function createEventOutbox(options: EventOutboxOptions): EventOutbox {
  if (options.enabled === false) return NO_EVENTS;
  const { repository, clock } = options;
  const flushMs = options.flushMs ?? 100;
  const listeners: (() => void)[] = [];
  let pending: DomainEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let attempts = 0;

  const make = (draft: EventDraft, at: number): DomainEvent => {
    checkData(draft.data);
    return { id: eventId(at), type: draft.type, at, userId: draft.userId, data: { ...draft.data } };
  };

  const notify = () => {
    for (const listener of listeners) listener();
  };

  async function write(): Promise<void> {
    timer = undefined;
    while (pending.length > 0) {
      const batch = pending.slice(0, MAX_BATCH);
      try {
        await repository.append(batch);
        pending = pending.slice(batch.length);
        attempts = 0;
        notify();
      } catch (error) {
        attempts += 1;
        if (attempts >= MAX_ATTEMPTS) {
          pending = pending.slice(batch.length);
          attempts = 0;
          options.onError?.(error, batch.length);
        } else {
          schedule();
        }
        return;
      }
    }
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    running = running.then(write);
    return running;
  }

  function schedule() {
    if (timer === undefined) {
      timer = setTimeout(() => void flush(), Math.max(flushMs, 1));
      timer.unref();
    }
  }

  return {
    enabled: true,
    events(...drafts) {
      const at = clock.now();
      return drafts.map((draft) => make(draft, at));
    },
    eventsOf(build) {
      return (result) => {
        const at = clock.now();
        return build(result).map((draft) => make(draft, at));
      };
    },
    committed: notify,
    publish(...drafts) {
      const at = clock.now();
      for (const draft of drafts) pending.push(make(draft, at));
      if (pending.length > MAX_PENDING) {
        const lost = pending.length - MAX_PENDING;
        pending = pending.slice(lost);
        options.onError?.(new Error("event outbox queue overflow"), lost);
      }
      if (flushMs === 0) void flush();
      else schedule();
    },
    onCommitted(listener) {
      listeners.push(listener);
    },
    flush,
    async close() {
      await flush();
    },
  };
}
