/**
 * The event outbox at rest (src/events/outbox.ts and dispatcher.ts decide what it means; migration 0010 explains
 * the columns).
 *
 * - Writing: `insertOutboxEvents(db, events)` inserts events on `db`, which is the transaction of the change
 *   they describe; `withOutboxEvents(db, events, work)` runs a repository's write and the events' INSERT in one
 *   transaction (the one `db` is already in, or a new one), so a rolled-back change leaves no event and a
 *   committed one always has its events. This is the seam the repositories of changes use (users, sessions, API
 *   tokens, factors, keys, grants): they take an optional `events` argument and pass it here.
 * - Events that depend on what the change did (which sessions a sign-out ended, which tokens a revocation
 *   reached) are given as a function of the write's result, called inside the transaction.
 * - Events with no change (a failed sign-in) are appended in batches; on a SQLite file through the background
 *   writer (a second connection in a worker thread), like the audit log.
 * - Reading: rows after a position in `(tx, seq)` order. On PostgreSQL only rows of transactions older than
 *   every transaction still running are read (`tx < xmin` of the statement's snapshot): those can no longer be
 *   joined by a row that commits later with a smaller position, so a cursor that passes them skips nothing.
 *   On SQLite transactions are serial and `seq` is the commit order.
 * - Cursors: one row per sink. A sink is dispatched by one instance at a time: `claim` is a conditional UPDATE
 *   (free, expired, or already ours) that takes a lease; `advance` moves the position only while the lease is
 *   still ours; `release` frees it.
 */
import { type Kysely, type SqlBool, sql } from "kysely";
import type { BackgroundWriter, DialectName } from "../connect.js";
import type { Database } from "../database.js";

export type OutboxEventData = Readonly<Record<string, string | number | boolean | null>>;

/** An event as the outbox stores it (src/events/types.ts `DomainEvent` is one). */
export interface OutboxEvent {
  readonly id: string;
  readonly type: string;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly userId: string | null;
  readonly data: OutboxEventData;
}

/** The events of a change: a list, or a function of the write's result (called inside its transaction). */
export type EventsOf<T> = readonly OutboxEvent[] | ((result: T) => readonly OutboxEvent[]);

/** A place in the outbox: `(tx, seq)`, compared in that order. */
export interface OutboxPosition {
  tx: number;
  seq: number;
}

export const OUTBOX_START: OutboxPosition = Object.freeze({ tx: 0, seq: 0 });

export interface StoredOutboxEvent extends OutboxEvent {
  readonly position: OutboxPosition;
}

const rowOf = (event: OutboxEvent) => ({
  id: event.id,
  type: event.type,
  at: event.at,
  user_id: event.userId,
  data: JSON.stringify(event.data),
});

/** Inserts events on `db` (the change's transaction). Ids already stored are skipped. */
export async function insertOutboxEvents(
  db: Kysely<Database>,
  events: readonly OutboxEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto("event_outbox")
    .values(events.map(rowOf))
    .onConflict((conflict) => conflict.column("id").doNothing())
    .execute();
}

/**
 * Runs `work` and writes `events` in one transaction: the one `db` is in, or a new one. Without events (none
 * given, an empty list: the outbox is off) `work` runs as it would alone.
 */
export function withOutboxEvents<T>(
  db: Kysely<Database>,
  events: EventsOf<T> | undefined,
  work: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (events === undefined || (typeof events !== "function" && events.length === 0)) return work(db);
  const run = async (trx: Kysely<Database>) => {
    const result = await work(trx);
    await insertOutboxEvents(trx, typeof events === "function" ? events(result) : events);
    return result;
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}

/** Events written only if the write changed something (it answers a row count or a boolean). */
export function eventsIfChanged(
  events: readonly OutboxEvent[] | undefined,
): ((changed: number | boolean) => readonly OutboxEvent[]) | undefined {
  if (events === undefined || events.length === 0) return undefined;
  return (changed) => (changed === true || (typeof changed === "number" && changed > 0) ? events : []);
}

export interface EventOutboxRepository {
  /** Events that no change carries (failed sign-ins), in one transaction; ids already stored are skipped. */
  append(events: readonly OutboxEvent[]): Promise<void>;
  /** Up to `limit` committed events after `after`, in outbox order, that nothing can still precede. */
  readAfter(after: OutboxPosition, limit: number): Promise<StoredOutboxEvent[]>;
  /** Whether `readAfter(after, 1)` would answer an event. */
  hasAfter(after: OutboxPosition): Promise<boolean>;
  /** The sink's position (undefined: never dispatched). */
  cursor(sink: string): Promise<OutboxPosition | undefined>;
  /**
   * Takes the sink's lease until `leaseUntil` if it is free, expired at `now`, or already `owner`'s (the
   * cursor is created at the start on first use); its position when taken, undefined when another holds it.
   */
  claim(sink: string, owner: string, now: number, leaseUntil: number): Promise<OutboxPosition | undefined>;
  /** Moves the sink to `to` and extends the lease, only while `owner` holds it; true when it did. */
  advance(sink: string, owner: string, to: OutboxPosition, leaseUntil: number): Promise<boolean>;
  /** Frees the sink's lease if `owner` holds it. */
  release(sink: string, owner: string): Promise<void>;
  /** Records that these sinks are still in use (their cursors hold back the purge). */
  markActive(sinks: readonly string[], now: number): Promise<void>;
  /**
   * Deletes events written before `before` that every cursor active since `activeSince` has passed; how many.
   */
  purge(before: number, activeSince: number): Promise<number>;
}

/** Rows after `after` in `(tx, seq)` order. */
function after(position: OutboxPosition) {
  return sql<SqlBool>`(tx > ${position.tx} or (tx = ${position.tx} and seq > ${position.seq}))`;
}

/** PostgreSQL: rows of transactions older than every running one (see the module comment). */
const SETTLED = sql<SqlBool>`tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint`;

const COLUMNS = ["id", "type", "at", "user_id", "data"] as const;

/** The single-row INSERT the background writer runs per row: Kysely's SQL, its parameters in COLUMNS order. */
function singleRowInsert(db: Kysely<Database>): string {
  const markers = COLUMNS.map((column) => `\u0000outbox-column-${column}\u0000`);
  const row = Object.fromEntries(COLUMNS.map((column, i) => [column, markers[i]]));
  const compiled = db
    .insertInto("event_outbox")
    .values(row as unknown as ReturnType<typeof rowOf>)
    .onConflict((conflict) => conflict.column("id").doNothing())
    .compile();
  if (compiled.parameters.length !== COLUMNS.length || compiled.parameters.some((p, i) => p !== markers[i])) {
    throw new Error("event outbox: the single-row INSERT does not bind its columns in order");
  }
  return compiled.sql;
}

/** `writer`: where appended batches go when it can take them (`storage.backgroundWriter`). */
export function eventOutboxRepository(
  db: Kysely<Database>,
  dialect: DialectName,
  writer?: BackgroundWriter,
): EventOutboxRepository {
  const insertOne = writer ? singleRowInsert(db) : "";
  const settled = dialect === "postgres";

  const visible = (position: OutboxPosition) => {
    let query = db.selectFrom("event_outbox").where(after(position));
    if (settled) query = query.where(SETTLED);
    return query;
  };

  return {
    async append(events) {
      if (events.length === 0) return;
      const rows = events.map(rowOf);
      if (
        writer &&
        (await writer.write(
          insertOne,
          rows.map((row) => COLUMNS.map((c) => row[c])),
        ))
      )
        return;
      await insertOutboxEvents(db, events);
    },

    async readAfter(position, limit) {
      const rows = await visible(position)
        .select(["seq", "tx", "id", "type", "at", "user_id", "data"])
        .orderBy("tx")
        .orderBy("seq")
        .limit(limit)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        type: row.type,
        at: Number(row.at),
        userId: row.user_id,
        data: JSON.parse(row.data) as OutboxEventData,
        position: { tx: Number(row.tx), seq: Number(row.seq) },
      }));
    },

    async hasAfter(position) {
      const row = await visible(position).select("seq").limit(1).executeTakeFirst();
      return row !== undefined;
    },

    async cursor(sink) {
      const row = await db
        .selectFrom("event_sink_cursors")
        .select(["tx", "seq"])
        .where("sink", "=", sink)
        .executeTakeFirst();
      return row && { tx: Number(row.tx), seq: Number(row.seq) };
    },

    async claim(sink, owner, now, leaseUntil) {
      await db
        .insertInto("event_sink_cursors")
        .values({ sink, tx: 0, seq: 0, lease_owner: null, lease_until: 0, active_at: now })
        .onConflict((conflict) => conflict.column("sink").doNothing())
        .execute();
      const row = await db
        .updateTable("event_sink_cursors")
        .set({ lease_owner: owner, lease_until: leaseUntil, active_at: now })
        .where("sink", "=", sink)
        .where((eb) =>
          eb.or([eb("lease_owner", "is", null), eb("lease_until", "<=", now), eb("lease_owner", "=", owner)]),
        )
        .returning(["tx", "seq"])
        .executeTakeFirst();
      return row && { tx: Number(row.tx), seq: Number(row.seq) };
    },

    async advance(sink, owner, to, leaseUntil) {
      const result = await db
        .updateTable("event_sink_cursors")
        .set({ tx: to.tx, seq: to.seq, lease_until: leaseUntil })
        .where("sink", "=", sink)
        .where("lease_owner", "=", owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(sink, owner) {
      await db
        .updateTable("event_sink_cursors")
        .set({ lease_owner: null, lease_until: 0 })
        .where("sink", "=", sink)
        .where("lease_owner", "=", owner)
        .execute();
    },

    async markActive(sinks, now) {
      if (sinks.length === 0) return;
      await db
        .updateTable("event_sink_cursors")
        .set({ active_at: now })
        .where("sink", "in", [...sinks])
        .execute();
    },

    async purge(before, activeSince) {
      const floor = await db
        .selectFrom("event_sink_cursors")
        .select(["tx", "seq"])
        .where("active_at", ">=", activeSince)
        .orderBy("tx")
        .orderBy("seq")
        .limit(1)
        .executeTakeFirst();
      let query = db.deleteFrom("event_outbox").where("at", "<", before);
      if (floor) {
        const position = { tx: Number(floor.tx), seq: Number(floor.seq) };
        query = query.where(sql<SqlBool>`not ${after(position)}`);
      }
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
