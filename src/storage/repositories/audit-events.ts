/**
 * Audit events and their chain checkpoints at rest (audit/audit-log.ts queues, batches and chains them;
 * audit/trail.ts verifies and exports; this module only stores and reads).
 *
 * - Inserts skip ids already stored: a batch retried after a lost answer may repeat rows that committed (with the
 *   same chain columns: a retry never changes a row).
 * - With a background writer (SQLite files: a second connection in a worker thread, storage/connect.ts), a
 *   batch is one call to it, running Kysely's single-row INSERT once per row; when the writer is not running
 *   (it answers false) the batch goes through Kysely as one multi-row INSERT. Checkpoints go the same way.
 * - Ids sort by time, so listing by id (descending) is newest first on both dialects.
 * - A chain is read in pages ordered by (seq, id): two rows at one seq (one inserted behind Tessera's back; the
 *   (chain_id, seq) index is not unique on purpose) are both read, for the verifier to report.
 */
import type { Kysely, SelectQueryBuilder } from "kysely";
import type { BackgroundWriter } from "../connect.js";
import type { AuditCheckpointsTable, AuditEventsTable, Database } from "../database.js";

export type AuditEventRow = AuditEventsTable;
export type AuditCheckpointRow = AuditCheckpointsTable;

/** A chain's extent: its lowest and highest seq and how many rows it has. */
export interface AuditChainSummary {
  chain_id: string;
  first_seq: number;
  last_seq: number;
  count: number;
}

/** Which events an export covers: `at` within [since, until], of one of `types`. */
export interface AuditEventFilter {
  since?: number;
  until?: number;
  types?: readonly string[];
}

export interface AuditEventsRepository {
  /**
   * Stores the rows (one statement: callers keep batches to a few hundred rows), skipping ids already stored.
   * Rejects when nothing was written.
   */
  insert(rows: readonly AuditEventRow[]): Promise<void>;
  /** Matching events, newest first (by id), at most `limit`. */
  list(filter: { userId?: string; type?: string; limit: number }): Promise<AuditEventRow[]>;
  /** Every chain's extent, oldest chain (by id) first. */
  chains(): Promise<AuditChainSummary[]>;
  /**
   * A chain's rows ordered by (seq, id), from `fromSeq` to `toSeq` (inclusive, when given), after `after` (the
   * last row of the previous page), at most `limit`.
   */
  chainPage(query: {
    chainId: string;
    fromSeq?: number;
    toSeq?: number;
    after?: { seq: number; id: string };
    limit: number;
  }): Promise<AuditEventRow[]>;
  /** Rows outside any chain: how many, and the lowest and highest id. */
  unchained(): Promise<{ count: number; oldestId: string | null; newestId: string | null }>;
  /** The lowest id of a chained row (the chain's first record by time), or null. */
  firstChainedId(): Promise<string | null>;
  /** The oldest unchained row whose id is above `id`, or undefined. */
  unchainedAfter(id: string): Promise<AuditEventRow | undefined>;
  /** Unchained rows matching `filter`, by id, after `afterId`, at most `limit`. */
  unchainedPage(
    filter: AuditEventFilter,
    afterId: string | undefined,
    limit: number,
  ): Promise<AuditEventRow[]>;
  /** Per chain, the lowest and highest seq of its rows matching `filter`. */
  matchingExtents(
    filter: AuditEventFilter,
  ): Promise<{ chain_id: string; first_seq: number; last_seq: number }[]>;
  /** Stores a checkpoint (through the background writer when it takes it). */
  insertCheckpoint(row: AuditCheckpointRow): Promise<void>;
  /** A chain's checkpoints (or every chain's), by (chain_id, seq, id). */
  checkpoints(chainId?: string): Promise<AuditCheckpointRow[]>;
  /** For each chain, its checkpoints at the highest seq any of them signs. */
  latestCheckpoints(): Promise<AuditCheckpointRow[]>;
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
  "chain_id",
  "seq",
  "prev_hash",
  "hash",
] as const satisfies readonly (keyof AuditEventsTable)[];
// A column added to the table but not to the list above fails to compile here.
type Unlisted = Exclude<keyof AuditEventsTable, (typeof COLUMNS)[number]>;
const allColumns: [Unlisted] extends [never] ? true : never = true;
void allColumns;

const CHECKPOINT_COLUMNS = [
  "id",
  "chain_id",
  "seq",
  "hash",
  "at",
  "kid",
  "jws",
] as const satisfies readonly (keyof AuditCheckpointsTable)[];
type UnlistedCheckpoint = Exclude<keyof AuditCheckpointsTable, (typeof CHECKPOINT_COLUMNS)[number]>;
const allCheckpointColumns: [UnlistedCheckpoint] extends [never] ? true : never = true;
void allCheckpointColumns;

const columnValues = (row: AuditEventRow): unknown[] => COLUMNS.map((column) => row[column]);

/**
 * The single-row INSERT the background writer runs per row: Kysely's SQL, its parameters in `columns` order
 * (placeholders are bound by position, so the order is checked here once).
 */
function singleRowInsert(
  db: Kysely<Database>,
  table: "audit_events" | "audit_checkpoints",
  columns: readonly string[],
): string {
  const markers = columns.map((column) => `\u0000audit-column-${column}\u0000`);
  const row = Object.fromEntries(columns.map((column, i) => [column, markers[i]]));
  const compiled = db
    .insertInto(table)
    .values(row as never)
    .onConflict((conflict) => conflict.column("id").doNothing())
    .compile();
  if (compiled.parameters.length !== columns.length || compiled.parameters.some((p, i) => p !== markers[i])) {
    throw new Error("audit log: the single-row INSERT does not bind its columns in order");
  }
  return compiled.sql;
}

function filtered<O>(
  query: SelectQueryBuilder<Database, "audit_events", O>,
  filter: AuditEventFilter,
): SelectQueryBuilder<Database, "audit_events", O> {
  let q = query;
  if (filter.since !== undefined) q = q.where("at", ">=", filter.since);
  if (filter.until !== undefined) q = q.where("at", "<=", filter.until);
  if (filter.types !== undefined && filter.types.length > 0) q = q.where("type", "in", [...filter.types]);
  return q;
}

/** `writer`: where batches go when it can take them (`storage.backgroundWriter`); otherwise through `db`. */
export function auditEventsRepository(
  db: Kysely<Database>,
  writer?: BackgroundWriter,
): AuditEventsRepository {
  const insertOne = writer ? singleRowInsert(db, "audit_events", COLUMNS) : "";
  const insertCheckpointSql = writer ? singleRowInsert(db, "audit_checkpoints", CHECKPOINT_COLUMNS) : "";
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
    async chains() {
      const rows = await db
        .selectFrom("audit_events")
        .select((eb) => [
          "chain_id",
          eb.fn.min("seq").as("first_seq"),
          eb.fn.max("seq").as("last_seq"),
          eb.fn.countAll().as("count"),
          eb.fn.min("id").as("first_id"),
        ])
        .where("chain_id", "is not", null)
        .groupBy("chain_id")
        .execute();
      return rows
        .sort((a, b) => String(a.first_id).localeCompare(String(b.first_id)))
        .map((r) => ({
          chain_id: r.chain_id as string,
          first_seq: Number(r.first_seq),
          last_seq: Number(r.last_seq),
          count: Number(r.count),
        }));
    },
    chainPage({ chainId, fromSeq, toSeq, after, limit }) {
      let query = db.selectFrom("audit_events").selectAll().where("chain_id", "=", chainId);
      if (fromSeq !== undefined) query = query.where("seq", ">=", fromSeq);
      if (toSeq !== undefined) query = query.where("seq", "<=", toSeq);
      if (after !== undefined) {
        query = query.where((eb) =>
          eb.or([eb("seq", ">", after.seq), eb.and([eb("seq", "=", after.seq), eb("id", ">", after.id)])]),
        );
      }
      return query.orderBy("seq").orderBy("id").limit(limit).execute();
    },
    async unchained() {
      const row = await db
        .selectFrom("audit_events")
        .select((eb) => [
          eb.fn.countAll().as("count"),
          eb.fn.min("id").as("oldest"),
          eb.fn.max("id").as("newest"),
        ])
        .where("chain_id", "is", null)
        .executeTakeFirstOrThrow();
      return {
        count: Number(row.count),
        oldestId: (row.oldest as string | null) ?? null,
        newestId: (row.newest as string | null) ?? null,
      };
    },
    async firstChainedId() {
      const row = await db
        .selectFrom("audit_events")
        .select((eb) => eb.fn.min("id").as("id"))
        .where("chain_id", "is not", null)
        .executeTakeFirst();
      return (row?.id as string | null | undefined) ?? null;
    },
    unchainedAfter(id) {
      return db
        .selectFrom("audit_events")
        .selectAll()
        .where("chain_id", "is", null)
        .where("id", ">", id)
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
    },
    unchainedPage(filter, afterId, limit) {
      let query = filtered(db.selectFrom("audit_events").selectAll().where("chain_id", "is", null), filter);
      if (afterId !== undefined) query = query.where("id", ">", afterId);
      return query.orderBy("id").limit(limit).execute();
    },
    async matchingExtents(filter) {
      const rows = await filtered(
        db
          .selectFrom("audit_events")
          .select((eb) => ["chain_id", eb.fn.min("seq").as("first_seq"), eb.fn.max("seq").as("last_seq")])
          .where("chain_id", "is not", null),
        filter,
      )
        .groupBy("chain_id")
        .execute();
      return rows.map((r) => ({
        chain_id: r.chain_id as string,
        first_seq: Number(r.first_seq),
        last_seq: Number(r.last_seq),
      }));
    },
    async insertCheckpoint(row) {
      if (writer && (await writer.write(insertCheckpointSql, [CHECKPOINT_COLUMNS.map((c) => row[c])])))
        return;
      await db
        .insertInto("audit_checkpoints")
        .values(row)
        .onConflict((conflict) => conflict.column("id").doNothing())
        .execute();
    },
    checkpoints(chainId) {
      let query = db.selectFrom("audit_checkpoints").selectAll();
      if (chainId !== undefined) query = query.where("chain_id", "=", chainId);
      return query.orderBy("chain_id").orderBy("seq").orderBy("id").execute();
    },
    latestCheckpoints() {
      return db
        .selectFrom("audit_checkpoints as c")
        .selectAll("c")
        .where("c.seq", "=", (eb) =>
          eb
            .selectFrom("audit_checkpoints as d")
            .select((inner) => inner.fn.max("d.seq").as("seq"))
            .whereRef("d.chain_id", "=", "c.chain_id"),
        )
        .orderBy("c.chain_id")
        .orderBy("c.id")
        .execute();
    },
  };
}
