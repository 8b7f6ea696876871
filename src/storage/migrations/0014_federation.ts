import type { Kysely } from "kysely";

/**
 * Sign-in with upstream identity providers (issue 23, src/federation/).
 *
 * - `identity_providers`: each configured upstream (OpenID Connect, a preset, or GitHub's OAuth 2.0). The client
 *   secret and the generated `private_key_jwt` key are sealed with the master key; JSON columns hold lists and
 *   mappings. `authorization_endpoint` is what discovery last found (the sign-in page's CSP allows forms to
 *   lead there).
 * - `linked_identities`: an upstream account (provider, subject) linked to one Tessera user; a user links at most
 *   one account per provider.
 * - `federation_states`: one authorization round trip at an upstream, found by the SHA-256 of `state` and bound
 *   to the browser (the SHA-256 of a cookie); single use (taken by a conditional DELETE).
 * - `federation_pending_links`: an upstream account that signed in but is linked to nobody, waiting for the user
 *   to prove they own an existing account (or to create one); the profile kept there holds no upstream token.
 * - `federated_sessions`: which provider a session came from (for upstream logout on sign-out).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("identity_providers")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("kind", "varchar(16)", (c) => c.notNull())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("issuer", "varchar(2048)", (c) => c.notNull())
    .addColumn("client_id", "varchar(512)", (c) => c.notNull())
    .addColumn("client_auth", "varchar(32)", (c) => c.notNull())
    .addColumn("client_secret_sealed", "text")
    .addColumn("private_key_sealed", "text")
    .addColumn("public_jwk", "text")
    .addColumn("scopes", "varchar(2048)", (c) => c.notNull())
    .addColumn("jit", "integer", (c) => c.notNull())
    .addColumn("trust_email", "integer", (c) => c.notNull())
    .addColumn("satisfies_mfa", "integer", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull())
    .addColumn("allow_private_network", "integer", (c) => c.notNull())
    .addColumn("upstream_logout", "integer", (c) => c.notNull())
    .addColumn("claim_mapping", "text", (c) => c.notNull())
    .addColumn("group_mapping", "text", (c) => c.notNull())
    .addColumn("allowed_domains", "text", (c) => c.notNull())
    .addColumn("allowed_tenants", "text", (c) => c.notNull())
    .addColumn("api_url", "varchar(2048)")
    .addColumn("authorization_endpoint", "varchar(2048)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("linked_identities")
    .addColumn("provider_id", "varchar(64)", (c) =>
      c.notNull().references("identity_providers.id").onDelete("cascade"),
    )
    .addColumn("subject", "varchar(512)", (c) => c.notNull())
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("email", "varchar(512)")
    .addColumn("linked_at", "bigint", (c) => c.notNull())
    .addColumn("last_sign_in_at", "bigint")
    .addPrimaryKeyConstraint("linked_identities_pk", ["provider_id", "subject"])
    .addUniqueConstraint("linked_identities_user_provider", ["user_id", "provider_id"])
    .execute();

  await db.schema
    .createTable("federation_states")
    .addColumn("state_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("browser_hash", "varchar(64)", (c) => c.notNull())
    .addColumn("provider_id", "varchar(64)", (c) =>
      c.notNull().references("identity_providers.id").onDelete("cascade"),
    )
    .addColumn("nonce", "varchar(128)", (c) => c.notNull())
    .addColumn("code_verifier_sealed", "text", (c) => c.notNull())
    .addColumn("intent", "varchar(16)", (c) => c.notNull())
    .addColumn("user_id", "varchar(64)")
    .addColumn("return_to", "varchar(2048)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("federation_states_expires")
    .on("federation_states")
    .column("expires_at")
    .execute();

  await db.schema
    .createTable("federation_pending_links")
    .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("provider_id", "varchar(64)", (c) =>
      c.notNull().references("identity_providers.id").onDelete("cascade"),
    )
    .addColumn("subject", "varchar(512)", (c) => c.notNull())
    .addColumn("profile", "text", (c) => c.notNull())
    .addColumn("return_to", "varchar(2048)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("federated_sessions")
    .addColumn("session_id", "varchar(64)", (c) =>
      c.primaryKey().references("sessions.id").onDelete("cascade"),
    )
    .addColumn("provider_id", "varchar(64)", (c) =>
      c.notNull().references("identity_providers.id").onDelete("cascade"),
    )
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("federated_sessions").ifExists().execute();
  await db.schema.dropTable("federation_pending_links").ifExists().execute();
  await db.schema.dropTable("federation_states").ifExists().execute();
  await db.schema.dropTable("linked_identities").ifExists().execute();
  await db.schema.dropTable("identity_providers").ifExists().execute();
}
