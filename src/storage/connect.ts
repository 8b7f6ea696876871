/**
 * Opens the database named by `DATABASE_URL` behind one Kysely instance.
 *
 * - SQLite (default): a file path, `sqlite:<path>`, `file:<path>` or `:memory:`; better-sqlite3 12 in WAL
 *   mode with a busy timeout and foreign keys on. The parent folder is created.
 * - PostgreSQL: `postgres://` or `postgresql://` through a `pg` pool. `?schema=NAME` puts every table in that
 *   schema (created if missing), which is how tests isolate their runs. `int8` reads back as a JS number.
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import SQLite from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from "kysely";
import pg from "pg";
import { ConfigError } from "../lib/errors.js";
import type { Database } from "./database.js";
import { createPrepare, type DirectReader, type PrepareQuery } from "./prepared.js";
import { SchemaScopedPostgresDialect } from "./scoped-introspector.js";

export type DialectName = "sqlite" | "postgres";

export interface Storage {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** The database's location with any password removed: safe to log. */
  readonly description: string;
  /** The PostgreSQL schema the tables live in, when one was named with `?schema=`. */
  readonly schema: string | undefined;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  /**
   * Resolves when the database can take a write now; rejects otherwise (readiness). SQLite: rewrites
   * `PRAGMA user_version` with the value it has (nothing reads it; not the `change_marks` counter, whose raises
   * empty session caches). That commits one page to the WAL, so it fails as a real write does on a full disk
   * (SQLITE_FULL at COMMIT: a statement's changes stay in memory until then), a read-only file or an I/O
   * error, and a read would not: reads go on working on a full disk. PostgreSQL: `ping()` (a full disk there
   * is the server's, and its writes answer SQLSTATE 53100, which is mapped to 503 already).
   */
  probeWrite(): Promise<void>;
  /** A SELECT compiled once and run with new values (hot paths; see prepared.ts). */
  readonly prepare: PrepareQuery;
  /**
   * SQLite only: a number that changes whenever a session or an account changes in a way the session cache
   * depends on, by any connection (another process, such as the CLI, included): the `change_marks` counter
   * that triggers raise (migration 0007). Before that migration has run, `PRAGMA data_version`: any commit by
   * another connection. Caches use it to notice changes they did not make. Undefined while a transaction is
   * open on the connection (its uncommitted changes would count): ask again later.
   */
  readonly externalChangeVersion?: () => number | undefined;
  /**
   * SQLite only: the same counter as this connection sees it right now, the raises of its own open transaction
   * included. For a caller inside its own transaction that wants to know how far its writes moved it (the
   * sessions module, so the session cache need not empty itself over this process's own revocations).
   */
  readonly ownChangeVersion?: () => number;
  /** SQLite files only: writes run on a second connection in a worker thread (see `BackgroundWriter`). */
  readonly backgroundWriter?: BackgroundWriter;
  close(): Promise<void>;
}

export type DatabaseLocation =
  | { dialect: "sqlite"; path: string }
  | { dialect: "postgres"; connectionString: string; schema: string | undefined; description: string };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Parses a `DATABASE_URL`; throws `ConfigError` naming what is wrong. */
export function parseDatabaseUrl(value: string): DatabaseLocation {
  if (/^postgres(ql)?:\/\//.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError("DATABASE_URL is not a valid postgres:// URL");
    }
    const schema = url.searchParams.get("schema") ?? undefined;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new ConfigError(`DATABASE_URL: schema "${schema}" must match ${SCHEMA_NAME.source}`);
    }
    url.searchParams.delete("schema");
    const safe = new URL(url.href);
    if (safe.password) safe.password = "***";
    return { dialect: "postgres", connectionString: url.href, schema, description: safe.href };
  }
  if (value === ":memory:") return { dialect: "sqlite", path: ":memory:" };
  let path = value;
  if (path.startsWith("sqlite://")) path = path.slice("sqlite://".length);
  else if (path.startsWith("sqlite:")) path = path.slice("sqlite:".length);
  else if (path.startsWith("file:")) path = path.slice("file:".length);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith("sqlite:") && !value.startsWith("file:")) {
    throw new ConfigError(
      `DATABASE_URL: unsupported scheme in "${value.split(":")[0]}:"; use a file path, sqlite: or postgres://`,
    );
  }
  if (path === "") throw new ConfigError("DATABASE_URL: empty SQLite path");
  return { dialect: "sqlite", path: path === ":memory:" ? path : resolve(path) };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs several times what running a small
 * query costs. This keeps prepared statements by SQL text (least recently used out first). Safe because the
 * driver runs one query at a time on its single connection and Tessera never streams results (a statement
 * being iterated could not be reused meanwhile).
 */
function withStatementCache(database: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string): SQLite.Statement {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/**
 * A second SQLite connection in a worker thread, for work that must not run on the event loop:
 *
 * - WAL checkpoints. A checkpoint copies the WAL into the database file and, with `synchronous = NORMAL`,
 *   fsyncs both: milliseconds to tens of milliseconds. SQLite runs it inside the commit that takes the WAL past
 *   `wal_autocheckpoint` pages — on the event loop. Instead the worker runs `PRAGMA wal_checkpoint(PASSIVE)`
 *   every 250 ms (PASSIVE never waits for, nor blocks, readers or the writer). The main connection keeps a
 *   high `wal_autocheckpoint` only as a cap on the WAL when writes outpace the worker (a bulk import); if the
 *   worker fails, it goes back to SQLite's default.
 * The worker runs at normal priority, on purpose: it holds the database's write lock while it commits, and a
 * write on the main connection that meets the lock waits for it (busy_timeout) on the event loop, so a
 * deprioritised lock holder would make the event loop wait on the machine's least urgent thread.
 * - Background writes (`BackgroundWriter`): one statement run once per row, in one IMMEDIATE transaction on
 *   the worker's connection. The audit log writes its batches here: under password-hashing load its batch
 *   INSERT took 0.5–1.2 ms of event-loop time every 100 ms (docs/accounts.md, "Performance"). What this costs:
 *   the worker's commits are another connection's, so they must not be mistaken for another process's changes
 *   (the session cache watches the `change_marks` counter, not `PRAGMA data_version`), and a main-connection
 *   write that finds the worker holding the write lock waits for it (busy_timeout; the worker's transactions
 *   are short).
 */
export interface BackgroundWriter {
  /**
   * Runs `sql` (an INSERT, UPDATE or DELETE) once per entry of `rows` (its parameters), all in one
   * transaction on the worker's connection. Resolves true once committed; false, having done nothing, when
   * the worker is not running (stopped, or failed): the caller then writes through Kysely. Rejects when the
   * write failed (nothing of it committed), with SQLite's `code` on the error when SQLite gave one.
   */
  write(sql: string, rows: readonly (readonly unknown[])[]): Promise<boolean>;
}

const WAL_CAP_PAGES = 16384;
const CHECKPOINT_INTERVAL_MS = 250;
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
db.pragma("foreign_keys = ON");
db.pragma("synchronous = NORMAL");
const timer = setInterval(() => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
}, workerData.intervalMs);
const statements = new Map();
const runAll = db.transaction((statement, rows) => {
  for (const row of rows) statement.run(row);
});
parentPort.on("message", (message) => {
  if (message === "stop") {
    clearInterval(timer);
    db.close();
    parentPort.close();
    return;
  }
  const { id, sql, rows } = message;
  try {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      if (statement.reader) throw new TypeError("background writes must not return rows");
      if (statements.size >= 64) statements.delete(statements.keys().next().value);
      statements.set(sql, statement);
    }
    runAll.immediate(statement, rows);
    parentPort.postMessage({ id });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error), code: error && error.code });
  }
});
`;

interface SqliteWorker {
  writer: BackgroundWriter;
  stop(): Promise<void>;
}

function startWorker(database: SQLite.Database, path: string): SqliteWorker {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, path, intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  worker.unref();
  let stopping = false;
  let exited = false;
  let nextId = 0;
  const pending = new Map<number, { resolve: (done: boolean) => void; reject: (error: Error) => void }>();
  const failAll = (error: Error) => {
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  const fallback = () => {
    if (!stopping && database.open) database.pragma("wal_autocheckpoint = 1000");
  };
  worker.on("message", (message: { id: number; error?: string; code?: string }) => {
    const waiting = pending.get(message.id);
    if (waiting === undefined) return;
    pending.delete(message.id);
    if (pending.size === 0 && !stopping) worker.unref();
    if (message.error === undefined) waiting.resolve(true);
    // With SQLite's code (SQLITE_FULL, SQLITE_BUSY…), so that `isStorageUnavailable` recognises an outage.
    else
      waiting.reject(
        Object.assign(new Error(`background write failed: ${message.error}`), { code: message.code }),
      );
  });
  worker.on("error", (error) => {
    fallback();
    failAll(error);
  });
  worker.on("exit", () => {
    exited = true;
    fallback();
    failAll(new Error("background write failed: the SQLite worker stopped"));
  });
  database.pragma(`wal_autocheckpoint = ${WAL_CAP_PAGES}`);
  return {
    writer: {
      write(sql, rows) {
        if (exited || stopping) return Promise.resolve(false);
        return new Promise((resolve, reject) => {
          const id = nextId++;
          pending.set(id, { resolve, reject });
          // While a write is outstanding the worker keeps the process alive, so it is not lost at exit.
          if (pending.size === 1) worker.ref();
          worker.postMessage({ id, sql, rows });
        });
      },
    },
    async stop() {
      stopping = true;
      if (exited) return;
      const exit = new Promise((done) => worker.once("exit", done));
      worker.ref(); // until it has exited: an unref'd worker would not keep the process waiting for it
      worker.postMessage("stop");
      await exit;
    },
  };
}

/**
 * Kysely's SQLite driver, with three changes:
 * - It counts who holds its one connection (a query, a transaction, `db.connection()`): a prepared query reads
 *   directly only when nobody does (prepared.ts).
 * - Transactions begin IMMEDIATE: they take the write lock at the start, waiting for it (busy_timeout) if
 *   another connection holds it. A deferred transaction that reads and then writes would instead fail with
 *   SQLITE_BUSY(_SNAPSHOT) when another connection commits between its read and its write: the CLI in another
 *   process, or this process's own audit writer (a second connection in a worker thread).
 * - Its rollback does nothing when SQLite has already rolled the transaction back (see rollbackTransaction).
 */
class TrackedSqliteDriver extends SqliteDriver {
  held = 0;
  /** Called right after a transaction has begun (it holds the write lock and has written nothing yet). */
  onBegin: (() => void) | undefined;
  /** Called once it has committed or rolled back. */
  onEnd: (() => void) | undefined;
  /** Whether SQLite has a transaction open on the connection (better-sqlite3's `inTransaction`). */
  inTransaction: (() => boolean) | undefined;
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
    this.onBegin?.();
  }
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      // Also after a failed COMMIT, which can leave SQLite's transaction open (a deferred constraint) until Kysely
      // rolls it back: in between, the version is then unknown rather than stale.
      this.onEnd?.();
    }
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      // SQLite may already have rolled the transaction back itself: a COMMIT or a statement that failed with
      // SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM. A ROLLBACK then throws "cannot rollback - no transaction is
      // active", and Kysely would throw that in place of the error that explains the failure (a full disk: 503).
      if (this.inTransaction?.() === false) return;
      await super.rollbackTransaction(connection);
    } finally {
      this.onEnd?.();
    }
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    this.held++;
    return connection;
  }
  override async releaseConnection(): Promise<void> {
    this.held--;
    await super.releaseConnection();
  }
}

class TrackedSqliteDialect extends SqliteDialect {
  readonly driver: TrackedSqliteDriver;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.driver = new TrackedSqliteDriver(config);
  }
  override createDriver(): TrackedSqliteDriver {
    return this.driver;
  }
}

export async function openStorage(url: string): Promise<Storage> {
  const location = parseDatabaseUrl(url);
  if (location.dialect === "sqlite") {
    if (location.path !== ":memory:") mkdirSync(dirname(location.path), { recursive: true });
    const database = new SQLite(location.path);
    database.pragma("journal_mode = WAL");
    database.pragma("busy_timeout = 5000");
    database.pragma("foreign_keys = ON");
    database.pragma("synchronous = NORMAL");
    const statements = withStatementCache(database);
    const dialect = new TrackedSqliteDialect({ database: statements });
    const db = new Kysely<Database>({ dialect });
    const direct: DirectReader = (text, parameters) => {
      if (dialect.driver.held > 0 || database.inTransaction) return undefined;
      const statement = statements.prepare(text);
      if (!statement.reader) throw new TypeError("prepared queries must be SELECTs");
      if (statement.busy) return undefined;
      return statement.all(parameters);
    };
    const dataVersion = database.prepare("PRAGMA data_version").pluck();
    let marks: SQLite.Statement | undefined;
    const changeVersion = (): number => {
      try {
        marks ??= database.prepare("select version from change_marks where id = 1").pluck();
        const version = marks.get() as number | undefined;
        // The row gone would silence the triggers (they update it): fall back rather than go blind.
        if (version === undefined) throw new Error("change_marks has no row");
        return version;
      } catch {
        // Not migrated yet (or migrated down): every commit by another connection counts.
        marks = undefined;
        return -2 - (dataVersion.get() as number);
      }
    };
    // The version as committed when the current transaction began. No other connection can commit while the
    // transaction holds the write lock (it began IMMEDIATE), so until it ends that is the committed version;
    // reading the counter inside the transaction instead would see its own uncommitted raises.
    let versionAtBegin: number | undefined;
    dialect.driver.onBegin = () => {
      versionAtBegin = changeVersion();
    };
    dialect.driver.onEnd = () => {
      versionAtBegin = undefined;
    };
    dialect.driver.inTransaction = () => database.inTransaction;
    const worker = location.path === ":memory:" ? undefined : startWorker(database, location.path);
    const storage = makeStorage(db, "sqlite", `sqlite:${location.path}`, undefined, direct);
    return {
      ...storage,
      ...(worker ? { backgroundWriter: worker.writer } : {}),
      // Inside a transaction begun through Kysely: the version when it began (see above). Inside one begun some
      // other way: unknown (undefined), and the cache asks again at its next look-up.
      externalChangeVersion: () => (database.inTransaction ? versionAtBegin : changeVersion()),
      ownChangeVersion: changeVersion,
      // See Storage.probeWrite. Through the connection's mutex, so never inside another caller's transaction.
      async probeWrite() {
        await db.connection().execute(async (connection) => {
          const { rows } = await sql<{ user_version: number }>`pragma user_version`.execute(connection);
          const version = Number(rows[0]?.user_version ?? 0);
          if (!Number.isSafeInteger(version)) throw new Error("unexpected user_version");
          await sql.raw(`pragma user_version = ${version}`).execute(connection);
        });
      },
      async close() {
        await worker?.stop();
        await storage.close();
      },
    };
  }

  const types = {
    getTypeParser(oid: number, format?: "text" | "binary") {
      // int8 (20): our epoch-millisecond columns fit easily in a double.
      if (oid === 20) return (v: string) => Number(v);
      return pg.types.getTypeParser(oid, format);
    },
  } as unknown as pg.CustomTypesConfig;
  const pool = new pg.Pool({
    connectionString: location.connectionString,
    max: 10,
    // Bounded: a database that does not answer fails the request (503) instead of hanging it.
    connectionTimeoutMillis: 5000,
    types,
    ...(location.schema ? { options: `-c search_path=${location.schema}` } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  // Nor may a checked-out client's between two queries (a transaction awaiting its next statement when the
  // server goes down): pg emits that on the client itself, where no listener would make it an uncaught
  // exception. The next query on that client fails, and the pool drops it on release.
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  // With a named schema, introspection (which Kysely's migrator runs) looks at that schema only: see
  // scoped-introspector.ts for the failure that avoids.
  const dialect = location.schema
    ? new SchemaScopedPostgresDialect({ pool }, location.schema)
    : new PostgresDialect({ pool });
  const db = new Kysely<Database>({ dialect });
  if (location.schema) {
    await sql`create schema if not exists ${sql.id(location.schema)}`.execute(db);
  }
  return makeStorage(db, "postgres", location.description, location.schema);
}

function makeStorage(
  db: Kysely<Database>,
  dialect: DialectName,
  description: string,
  schema: string | undefined,
  direct?: DirectReader,
): Storage {
  return {
    db,
    dialect,
    description,
    schema,
    prepare: createPrepare(db, direct),
    async ping() {
      await sql`select 1`.execute(db);
    },
    // PostgreSQL (SQLite replaces it): the ping; see Storage.probeWrite.
    async probeWrite() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
