/**
 * Push delivery (RFC 8935, SSF 1.0 §6.1.1): each enabled push stream's queue is sent in order, one SET at a
 * time, to the receiver's `endpoint_url`.
 *
 * - Request: `POST`, `Content-Type: application/secevent+jwt`, `Accept: application/json`, the SET as the body,
 *   and the stream's `authorization_header` when it has one. Only through the outbound guard (src/outbound): the
 *   destination is checked after DNS, every time. Redirects are not followed (a 3xx is a failure).
 * - 2xx (RFC 8935 §2.2 says 202): accepted, the SET leaves the queue and the next one goes.
 * - 400 with an RFC 8935 §2.4 error (`{"err": …}`): the receiver examined the SET and refused it; sending it
 *   again would not change that, so it leaves the queue (logged with the error code), and the queue moves on.
 * - Anything else (network error, timeout, refused destination, 3xx, 401, 403, 404, 429, 5xx, a 400 without
 *   an error code): the SET stays at the head and is tried again after a back-off (1 s doubling to 1 h, with
 *   jitter); the stream waits meanwhile, so SETs stay in order. A SET not accepted before its retention ends
 *   is dropped with the purge.
 * - Many instances: before sending, an instance leases the head SET (a conditional update); a stream's head is
 *   leased by one instance at a time, so each SET is sent by one instance at a time, and a crashed instance's
 *   lease ends by itself. Delivery is at least once: a receiver de-duplicates by `jti`.
 * - Nothing is logged that would be a secret: no SET, no authorization header, no response body.
 */
import type { Logger } from "pino";
import type { Clock } from "../lib/clock.js";
import { type OutboundFetch, OutboundRefusedError } from "../outbound/index.js";
import type { SsfSetRow, SsfStreamsRepository } from "../storage/repositories/ssf-streams.js";
import type { SetClaims } from "./set.js";
import type { Stream } from "./streams.js";
import { SET_MEDIA_TYPE } from "./vocabulary.js";

/** How long one push may take (the whole exchange). */
export const PUSH_TIMEOUT_MS = 10_000;
/** How long a SET is held by the instance pushing it: longer than a push can take. */
export const PUSH_LEASE_MS = 30_000;
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 3_600_000;
/** SETs pushed to one stream per run before others get their turn. */
const MAX_PER_RUN = 200;
/** Streams pushed to at the same time. */
const CONCURRENCY = 8;
/** How much of a refusal's body is read (its `err` is short). */
const MAX_ERROR_BODY = 4096;

/** The delay before attempt `attempts + 1`, for a SET that failed `attempts` times: 1 s, 2 s, 4 s … 1 h, × 0.5–1. */
export function retryDelay(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.ceil(base * (0.5 + random() / 2));
}

export type PushOutcome =
  | { kind: "accepted"; status: number }
  | { kind: "refused"; status: number; err: string }
  | { kind: "failed"; error: string };

export interface PushDeliveryDeps {
  repository: SsfStreamsRepository;
  clock: Clock;
  log: Logger;
  outbound: OutboundFetch;
  /** The enabled push streams (fresh: another instance may have changed them). */
  pushStreams(): Promise<Stream[]>;
  /** Signs a queued SET for its stream. */
  sign(stream: Stream, claims: SetClaims): Promise<string>;
  /** The stream's `Authorization` value, opened (undefined when it has none). */
  authorization(streamId: string): Promise<string | undefined>;
  /** Counts outcomes (metrics). */
  onOutcome?: (outcome: PushOutcome["kind"]) => void;
}

/** Reads at most `MAX_ERROR_BODY` bytes of a response as text, then stops. */
async function boundedText(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString("utf8");
}

/** The RFC 8935 §2.4 error code of a 400 answer, if it has one. */
async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = JSON.parse(await boundedText(response)) as unknown;
    const err = typeof body === "object" && body !== null ? (body as { err?: unknown }).err : undefined;
    return typeof err === "string" && /^[\x20-\x7e]{1,64}$/.test(err) ? err : undefined;
  } catch {
    return undefined;
  }
}

export function createPushDelivery(deps: PushDeliveryDeps) {
  const { repository, clock, log } = deps;

  async function push(stream: Stream, row: SsfSetRow): Promise<PushOutcome> {
    try {
      const set = await deps.sign(stream, JSON.parse(row.claims) as SetClaims);
      const authorization = await deps.authorization(stream.id);
      const response = await deps.outbound(stream.endpointUrl as string, {
        method: "POST",
        headers: {
          "content-type": SET_MEDIA_TYPE,
          accept: "application/json",
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: set,
        redirect: "manual",
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel().catch(() => undefined);
        return { kind: "accepted", status: response.status };
      }
      if (response.status === 400) {
        const err = await errorCode(response);
        if (err !== undefined) return { kind: "refused", status: 400, err };
      } else {
        await response.body?.cancel().catch(() => undefined);
      }
      return { kind: "failed", error: `HTTP ${response.status}` };
    } catch (error) {
      if (error instanceof OutboundRefusedError) return { kind: "failed", error: `refused: ${error.reason}` };
      const timedOut =
        error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      return { kind: "failed", error: timedOut ? "timed out" : "network error" };
    }
  }

  /** Sends one stream's due SETs in order until its queue is empty, a SET fails, or the run's share is used. */
  async function drain(stream: Stream): Promise<void> {
    for (let sent = 0; sent < MAX_PER_RUN; sent++) {
      const head = await repository.head(stream.id);
      const now = clock.now();
      if (head === undefined || head.lease_until > now || head.next_attempt_at > now) return;
      if (!(await repository.lease(stream.id, head.jti, now, now + PUSH_LEASE_MS))) return;
      const outcome = await push(stream, head);
      deps.onOutcome?.(outcome.kind);
      if (outcome.kind === "failed") {
        const attempts = head.attempts + 1;
        const delay = retryDelay(attempts);
        await repository.release(stream.id, head.jti, clock.now() + delay, outcome.error);
        log.warn(
          { streamId: stream.id, jti: head.jti, attempts, error: outcome.error, retryInMs: delay },
          "SET push failed; it will be retried",
        );
        return;
      }
      await repository.remove(stream.id, [head.jti]);
      if (outcome.kind === "refused") {
        log.warn(
          { streamId: stream.id, jti: head.jti, status: outcome.status, err: outcome.err },
          "SET refused by the receiver; dropped",
        );
      }
    }
  }

  /** One pass over every push stream with due SETs. */
  async function runOnce(): Promise<void> {
    const streams = await deps.pushStreams();
    if (streams.length === 0) return;
    const byId = new Map(streams.map((s) => [s.id, s]));
    const due = await repository.dueStreams([...byId.keys()], clock.now(), 100);
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const stream = byId.get(due[next++] as string) as Stream;
        try {
          await drain(stream);
        } catch (error) {
          log.error(
            { streamId: stream.id, err: { message: (error as Error).message } },
            "SET push run failed",
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
  }

  let running: Promise<void> | undefined;
  let again = false;

  /** Runs a pass now, or right after the one in progress (passes never overlap within one instance). */
  function kick(): Promise<void> {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await runOnce();
        } while (again);
      } catch (error) {
        log.error({ err: { message: (error as Error).message } }, "SET push run failed");
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  return {
    kick,
    /** Resolves when no pass is running (tests, shutdown). */
    async idle(): Promise<void> {
      while (running !== undefined) await running;
    },
  };
}

export type PushDelivery = ReturnType<typeof createPushDelivery>;
