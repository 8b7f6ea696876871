import { type Kysely, sql } from "kysely";

/**
 * SQLite only: `change_marks`, one counter that triggers raise whenever a session or an account changes in a
 * way the session cache depends on, whoever makes the change: this process, the CLI in another process, an
 * operator's `sqlite3` shell. The session cache reads it (`Storage.externalChangeVersion`) to notice changes
 * made by other processes. It used `PRAGMA data_version` before, which changes on every commit by any other
 * connection, so a second connection of this process (the audit writer) would empty the cache at each of its
 * commits. PostgreSQL deployments tell other instances about revocations through Redis instead (nothing here).
 *
 * What counts: a session deleted, or updated in anything but `last_seen_at` (written every second for active
 * sessions); an account deleted, or its user name, display name or `active` changed. A migration that adds a
 * column the session cache reads must add it to the trigger.
 */
const SESSION_COLUMNS = [
  "id",
  "token_hash",
  "user_id",
  "created_at",
  "idle_timeout_ms",
  "expires_at",
  "auth_time",
  "amr",
  "remember",
  "user_agent",
  "ip",
];
const USER_COLUMNS = ["user_name", "display_name", "active"];

const BUMP = "update change_marks set version = version + 1 where id = 1;";

/** SQLite compiles parameters as `?`, PostgreSQL as `$1`: the one dialect test a migration can make offline. */
// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
function isSqlite(db: Kysely<any>): boolean {
  return db.selectFrom("change_marks").select("version").where("id", "=", 1).compile().sql.endsWith("?");
}

// biome-ignore lint/suspicious/noExplicitAny: migrations describe the schema as it was at this version
export async function up(db: Kysely<any>): Promise<void> {
  if (!isSqlite(db)) return;
  // Idempotent: SQLite migrations run outside a transaction (Kysely's SQLite adapter has no transactional DDL),
  // so a run cut short is completed by the next one instead of failing on what it already made.
  await sql`create table if not exists change_marks (id integer primary key check (id = 1), version integer not null)`.execute(
    db,
  );
  // Seeded with the time in microseconds, not 0: the cache only compares versions for equality, so a counter
  // recreated after a migration down and up again must not climb back to a value it has already seen (it would
  // take more than a million changes a second to catch up with the clock).
  await sql`insert or ignore into change_marks (id, version)
    values (1, cast((julianday('now') - 2440587.5) * 86400000000.0 as integer))`.execute(db);
  const triggers = [
    `create trigger if not exists change_marks_sessions_delete after delete on sessions begin ${BUMP} end`,
    `create trigger if not exists change_marks_sessions_update after update of ${SESSION_COLUMNS.join(", ")} on sessions begin ${BUMP} end`,
    `create trigger if not exists change_marks_users_delete after delete on users begin ${BUMP} end`,
    `create trigger if not exists change_marks_users_update after update of ${USER_COLUMNS.join(", ")} on users begin ${BUMP} end`,
  ];
  for (const trigger of triggers) await sql.raw(trigger).execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  if (!isSqlite(db)) return;
  for (const name of [
    "change_marks_sessions_delete",
    "change_marks_sessions_update",
    "change_marks_users_delete",
    "change_marks_users_update",
  ]) {
    await sql.raw(`drop trigger if exists ${name}`).execute(db);
  }
  await sql`drop table if exists change_marks`.execute(db);
}
