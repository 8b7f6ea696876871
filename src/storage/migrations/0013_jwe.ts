import type { Kysely } from "kysely";

/**
 * Encrypted tokens (JWE, RFC 7516; issue 24).
 *
 * - `oauth_clients`: what OpenID Connect Dynamic Client Registration §2 lets a client ask for: encrypted ID
 *   tokens (`id_token_encrypted_response_alg`/`_enc`), signed (`userinfo_signed_response_alg`) and encrypted
 *   (`userinfo_encrypted_response_alg`/`_enc`) userinfo answers, and where its encryption keys are when they are
 *   not inline in `jwks`: `jwks_uri`. Null means "not registered".
 * - `resource_servers`: an API may ask for access tokens encrypted to it: its public keys (`jwks`, a JWK Set as
 *   JSON) and the algorithms. Tessera cannot decrypt those tokens, so each one is also recorded in
 *   `access_tokens` (its SHA-256, as for opaque tokens, and its claims: `claims`) for introspection, userinfo
 *   and revocation.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("oauth_clients").addColumn("jwks_uri", "varchar(512)").execute();
  await db.schema.alterTable("oauth_clients").addColumn("userinfo_signed_alg", "varchar(16)").execute();
  for (const column of [
    "id_token_encryption_alg",
    "id_token_encryption_enc",
    "userinfo_encryption_alg",
    "userinfo_encryption_enc",
  ]) {
    await db.schema.alterTable("oauth_clients").addColumn(column, "varchar(32)").execute();
  }
  await db.schema.alterTable("resource_servers").addColumn("jwks", "text").execute();
  for (const column of ["access_token_encryption_alg", "access_token_encryption_enc"]) {
    await db.schema.alterTable("resource_servers").addColumn(column, "varchar(32)").execute();
  }
  // An encrypted access token's row holds the claims of the signed JWT inside it (JSON), never that JWT,
  // which a resource server would accept as it is. Null for opaque tokens (their columns say it all).
  await db.schema.alterTable("access_tokens").addColumn("claims", "text").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("access_tokens").dropColumn("claims").execute();
  for (const column of ["access_token_encryption_enc", "access_token_encryption_alg", "jwks"]) {
    await db.schema.alterTable("resource_servers").dropColumn(column).execute();
  }
  for (const column of [
    "userinfo_encryption_enc",
    "userinfo_encryption_alg",
    "id_token_encryption_enc",
    "id_token_encryption_alg",
    "userinfo_signed_alg",
    "jwks_uri",
  ]) {
    await db.schema.alterTable("oauth_clients").dropColumn(column).execute();
  }
}
