import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("user_name", "varchar(256)", (c) => c.notNull())
    // NFKC + lower case: userName is unique case-insensitively (RFC 7643 caseExact false).
    .addColumn("user_name_key", "varchar(256)", (c) => c.notNull().unique())
    .addColumn("external_id", "varchar(256)")
    .addColumn("display_name", "varchar(256)")
    .addColumn("given_name", "varchar(256)")
    .addColumn("family_name", "varchar(256)")
    .addColumn("active", "integer", (c) => c.notNull())
    .addColumn("password_hash", "text")
    .addColumn("password_updated_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("user_emails")
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("value", "varchar(320)", (c) => c.notNull())
    .addColumn("value_key", "varchar(320)", (c) => c.notNull())
    .addColumn("type", "varchar(32)")
    .addColumn("primary", "integer", (c) => c.notNull())
    .addColumn("position", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("user_emails_pk", ["user_id", "value_key"])
    .execute();
  await db.schema.createIndex("user_emails_value_key").on("user_emails").column("value_key").execute();

  await db.schema
    .createTable("groups")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("display_name_key", "varchar(256)", (c) => c.notNull().unique())
    .addColumn("external_id", "varchar(256)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("group_members")
    .addColumn("group_id", "varchar(64)", (c) => c.notNull().references("groups.id").onDelete("cascade"))
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addPrimaryKeyConstraint("group_members_pk", ["group_id", "user_id"])
    .execute();
  await db.schema.createIndex("group_members_user").on("group_members").column("user_id").execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .addColumn("idle_timeout_ms", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("amr", "varchar(200)", (c) => c.notNull())
    .addColumn("remember", "integer", (c) => c.notNull())
    .addColumn("user_agent", "varchar(512)")
    .addColumn("ip", "varchar(64)")
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("password_reset_tokens")
    .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema.createIndex("password_reset_user").on("password_reset_tokens").column("user_id").execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("type", "varchar(64)", (c) => c.notNull())
    .addColumn("outcome", "varchar(16)", (c) => c.notNull())
    .addColumn("user_id", "varchar(64)")
    .addColumn("actor", "varchar(256)")
    .addColumn("ip", "varchar(64)")
    .addColumn("user_agent", "varchar(512)")
    .addColumn("details", "text")
    .execute();
  await db.schema.createIndex("audit_events_at").on("audit_events").columns(["at", "id"]).execute();
  await db.schema.createIndex("audit_events_user").on("audit_events").columns(["user_id", "at"]).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "audit_events",
    "password_reset_tokens",
    "sessions",
    "group_members",
    "groups",
    "user_emails",
    "users",
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
