import type { Kysely } from "kysely";

/**
 * Token exchange (RFC 8693; issue 24): each client's exchange policy, next to its other metadata.
 *
 * - `token_exchange_audiences`: the resource servers (audiences, a JSON array) the client may ask exchanged
 *   tokens for; null means "the client's `resources`".
 * - `token_exchange_impersonation`: 1 when the client may ask for tokens without `act` (impersonation); 0, the
 *   default, allows delegation only. Whether the client may exchange at all is its `grant_types`.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("oauth_clients").addColumn("token_exchange_audiences", "text").execute();
  await db.schema
    .alterTable("oauth_clients")
    .addColumn("token_exchange_impersonation", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("oauth_clients").dropColumn("token_exchange_impersonation").execute();
  await db.schema.alterTable("oauth_clients").dropColumn("token_exchange_audiences").execute();
}
