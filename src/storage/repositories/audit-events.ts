/**
 * Audit events at rest (audit/audit-log.ts queues and batches them; this module only stores and reads).
 *
 * - Inserts skip ids already stored: a batch retried after a lost answer may repeat rows that committed.
 * - With a background writer (SQLite files: a second connection in a worker thread, storage/connect.ts), a
 *   batch is one call to it, running Kysely's single-row INSERT once per row; when the writer is not running
 *   (it answers false) the batch goes through Kysely as one multi-row INSERT.
 * - Ids sort by time, so listing by id (descending) is newest first on both dialects.
 */
import type { Kysely } from "kysely";
import type { BackgroundWriter } from "../connect.js";
import type { AuditEventsTable, Database } from "../database.js";

export type AuditEventRow = AuditEventsTable;

export interface AuditEventsRepository {
  /**
   * Stores the rows (one statement: callers keep batches to a few hundred rows), skipping ids already stored.
   * Rejects when nothing was written.
   */
  insert(rows: readonly AuditEventRow[]): Promise<void>;
  /** Matching events, newest first (by id), at most `limit`. */
  list(filter: { userId?: string; type?: string; limit: number }): Promise<AuditEventRow[]>;
}

/** Every column of an audit row, in the order the background writer binds them. */
const COLUMNS = [
  "id",
  "at",
  "type",
  "outcome",
  "user_id",
  "actor",
  "ip",
  "user_agent",
  "details",
] as const satisfies readonly (keyof AuditEventsTable)[];
// A column added to the table but not to the list above fails to compile here.
type Unlisted = Exclude<keyof AuditEventsTable, (typeof COLUMNS)[number]>;
const allColumns: [Unlisted] extends [never] ? true : never = true;
void allColumns;

const columnValues = (row: AuditEventRow): unknown[] => COLUMNS.map((column) => row[column]);

/** The single-row INSERT the background writer runs per row: Kysely's SQL, its parameters in COLUMNS order. */
function singleRowInsert(db: Kysely<Database>): string {
  const markers = COLUMNS.map((column) => `\u0000audit-column-${column}\u0000`);
  const row = Object.fromEntries(COLUMNS.map((column, i) => [column, markers[i]]));
  const compiled = db
    .insertInto("audit_events")
    .values(row as unknown as AuditEventsTable)
    .onConflict((conflict) => conflict.column("id").doNothing())
    .compile();
  if (compiled.parameters.length !== COLUMNS.length || compiled.parameters.some((p, i) => p !== markers[i])) {
    throw new Error("audit log: the single-row INSERT does not bind its columns in order");
  }
  return compiled.sql;
}

/** `writer`: where batches go when it can take them (`storage.backgroundWriter`); otherwise through `db`. */
export function auditEventsRepository(
  db: Kysely<Database>,
  writer?: BackgroundWriter,
): AuditEventsRepository {
  const insertOne = writer ? singleRowInsert(db) : "";
  return {
    async insert(rows) {
      if (writer && (await writer.write(insertOne, rows.map(columnValues)))) return;
      await db
        .insertInto("audit_events")
        .values([...rows])
        .onConflict((conflict) => conflict.column("id").doNothing())
        .execute();
    },
    list(filter) {
      let query = db.selectFrom("audit_events").selectAll();
      if (filter.userId) query = query.where("user_id", "=", filter.userId);
      if (filter.type) query = query.where("type", "=", filter.type);
      return query.orderBy("id", "desc").limit(filter.limit).execute();
    },
  };
}
