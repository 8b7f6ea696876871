/**
 * The client side of Tessera's revocation feed: how a verifier that caches refuses a revoked token within
 * about a second.
 *
 * - `GET tessera_revocations_endpoint[?since=<cursor>]` with `client_secret_basic` answers
 *   `{ events: [{ id, type: "jti" | "sub", value, at }], cursor, interval_ms }`. The first call (no cursor)
 *   returns every event still relevant. Polling runs on an unref'd timer, one call at a time, every
 *   `interval_ms` (or the configured interval; 500 ms by default), with back-off up to 5 s while it fails.
 * - `jti` events revoke one token (JWT, opaque or API token, by its `jti`). `sub` events revoke every token of
 *   a subject issued at or before `at` (`iat * 1000 <= at`; a token without `iat` counts as issued before).
 * - Events repeat across polls (the feed re-reads a few seconds behind each cursor): they are de-duplicated
 *   by id. Everything is kept for `retention` (35 minutes: the longest access-token life plus margin), then
 *   pruned.
 * - Until the first poll succeeds the verifier does not know what was revoked before it started, so it
 *   accepts nothing (`revocations_unavailable`, 503). After that a failed poll keeps the last state and is
 *   retried; warnings name the endpoint and status only.
 * - An issuer that advertises no feed: polling stops and nothing is revoked early (a warning says so).
 * - Without a feed (no client credentials, or turned off) the state starts synced and empty; revocations learned
 *   another way (Shared Signals events, `tessera/verify/ssf`) are applied with `apply`, with the same meaning.
 */
import { fetchJsonObject, type HttpContext, UpstreamError } from "./http.js";

export interface RevocationEvent {
  id: string;
  type: "jti" | "sub";
  value: string;
  at: number;
}

export interface RevocationsOptions {
  http: HttpContext;
  /** Where the feed is; undefined when there is none to poll (no credentials, or turned off). */
  endpoint?: (() => Promise<string | undefined>) | undefined;
  /** The `Authorization` of each poll (needed with `endpoint`). */
  authorization?: string | undefined;
  /** Milliseconds; overrides the feed's `interval_ms`. */
  intervalMs: number | undefined;
  /** Milliseconds. */
  retentionMs: number;
  now: () => number;
  onWarning: (message: string) => void;
  /** Called once per new event (to drop cached answers). */
  onEvent: (event: RevocationEvent) => void;
}

const DEFAULT_INTERVAL_MS = 500;
const MIN_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 60_000;
const MAX_BACKOFF_MS = 5_000;
const PRUNE_EVERY_MS = 10_000;

function clampInterval(value: unknown): number | undefined {
  if (typeof value !== "number" || !Number.isFinite(value)) return undefined;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, value));
}

function parseEvent(value: unknown): RevocationEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { id, type, value: v, at } = value as Record<string, unknown>;
  if (typeof id !== "string" || typeof v !== "string" || typeof at !== "number" || !Number.isFinite(at)) {
    return undefined;
  }
  // Unknown types are skipped: a newer Tessera may publish kinds this verifier does not know.
  return type === "jti" || type === "sub" ? { id, type, value: v, at } : undefined;
}

export function createRevocations(options: RevocationsOptions) {
  const { http, now } = options;
  const feed =
    options.endpoint === undefined
      ? undefined
      : { endpoint: options.endpoint, authorization: options.authorization ?? "" };
  /** Event ids seen → local expiry. */
  const seen = new Map<string, number>();
  /** Revoked jti → local expiry. */
  const jtis = new Map<string, number>();
  /** Revoked subject → latest `at` and local expiry. */
  const subjects = new Map<string, { at: number; until: number }>();
  let cursor: string | undefined;
  // No feed: nothing to wait for, nothing to poll.
  let synced = feed === undefined;
  let closed = feed === undefined;
  let failures = 0;
  let intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  let lastError: Error = new UpstreamError("revocations", "not polled yet");
  let lastPrune = now();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;

  function apply(event: RevocationEvent): void {
    const until = now() + options.retentionMs;
    if (seen.has(event.id)) return;
    seen.set(event.id, until);
    if (event.type === "jti") {
      jtis.set(event.value, until);
    } else {
      const known = subjects.get(event.value);
      subjects.set(event.value, { at: Math.max(known?.at ?? event.at, event.at), until });
    }
    options.onEvent(event);
  }

  function prune(): void {
    const t = now();
    if (t - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = t;
    for (const map of [seen, jtis]) for (const [key, until] of map) if (until <= t) map.delete(key);
    for (const [key, entry] of subjects) if (entry.until <= t) subjects.delete(key);
  }

  async function pollOnce(): Promise<void> {
    if (feed === undefined) return;
    const endpoint = await feed.endpoint();
    if (endpoint === undefined) {
      options.onWarning(
        "the issuer advertises no tessera_revocations_endpoint; revoked tokens are refused only once they are no longer cached",
      );
      synced = true;
      closed = true;
      return;
    }
    const url = new URL(endpoint);
    if (cursor !== undefined) url.searchParams.set("since", cursor);
    let body: Record<string, unknown>;
    try {
      ({ body } = await fetchJsonObject(http, "revocations", url.href, {
        headers: { authorization: feed.authorization },
      }));
    } catch (error) {
      // 410 Gone: the cursor is too old to continue from; start again from a full read.
      if (error instanceof UpstreamError && error.message.endsWith(" HTTP 410")) cursor = undefined;
      throw error;
    }
    if (!Array.isArray(body.events) || typeof body.cursor !== "string" || body.cursor.length > 512) {
      throw new UpstreamError("revocations", "unexpected answer");
    }
    for (const raw of body.events) {
      const event = parseEvent(raw);
      if (event !== undefined) apply(event);
    }
    cursor = body.cursor;
    intervalMs = options.intervalMs ?? clampInterval(body.interval_ms) ?? DEFAULT_INTERVAL_MS;
    synced = true;
    prune();
  }

  function poll(): Promise<void> {
    timer = undefined;
    current = pollOnce().then(
      () => {
        failures = 0;
      },
      (error: unknown) => {
        failures++;
        lastError = error instanceof Error ? error : new UpstreamError("revocations", "failed");
        options.onWarning(`revocation feed poll failed (${lastError.message}); keeping the last state`);
      },
    );
    const running = current;
    void running.finally(() => {
      if (current === running) current = undefined;
      if (closed) return;
      const delay = failures === 0 ? intervalMs : Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** failures);
      timer = setTimeout(poll, delay);
      timer.unref();
    });
    return running;
  }

  return {
    /** Starts polling (the first poll at once). */
    start(): void {
      if (timer === undefined && current === undefined && !closed) void poll();
    },

    /** Resolves once the first poll has succeeded; throws the last failure while none has. */
    async ready(): Promise<void> {
      if (synced) return;
      if (current !== undefined) await current;
      if (!synced) throw lastError;
    },

    get synced(): boolean {
      return synced;
    },

    /** Applies an event learned another way (de-duplicated by id like the feed's own). */
    apply(event: RevocationEvent): void {
      apply(event);
      prune();
    },

    /** True when the token `{ jti, sub, iat }` was revoked. */
    isRevoked(claims: { readonly jti?: string; readonly sub: string; readonly iat?: number }): boolean {
      if (jtis.size > 0 && claims.jti !== undefined && jtis.has(claims.jti)) return true;
      if (subjects.size === 0) return false;
      const revoked = subjects.get(claims.sub);
      return revoked !== undefined && (claims.iat === undefined || claims.iat * 1000 <= revoked.at);
    },

    close(): void {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

export type Revocations = ReturnType<typeof createRevocations>;
