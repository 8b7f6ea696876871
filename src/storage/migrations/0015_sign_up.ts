import type { Kysely } from "kysely";

/**
 * Self-service sign-up and invitations (issue 23, src/onboarding/).
 *
 * - `pending_sign_ups`: a sign-up waiting for its e-mail link. No account exists until the link is confirmed;
 *   the row holds the chosen user name, the address, the argon2id hash of the chosen password (never the
 *   password) and the SHA-256 of the link's token (never the token). `attempts` counts wrong passwords at the
 *   confirmation step; `used_at` makes the link single-use.
 * - `invitations`: an administrator's invitation of an e-mail address, optionally into groups (a JSON array of
 *   group ids). The link's token is stored as SHA-256 only. An invitation ends accepted (`accepted_at`,
 *   `user_id` of the account it created), revoked (`revoked_at`, `revoked_by`) or expired; the row is kept as
 *   the record of who invited whom. `user_id` is not a foreign key: the record outlives a deleted account.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("pending_sign_ups")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("user_name", "varchar(256)", (c) => c.notNull())
    .addColumn("email", "varchar(320)", (c) => c.notNull())
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("return_to", "varchar(2048)")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema
    .createIndex("pending_sign_ups_expires")
    .on("pending_sign_ups")
    .column("expires_at")
    .execute();

  await db.schema
    .createTable("invitations")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("email", "varchar(320)", (c) => c.notNull())
    .addColumn("email_key", "varchar(320)", (c) => c.notNull())
    .addColumn("groups", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "varchar(256)", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("accepted_at", "bigint")
    .addColumn("user_id", "varchar(64)")
    .addColumn("revoked_at", "bigint")
    .addColumn("revoked_by", "varchar(256)")
    .execute();
  await db.schema
    .createIndex("invitations_created")
    .on("invitations")
    .columns(["created_at", "id"])
    .execute();
  await db.schema.createIndex("invitations_email_key").on("invitations").column("email_key").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("invitations").ifExists().execute();
  await db.schema.dropTable("pending_sign_ups").ifExists().execute();
}
