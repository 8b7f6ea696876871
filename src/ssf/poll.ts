/**
 * Poll delivery (RFC 8936, SSF 1.0 §6.1.2): the receiver POSTs `{ maxEvents, returnImmediately, ack, setErrs }`
 * to its stream's poll URL and is answered `{ sets: { <jti>: <SET> }, moreAvailable }`.
 *
 * - `ack`: SETs the receiver took; `setErrs`: SETs it refused (`{ <jti>: { err, description } }`, logged with
 *   the code only). Both leave the queue (RFC 8936 §2.4). Unknown jtis are ignored.
 * - `maxEvents` (0–100, default 100): how many SETs to answer; 0 only acknowledges. The SETs answered are
 *   held (leased) for `POLL_LEASE_MS`: a second poll meanwhile gets the next ones, and SETs never acknowledged
 *   are offered again once their lease ends (at least once). Several instances answering polls of one stream
 *   hold different SETs (a conditional update).
 * - `returnImmediately: false` (the default) is a long poll: with nothing to answer, the request waits up to
 *   `LONG_POLL_MS` for a SET (woken at once when this instance queues one for the stream, otherwise looking
 *   again every second for SETs other instances queued).
 * - A paused or disabled stream answers no SETs (acknowledgements still count).
 */
import type { Logger } from "pino";
import type { Clock } from "../lib/clock.js";
import type { SsfSetRow, SsfStreamsRepository } from "../storage/repositories/ssf-streams.js";
import { invalidRequest } from "./errors.js";
import type { SetClaims } from "./set.js";
import { objectBody, type Stream } from "./streams.js";

/** How long SETs answered to a poll are held for that receiver's acknowledgement. */
export const POLL_LEASE_MS = 30_000;
/** How long a long poll waits for a SET. */
export const LONG_POLL_MS = 5_000;
const RECHECK_MS = 1_000;
const MAX_EVENTS = 100;
const MAX_ACKS = 1000;
const JTI = /^[\x21-\x7e]{1,64}$/;

export interface PollRequest {
  maxEvents: number;
  returnImmediately: boolean;
  ack: string[];
  setErrs: { jti: string; err: string }[];
}

export interface PollAnswer {
  sets: Record<string, string>;
  moreAvailable: boolean;
}

/** Parses an RFC 8936 §2.1 poll request body; anything malformed is `invalid_request`. */
export function parsePollRequest(body: unknown): PollRequest {
  const input = objectBody(body);
  const unknown = Object.keys(input).filter(
    (k) => !["maxEvents", "returnImmediately", "ack", "setErrs"].includes(k),
  );
  if (unknown.length > 0) invalidRequest(`Unknown poll parameters: ${unknown.slice(0, 5).join(", ")}.`);
  const { maxEvents, returnImmediately, ack, setErrs } = input;
  if (maxEvents !== undefined && (!Number.isInteger(maxEvents) || (maxEvents as number) < 0)) {
    invalidRequest("maxEvents must be a non-negative integer.");
  }
  if (returnImmediately !== undefined && typeof returnImmediately !== "boolean") {
    invalidRequest("returnImmediately must be a boolean.");
  }
  if (
    ack !== undefined &&
    (!Array.isArray(ack) || ack.length > MAX_ACKS || !ack.every((j) => typeof j === "string" && JTI.test(j)))
  ) {
    invalidRequest(`ack must be an array of at most ${MAX_ACKS} jti strings.`);
  }
  const errors: { jti: string; err: string }[] = [];
  if (setErrs !== undefined) {
    if (typeof setErrs !== "object" || setErrs === null || Array.isArray(setErrs)) {
      invalidRequest("setErrs must be an object of jti → { err, description }.");
    }
    const entries = Object.entries(setErrs as Record<string, unknown>);
    if (entries.length > MAX_ACKS) invalidRequest(`setErrs may name at most ${MAX_ACKS} SETs.`);
    for (const [jti, value] of entries) {
      const err = typeof value === "object" && value !== null ? (value as { err?: unknown }).err : undefined;
      if (!JTI.test(jti) || typeof err !== "string" || err === "" || err.length > 64) {
        invalidRequest("Each setErrs entry needs an err code (RFC 8936 §2.4.3).");
      }
      errors.push({ jti, err });
    }
  }
  return {
    maxEvents: Math.min(MAX_EVENTS, (maxEvents as number | undefined) ?? MAX_EVENTS),
    returnImmediately: (returnImmediately as boolean | undefined) ?? false,
    ack: (ack as string[] | undefined) ?? [],
    setErrs: errors,
  };
}

export function createPolling(deps: {
  repository: SsfStreamsRepository;
  clock: Clock;
  log: Logger;
  sign(stream: Stream, claims: SetClaims): Promise<string>;
}) {
  const { repository, clock, log } = deps;
  /** Long polls waiting, per stream. */
  const waiters = new Map<string, Set<() => void>>();
  let closed = false;

  function wake(streamId: string): void {
    const set = waiters.get(streamId);
    if (set === undefined) return;
    waiters.delete(streamId);
    for (const resolve of set) resolve();
  }

  /** Waits until woken for this stream, `ms` passed, or the transmitter closes. */
  function wait(streamId: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      let set = waiters.get(streamId);
      if (set === undefined) {
        set = new Set();
        waiters.set(streamId, set);
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        waiters.get(streamId)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal?.addEventListener("abort", done, { once: true });
      set.add(done);
    });
  }

  async function take(stream: Stream, max: number): Promise<SsfSetRow[]> {
    const now = clock.now();
    return repository.leaseAvailable(stream.id, now, now + POLL_LEASE_MS, max);
  }

  return {
    /** Tells long polls of this stream that SETs were queued. */
    wake,

    async poll(stream: Stream, request: PollRequest, signal?: AbortSignal): Promise<PollAnswer> {
      const done = [...new Set([...request.ack, ...request.setErrs.map((e) => e.jti)])];
      if (done.length > 0) await repository.remove(stream.id, done);
      for (const { jti, err } of request.setErrs) {
        log.warn({ streamId: stream.id, jti, err }, "SET refused by the receiver (poll setErrs)");
      }
      if (stream.status !== "enabled" || request.maxEvents === 0) {
        const more = stream.status === "enabled" && (await repository.hasAvailable(stream.id, clock.now()));
        return { sets: {}, moreAvailable: more };
      }
      let rows = await take(stream, request.maxEvents);
      if (rows.length === 0 && !request.returnImmediately) {
        const deadline = Date.now() + LONG_POLL_MS;
        while (rows.length === 0 && !closed && !signal?.aborted && Date.now() < deadline) {
          await wait(stream.id, Math.min(RECHECK_MS, deadline - Date.now()), signal);
          rows = await take(stream, request.maxEvents);
        }
      }
      const sets: Record<string, string> = {};
      for (const row of rows) sets[row.jti] = await deps.sign(stream, JSON.parse(row.claims) as SetClaims);
      const moreAvailable = rows.length > 0 && (await repository.hasAvailable(stream.id, clock.now()));
      return { sets, moreAvailable };
    },

    /** Ends every waiting long poll (shutdown). */
    close(): void {
      closed = true;
      for (const streamId of [...waiters.keys()]) wake(streamId);
    },
  };
}

export type Polling = ReturnType<typeof createPolling>;
