/**
 * Domain events and what carries them out (issue 24): the durable outbox written with each change, the
 * dispatcher that offers committed events to sinks, and webhooks (one sink). The contract between producers
 * and sinks is `types.ts`; docs/events.md describes the whole for operators and receivers.
 */
export {
  createEventDispatcher,
  type EventDispatcher,
  type EventDispatcherOptions,
} from "./dispatcher.js";
export {
  createEventOutbox,
  type EventDraft,
  type EventOutbox,
  type EventOutboxOptions,
  eventId,
  NO_EVENTS,
} from "./outbox.js";
export {
  generateWebhookSecret,
  SECRET_PREFIX,
  signWebhook,
  webhookHeaders,
  webhookSecretKey,
} from "./standard-webhooks.js";
export {
  DOMAIN_EVENT_TYPES,
  type DomainEvent,
  type DomainEventData,
  type DomainEventType,
  type EventSink,
} from "./types.js";
export {
  createDeliveryWorker,
  type DeliveryWorker,
  type DeliveryWorkerOptions,
} from "./webhook-delivery.js";
export {
  ALL_EVENTS,
  cleanEventTypes,
  createWebhooks,
  isEventType,
  PREVIOUS_SECRET_GRACE_MS,
  WEBHOOK_SINK,
  type WebhookActor,
  type WebhookDelivery,
  type WebhookEndpoint,
  type Webhooks,
  type WebhooksDeps,
  webhookPayload,
} from "./webhooks.js";
