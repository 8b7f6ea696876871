/**
 * The webhook delivery worker: sends pending deliveries, following the Standard Webhooks specification.
 *
 * - POST of the stored JSON body (the same on every attempt) with `webhook-id` (the event id),
 *   `webhook-timestamp` and `webhook-signature` (standard-webhooks.ts). A 2xx answer delivers; anything else, a
 *   timeout or a network error is a failed attempt. Redirects are not followed (a 3xx fails the attempt).
 * - Only through the outbound guard (src/outbound): the destination is checked after DNS on every attempt, so
 *   an endpoint whose name comes to resolve to a private address is refused, not reached.
 * - Retries: exponential back-off with full jitter: after attempt n the next is due after a random delay in
 *   [0, min(cap, base · 2^(n−1))). After `maxAttempts` attempts the delivery is dead (dead-letter state,
 *   listed by the admin API, sent again only on demand).
 * - Isolation: at most `perEndpoint` attempts in flight per endpoint (and `maxInFlight` in all) in an
 *   instance, each bounded by the request timeout; an endpoint at its limit is left out of the search for due
 *   deliveries, so a slow or failing endpoint never holds up another's.
 * - Many instances: an attempt first takes the delivery's lease (a conditional UPDATE that also counts the
 *   attempt) for the timeout plus a margin; only the lease holder writes the outcome. An instance that dies
 *   mid-attempt leaves the lease to expire and the delivery is sent again, with the same `webhook-id`.
 * - Nothing secret is logged: the URL (which may carry a token in its path or query) is reduced to its host.
 */
import { randomBytes } from "node:crypto";
import type { MasterKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/log.js";
import { type OutboundFetch, OutboundRefusedError } from "../outbound/index.js";
import type { DueDeliveryRow, WebhooksRepository } from "../storage/index.js";
import { webhookHeaders } from "./standard-webhooks.js";

export interface DeliveryWorkerOptions {
  repository: WebhooksRepository;
  clock: Clock;
  masterKey: MasterKey;
  /** The outbound guard's fetch, with the webhook timeout. */
  fetch: OutboundFetch;
  log?: Logger;
  /** Attempts before a delivery is dead. */
  maxAttempts: number;
  /** Back-off base, ms: the cap of the first retry's delay. */
  retryBaseMs: number;
  /** Longest back-off, ms (default 6 h). */
  retryCapMs?: number;
  /** How long an attempt may take, ms (the outbound fetch's own timeout should be the same). */
  timeoutMs: number;
  /** In [0, 1): the jitter (default Math.random). */
  random?: () => number;
  /** Milliseconds between searches for due deliveries (default 250). */
  pollMs?: number;
  perEndpoint?: number;
  maxInFlight?: number;
  owner?: string;
}

export interface DeliveryWorker {
  start(): void;
  /** Deliveries were added or made due: look now. */
  nudge(): void;
  /** One search now, and the attempts it starts; resolves when they have finished. */
  runOnce(): Promise<void>;
  /** The delay before the attempt after attempt `attempt` (1-based), ms. */
  backoff(attempt: number): number;
  close(): Promise<void>;
}

/** The lease outlives the request timeout by this much, so that writing the outcome fits in it. */
const LEASE_MARGIN_MS = 5_000;
const DELIVERED_KEPT_MS = 7 * 86_400_000;
const DEAD_KEPT_MS = 30 * 86_400_000;
const PURGE_EVERY_MS = 10 * 60_000;
const SECRET_CONTEXT = (endpointId: string) => `webhook-secret:${endpointId}`;

/** Opens an endpoint's sealed secret (associated data binds it to the endpoint). */
export function openWebhookSecret(masterKey: MasterKey, endpointId: string, sealed: string): string {
  return masterKey.open(sealed, SECRET_CONTEXT(endpointId)).toString("utf8");
}

export function sealWebhookSecret(masterKey: MasterKey, endpointId: string, secret: string): string {
  return masterKey.seal(Buffer.from(secret, "utf8"), SECRET_CONTEXT(endpointId));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "?";
  }
}

/** What the delivery listing shows of a failure: a status or the error's kind, never the URL. */
function describeError(error: unknown): string {
  if (error instanceof OutboundRefusedError) return error.message;
  if (error instanceof Error) {
    if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `network error: ${code}` : `network error: ${error.name}`;
  }
  return "network error";
}

export function createDeliveryWorker(options: DeliveryWorkerOptions): DeliveryWorker {
  const { repository, clock, masterKey, log } = options;
  const random = options.random ?? Math.random;
  const capMs = options.retryCapMs ?? 6 * 3_600_000;
  const pollMs = options.pollMs ?? 250;
  const perEndpoint = options.perEndpoint ?? 4;
  const maxInFlight = options.maxInFlight ?? 32;
  const owner = options.owner ?? `webhooks-${randomBytes(8).toString("hex")}`;
  const inFlight = new Map<string, number>();
  const attempts = new Set<Promise<void>>();
  const stop = new AbortController();
  let total = 0;
  let pumping: Promise<void> | undefined;
  let again = false;
  let poller: NodeJS.Timeout | undefined;
  let purger: NodeJS.Timeout | undefined;
  let closed = false;

  function backoff(attempt: number): number {
    const ceiling = Math.min(capMs, options.retryBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.floor(random() * ceiling);
  }

  function secretsOf(row: DueDeliveryRow, now: number): string[] {
    const secrets = [openWebhookSecret(masterKey, row.endpoint_id, row.secret_sealed)];
    if (row.previous_secret_sealed !== null && (row.previous_secret_until ?? 0) > now) {
      secrets.push(openWebhookSecret(masterKey, row.endpoint_id, row.previous_secret_sealed));
    }
    return secrets;
  }

  async function attempt(row: DueDeliveryRow, number: number): Promise<void> {
    let status: number | null = null;
    let error: string;
    try {
      const now = clock.now();
      const headers = webhookHeaders({
        id: row.event_id,
        timestamp: Math.floor(now / 1000),
        body: row.payload,
        secrets: secretsOf(row, now),
      });
      const response = await options.fetch(row.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "Tessera-Webhooks/1", ...headers },
        body: row.payload,
        redirect: "manual",
        signal: stop.signal,
      });
      status = response.status;
      await response.body?.cancel().catch(() => undefined);
      if (status >= 200 && status < 300) {
        await repository.delivered(row.id, owner, clock.now(), status);
        return;
      }
      error = `HTTP ${status}`;
    } catch (caught) {
      error = stop.signal.aborted ? "interrupted: the instance stopped" : describeError(caught);
    }
    const now = clock.now();
    // Interrupted by a shutdown: due again at once (another instance, or this one after its restart).
    const nextAttemptAt = stop.signal.aborted
      ? now
      : number >= options.maxAttempts
        ? undefined
        : now + backoff(number);
    log?.info(
      {
        webhook: row.endpoint_id,
        delivery: row.id,
        host: hostOf(row.url),
        attempt: number,
        status,
        error,
        dead: nextAttemptAt === undefined,
      },
      "webhook attempt failed",
    );
    await repository.failed(row.id, owner, { status, error, at: now, nextAttemptAt });
  }

  function launch(row: DueDeliveryRow, number: number) {
    total += 1;
    inFlight.set(row.endpoint_id, (inFlight.get(row.endpoint_id) ?? 0) + 1);
    const running = attempt(row, number)
      .catch((error: unknown) =>
        log?.error(
          { err: { message: (error as Error).message }, delivery: row.id },
          "recording a webhook attempt failed",
        ),
      )
      .finally(() => {
        total -= 1;
        const left = (inFlight.get(row.endpoint_id) ?? 1) - 1;
        if (left <= 0) inFlight.delete(row.endpoint_id);
        else inFlight.set(row.endpoint_id, left);
        attempts.delete(running);
        if (!closed) void pump();
      });
    attempts.add(running);
  }

  /** Claims due deliveries while there is room; searches again when an endpoint at its limit left some out. */
  async function search(): Promise<void> {
    for (;;) {
      if (closed || total >= maxInFlight) return;
      const full = [...inFlight].filter(([, n]) => n >= perEndpoint).map(([id]) => id);
      const now = clock.now();
      const rows = await repository.due(now, 50, full);
      let started = 0;
      let leftOut = false;
      for (const row of rows) {
        if (closed || total >= maxInFlight) return;
        if ((inFlight.get(row.endpoint_id) ?? 0) >= perEndpoint) {
          leftOut = true;
          continue;
        }
        const number = await repository.claim(row.id, owner, now, now + options.timeoutMs + LEASE_MARGIN_MS);
        if (number === undefined) continue;
        launch(row, number);
        started += 1;
      }
      if (!leftOut || started === 0) return;
    }
  }

  function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      do {
        again = false;
        try {
          await search();
        } catch (error) {
          log?.warn(
            { err: { message: (error as Error).message } },
            "searching for webhook deliveries failed",
          );
        }
      } while (again && !closed);
    })().finally(() => {
      pumping = undefined;
    });
    return pumping;
  }

  return {
    backoff,
    start() {
      if (poller !== undefined || closed) return;
      poller = setInterval(() => void pump(), pollMs);
      poller.unref();
      purger = setInterval(() => {
        const now = clock.now();
        repository
          .purge(now - DELIVERED_KEPT_MS, now - DEAD_KEPT_MS)
          .catch((error: unknown) =>
            log?.warn({ err: { message: (error as Error).message } }, "purging webhook deliveries failed"),
          );
      }, PURGE_EVERY_MS);
      purger.unref();
      void pump();
    },
    nudge() {
      if (!closed) void pump();
    },
    async runOnce() {
      await pump();
      await Promise.all([...attempts]);
    },
    async close() {
      closed = true;
      clearInterval(poller);
      clearInterval(purger);
      stop.abort();
      await pumping;
      await Promise.all([...attempts]);
    },
  };
}
