import type { Kysely } from "kysely";

/**
 * The Shared Signals (SSF 1.0) transmitter's streams and their queues (issue 24; src/ssf/).
 *
 * - `ssf_streams`: one row per event stream a receiver (an OAuth client) created. A stream goes with its client
 *   (`on delete cascade`). The push `Authorization` value is a credential of the receiver's: sealed.
 * - `ssf_stream_subjects`: the subjects a receiver removed from a stream (streams start with every subject).
 * - `ssf_sets`: the SETs waiting for each stream, in `seq` order (AUTOINCREMENT on SQLite, `bigserial` on
 *   PostgreSQL), unique by `(stream_id, jti)` so that an event offered twice is queued once. `lease_until` is
 *   how one instance holds a SET while it pushes it, or while a poll answer waits for its acknowledgement;
 *   `keep_until` ends it when nobody took it.
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
    .createTable("ssf_streams")
    .ifNotExists()
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("description", "varchar(1024)")
    .addColumn("events_requested", "text")
    .addColumn("delivery_method", "varchar(8)", (c) => c.notNull())
    .addColumn("endpoint_url", "varchar(2048)")
    .addColumn("authorization_sealed", "text")
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("status_reason", "varchar(1024)")
    .addColumn("verified_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("ssf_streams_client")
    .ifNotExists()
    .on("ssf_streams")
    .column("client_id")
    .execute();

  await db.schema
    .createTable("ssf_stream_subjects")
    .ifNotExists()
    .addColumn("stream_id", "varchar(64)", (c) =>
      c.notNull().references("ssf_streams.id").onDelete("cascade"),
    )
    .addColumn("subject", "varchar(256)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("ssf_stream_subjects_pk", ["stream_id", "subject"])
    .execute();

  await db.schema
    .createTable("ssf_sets")
    .ifNotExists()
    .addColumn("seq", sqlite ? "integer" : "bigserial", (c) =>
      sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
    )
    .addColumn("stream_id", "varchar(64)", (c) =>
      c.notNull().references("ssf_streams.id").onDelete("cascade"),
    )
    .addColumn("jti", "varchar(64)", (c) => c.notNull())
    .addColumn("event_type", "varchar(256)", (c) => c.notNull())
    .addColumn("claims", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("keep_until", "bigint", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("lease_until", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error", "varchar(512)")
    .addUniqueConstraint("ssf_sets_stream_jti", ["stream_id", "jti"])
    .execute();
  await db.schema
    .createIndex("ssf_sets_queue")
    .ifNotExists()
    .on("ssf_sets")
    .columns(["stream_id", "seq"])
    .execute();
  await db.schema
    .createIndex("ssf_sets_due")
    .ifNotExists()
    .on("ssf_sets")
    .columns(["next_attempt_at"])
    .execute();
  await db.schema
    .createIndex("ssf_sets_keep_until")
    .ifNotExists()
    .on("ssf_sets")
    .column("keep_until")
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("ssf_sets").ifExists().execute();
  await db.schema.dropTable("ssf_stream_subjects").ifExists().execute();
  await db.schema.dropTable("ssf_streams").ifExists().execute();
}
