/**
 * Webhooks in the admin API.
 *
 * - `/admin/webhooks`: register (`{"url", "events"}`, answering 201 with the endpoint's `id` and its signing
 *   `secret`, shown this once), list, get, change (`PATCH`: url, events, enabled), delete, rotate the secret.
 * - `/admin/webhooks/{id}/deliveries`: each event sent (or being sent) to the endpoint, with its state
 *   (`pending`, `delivered`, `dead`), attempts and last error; `…/{deliveryId}/redeliver` sends one again, with
 *   the same `webhook-id`.
 * - The rules (URL checked against the outbound guard, known event types, the secret sealed at rest, audit) are
 *   the domain's (src/events/webhooks.ts), shared with the CLI.
 */
import type { FastifyInstance } from "fastify";
import { DOMAIN_EVENT_TYPES, type WebhookEndpoint } from "../../../events/index.js";
import { TesseraError } from "../../../lib/errors.js";
import type { WebhookDeliveryState } from "../../../storage/index.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { adminResponses, EPOCH_MS, ID, ID_PARAMS, NO_CONTENT, NULLABLE_EPOCH_MS } from "./schemas.js";

const TAGS = ["webhooks"];

const EVENT_TYPES = {
  type: "array",
  minItems: 1,
  maxItems: DOMAIN_EVENT_TYPES.length + 1,
  items: { type: "string", enum: ["*", ...DOMAIN_EVENT_TYPES] },
  description: 'Event types to receive, or `["*"]` for all (including types added later).',
} as const;

const URL_FIELD = {
  type: "string",
  minLength: 1,
  maxLength: 2048,
  description:
    "Where deliveries are POSTed: `https:` to a public address (private ones only where " +
    "`TESSERA_OUTBOUND_ALLOW_PRIVATE` allows them); plain `http:` only to an allowed loopback address " +
    "(`NODE_ENV=development` allows loopback).",
} as const;

const ENDPOINT = {
  type: "object",
  required: ["id", "url", "events", "enabled", "createdAt", "updatedAt", "createdBy"],
  properties: {
    id: { type: "string" },
    url: { type: "string" },
    events: { type: "array", items: { type: "string" } },
    enabled: { type: "boolean", description: "Disabled endpoints get no new deliveries; pending ones wait." },
    createdAt: EPOCH_MS,
    updatedAt: EPOCH_MS,
    createdBy: { type: "string" },
  },
} as const;

const WITH_SECRET = {
  type: "object",
  required: [...ENDPOINT.required, "secret"],
  properties: {
    ...ENDPOINT.properties,
    secret: {
      type: "string",
      description:
        "The signing secret (`whsec_` + base64 of 32 random bytes, the Standard Webhooks format), shown this once.",
    },
  },
} as const;

const STATES = ["pending", "delivered", "dead"] as const;

const DELIVERY = {
  type: "object",
  required: [
    "id",
    "webhookId",
    "eventId",
    "eventType",
    "eventAt",
    "state",
    "attempts",
    "nextAttemptAt",
    "lastAttemptAt",
    "lastStatus",
    "lastError",
    "deliveredAt",
    "createdAt",
  ],
  properties: {
    id: { type: "string" },
    webhookId: { type: "string" },
    eventId: { type: "string", description: "The `webhook-id` header of every attempt." },
    eventType: { type: "string" },
    eventAt: EPOCH_MS,
    state: {
      type: "string",
      enum: [...STATES],
      description: "`dead`: every attempt failed (the dead-letter state); only a redelivery sends it again.",
    },
    attempts: { type: "integer" },
    nextAttemptAt: { ...NULLABLE_EPOCH_MS, description: "When a pending delivery is tried next." },
    lastAttemptAt: NULLABLE_EPOCH_MS,
    lastStatus: { type: ["integer", "null"], description: "HTTP status of the last answer, if any." },
    lastError: { type: ["string", "null"] },
    deliveredAt: NULLABLE_EPOCH_MS,
    createdAt: EPOCH_MS,
  },
} as const;

const DELIVERY_PARAMS = {
  type: "object",
  required: ["id", "deliveryId"],
  additionalProperties: false,
  properties: { id: ID, deliveryId: ID },
} as const;

const notFound = (what: string) =>
  new TesseraError({ code: "not_found", message: `No such ${what}.`, status: 404 });

const withSecret = (endpoint: WebhookEndpoint, secret: string) => ({ ...endpoint, secret });

export function adminWebhookRoutes(ctx: Pick<HttpServices, "webhooks">) {
  const { webhooks } = ctx;
  return async (app: FastifyInstance) => {
    app.get(
      "/admin/webhooks",
      {
        schema: {
          tags: TAGS,
          summary: "List webhook endpoints",
          description: "Every registered endpoint, oldest first (never its secret).",
          response: adminResponses({
            200: {
              type: "object",
              required: ["webhooks"],
              properties: { webhooks: { type: "array", items: ENDPOINT } },
            },
          }),
        },
      },
      async () => ({ webhooks: await webhooks.list() }),
    );

    app.post<{ Body: { url: string; events: string[] } }>(
      "/admin/webhooks",
      {
        schema: {
          tags: TAGS,
          summary: "Register a webhook endpoint",
          description:
            "Every domain event of the listed types that commits from now on is POSTed to `url`, signed as the " +
            "Standard Webhooks specification says (docs/events.md). The answer carries the signing `secret`, " +
            "the only time it is shown.",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["url", "events"],
            properties: { url: URL_FIELD, events: EVENT_TYPES },
          },
          response: adminResponses({ 201: WITH_SECRET }),
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await webhooks.create(request.body, adminActor(request));
        reply.header("cache-control", "no-store");
        return reply.code(201).send(withSecret(endpoint, secret));
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/webhooks/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Get a webhook endpoint",
          params: ID_PARAMS,
          response: adminResponses({ 200: ENDPOINT }, [404]),
        },
      },
      async (request) => {
        const endpoint = await webhooks.get(request.params.id);
        if (!endpoint) throw notFound("webhook");
        return endpoint;
      },
    );

    app.patch<{ Params: { id: string }; Body: { url?: string; events?: string[]; enabled?: boolean } }>(
      "/admin/webhooks/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Change a webhook endpoint",
          description:
            "Changes the URL (checked as at registration), the event types, or whether it is enabled. Deliveries " +
            "already made keep the URL's new value for their next attempt.",
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: { url: URL_FIELD, events: EVENT_TYPES, enabled: { type: "boolean" } },
          },
          response: adminResponses({ 200: ENDPOINT }, [404]),
        },
      },
      async (request) => webhooks.update(request.params.id, request.body, adminActor(request)),
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/webhooks/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Delete a webhook endpoint",
          description: "Removes the endpoint and its deliveries; nothing more is sent to it.",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        if (!(await webhooks.remove(request.params.id, adminActor(request)))) throw notFound("webhook");
        return reply.code(204).send();
      },
    );

    app.post<{ Params: { id: string } }>(
      "/admin/webhooks/:id/rotate-secret",
      {
        schema: {
          tags: TAGS,
          summary: "Rotate a webhook endpoint's signing secret",
          description:
            "A new secret, shown this once. For 24 hours deliveries carry two signatures, one with each secret, " +
            "so the receiver can switch to the new one without refusing a message.",
          params: ID_PARAMS,
          response: adminResponses({ 200: WITH_SECRET }, [404]),
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await webhooks.rotateSecret(request.params.id, adminActor(request));
        reply.header("cache-control", "no-store");
        return withSecret(endpoint, secret);
      },
    );

    app.get<{ Params: { id: string }; Querystring: { state?: WebhookDeliveryState; limit?: number } }>(
      "/admin/webhooks/:id/deliveries",
      {
        schema: {
          tags: TAGS,
          summary: "List a webhook endpoint's deliveries",
          description: "Newest first, with state, attempts, next attempt and last error.",
          params: ID_PARAMS,
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              state: { type: "string", enum: [...STATES] },
              limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
            },
          },
          response: adminResponses(
            {
              200: {
                type: "object",
                required: ["deliveries"],
                properties: { deliveries: { type: "array", items: DELIVERY } },
              },
            },
            [404],
          ),
        },
      },
      async (request) => ({
        deliveries: await webhooks.deliveries(request.params.id, {
          ...(request.query.state ? { state: request.query.state } : {}),
          ...(request.query.limit ? { limit: request.query.limit } : {}),
        }),
      }),
    );

    app.get<{ Params: { id: string; deliveryId: string } }>(
      "/admin/webhooks/:id/deliveries/:deliveryId",
      {
        schema: {
          tags: TAGS,
          summary: "Get one delivery",
          params: DELIVERY_PARAMS,
          response: adminResponses({ 200: DELIVERY }, [404]),
        },
      },
      async (request) => {
        const delivery = await webhooks.delivery(request.params.id, request.params.deliveryId);
        if (!delivery) throw notFound("delivery");
        return delivery;
      },
    );

    app.post<{ Params: { id: string; deliveryId: string } }>(
      "/admin/webhooks/:id/deliveries/:deliveryId/redeliver",
      {
        schema: {
          tags: TAGS,
          summary: "Redeliver",
          description:
            "Sends the delivery again (whatever its state: a dead one too), with the same `webhook-id` and body " +
            "and a fresh count of attempts.",
          params: DELIVERY_PARAMS,
          response: adminResponses({ 202: DELIVERY }, [404]),
        },
      },
      async (request, reply) => {
        const delivery = await webhooks.redeliver(
          request.params.id,
          request.params.deliveryId,
          adminActor(request),
        );
        return reply.code(202).send(delivery);
      },
    );
  };
}
