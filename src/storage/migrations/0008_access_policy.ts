import { type Kysely, sql } from "kysely";

/**
 * The administrator right, and a per-user cut-off for access tokens (issue 19).
 *
 * - `administrators`: who holds Tessera's administrator right. It used to be membership of a group named by
 *   `TESSERA_ADMIN_GROUP`, which SCIM (an outside HR system's credential) could create and fill. The right is now
 *   a row here, granted and removed only by `tessera users grant-admin|revoke-admin` and the admin API. Members
 *   of the old default group (`tessera-admins`) keep the right.
 * - `users.tokens_not_before`: epoch milliseconds (a whole second); access tokens of the user issued (`iat`)
 *   before it are refused. Events that end all of a user's access (password reset, disable, …) move it, which
 *   also reaches access tokens no refresh-token family records.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("administrators")
    .ifNotExists()
    .addColumn("user_id", "varchar(64)", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
    .addColumn("granted_at", "bigint", (c) => c.notNull())
    .addColumn("granted_by", "varchar(256)", (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable("users")
    .addColumn("tokens_not_before", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`insert into administrators (user_id, granted_at, granted_by)
    select distinct gm.user_id, cast(${Date.now()} as bigint), 'migration:tessera-admins'
    from group_members gm join groups g on g.id = gm.group_id
    where g.display_name_key = 'tessera-admins'`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("users").dropColumn("tokens_not_before").execute();
  await db.schema.dropTable("administrators").ifExists().execute();
}
