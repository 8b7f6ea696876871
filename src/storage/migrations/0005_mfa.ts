import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  // Per-user "MFA required" (the organisation-wide switch is configuration).
  await db.schema
    .alterTable("users")
    .addColumn("mfa_required", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  // Software token: one TOTP authenticator per user. The secret is sealed with the master key.
  await db.schema
    .createTable("totp_factors")
    .addColumn("user_id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("secret_sealed", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    // Null while enrolment waits for its first correct code.
    .addColumn("confirmed_at", "bigint")
    // The last time step accepted: a code of that step or an earlier one is a replay.
    .addColumn("last_step", "bigint")
    .execute();

  // Recovery codes: SHA-256 of each, single use.
  await db.schema
    .createTable("recovery_codes")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull())
    .addColumn("code_hash", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema.createIndex("recovery_codes_user").on("recovery_codes").column("user_id").execute();

  // Hardware tokens: WebAuthn credentials (security keys and passkeys).
  await db.schema
    .createTable("webauthn_credentials")
    // The credential id, base64url.
    .addColumn("id", "varchar(1400)", (c) => c.primaryKey())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull())
    .addColumn("name", "varchar(256)", (c) => c.notNull())
    // COSE public key, base64url.
    .addColumn("public_key", "text", (c) => c.notNull())
    .addColumn("counter", "bigint", (c) => c.notNull())
    // JSON array of transports.
    .addColumn("transports", "text", (c) => c.notNull())
    .addColumn("aaguid", "varchar(64)", (c) => c.notNull())
    .addColumn("device_type", "varchar(16)", (c) => c.notNull())
    .addColumn("backed_up", "integer", (c) => c.notNull())
    .addColumn("discoverable", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .execute();
  await db.schema
    .createIndex("webauthn_credentials_user")
    .on("webauthn_credentials")
    .column("user_id")
    .execute();

  // WebAuthn challenges, single use, a few minutes.
  await db.schema
    .createTable("webauthn_challenges")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("user_id", "varchar(64)")
    .addColumn("purpose", "varchar(16)", (c) => c.notNull())
    .addColumn("challenge", "varchar(128)", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  // Sign-ins between the password and the second factor (or a required enrolment): the browser holds a random
  // token in a cookie, the server its SHA-256.
  await db.schema
    .createTable("pending_sign_ins")
    .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull())
    // What was proven so far (RFC 8176 values, space-separated) and when.
    .addColumn("amr", "varchar(128)", (c) => c.notNull())
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    // `verify` (a second factor is due) or `enrol` (MFA is required and the user has no factor yet).
    .addColumn("stage", "varchar(16)", (c) => c.notNull())
    .addColumn("remember", "integer", (c) => c.notNull())
    .addColumn("return_to", "text")
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "pending_sign_ins",
    "webauthn_challenges",
    "webauthn_credentials",
    "recovery_codes",
    "totp_factors",
  ]) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.alterTable("users").dropColumn("mfa_required").execute();
}
