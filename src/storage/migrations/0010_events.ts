import { type Kysely, sql } from "kysely";

/**
 * The durable event outbox and webhooks (issue 24).
 *
 * - `event_outbox`: domain events, written in the transaction of the change that caused them. `seq` numbers the
 *   rows; on SQLite (one writer at a time: every transaction begins IMMEDIATE) it is also the commit order, and
 *   AUTOINCREMENT keeps it from reusing the numbers of purged rows. On PostgreSQL transactions commit in any
 *   order, so each row also records its transaction's id (`tx`, `pg_current_xact_id()` as a column default):
 *   readers take only rows of transactions older than every transaction still running (the snapshot's
 *   `xmin`), in `(tx, seq)` order, so a cursor never passes a row that commits later. SQLite leaves `tx` at 0.
 * - `event_sink_cursors`: how far each sink (webhooks, the Shared Signals transmitter) has taken the outbox,
 *   and which instance holds the sink's lease while it dispatches.
 * - `webhook_endpoints`: registered receivers; the signing secret sealed with the master key (the previous
 *   one too, for a day after a rotation).
 * - `webhook_deliveries`: one row per (endpoint, event), with the body sent on every attempt, its state
 *   (`pending`, `delivered`, `dead`), attempts, the next attempt's time and the lease of the instance sending it.
 */

/** SQLite compiles parameters as `?`, PostgreSQL as `$1`: the one dialect test a migration can make offline. */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
function isSqlite(db: Kysely<any>): boolean {
  return db.selectFrom("users").select("id").where("id", "=", "").compile().sql.endsWith("?");
}

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  const sqlite = isSqlite(db);
  // Idempotent (`if not exists`): SQLite runs migrations outside a transaction, so a run cut short is completed.
  await db.schema
    .createTable("event_outbox")
    .ifNotExists()
    .addColumn("seq", sqlite ? "integer" : "bigserial", (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn("tx", "bigint", (c) =>
      c.notNull().defaultTo(sqlite ? 0 : sql`(pg_current_xact_id()::text::bigint)`),
    )
    .addColumn("id", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("type", "varchar(64)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("user_id", "varchar(64)")
    .addColumn("data", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("event_outbox_position")
    .ifNotExists()
    .on("event_outbox")
    .columns(["tx", "seq"])
    .execute();
  await db.schema.createIndex("event_outbox_at").ifNotExists().on("event_outbox").column("at").execute();

  await db.schema
    .createTable("event_sink_cursors")
    .ifNotExists()
    .addColumn("sink", "varchar(128)", (c) => c.primaryKey())
    .addColumn("tx", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("seq", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("lease_owner", "varchar(64)")
    .addColumn("lease_until", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("active_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("webhook_endpoints")
    .ifNotExists()
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("url", "varchar(2048)", (c) => c.notNull())
    .addColumn("events", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("secret_sealed", "text", (c) => c.notNull())
    .addColumn("previous_secret_sealed", "text")
    .addColumn("previous_secret_until", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "varchar(256)", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("webhook_deliveries")
    .ifNotExists()
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("endpoint_id", "varchar(64)", (c) =>
      c.notNull().references("webhook_endpoints.id").onDelete("cascade"),
    )
    .addColumn("event_id", "varchar(64)", (c) => c.notNull())
    .addColumn("event_type", "varchar(64)", (c) => c.notNull())
    .addColumn("event_at", "bigint", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("state", "varchar(16)", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("lease_owner", "varchar(64)")
    .addColumn("lease_until", "bigint")
    .addColumn("last_attempt_at", "bigint")
    .addColumn("last_status", "integer")
    .addColumn("last_error", "varchar(512)")
    .addColumn("delivered_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("webhook_deliveries_endpoint_event", ["endpoint_id", "event_id"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_due")
    .ifNotExists()
    .on("webhook_deliveries")
    .columns(["state", "next_attempt_at"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_endpoint")
    .ifNotExists()
    .on("webhook_deliveries")
    .columns(["endpoint_id", "created_at"])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("webhook_deliveries").ifExists().execute();
  await db.schema.dropTable("webhook_endpoints").ifExists().execute();
  await db.schema.dropTable("event_sink_cursors").ifExists().execute();
  await db.schema.dropTable("event_outbox").ifExists().execute();
}
