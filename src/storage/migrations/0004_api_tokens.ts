import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  // Non-human principals: API clients that act as themselves, owned by an admin or a group.
  await db.schema
    .createTable("service_accounts")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("name", "varchar(256)", (c) => c.notNull())
    // Lower-cased NFKC name: unique, case-insensitively.
    .addColumn("name_key", "varchar(256)", (c) => c.notNull().unique())
    .addColumn("description", "text")
    .addColumn("owner_user_id", "varchar(64)")
    .addColumn("owner_group_id", "varchar(64)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("disabled_at", "bigint")
    .execute();

  // Personal access tokens (kind `personal`, owned by a user) and service-account keys (kind `service`).
  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("name", "varchar(256)", (c) => c.notNull())
    // SHA-256 of the token (the plain value is shown once and never stored).
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("user_id", "varchar(64)")
    .addColumn("service_account_id", "varchar(64)")
    // Space-separated scopes; JSON arrays of resource indicators and of CIDR blocks (null: any address).
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    .addColumn("allowed_ips", "text")
    .addColumn("expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "varchar(256)", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .addColumn("last_used_ip", "varchar(64)")
    .addColumn("revoked_at", "bigint")
    .addColumn("revoked_reason", "varchar(32)")
    .execute();
  await db.schema.createIndex("api_tokens_user").on("api_tokens").column("user_id").execute();
  await db.schema
    .createIndex("api_tokens_service_account")
    .on("api_tokens")
    .column("service_account_id")
    .execute();

  // What resource servers must forget early: revoked token ids (`jti`) and subjects whose earlier tokens all
  // died (`sub`). Read by the SDK's revocation feed; purged when nothing they name can still be valid.
  await db.schema
    .createTable("revocation_events")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("type", "varchar(8)", (c) => c.notNull())
    .addColumn("value", "varchar(512)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("keep_until", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("revocation_events_at").on("revocation_events").column("at").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["revocation_events", "api_tokens", "service_accounts"]) {
    await db.schema.dropTable(table).execute();
  }
}
