/**
 * Webhook endpoints and deliveries at rest (src/events/webhooks.ts and webhook-delivery.ts decide the rules).
 *
 * - An endpoint's signing secret is stored sealed (the caller seals it); nothing here sees it in the clear.
 * - One delivery per (endpoint, event): `enqueue` skips pairs already stored, so an event offered twice (the
 *   dispatcher delivers at least once) is sent as one delivery.
 * - A delivery is sent by one instance at a time: `claim` is one conditional UPDATE (pending, due, lease free
 *   or expired) that takes a lease and counts the attempt; the outcome is written only while the lease is still
 *   the claimer's. A crash between sending and writing the outcome leaves the lease to expire, and the delivery
 *   is sent again (at least once, with the same event id).
 */
import type { Kysely } from "kysely";
import type {
  Database,
  WebhookDeliveriesTable,
  WebhookDeliveryState,
  WebhookEndpointsTable,
} from "../database.js";

export type WebhookEndpointRow = WebhookEndpointsTable;
export type WebhookDeliveryRow = WebhookDeliveriesTable;

/** A due delivery with what sending it needs of its endpoint. */
export interface DueDeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  payload: string;
  attempts: number;
  url: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
}

/** What an attempt that did not deliver leaves: retried at `nextAttemptAt`, or dead. */
export interface DeliveryFailure {
  status: number | null;
  error: string;
  at: number;
  /** Undefined: no attempt left, the delivery is dead. */
  nextAttemptAt: number | undefined;
}

export interface WebhooksRepository {
  insertEndpoint(row: WebhookEndpointRow): Promise<void>;
  /** Every endpoint, oldest first (ties by id). */
  listEndpoints(): Promise<WebhookEndpointRow[]>;
  findEndpoint(id: string): Promise<WebhookEndpointRow | undefined>;
  /** The enabled endpoints (the sink matches each event against them). */
  enabledEndpoints(): Promise<WebhookEndpointRow[]>;
  /** Changes an endpoint's columns; false when there is no such endpoint. */
  updateEndpoint(
    id: string,
    changes: Partial<
      Pick<
        WebhookEndpointRow,
        "url" | "events" | "enabled" | "secret_sealed" | "previous_secret_sealed" | "previous_secret_until"
      >
    > & { updated_at: number },
  ): Promise<boolean>;
  /** Deletes the endpoint and its deliveries; false when there was none. */
  deleteEndpoint(id: string): Promise<boolean>;
  /** Stores deliveries, skipping (endpoint, event) pairs already stored. */
  enqueue(rows: readonly WebhookDeliveryRow[]): Promise<void>;
  /**
   * Pending deliveries due at `now`, not leased (or lease expired), of enabled endpoints other than `skip`:
   * the earliest due first, at most `limit`.
   */
  due(now: number, limit: number, skip: readonly string[]): Promise<DueDeliveryRow[]>;
  /**
   * Takes a due delivery's lease until `leaseUntil` and counts the attempt, if it is still pending, due and
   * unleased; the attempt's number, or undefined when another instance has it.
   */
  claim(id: string, owner: string, now: number, leaseUntil: number): Promise<number | undefined>;
  /** Marks it delivered, if `owner` still holds its lease; true when it did. */
  delivered(id: string, owner: string, at: number, status: number): Promise<boolean>;
  /** Records a failed attempt (retry later, or dead), if `owner` still holds its lease; true when it did. */
  failed(id: string, owner: string, failure: DeliveryFailure): Promise<boolean>;
  /** The endpoint's deliveries, newest first (ties by id), optionally of one state, at most `limit`. */
  listDeliveries(
    endpointId: string,
    filter: { state?: WebhookDeliveryState; limit: number },
  ): Promise<WebhookDeliveryRow[]>;
  findDelivery(endpointId: string, id: string): Promise<WebhookDeliveryRow | undefined>;
  /**
   * Makes the delivery pending again, due at `now`, with a fresh count of attempts (an attempt in flight keeps
   * its lease and writes its own outcome); false when there is no such delivery.
   */
  redeliver(endpointId: string, id: string, now: number): Promise<boolean>;
  /** Deletes deliveries delivered before `deliveredBefore` and dead ones last tried before `deadBefore`. */
  purge(deliveredBefore: number, deadBefore: number): Promise<number>;
}

const ENQUEUE_BATCH = 200;

export function webhooksRepository(db: Kysely<Database>): WebhooksRepository {
  return {
    async insertEndpoint(row) {
      await db.insertInto("webhook_endpoints").values(row).execute();
    },

    listEndpoints: () =>
      db.selectFrom("webhook_endpoints").selectAll().orderBy("created_at").orderBy("id").execute(),

    findEndpoint: (id) =>
      db.selectFrom("webhook_endpoints").selectAll().where("id", "=", id).executeTakeFirst(),

    enabledEndpoints: () =>
      db.selectFrom("webhook_endpoints").selectAll().where("enabled", "=", 1).orderBy("id").execute(),

    async updateEndpoint(id, changes) {
      const result = await db
        .updateTable("webhook_endpoints")
        .set(changes)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    deleteEndpoint: (id) =>
      db.transaction().execute(async (trx) => {
        await trx.deleteFrom("webhook_deliveries").where("endpoint_id", "=", id).execute();
        const result = await trx.deleteFrom("webhook_endpoints").where("id", "=", id).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      }),

    async enqueue(rows) {
      for (let i = 0; i < rows.length; i += ENQUEUE_BATCH) {
        await db
          .insertInto("webhook_deliveries")
          .values(rows.slice(i, i + ENQUEUE_BATCH))
          .onConflict((conflict) => conflict.columns(["endpoint_id", "event_id"]).doNothing())
          .execute();
      }
    },

    async due(now, limit, skip) {
      let query = db
        .selectFrom("webhook_deliveries as d")
        .innerJoin("webhook_endpoints as e", "e.id", "d.endpoint_id")
        .select([
          "d.id",
          "d.endpoint_id",
          "d.event_id",
          "d.payload",
          "d.attempts",
          "e.url",
          "e.secret_sealed",
          "e.previous_secret_sealed",
          "e.previous_secret_until",
        ])
        .where("d.state", "=", "pending")
        .where("d.next_attempt_at", "<=", now)
        .where((eb) => eb.or([eb("d.lease_until", "is", null), eb("d.lease_until", "<=", now)]))
        .where("e.enabled", "=", 1);
      if (skip.length > 0) query = query.where("d.endpoint_id", "not in", [...skip]);
      return query.orderBy("d.next_attempt_at").orderBy("d.id").limit(limit).execute();
    },

    async claim(id, owner, now, leaseUntil) {
      const row = await db
        .updateTable("webhook_deliveries")
        .set((eb) => ({
          lease_owner: owner,
          lease_until: leaseUntil,
          attempts: eb("attempts", "+", 1),
          last_attempt_at: now,
        }))
        .where("id", "=", id)
        .where("state", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<=", now)]))
        .returning("attempts")
        .executeTakeFirst();
      return row === undefined ? undefined : Number(row.attempts);
    },

    async delivered(id, owner, at, status) {
      const result = await db
        .updateTable("webhook_deliveries")
        .set({
          state: "delivered",
          delivered_at: at,
          last_status: status,
          last_error: null,
          lease_owner: null,
          lease_until: null,
        })
        .where("id", "=", id)
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async failed(id, owner, failure) {
      const result = await db
        .updateTable("webhook_deliveries")
        .set({
          state: failure.nextAttemptAt === undefined ? "dead" : "pending",
          ...(failure.nextAttemptAt === undefined ? {} : { next_attempt_at: failure.nextAttemptAt }),
          last_status: failure.status,
          last_error: failure.error.slice(0, 512),
          lease_owner: null,
          lease_until: null,
        })
        .where("id", "=", id)
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    listDeliveries(endpointId, filter) {
      let query = db.selectFrom("webhook_deliveries").selectAll().where("endpoint_id", "=", endpointId);
      if (filter.state) query = query.where("state", "=", filter.state);
      return query.orderBy("created_at", "desc").orderBy("id", "desc").limit(filter.limit).execute();
    },

    findDelivery: (endpointId, id) =>
      db
        .selectFrom("webhook_deliveries")
        .selectAll()
        .where("endpoint_id", "=", endpointId)
        .where("id", "=", id)
        .executeTakeFirst(),

    async redeliver(endpointId, id, now) {
      const result = await db
        .updateTable("webhook_deliveries")
        .set({ state: "pending", attempts: 0, next_attempt_at: now, delivered_at: null })
        .where("endpoint_id", "=", endpointId)
        .where("id", "=", id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async purge(deliveredBefore, deadBefore) {
      const result = await db
        .deleteFrom("webhook_deliveries")
        .where((eb) =>
          eb.or([
            eb.and([eb("state", "=", "delivered"), eb("delivered_at", "<", deliveredBefore)]),
            eb.and([eb("state", "=", "dead"), eb("last_attempt_at", "<", deadBefore)]),
          ]),
        )
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
