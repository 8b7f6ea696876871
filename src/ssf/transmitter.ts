/**
 * The Shared Signals transmitter (SSF 1.0): receivers manage event streams and receive Tessera's security
 * events on them as SETs, pushed (RFC 8935) or polled (RFC 8936).
 *
 * - It is an event sink (`name: "ssf"`): the outbox's dispatcher hands it committed domain events, and
 *   `deliver` only queues SETs durably, one per (stream, event), never waiting on a receiver; queuing the
 *   same events again queues nothing new. Delivery to push receivers runs after, in the background.
 * - A stream takes events while `enabled` or `paused`; a paused stream holds them (delivered once enabled), a
 *   disabled stream takes none and drops what it held (SSF 1.0 §8.1.2).
 * - Each stream belongs to the client that created it: another receiver's stream is "not found" (404),
 *   never shown, changed or polled.
 * - Every SET stays queued until accepted (push), acknowledged (poll) or its retention passes
 *   (`retentionMs`, 7 days by default).
 * - The transmitter is a resource server of Tessera's own: audience `<issuer>/ssf`, scopes `ssf.manage` and
 *   `ssf.read`. `ensureResourceServer` registers it at start-up (once; an administrator then gives receivers'
 *   clients the scope and the resource). A client that loses both scopes, or the resource, is sent nothing
 *   new on its streams.
 * - Each stream has at most one SET per domain event, and only for users it did not remove and event types it
 *   asked for (`events_delivered`).
 */
import type { Logger } from "pino";
import type { JwsAlgorithm } from "../crypto/jwt/policy.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { MasterKey } from "../crypto/master-key.js";
import { randomId } from "../crypto/random.js";
import type { DomainEvent, EventSink } from "../events/types.js";
import type { Clock } from "../lib/clock.js";
import type { Clients } from "../oauth/clients.js";
import type { Issuer } from "../oauth/issuer.js";
import { OutboundRefusedError } from "../outbound/index.js";
import type { NewSsfSet, SsfStreamRow, SsfStreamsRepository } from "../storage/repositories/ssf-streams.js";
import { invalidRequest, SsfError, streamNotFound } from "./errors.js";
import { securityEventFor } from "./events.js";
import { createPolling, type PollAnswer, parsePollRequest } from "./poll.js";
import { createPushDelivery } from "./push.js";
import { authenticateReceiver, type Receiver, requireAccess } from "./receivers.js";
import { eventSetClaims, type SetClaims, signSet, streamSetClaims } from "./set.js";
import {
  type DeliveryInput,
  deliversEvent,
  objectBody,
  parseChange,
  parseCreate,
  parseStatusChange,
  type ReceiverConfig,
  type Stream,
  type StreamConfiguration,
  type StreamStatus,
  streamConfiguration,
  streamIdOf,
  streamIdOfBody,
} from "./streams.js";
import { parseSubjectRequest } from "./subjects.js";
import {
  EVENTS_SUPPORTED,
  MIN_VERIFICATION_INTERVAL,
  POLL_DELIVERY,
  PUSH_DELIVERY,
  SSF_MANAGE_SCOPE,
  SSF_READ_SCOPE,
  VERIFICATION,
} from "./vocabulary.js";

export const SINK_NAME = "ssf";
export const DEFAULT_RETENTION_MS = 7 * 24 * 3_600_000;
/** Streams one receiver (client) may have. */
export const MAX_STREAMS_PER_RECEIVER = 10;
/** How often the background loop looks for SETs due for a push (retries, other instances' SETs). */
const LOOP_MS = 1_000;
/** Every this many loop turns, expired SETs are deleted. */
const PURGE_EVERY = 60;
const MAX_STATE = 1024;

export interface StreamStatusAnswer {
  stream_id: string;
  status: StreamStatus;
  reason?: string;
}

export interface TransmitterOptions {
  repository: SsfStreamsRepository;
  clock: Clock;
  log: Logger;
  /** Tessera's issuer: the SETs' `iss`. */
  issuer: string;
  keys: Pick<KeyStore, "signingKey">;
  masterKey: Pick<MasterKey, "seal" | "open">;
  oauth: {
    issuer: Pick<Issuer, "checkAccessToken">;
    clients: Pick<Clients, "get" | "getResourceServer" | "createResourceServer" | "listResourceServers">;
  };
  /** Every push goes through it (src/outbound). */
  outbound: import("../outbound/index.js").OutboundFetch;
  /** The outbound guard's verdict on a push URL, when a receiver configures it; throws OutboundRefusedError. */
  checkDestination(url: URL): Promise<void>;
  /** How long a SET waits for its receiver at most, ms (default 7 days). */
  retentionMs?: number;
  /** Counts push outcomes (metrics). */
  onPushOutcome?: (outcome: "accepted" | "refused" | "failed") => void;
}

export interface Transmitter extends EventSink {
  readonly name: typeof SINK_NAME;
  /** The resource indicator of the management API: access tokens for it carry it in `aud`. */
  readonly audience: string;
  /** Transmitter Configuration Metadata (SSF 1.0 §7.1). */
  configuration(): Record<string, unknown>;
  /** Registers the transmitter's resource server (`<issuer>/ssf`, `ssf.manage ssf.read`) if it is missing. */
  ensureResourceServer(): Promise<void>;
  /** The receiver a bearer token stands for; throws `SsfError` (401) when it stands for none. */
  authenticate(token: string | undefined): Promise<Receiver>;
  createStream(receiver: Receiver, body: unknown): Promise<StreamConfiguration>;
  listStreams(receiver: Receiver): Promise<StreamConfiguration[]>;
  readStream(receiver: Receiver, streamId: unknown): Promise<StreamConfiguration>;
  changeStream(receiver: Receiver, body: unknown, mode: "update" | "replace"): Promise<StreamConfiguration>;
  deleteStream(receiver: Receiver, streamId: unknown): Promise<void>;
  readStatus(receiver: Receiver, streamId: unknown): Promise<StreamStatusAnswer>;
  changeStatus(receiver: Receiver, body: unknown): Promise<StreamStatusAnswer>;
  addSubject(receiver: Receiver, body: unknown): Promise<void>;
  removeSubject(receiver: Receiver, body: unknown): Promise<void>;
  /** Queues a verification event on the stream (SSF 1.0 §8.1.4.2). */
  requestVerification(receiver: Receiver, body: unknown): Promise<void>;
  /** RFC 8936: acknowledges, then answers the stream's next SETs (long poll unless `returnImmediately`). */
  poll(receiver: Receiver, streamId: string, body: unknown, signal?: AbortSignal): Promise<PollAnswer>;
  /** Runs a push pass now and waits for it (tests; the background loop does it every second). */
  pushNow(): Promise<void>;
  /** Resolves when no push pass is running. */
  idle(): Promise<void>;
  /** Starts the background loop: pushes due SETs every second, deletes expired ones every minute. */
  start(): void;
  /** Stops the loop, ends waiting long polls, waits for the push pass in progress. */
  close(): Promise<void>;
}

function toStream(row: SsfStreamRow): Stream {
  return {
    id: row.id,
    clientId: row.client_id,
    description: row.description,
    eventsRequested: row.events_requested === null ? null : (JSON.parse(row.events_requested) as string[]),
    method: row.delivery_method,
    endpointUrl: row.endpoint_url,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

const sealContext = (streamId: string) => `ssf-authorization:${streamId}`;

export function createTransmitter(options: TransmitterOptions): Transmitter {
  const { repository, clock, log, issuer, keys, masterKey, oauth } = options;
  const base = issuer.replace(/\/+$/, "");
  const audience = `${base}/ssf`;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;

  async function algorithmOf(clientId: string): Promise<JwsAlgorithm> {
    return (await oauth.clients.get(clientId))?.idTokenAlg ?? "EdDSA";
  }

  async function sign(stream: Stream, claims: SetClaims): Promise<string> {
    return signSet(claims, keys.signingKey(await algorithmOf(stream.clientId)));
  }

  const push = createPushDelivery({
    repository,
    clock,
    log,
    outbound: options.outbound,
    async pushStreams() {
      return (await repository.listLiveStreams())
        .map(toStream)
        .filter((s) => s.status === "enabled" && s.method === "push");
    },
    sign,
    async authorization(streamId) {
      const row = await repository.findStream(streamId);
      if (!row?.authorization_sealed) return undefined;
      return masterKey.open(row.authorization_sealed, sealContext(streamId)).toString("utf8");
    },
    ...(options.onPushOutcome ? { onOutcome: options.onPushOutcome } : {}),
  });
  const polling = createPolling({ repository, clock, log, sign });

  /** The receiver's stream, or 404 (also for another receiver's stream: its existence is not revealed). */
  async function ownStream(receiver: Receiver, streamId: unknown): Promise<Stream> {
    const row = await repository.findStream(streamIdOf(streamId));
    if (row === undefined || row.client_id !== receiver.clientId) streamNotFound();
    return toStream(row);
  }

  /** The outbound guard's verdict on a push URL, as a 400 the receiver can act on. */
  async function checkPushDestination(delivery: DeliveryInput): Promise<void> {
    if (delivery.method !== "push") return;
    try {
      await options.checkDestination(new URL(delivery.endpointUrl));
    } catch (error) {
      if (error instanceof OutboundRefusedError) {
        invalidRequest(`delivery.endpoint_url is not a destination Tessera may send to: ${error.message}`);
      }
      invalidRequest("delivery.endpoint_url's host could not be resolved.");
    }
  }

  function deliveryColumns(streamId: string, delivery: DeliveryInput) {
    if (delivery.method === "poll") {
      return { delivery_method: "poll" as const, endpoint_url: null, authorization_sealed: null };
    }
    return {
      delivery_method: "push" as const,
      endpoint_url: delivery.endpointUrl,
      authorization_sealed:
        delivery.authorization === null
          ? null
          : masterKey.seal(Buffer.from(delivery.authorization, "utf8"), sealContext(streamId)),
    };
  }

  /** After SETs were queued or a stream was enabled: pushes start, long polls wake. Never awaited. */
  function announce(stream: Pick<Stream, "id" | "method" | "status">): void {
    if (stream.status !== "enabled") return;
    if (stream.method === "push") void push.kick();
    else polling.wake(stream.id);
  }

  function statusAnswer(stream: Stream): StreamStatusAnswer {
    return {
      stream_id: stream.id,
      status: stream.status,
      ...(stream.statusReason === null ? {} : { reason: stream.statusReason }),
    };
  }

  let timer: NodeJS.Timeout | undefined;
  let turns = 0;

  return {
    name: SINK_NAME,
    audience,

    configuration() {
      return {
        spec_version: "1_0",
        issuer,
        jwks_uri: `${base}/.well-known/jwks.json`,
        delivery_methods_supported: [PUSH_DELIVERY, POLL_DELIVERY],
        configuration_endpoint: `${base}/ssf/stream`,
        status_endpoint: `${base}/ssf/status`,
        add_subject_endpoint: `${base}/ssf/subjects/add`,
        remove_subject_endpoint: `${base}/ssf/subjects/remove`,
        verification_endpoint: `${base}/ssf/verify`,
        authorization_schemes: [{ spec_urn: "urn:ietf:rfc:6749" }],
        default_subjects: "ALL",
        // Tessera's own metadata (SSF 1.0 §7.1.3 allows more claims): what to ask the token endpoint for.
        tessera_ssf_resource: audience,
        tessera_ssf_scopes: [SSF_MANAGE_SCOPE, SSF_READ_SCOPE],
        tessera_events_supported: [...EVENTS_SUPPORTED],
      };
    },

    async ensureResourceServer() {
      if (await oauth.clients.getResourceServer(audience)) return;
      try {
        await oauth.clients.createResourceServer({
          audience,
          name: "Tessera Shared Signals transmitter",
          scope: `${SSF_MANAGE_SCOPE} ${SSF_READ_SCOPE}`,
        });
      } catch (error) {
        // Another instance registered it first (read past the clients' cache, which remembers the miss).
        const servers = await oauth.clients.listResourceServers();
        if (!servers.some((s) => s.audience === audience)) throw error;
      }
    },

    authenticate(token) {
      return authenticateReceiver({ issuer: oauth.issuer, clients: oauth.clients, audience }, token);
    },

    async createStream(receiver, body) {
      requireAccess(receiver, "manage");
      const config: ReceiverConfig = parseCreate(body);
      await checkPushDestination(config.delivery);
      if ((await repository.countStreams(receiver.clientId)) >= MAX_STREAMS_PER_RECEIVER) {
        throw new SsfError(
          "forbidden_change",
          `A receiver may have at most ${MAX_STREAMS_PER_RECEIVER} streams; delete one first.`,
        );
      }
      const id = randomId(16);
      const now = clock.now();
      const row: SsfStreamRow = {
        id,
        client_id: receiver.clientId,
        description: config.description,
        events_requested: config.eventsRequested === null ? null : JSON.stringify(config.eventsRequested),
        ...deliveryColumns(id, config.delivery),
        status: "enabled",
        status_reason: null,
        verified_at: null,
        created_at: now,
        updated_at: now,
      };
      await repository.insertStream(row);
      log.info(
        { streamId: id, clientId: receiver.clientId, method: row.delivery_method },
        "SSF stream created",
      );
      return streamConfiguration(toStream(row), issuer);
    },

    async listStreams(receiver) {
      requireAccess(receiver, "read");
      return (await repository.listStreams(receiver.clientId)).map((row) =>
        streamConfiguration(toStream(row), issuer),
      );
    },

    async readStream(receiver, streamId) {
      requireAccess(receiver, "read");
      return streamConfiguration(await ownStream(receiver, streamId), issuer);
    },

    async changeStream(receiver, body, mode) {
      requireAccess(receiver, "manage");
      const stream = await ownStream(receiver, streamIdOfBody(body));
      const changes = parseChange(body, stream, issuer, mode);
      if (changes.delivery !== undefined) await checkPushDestination(changes.delivery);
      const columns: Partial<SsfStreamRow> = { updated_at: clock.now() };
      if (changes.delivery !== undefined)
        Object.assign(columns, deliveryColumns(stream.id, changes.delivery));
      if (changes.eventsRequested !== undefined) {
        columns.events_requested =
          changes.eventsRequested === null ? null : JSON.stringify(changes.eventsRequested);
      }
      if (changes.description !== undefined) columns.description = changes.description;
      if (!(await repository.updateStream(stream.id, columns))) streamNotFound();
      const updated = await ownStream(receiver, stream.id);
      announce(updated);
      return streamConfiguration(updated, issuer);
    },

    async deleteStream(receiver, streamId) {
      requireAccess(receiver, "manage");
      const stream = await ownStream(receiver, streamId);
      if (!(await repository.deleteStream(stream.id))) streamNotFound();
      polling.wake(stream.id);
      log.info({ streamId: stream.id, clientId: receiver.clientId }, "SSF stream deleted");
    },

    async readStatus(receiver, streamId) {
      requireAccess(receiver, "read");
      return statusAnswer(await ownStream(receiver, streamId));
    },

    async changeStatus(receiver, body) {
      requireAccess(receiver, "manage");
      const change = parseStatusChange(body);
      const stream = await ownStream(receiver, change.streamId);
      await repository.updateStream(stream.id, {
        status: change.status,
        status_reason: change.reason,
        updated_at: clock.now(),
      });
      // SSF 1.0 §8.1.2: a disabled stream holds nothing for later.
      if (change.status === "disabled") await repository.clearQueue(stream.id);
      const updated = await ownStream(receiver, stream.id);
      announce(updated);
      log.info({ streamId: stream.id, status: change.status }, "SSF stream status changed");
      return statusAnswer(updated);
    },

    async addSubject(receiver, body) {
      requireAccess(receiver, "manage");
      const { streamId, userId } = parseSubjectRequest(body, issuer, "add");
      const stream = await ownStream(receiver, streamId);
      await repository.restoreSubject(stream.id, userId);
    },

    async removeSubject(receiver, body) {
      requireAccess(receiver, "manage");
      const { streamId, userId } = parseSubjectRequest(body, issuer, "remove");
      const stream = await ownStream(receiver, streamId);
      await repository.removeSubject(stream.id, userId, clock.now());
    },

    async requestVerification(receiver, body) {
      requireAccess(receiver, "manage");
      const input = objectBody(body);
      const unknown = Object.keys(input).filter((k) => k !== "stream_id" && k !== "state");
      if (unknown.length > 0) invalidRequest(`Unknown properties: ${unknown.slice(0, 5).join(", ")}.`);
      if (input.state !== undefined && (typeof input.state !== "string" || input.state.length > MAX_STATE)) {
        invalidRequest(`state must be a string of at most ${MAX_STATE} characters.`);
      }
      const stream = await ownStream(receiver, input.stream_id);
      const now = clock.now();
      if (!(await repository.markVerification(stream.id, now, now - MIN_VERIFICATION_INTERVAL * 1000))) {
        throw new SsfError("too_many_attempts", "Verification was requested too recently; retry later.", {
          retryAfter: MIN_VERIFICATION_INTERVAL,
        });
      }
      // A disabled stream transmits nothing (SSF 1.0 §8.1.2); a paused one holds the event like any other.
      if (stream.status === "disabled") return;
      const jti = randomId(16);
      const claims = streamSetClaims({
        issuer,
        audience: stream.clientId,
        streamId: stream.id,
        jti,
        eventType: VERIFICATION,
        event: input.state === undefined ? {} : { state: input.state },
        now,
      });
      await repository.enqueue([
        {
          stream_id: stream.id,
          jti,
          event_type: VERIFICATION,
          claims: JSON.stringify(claims),
          created_at: now,
          keep_until: now + retentionMs,
        },
      ]);
      announce(stream);
    },

    async poll(receiver, streamId, body, signal) {
      requireAccess(receiver, "read");
      const request = parsePollRequest(body);
      const stream = await ownStream(receiver, streamId);
      if (stream.method !== "poll") invalidRequest("This stream delivers by push, not poll.");
      return polling.poll(stream, request, signal);
    },

    async deliver(events: readonly DomainEvent[]) {
      const templates = events.flatMap((event) => securityEventFor(event, issuer) ?? []);
      if (templates.length === 0) return;
      const streams = (await repository.listLiveStreams()).map(toStream);
      const wanting = streams.filter((s) => templates.some((t) => deliversEvent(s, t.eventType)));
      // Only receivers still allowed to manage or read streams hear anything: an administrator who takes the
      // SSF scopes (or the resource) from a client stops its streams.
      const allowed = new Map<string, boolean>();
      for (const clientId of new Set(wanting.map((s) => s.clientId))) {
        const client = await oauth.clients.get(clientId);
        allowed.set(
          clientId,
          client?.resources.includes(audience) === true &&
            (client.scopes.includes(SSF_MANAGE_SCOPE) || client.scopes.includes(SSF_READ_SCOPE)),
        );
      }
      const interested = wanting.filter((s) => allowed.get(s.clientId) === true);
      if (interested.length === 0) return;
      const removed = new Set(
        (
          await repository.removedSubjects(
            interested.map((s) => s.id),
            [...new Set(templates.map((t) => t.userId))],
          )
        ).map((r) => `${r.stream_id}\u0000${r.subject}`),
      );
      const now = clock.now();
      const rows: NewSsfSet[] = [];
      const touched = new Map<string, Stream>();
      for (const template of templates) {
        for (const stream of interested) {
          if (!deliversEvent(stream, template.eventType)) continue;
          if (removed.has(`${stream.id}\u0000${template.userId}`)) continue;
          const claims = eventSetClaims({
            issuer,
            audience: stream.clientId,
            streamId: stream.id,
            template,
            now,
          });
          rows.push({
            stream_id: stream.id,
            jti: claims.jti,
            event_type: template.eventType,
            claims: JSON.stringify(claims),
            created_at: now,
            keep_until: now + retentionMs,
          });
          touched.set(stream.id, stream);
        }
      }
      if (rows.length === 0) return;
      await repository.enqueue(rows);
      for (const stream of touched.values()) announce(stream);
    },

    pushNow: () => push.kick(),
    idle: () => push.idle(),

    start() {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        void push.kick();
        turns += 1;
        if (turns % PURGE_EVERY === 0) {
          repository.deleteExpired(clock.now()).then(
            (deleted) => {
              if (deleted > 0) log.info({ deleted }, "expired SETs deleted");
            },
            (error: unknown) =>
              log.error({ err: { message: (error as Error).message } }, "deleting expired SETs failed"),
          );
        }
      }, LOOP_MS);
      timer.unref();
    },

    async close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      polling.close();
      await push.idle();
    },
  };
}
