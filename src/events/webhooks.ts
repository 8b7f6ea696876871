/**
 * Webhooks: administrators register endpoints; every committed domain event they subscribed to is delivered
 * to them, signed as the Standard Webhooks specification says (standard-webhooks.ts, webhook-delivery.ts).
 *
 * - An endpoint is a URL and a list of event types (`["*"]`: all). Unknown types are refused. The URL must be
 *   one the outbound guard would connect to (src/outbound: checked after DNS): `https:`, public addresses,
 *   unless `TESSERA_OUTBOUND_ALLOW_PRIVATE` allows private ones; plain `http:` only to an allowed loopback
 *   address (with `NODE_ENV=development`, `http://localhost:…` receivers work out of the box).
 * - Its signing secret (`whsec_` + base64 of 32 random bytes) is answered once, at creation or rotation, and
 *   stored sealed with the master key; a rotation keeps the previous secret signing alongside the new one for
 *   `PREVIOUS_SECRET_GRACE_MS`, so receivers can switch without losing a message.
 * - The sink (`sink`, name `webhooks`): for each event, one delivery per enabled endpoint that subscribed to
 *   its type and existed when it happened, stored idempotently (an event offered twice makes one delivery).
 *   The body is fixed then: `{"type", "timestamp", "data"}` (Standard Webhooks' payload structure), `data`
 *   being the event's data with `userId`.
 * - Deliveries are listed with their state (`pending`, `delivered`, `dead`); `redeliver` sends one again,
 *   with the same `webhook-id`.
 * - Every change is audited with the administrator as actor; the audit and the logs name the URL's origin only
 *   (a receiver's URL often carries a token in its path).
 */
import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/index.js";
import type { MasterKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import { TesseraError } from "../lib/errors.js";
import {
  type CompiledPolicy,
  checkDestination,
  type OutboundLookup,
  OutboundRefusedError,
} from "../outbound/index.js";
import type {
  WebhookDeliveryRow,
  WebhookDeliveryState,
  WebhookEndpointRow,
  WebhooksRepository,
} from "../storage/index.js";
import { generateWebhookSecret } from "./standard-webhooks.js";
import { DOMAIN_EVENT_TYPES, type DomainEvent, type DomainEventType, type EventSink } from "./types.js";
import { sealWebhookSecret } from "./webhook-delivery.js";

export const WEBHOOK_SINK = "webhooks";
export const ALL_EVENTS = "*";
/** How long the secret before a rotation goes on signing next to the new one. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 3_600_000;
const MAX_URL = 2048;
const MAX_ENDPOINTS = 100;

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Event types, or `["*"]`. */
  events: string[];
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
}

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  /** The event id: the `webhook-id` header of every attempt. */
  eventId: string;
  eventType: string;
  eventAt: number;
  state: WebhookDeliveryState;
  attempts: number;
  /** When a pending delivery is next tried; null once delivered or dead. */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
  createdAt: number;
}

export interface WebhookActor {
  actor: string;
  ip?: string | null;
  userAgent?: string | null;
}

export interface Webhooks {
  /** Registers an endpoint; answers it and its signing secret (shown this once). */
  create(
    input: { url: string; events: readonly string[] },
    by: WebhookActor,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  list(): Promise<WebhookEndpoint[]>;
  get(id: string): Promise<WebhookEndpoint | undefined>;
  update(
    id: string,
    changes: { url?: string; events?: readonly string[]; enabled?: boolean },
    by: WebhookActor,
  ): Promise<WebhookEndpoint>;
  /** Removes the endpoint and its deliveries; false when there was none. */
  remove(id: string, by: WebhookActor): Promise<boolean>;
  /** A new signing secret (answered once); the previous one signs too for a day. */
  rotateSecret(id: string, by: WebhookActor): Promise<{ endpoint: WebhookEndpoint; secret: string }>;
  /** The endpoint's deliveries, newest first. Throws `not_found` for an unknown endpoint. */
  deliveries(
    id: string,
    filter?: { state?: WebhookDeliveryState; limit?: number },
  ): Promise<WebhookDelivery[]>;
  delivery(id: string, deliveryId: string): Promise<WebhookDelivery | undefined>;
  /** Sends a delivery again (same `webhook-id`), with a fresh count of attempts. */
  redeliver(id: string, deliveryId: string, by: WebhookActor): Promise<WebhookDelivery>;
  /** The event sink that turns events into deliveries. */
  readonly sink: EventSink;
}

export interface WebhooksDeps {
  repository: WebhooksRepository;
  clock: Clock;
  masterKey: MasterKey;
  audit: AuditLog;
  /** The outbound guard's policy: registration refuses a URL it would refuse. */
  policy: CompiledPolicy;
  /** DNS for the registration check (default the system's). */
  lookup?: OutboundLookup;
  /** New deliveries were stored (wakes the delivery worker). */
  onEnqueued?: () => void;
}

const invalid = (message: string) => new TesseraError({ code: "invalid_request", message, status: 400 });
const notFound = (what = "webhook") =>
  new TesseraError({ code: "not_found", message: `No such ${what}.`, status: 404 });

function toEndpoint(row: WebhookEndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    enabled: row.enabled === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
  };
}

function toDelivery(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    eventAt: Number(row.event_at),
    state: row.state,
    attempts: Number(row.attempts),
    nextAttemptAt: row.state === "pending" ? Number(row.next_attempt_at) : null,
    lastAttemptAt: row.last_attempt_at === null ? null : Number(row.last_attempt_at),
    lastStatus: row.last_status,
    lastError: row.last_error,
    deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
    createdAt: Number(row.created_at),
  };
}

/** The event types, checked: known types, or `*` alone; sorted, without repeats. */
export function cleanEventTypes(value: readonly unknown[]): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid('events must list event types, or be ["*"] for all.');
  }
  const types = new Set<string>();
  for (const entry of value) {
    if (entry === ALL_EVENTS) types.add(ALL_EVENTS);
    else if (typeof entry === "string" && (DOMAIN_EVENT_TYPES as readonly string[]).includes(entry))
      types.add(entry);
    else throw invalid(`Unknown event type: ${JSON.stringify(entry).slice(0, 80)}.`);
  }
  if (types.has(ALL_EVENTS)) return [ALL_EVENTS];
  return [...types].sort();
}

/** The body of an event's deliveries (Standard Webhooks' payload structure). */
export function webhookPayload(event: DomainEvent): string {
  return JSON.stringify({
    type: event.type,
    timestamp: new Date(event.at).toISOString(),
    data: { userId: event.userId, ...event.data },
  });
}

export function createWebhooks(deps: WebhooksDeps): Webhooks {
  const { repository, clock, masterKey, audit } = deps;
  const parsedEvents = new Map<string, Set<string>>();

  async function cleanUrl(value: unknown): Promise<string> {
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_URL) {
      throw invalid(`url must be an absolute https URL of at most ${MAX_URL} characters.`);
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid("url is not an absolute URL.");
    }
    if (url.hash !== "") throw invalid("url must not have a fragment.");
    try {
      await checkDestination(url, deps.policy, deps.lookup);
    } catch (error) {
      if (error instanceof OutboundRefusedError) throw invalid(error.message);
      throw invalid(`url: ${url.hostname} could not be resolved.`);
    }
    return url.href;
  }

  async function record(
    type:
      | "webhook.created"
      | "webhook.updated"
      | "webhook.deleted"
      | "webhook.secret_rotated"
      | "webhook.redelivered",
    by: WebhookActor,
    details: Record<string, string | number | boolean | null>,
  ) {
    await audit.record({
      type,
      outcome: "success",
      actor: by.actor,
      ip: by.ip ?? null,
      userAgent: by.userAgent ?? null,
      details,
    });
  }

  const origin = (url: string) => new URL(url).origin;

  async function existing(id: string): Promise<WebhookEndpointRow> {
    const row = await repository.findEndpoint(id);
    if (!row) throw notFound();
    return row;
  }

  function subscribed(row: WebhookEndpointRow, type: string): boolean {
    let types = parsedEvents.get(row.events);
    if (types === undefined) {
      types = new Set(JSON.parse(row.events) as string[]);
      if (parsedEvents.size > 1000) parsedEvents.clear();
      parsedEvents.set(row.events, types);
    }
    return types.has(ALL_EVENTS) || types.has(type);
  }

  const sink: EventSink = {
    name: WEBHOOK_SINK,
    async deliver(events) {
      const endpoints = await repository.enabledEndpoints();
      if (endpoints.length === 0) return;
      const now = clock.now();
      const rows: WebhookDeliveryRow[] = [];
      for (const event of events) {
        let payload: string | undefined;
        for (const endpoint of endpoints) {
          // Only what happened once the endpoint existed: a new endpoint is not sent the outbox's backlog.
          if (event.at < Number(endpoint.created_at) || !subscribed(endpoint, event.type)) continue;
          payload ??= webhookPayload(event);
          rows.push({
            id: randomUUID(),
            endpoint_id: endpoint.id,
            event_id: event.id,
            event_type: event.type,
            event_at: event.at,
            payload,
            state: "pending",
            attempts: 0,
            next_attempt_at: now,
            lease_owner: null,
            lease_until: null,
            last_attempt_at: null,
            last_status: null,
            last_error: null,
            delivered_at: null,
            created_at: now,
          });
        }
      }
      if (rows.length === 0) return;
      await repository.enqueue(rows);
      deps.onEnqueued?.();
    },
  };

  return {
    sink,

    async create(input, by) {
      const url = await cleanUrl(input.url);
      const events = cleanEventTypes(input.events);
      if ((await repository.listEndpoints()).length >= MAX_ENDPOINTS) {
        throw invalid(`At most ${MAX_ENDPOINTS} webhook endpoints.`);
      }
      const id = randomUUID();
      const secret = generateWebhookSecret();
      const now = clock.now();
      const row: WebhookEndpointRow = {
        id,
        url,
        events: JSON.stringify(events),
        enabled: 1,
        secret_sealed: sealWebhookSecret(masterKey, id, secret),
        previous_secret_sealed: null,
        previous_secret_until: null,
        created_at: now,
        updated_at: now,
        created_by: by.actor,
      };
      await repository.insertEndpoint(row);
      await record("webhook.created", by, { webhookId: id, origin: origin(url), events: events.join(" ") });
      return { endpoint: toEndpoint(row), secret };
    },

    async list() {
      return (await repository.listEndpoints()).map(toEndpoint);
    },

    async get(id) {
      const row = await repository.findEndpoint(id);
      return row && toEndpoint(row);
    },

    async update(id, changes, by) {
      await existing(id);
      const url = changes.url === undefined ? undefined : await cleanUrl(changes.url);
      const events = changes.events === undefined ? undefined : cleanEventTypes(changes.events);
      if (changes.enabled !== undefined && typeof changes.enabled !== "boolean") {
        throw invalid("enabled must be true or false.");
      }
      const updated = await repository.updateEndpoint(id, {
        ...(url === undefined ? {} : { url }),
        ...(events === undefined ? {} : { events: JSON.stringify(events) }),
        ...(changes.enabled === undefined ? {} : { enabled: changes.enabled ? 1 : 0 }),
        updated_at: clock.now(),
      });
      if (!updated) throw notFound();
      const row = await existing(id);
      await record("webhook.updated", by, {
        webhookId: id,
        origin: origin(row.url),
        events: (JSON.parse(row.events) as string[]).join(" "),
        enabled: row.enabled === 1,
      });
      return toEndpoint(row);
    },

    async remove(id, by) {
      const row = await repository.findEndpoint(id);
      if (!row || !(await repository.deleteEndpoint(id))) return false;
      await record("webhook.deleted", by, { webhookId: id, origin: origin(row.url) });
      return true;
    },

    async rotateSecret(id, by) {
      const row = await existing(id);
      const secret = generateWebhookSecret();
      const now = clock.now();
      const updated = await repository.updateEndpoint(id, {
        secret_sealed: sealWebhookSecret(masterKey, id, secret),
        previous_secret_sealed: row.secret_sealed,
        previous_secret_until: now + PREVIOUS_SECRET_GRACE_MS,
        updated_at: now,
      });
      if (!updated) throw notFound();
      await record("webhook.secret_rotated", by, { webhookId: id });
      return { endpoint: toEndpoint(await existing(id)), secret };
    },

    async deliveries(id, filter = {}) {
      await existing(id);
      const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
      const rows = await repository.listDeliveries(id, {
        ...(filter.state ? { state: filter.state } : {}),
        limit,
      });
      return rows.map(toDelivery);
    },

    async delivery(id, deliveryId) {
      const row = await repository.findDelivery(id, deliveryId);
      return row && toDelivery(row);
    },

    async redeliver(id, deliveryId, by) {
      await existing(id);
      if (!(await repository.redeliver(id, deliveryId, clock.now()))) throw notFound("delivery");
      const row = await repository.findDelivery(id, deliveryId);
      if (!row) throw notFound("delivery");
      await record("webhook.redelivered", by, { webhookId: id, deliveryId, eventId: row.event_id });
      deps.onEnqueued?.();
      return toDelivery(row);
    },
  };
}

/** Whether a value names an event type (for the CLI's and the admin API's messages). */
export function isEventType(value: string): value is DomainEventType {
  return (DOMAIN_EVENT_TYPES as readonly string[]).includes(value);
}
