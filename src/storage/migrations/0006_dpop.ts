import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  // RFC 9449 §5.2: a client registered with dpop_bound_access_tokens must send a DPoP proof with every token
  // request.
  await db.schema
    .alterTable("oauth_clients")
    .addColumn("dpop_bound", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // The thumbprint (RFC 7638) a code is bound to (RFC 9449 §10: `dpop_jkt`, or the DPoP proof sent to PAR).
  await db.schema.alterTable("authorization_codes").addColumn("dpop_jkt", "varchar(64)").execute();
  // A public client's refresh tokens are bound to the key of the proof they were issued with (§5).
  await db.schema.alterTable("refresh_tokens").addColumn("dpop_jkt", "varchar(64)").execute();
  // Opaque access tokens carry their binding for introspection and userinfo (§6.2).
  await db.schema.alterTable("access_tokens").addColumn("dpop_jkt", "varchar(64)").execute();
  // Proofs seen (SHA-256 of jkt and jti), kept until they could no longer be accepted: a second use is a
  // replay (§11.1). In the database, so that every instance sees every proof.
  await db.schema
    .createTable("dpop_proofs")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("dpop_proofs_expires").on("dpop_proofs").column("expires_at").execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("dpop_proofs").execute();
  await db.schema.alterTable("access_tokens").dropColumn("dpop_jkt").execute();
  await db.schema.alterTable("refresh_tokens").dropColumn("dpop_jkt").execute();
  await db.schema.alterTable("authorization_codes").dropColumn("dpop_jkt").execute();
  await db.schema.alterTable("oauth_clients").dropColumn("dpop_bound").execute();
}
