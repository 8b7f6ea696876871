import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("oauth_clients")
    .addColumn("id", "varchar(128)", (c) => c.primaryKey())
    .addColumn("name", "varchar(256)", (c) => c.notNull())
    // SHA-256 of the client secret; null for public clients.
    .addColumn("secret_hash", "varchar(64)")
    .addColumn("auth_method", "varchar(32)", (c) => c.notNull())
    // JSON arrays.
    .addColumn("redirect_uris", "text", (c) => c.notNull())
    .addColumn("post_logout_redirect_uris", "text", (c) => c.notNull())
    .addColumn("grant_types", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    // Space-separated allow-list.
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("first_party", "integer", (c) => c.notNull())
    .addColumn("access_token_ttl", "integer", (c) => c.notNull())
    .addColumn("access_token_format", "varchar(16)", (c) => c.notNull())
    .addColumn("id_token_alg", "varchar(16)", (c) => c.notNull())
    .addColumn("require_par", "integer", (c) => c.notNull())
    // OpenID Connect Back-Channel Logout 1.0: where logout tokens are posted.
    .addColumn("backchannel_logout_uri", "text")
    // private_key_jwt: the client's public keys (a JWK Set, JSON).
    .addColumn("jwks", "text")
    // RFC 7592: SHA-256 of the registration access token of a dynamically registered client.
    .addColumn("registration_token_hash", "varchar(64)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("resource_servers")
    .addColumn("audience", "varchar(512)", (c) => c.primaryKey())
    .addColumn("name", "varchar(256)", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  // Validated authorization requests waiting for sign-in or consent (and, later, pushed requests).
  await db.schema
    .createTable("oauth_requests")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("params", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("authorization_codes")
    .addColumn("code_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("session_id", "varchar(64)")
    .addColumn("redirect_uri", "text", (c) => c.notNull())
    .addColumn("code_challenge", "varchar(128)", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    .addColumn("nonce", "varchar(512)")
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("acr", "varchar(128)", (c) => c.notNull())
    .addColumn("amr", "varchar(128)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("consumed_at", "bigint")
    // What the redemption issued, so that a second redemption can revoke it.
    .addColumn("issued_family_id", "varchar(64)")
    .addColumn("issued_jti", "varchar(64)")
    .addColumn("issued_jti_expires_at", "bigint")
    .execute();

  // Consent remembered per user, client and scope.
  await db.schema
    .createTable("oauth_consents")
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("scope", "text", (c) => c.notNull())
    // JSON array: the resources (audiences) consented to.
    .addColumn("resources", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("oauth_consents_pk", ["user_id", "client_id"])
    .execute();

  await db.schema
    .createTable("refresh_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("family_id", "varchar(64)", (c) => c.notNull())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("session_id", "varchar(64)")
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("acr", "varchar(128)", (c) => c.notNull())
    .addColumn("amr", "varchar(128)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    // Idle expiry of this token (min of idle and the family's absolute end).
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("family_expires_at", "bigint", (c) => c.notNull())
    // The access token issued with this refresh token, revoked with the family.
    .addColumn("access_jti", "varchar(64)")
    .addColumn("access_expires_at", "bigint")
    .addColumn("rotated_at", "bigint")
    // The successor pair, sealed with the master key, answered to retries inside the grace window.
    .addColumn("successor", "text")
    .addColumn("successor_until", "bigint")
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema.createIndex("refresh_tokens_family").on("refresh_tokens").column("family_id").execute();
  await db.schema.createIndex("refresh_tokens_user").on("refresh_tokens").column("user_id").execute();

  // private_key_jwt assertions seen (RFC 7523 §3: jti replay protection), kept until they expire.
  await db.schema
    .createTable("client_assertions")
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("jti", "varchar(256)", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("client_assertions_pk", ["client_id", "jti"])
    .execute();

  // RFC 7591 initial access tokens: who may register clients dynamically.
  await db.schema
    .createTable("initial_access_tokens")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    // null: unlimited.
    .addColumn("uses_left", "integer")
    .execute();

  // Device authorization grant (RFC 8628): one row per device code, until it is used or expires.
  await db.schema
    .createTable("device_codes")
    .addColumn("device_code_hash", "varchar(64)", (c) => c.primaryKey())
    // Normalised (upper case, no dash): what the user types.
    .addColumn("user_code", "varchar(16)", (c) => c.notNull().unique())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    // pending | approved | denied | consumed
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("user_id", "varchar(64)")
    .addColumn("session_id", "varchar(64)")
    .addColumn("auth_time", "bigint")
    .addColumn("acr", "varchar(128)")
    .addColumn("amr", "varchar(128)")
    .addColumn("interval_s", "integer", (c) => c.notNull())
    .addColumn("last_polled_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  // Opaque access tokens (clients that chose introspection only), stored as SHA-256 until they expire.
  await db.schema
    .createTable("access_tokens")
    .addColumn("token_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("jti", "varchar(64)", (c) => c.notNull())
    .addColumn("client_id", "varchar(128)", (c) =>
      c.notNull().references("oauth_clients.id").onDelete("cascade"),
    )
    .addColumn("subject", "varchar(128)", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("audience", "text", (c) => c.notNull())
    .addColumn("auth_time", "bigint")
    .addColumn("acr", "varchar(128)")
    .addColumn("amr", "varchar(128)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();

  // Revoked JWT access tokens, kept until they would have expired.
  await db.schema
    .createTable("revoked_access_tokens")
    .addColumn("jti", "varchar(64)", (c) => c.primaryKey())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    "revoked_access_tokens",
    "access_tokens",
    "device_codes",
    "initial_access_tokens",
    "client_assertions",
    "refresh_tokens",
    "oauth_consents",
    "authorization_codes",
    "oauth_requests",
    "resource_servers",
    "oauth_clients",
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
