/**
 * Domain events: what happened to an account, a session, a credential, a token or a key, as the outside world
 * hears of it (webhooks, the Shared Signals transmitter). This file is the contract between the event outbox
 * (the producer side, `src/events/`) and its sinks (webhook delivery, `src/ssf/`).
 *
 * - An event is written to the outbox in the same database transaction as the change that caused it, so a
 *   rolled-back change has no event and a committed change always has one (events with no change, such as a
 *   failed sign-in, are written on their own).
 * - Events carry identifiers and outcomes, never a secret (the audit log's rule).
 * - Sinks receive committed events at least once, in outbox order per sink, and de-duplicate by `id`.
 */

/** The event types, named `<subject>.<what happened>`. Adding one is adding a line here. */
export const DOMAIN_EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.disabled",
  "user.enabled",
  "user.deleted",
  "signin.failed",
  "signin.throttled",
  /** A session ended (sign-out, revocation, replacement, access-ending event): `data.sessionId`, `data.reason`. */
  "session.ended",
  /** A credential was added, changed or removed: `data.credential` (`password`, `totp`, `webauthn`,
   *  `recovery_codes`), `data.change` (`create`, `update`, `delete`, `reset`). */
  "credential.changed",
  "refresh_token.reused",
  "api_token.created",
  "api_token.revoked",
  "api_token.leaked",
  "key.rotated",
] as const;

export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

export type DomainEventData = Readonly<Record<string, string | number | boolean | null>>;

export interface DomainEvent {
  /** Unique, sorts by time of writing (like audit ids). Webhook deliveries use it as `webhook-id`. */
  readonly id: string;
  readonly type: DomainEventType;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** The user the event is about, if any. */
  readonly userId: string | null;
  readonly data: DomainEventData;
}

/**
 * A consumer of committed events. The outbox's dispatcher calls `deliver` with events in outbox order; a
 * rejection means "not taken": the same events (same ids) are offered again later. `deliver` must therefore
 * be idempotent by event id, and should only enqueue durable work (never wait on a remote receiver).
 */
export interface EventSink {
  /** Stable name: the dispatcher keeps one cursor per sink name. */
  readonly name: string;
  deliver(events: readonly DomainEvent[]): Promise<void>;
}
