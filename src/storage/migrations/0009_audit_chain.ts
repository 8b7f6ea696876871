import type { Kysely } from "kysely";

/**
 * The tamper-evident audit trail (issue 24; docs/events.md, "Audit trail").
 *
 * - `audit_events` gains its place in a hash chain: `chain_id` (one chain per audit log instance: a process, or a
 *   restart of its chain after a write given up), `seq` (1, 2, … within the chain), `prev_hash` and `hash`
 *   (lowercase hex SHA-256; see `audit/record-hash.ts`). The index on (chain_id, seq) is not unique on purpose: a
 *   row inserted behind Tessera's back with a seq already taken must not make Tessera's own write of that seq
 *   fail (events would be lost); `tessera audit verify` reports the duplicate instead.
 * - Rows stored before this migration keep null chain columns: they were never protected and are reported as
 *   unchained (not as tampering) as long as they are older than the first chained record.
 * - `audit_checkpoints`: a chain's head (seq and hash) signed as a JWS with Tessera's signing key, every N records
 *   or T seconds. `kid` repeats the JWS header's key id so that checkpoints signed with a retiring key can be found
 *   and signed again with the new one; the JWS alone is what a verifier trusts.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one column at a time.
  await db.schema.alterTable("audit_events").addColumn("chain_id", "varchar(64)").execute();
  await db.schema.alterTable("audit_events").addColumn("seq", "bigint").execute();
  await db.schema.alterTable("audit_events").addColumn("prev_hash", "varchar(64)").execute();
  await db.schema.alterTable("audit_events").addColumn("hash", "varchar(64)").execute();
  await db.schema.createIndex("audit_events_chain").on("audit_events").columns(["chain_id", "seq"]).execute();

  await db.schema
    .createTable("audit_checkpoints")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("chain_id", "varchar(64)", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("kid", "varchar(128)", (c) => c.notNull())
    .addColumn("jws", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("audit_checkpoints_chain")
    .on("audit_checkpoints")
    .columns(["chain_id", "seq"])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("audit_checkpoints").execute();
  await db.schema.dropIndex("audit_events_chain").execute();
  for (const column of ["hash", "prev_hash", "seq", "chain_id"]) {
    await db.schema.alterTable("audit_events").dropColumn(column).execute();
  }
}
