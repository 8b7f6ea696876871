import type { Kysely } from "kysely";

// Migrations take `Kysely<any>` by design: they describe the schema as it was at that version.
// biome-ignore lint/suspicious/noExplicitAny: see above
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("signing_keys")
    .addColumn("kid", "varchar(128)", (c) => c.primaryKey())
    .addColumn("alg", "varchar(16)", (c) => c.notNull())
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("public_jwk", "text", (c) => c.notNull())
    .addColumn("private_key", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("activated_at", "bigint")
    .addColumn("retired_at", "bigint")
    .addColumn("expires_at", "bigint")
    .execute();
  await db.schema
    .createIndex("signing_keys_alg_status")
    .on("signing_keys")
    .columns(["alg", "status"])
    .execute();

  await db.schema
    .createTable("admin_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("name", "varchar(200)", (c) => c.notNull())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .addColumn("revoked_at", "bigint")
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("admin_tokens").execute();
  await db.schema.dropTable("signing_keys").execute();
}
