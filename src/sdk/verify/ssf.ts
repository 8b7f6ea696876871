/**
 * `tessera/verify/ssf`: a Shared Signals (SSF 1.0) receiver for resource servers. It takes the Security Event
 * Tokens Tessera transmits on a stream, pushed (RFC 8935) or polled (RFC 8936), verifies them, and makes the
 * resource server's verifiers refuse, at once, the tokens of a user whose session, credential or account changed.
 *
 * Verification of a SET (with `jose`, against the keys of the issuer's `jwks_uri`):
 * - signed (EdDSA, ES256 or RS256) by a key of the JWKS, header `typ: secevent+jwt` (RFC 8417 §2.3);
 * - `iss` is the configured issuer, `aud` names this receiver (its client id), `jti` and `iat` present,
 *   `events` holds exactly one event (an object), `sub_id` is a subject identifier; no `sub` and no `exp`
 *   (SSF 1.0 §4.1: a SET never has them, so an ID or access token cannot pass for one).
 * - Refusals carry RFC 8935 §2.4's codes: `invalid_request`, `invalid_key`, `invalid_issuer`, `invalid_audience`,
 *   `authentication_failed`. The JWKS being unreachable is not a refusal: the push is answered 503 (Tessera
 *   retries) and a polled SET is neither acknowledged nor refused (it is offered again).
 *
 * What a verified event does:
 * - Its subject is the user `sub` of Tessera's tokens (`iss_sub` with this issuer, alone or as the `user` of a
 *   complex subject; a session-revoked event also names the session, the ID tokens' `sid`).
 * - For the event types in `revokeOn` (default: CAEP session-revoked and credential-change, RISC account-disabled
 *   and account-purged), every verifier in `verifiers` refuses the user's tokens issued at or before the event
 *   (`event_timestamp`, else `iat`) and drops their cached verdicts (`Verifier.revokeSubject`): the next
 *   request with such a token is refused, the user's newer tokens are accepted. A session-revoked event reaches
 *   every token of the user, not only those of that session (access tokens do not name their session).
 * - Then `onEvent` is called with every verified event (verification events included). A SET seen before
 *   (same `jti`: delivery is at least once) is acknowledged and not applied again.
 */
import { timingSafeEqual } from "node:crypto";
import { createRemoteJWKSet, customFetch, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import {
  ACCOUNT_DISABLED,
  ACCOUNT_PURGED,
  CREDENTIAL_CHANGE,
  POLL_DELIVERY,
  SESSION_REVOKED,
  SET_MEDIA_TYPE,
  SET_TYPE,
} from "../../ssf/vocabulary.js";
import { basicAuthorization, checkEndpoint } from "./http.js";
import type { Verifier } from "./verifier.js";

/** RFC 8935 §2.4 / RFC 8936 §2.4.4 error codes (the Security Event Token Error Codes registry). */
export type SetErrorCode =
  | "invalid_request"
  | "invalid_key"
  | "invalid_issuer"
  | "invalid_audience"
  | "authentication_failed"
  | "access_denied";

/** A SET was refused; `err` is the RFC 8935 code, `message` a sentence safe to send back. */
export class SetError extends Error {
  override name = "SetError";
  constructor(
    readonly err: SetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The SET could not be judged now (the JWKS is unreachable): not a refusal, try again later. */
class SetUnavailable extends Error {
  override name = "SetUnavailable";
}

/** A verified security event. */
export interface SecurityEvent {
  /** The SET's `jti`. */
  jti: string;
  /** The event type URI (CAEP, RISC or SSF). */
  type: string;
  /** The event's own members (`event_timestamp`, `credential_type`, `state`, …). */
  event: Readonly<Record<string, unknown>>;
  /** The SET's `sub_id`. */
  subject: Readonly<Record<string, unknown>>;
  /** The user the event is about: the `sub` of Tessera's tokens; undefined for stream events. */
  sub: string | undefined;
  /** A session-revoked event's session: the `sid` of the ID tokens issued in it. */
  sessionId: string | undefined;
  /** When it happened, epoch ms (`event_timestamp`, else `iat`). */
  at: number;
  /** The domain event behind it (`txn`): the same for every SET one change caused. */
  txn: string | undefined;
  /** Every claim of the SET. */
  claims: Readonly<JWTPayload>;
}

export interface SsfReceiverOptions {
  /** Tessera's issuer URL, exactly as in its tokens' `iss` (a trailing slash is ignored). */
  issuer: string;
  /** This receiver's client id at Tessera: the stream's `aud`, which every SET must name. */
  audience: string;
  /** The verifiers whose cached tokens of a user are dropped (and refused) when an event in `revokeOn` arrives. */
  verifiers?: readonly Verifier[];
  /** Event type URIs that revoke the user's tokens (default: session-revoked, credential-change, account-disabled, account-purged). */
  revokeOn?: readonly string[];
  /** Called with every verified, new event, after the verifiers were told. A throw is logged through `onWarning`. */
  onEvent?: (event: SecurityEvent) => void | Promise<void>;
  /**
   * Push: the exact `Authorization` value Tessera sends (the stream's `authorization_header`). Pushes without it
   * are refused (`authentication_failed`). Strongly recommended for push: anyone can post to a public URL.
   */
  authorization?: string;
  /** Poll: this receiver's client credentials (`client_secret_basic`; the client has `ssf.read` or `ssf.manage`) and its stream. */
  poll?: {
    clientId: string;
    clientSecret: string;
    streamId: string;
    /** SETs asked for per poll (1–100, default 50). */
    maxEvents?: number;
  };
  /** Accepted signature algorithms (default EdDSA, ES256, RS256). */
  algorithms?: readonly string[];
  /** The fetch used to reach Tessera (default the global one). */
  fetch?: typeof fetch;
  /** Allow `http:` endpoints off loopback (default false). */
  allowHttp?: boolean;
  /** Timeout of each call to Tessera, ms (default 5000; a long poll may take 15 s more). */
  timeoutMs?: number;
  /** The current time, epoch ms (default `Date.now`). */
  now?: () => number;
  /** Told about failures (polls, JWKS, `onEvent`); messages name the endpoint and status, never a token. */
  onWarning?: (message: string) => void;
}

export interface PushRequest {
  method?: string | undefined;
  contentType?: string | null | undefined;
  authorization?: string | null | undefined;
  body: string | Uint8Array;
}

export interface PushResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface SsfReceiver {
  /** Verifies a SET and returns its event, without applying it; throws `SetError`. */
  verify(set: string): Promise<SecurityEvent>;
  /** Verifies a SET and applies it (verifiers, `onEvent`), once per `jti`; throws `SetError`. */
  receive(set: string): Promise<SecurityEvent>;
  /** An RFC 8935 push endpoint, framework-neutral: 202 accepted, 400 `{err, description}` refused, 503 retry. */
  handlePush(request: PushRequest): Promise<PushResponse>;
  /** The same for the Fetch API (`Request` → `Response`). */
  fetchHandler(request: Request): Promise<Response>;
  /**
   * Poll: one round (RFC 8936): sends the acknowledgements and refusals of the previous round, receives and
   * applies up to `maxEvents` SETs. Answers how many SETs came. `returnImmediately` false makes it a long poll.
   */
  pollOnce(options?: { returnImmediately?: boolean }): Promise<number>;
  /** Poll: starts polling continuously (long polls, back-off after failures) on an unref'd loop. */
  startPolling(): void;
  /** Stops polling, sends the last acknowledgements. */
  close(): Promise<void>;
}

const DEFAULT_REVOKE_ON = [SESSION_REVOKED, CREDENTIAL_CHANGE, ACCOUNT_DISABLED, ACCOUNT_PURGED];
const DEFAULT_ALGORITHMS = ["EdDSA", "ES256", "RS256"];
const MAX_SET_LENGTH = 64 * 1024;
const SEEN_MAX = 10_000;
const LONG_POLL_EXTRA_MS = 15_000;
const MAX_BACKOFF_MS = 30_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a, "utf8");
  const right = Buffer.from(b, "utf8");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The user (and session) a subject identifier names, for this issuer. */
function userOf(subject: Record<string, unknown>, issuer: string): { sub?: string; sessionId?: string } {
  const issSub = (value: unknown) =>
    isObject(value) && value.format === "iss_sub" && value.iss === issuer && typeof value.sub === "string"
      ? value.sub
      : undefined;
  if (subject.format === "complex") {
    const session = subject.session;
    const sessionId =
      isObject(session) && session.format === "opaque" && typeof session.id === "string"
        ? session.id
        : undefined;
    const sub = issSub(subject.user);
    return { ...(sub === undefined ? {} : { sub }), ...(sessionId === undefined ? {} : { sessionId }) };
  }
  const sub = issSub(subject);
  return sub === undefined ? {} : { sub };
}

/**
 * Creates a Shared Signals receiver for Tessera's SETs.
 * @see OpenID Shared Signals Framework 1.0, RFC 8417, RFC 8935, RFC 8936
 * @example
 * const receiver = createSsfReceiver({ issuer: "https://id.example.com", audience: "orders-api",
 *   verifiers: [verifier], authorization: process.env.SSF_PUSH_AUTHORIZATION });
 * app.post("/ssf/events", async (req, res) => { const r = await receiver.handlePush({ … }); … });
 */
export function createSsfReceiver(options: SsfReceiverOptions): SsfReceiver {
  const issuer = String(options.issuer).replace(/\/+$/, "");
  const allowHttp = options.allowHttp === true;
  checkEndpoint(issuer, allowHttp, "issuer");
  if (typeof options.audience !== "string" || options.audience === "") {
    throw new TypeError("audience must be this receiver's client id");
  }
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args));
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const onWarning = options.onWarning ?? (() => {});
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  const revokeOn = new Set(options.revokeOn ?? DEFAULT_REVOKE_ON);
  const verifiers = [...(options.verifiers ?? [])];
  const seen = new Map<string, true>();

  async function getJson(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
    const response = await fetchImpl(url, {
      ...init,
      headers: { accept: "application/json", ...(init.headers as Record<string, string> | undefined) },
      redirect: "manual",
      signal: init.signal ?? AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`${new URL(url).pathname}: HTTP ${response.status}`);
    }
    const body = (await response.json()) as unknown;
    if (!isObject(body)) throw new Error(`${new URL(url).pathname}: the answer is not a JSON object`);
    return body;
  }

  /** The transmitter's metadata (SSF 1.0 §7.2), read once. */
  let metadata: Promise<Record<string, unknown>> | undefined;
  function transmitter(): Promise<Record<string, unknown>> {
    metadata ??= getJson(`${issuer}/.well-known/ssf-configuration`).then(
      (body) => {
        if (body.issuer !== issuer && body.issuer !== `${issuer}/`) {
          throw new Error("ssf-configuration: the document is for another issuer");
        }
        checkEndpoint(body.jwks_uri, allowHttp, "jwks_uri");
        return body;
      },
      (error: unknown) => {
        metadata = undefined;
        throw error;
      },
    );
    return metadata;
  }

  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks === undefined) {
      const meta = await transmitter();
      jwks = createRemoteJWKSet(new URL(String(meta.jwks_uri)), {
        [customFetch]: fetchImpl,
        timeoutDuration: timeoutMs,
      });
    }
    return jwks;
  }

  async function verify(set: string): Promise<SecurityEvent> {
    if (typeof set !== "string" || set.length === 0 || set.length > MAX_SET_LENGTH) {
      throw new SetError("invalid_request", "The body is not a SET.");
    }
    let keys: ReturnType<typeof createRemoteJWKSet>;
    try {
      keys = await keySet();
    } catch (error) {
      throw new SetUnavailable(`the transmitter's metadata is unavailable (${(error as Error).message})`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(set, keys, {
        issuer: [issuer, `${issuer}/`],
        audience: options.audience,
        typ: SET_TYPE,
        algorithms,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys
      ) {
        throw new SetError("invalid_key", "The SET is signed with a key the issuer does not publish.");
      }
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
        throw new SetError("invalid_key", "The SET's signature does not verify.");
      }
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        if (error.claim === "iss") throw new SetError("invalid_issuer", "The SET is from another issuer.");
        if (error.claim === "aud") throw new SetError("invalid_audience", "The SET is for another receiver.");
        throw new SetError("invalid_request", `The SET's ${error.claim} is invalid.`);
      }
      if (
        error instanceof joseErrors.JWKSTimeout ||
        (error instanceof joseErrors.JOSEError && error.code === "ERR_JOSE_GENERIC") ||
        !(error instanceof joseErrors.JOSEError)
      ) {
        throw new SetUnavailable("the issuer's JWKS is unavailable");
      }
      throw new SetError("invalid_request", "The body is not a valid SET.");
    }
    const { jti, iat, events, sub_id: subject } = payload;
    if (typeof jti !== "string" || jti === "" || jti.length > 256) {
      throw new SetError("invalid_request", "The SET has no jti.");
    }
    if (typeof iat !== "number" || !Number.isFinite(iat))
      throw new SetError("invalid_request", "The SET has no iat.");
    if (payload.sub !== undefined || payload.exp !== undefined) {
      throw new SetError("invalid_request", "A SET carries neither sub nor exp (SSF 1.0 §4.1).");
    }
    if (!isObject(events) || Object.keys(events).length !== 1) {
      throw new SetError("invalid_request", "The SET's events must hold exactly one event.");
    }
    const [type, event] = Object.entries(events)[0] as [string, unknown];
    if (!isObject(event)) throw new SetError("invalid_request", "The SET's event must be an object.");
    if (!isObject(subject) || typeof subject.format !== "string") {
      throw new SetError("invalid_request", "The SET has no sub_id.");
    }
    const timestamp = event.event_timestamp;
    const at = (typeof timestamp === "number" && Number.isFinite(timestamp) ? timestamp : iat) * 1000;
    const { sub, sessionId } = userOf(subject, issuer);
    return {
      jti,
      type,
      event,
      subject,
      sub,
      sessionId,
      at,
      txn: typeof payload.txn === "string" ? payload.txn : undefined,
      claims: payload,
    };
  }

  /** Applies a verified event once per `jti`: the verifiers, then `onEvent`. */
  async function apply(event: SecurityEvent): Promise<SecurityEvent> {
    if (seen.has(event.jti)) return event;
    if (seen.size >= SEEN_MAX) seen.delete(seen.keys().next().value as string);
    seen.set(event.jti, true);
    if (event.sub !== undefined && revokeOn.has(event.type)) {
      for (const verifier of verifiers) verifier.revokeSubject(event.sub, event.at, `ssf:${event.jti}`);
    }
    try {
      await options.onEvent?.(event);
    } catch (error) {
      onWarning(`onEvent failed for a ${event.type} event (${(error as Error).message})`);
    }
    return event;
  }

  async function receive(set: string): Promise<SecurityEvent> {
    return apply(await verify(set));
  }

  function json(status: number, body: unknown): PushResponse {
    return {
      status,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
      body: JSON.stringify(body),
    };
  }

  async function handlePush(request: PushRequest): Promise<PushResponse> {
    if (request.method !== undefined && request.method.toUpperCase() !== "POST") {
      return { status: 405, headers: { allow: "POST" }, body: "" };
    }
    if (
      options.authorization !== undefined &&
      !sameSecret(request.authorization ?? "", options.authorization)
    ) {
      return json(400, {
        err: "authentication_failed",
        description: "The request's authorization is not the stream's.",
      });
    }
    const type = (request.contentType ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== SET_MEDIA_TYPE) {
      return json(400, { err: "invalid_request", description: `The body must be ${SET_MEDIA_TYPE}.` });
    }
    const body = typeof request.body === "string" ? request.body : Buffer.from(request.body).toString("utf8");
    try {
      await receive(body.trim());
      return { status: 202, headers: {}, body: "" };
    } catch (error) {
      if (error instanceof SetError) return json(400, { err: error.err, description: error.message });
      if (error instanceof SetUnavailable) {
        onWarning(`a pushed SET could not be verified now (${error.message}); answered 503`);
        return { status: 503, headers: { "retry-after": "5" }, body: "" };
      }
      throw error;
    }
  }

  // --- Poll (RFC 8936) ---
  const pending = { ack: new Set<string>(), errors: new Map<string, { err: string; description: string }>() };
  let token: { value: string; until: number } | undefined;
  let pollUrl: string | undefined;
  let polling = false;
  let closed = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  /** Ends a long poll in progress when the receiver closes. */
  const stopping = new AbortController();

  async function accessToken(): Promise<string> {
    const poll = options.poll as NonNullable<SsfReceiverOptions["poll"]>;
    if (token !== undefined && token.until > now()) return token.value;
    const meta = await transmitter();
    const discovery = await getJson(`${issuer}/.well-known/openid-configuration`);
    const endpoint = checkEndpoint(discovery.token_endpoint, allowHttp, "token_endpoint").href;
    const resource =
      typeof meta.tessera_ssf_resource === "string" ? meta.tessera_ssf_resource : `${issuer}/ssf`;
    const body = await getJson(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: basicAuthorization(poll.clientId, poll.clientSecret),
      },
      // No `scope`: the client's SSF scopes for this resource (`ssf.read`, `ssf.manage` or both), whichever it has.
      body: new URLSearchParams({
        grant_type: "client_credentials",
        resource,
      }).toString(),
    });
    if (typeof body.access_token !== "string") throw new Error("token endpoint: no access_token");
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : 300;
    token = { value: body.access_token, until: now() + Math.max(0, lifetime - 30) * 1000 };
    return token.value;
  }

  /** The stream's poll URL, from its configuration (which must be this issuer's poll stream). */
  async function endpointOf(bearer: string): Promise<string> {
    if (pollUrl !== undefined) return pollUrl;
    const poll = options.poll as NonNullable<SsfReceiverOptions["poll"]>;
    const meta = await transmitter();
    const config = checkEndpoint(meta.configuration_endpoint, allowHttp, "configuration_endpoint");
    config.searchParams.set("stream_id", poll.streamId);
    const stream = await getJson(config.href, { headers: { authorization: `Bearer ${bearer}` } });
    const delivery = stream.delivery;
    if (stream.iss !== issuer && stream.iss !== `${issuer}/`)
      throw new Error("stream: iss is another issuer's");
    if (!isObject(delivery) || delivery.method !== POLL_DELIVERY)
      throw new Error("stream: not a poll stream");
    pollUrl = checkEndpoint(delivery.endpoint_url, allowHttp, "endpoint_url").href;
    return pollUrl;
  }

  async function pollOnce(
    request: { returnImmediately?: boolean; maxEvents?: number } = {},
  ): Promise<number> {
    if (options.poll === undefined) throw new TypeError("pollOnce needs the poll option");
    const bearer = await accessToken();
    const url = await endpointOf(bearer);
    const ack = [...pending.ack];
    const setErrs = Object.fromEntries(pending.errors);
    const returnImmediately = request.returnImmediately ?? true;
    const response = await fetchImpl(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${bearer}`,
      },
      body: JSON.stringify({
        maxEvents: request.maxEvents ?? Math.min(100, Math.max(1, options.poll.maxEvents ?? 50)),
        returnImmediately,
        ack,
        setErrs,
      }),
      redirect: "manual",
      signal: returnImmediately
        ? AbortSignal.timeout(timeoutMs)
        : AbortSignal.any([AbortSignal.timeout(timeoutMs + LONG_POLL_EXTRA_MS), stopping.signal]),
    });
    if (response.status === 401) token = undefined;
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new Error(`poll: HTTP ${response.status}`);
    }
    const body = (await response.json()) as unknown;
    if (!isObject(body) || !isObject(body.sets)) throw new Error("poll: unexpected answer");
    // The transmitter has them now: they are no longer ours to send.
    for (const jti of ack) pending.ack.delete(jti);
    for (const jti of Object.keys(setErrs)) pending.errors.delete(jti);
    let count = 0;
    for (const [jti, set] of Object.entries(body.sets)) {
      count++;
      try {
        if (typeof set !== "string") throw new SetError("invalid_request", "The SET is not a string.");
        const event = await verify(set);
        if (event.jti !== jti)
          throw new SetError("invalid_request", "The SET's jti is not the one it was sent under.");
        await apply(event);
        pending.ack.add(jti);
      } catch (error) {
        if (error instanceof SetError) {
          pending.errors.set(jti, { err: error.err, description: error.message });
        } else if (error instanceof SetUnavailable) {
          onWarning(`a polled SET could not be verified now (${error.message}); it will come again`);
        } else {
          throw error;
        }
      }
    }
    return count;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!closed) {
      try {
        await pollOnce({ returnImmediately: false });
        failures = 0;
      } catch (error) {
        failures++;
        onWarning(`SSF poll failed (${(error as Error).message}); retrying`);
        await sleep(Math.min(MAX_BACKOFF_MS, 500 * 2 ** failures));
      }
    }
  }

  return {
    verify,
    receive,
    handlePush,

    async fetchHandler(request) {
      const length = Number(request.headers.get("content-length") ?? "0");
      if (length > MAX_SET_LENGTH) {
        return new Response(
          JSON.stringify({ err: "invalid_request", description: "The SET is too large." }),
          {
            status: 400,
            headers: { "content-type": "application/json" },
          },
        );
      }
      const answer = await handlePush({
        method: request.method,
        contentType: request.headers.get("content-type"),
        authorization: request.headers.get("authorization"),
        body: request.method === "POST" ? await request.text() : "",
      });
      return new Response(answer.body === "" ? null : answer.body, {
        status: answer.status,
        headers: answer.headers,
      });
    },

    pollOnce,

    startPolling() {
      if (options.poll === undefined) throw new TypeError("startPolling needs the poll option");
      if (polling || closed) return;
      polling = true;
      loop = run();
    },

    async close() {
      closed = true;
      stopping.abort();
      wakeUp?.();
      await loop?.catch(() => undefined);
      if (options.poll !== undefined && (pending.ack.size > 0 || pending.errors.size > 0)) {
        await pollOnce({ returnImmediately: true, maxEvents: 0 }).catch((error: unknown) =>
          onWarning(`the last SSF acknowledgements could not be sent (${(error as Error).message})`),
        );
      }
    },
  };
}
