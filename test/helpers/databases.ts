/**
 * One helper that runs a test on SQLite and on PostgreSQL (each run in its own file or schema).
 * PostgreSQL is 127.0.0.1:5432 database `test` unless TEST_DATABASE_URL says otherwise; a missing server is a
 * failure, not a skip.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { type DialectName, migrateToLatest, openStorage, type Storage } from "../../src/storage/index.js";

export const DIALECTS: readonly DialectName[] = ["sqlite", "postgres"];

export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  url: string;
  dialect: DialectName;
  /** Removes the file or schema. */
  drop(): Promise<void>;
}

/** A fresh, empty database location for `dialect`. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "tessera-test-"));
    return {
      url: join(dir, "tessera.db"),
      dialect,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const base = new URL(TEST_POSTGRES_URL);
  base.searchParams.set("schema", schema);
  return {
    url: base.href,
    dialect,
    drop: async () => {
      const admin = await openStorage(TEST_POSTGRES_URL);
      try {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db);
      } finally {
        await admin.close();
      }
    },
  };
}

/** Opens and migrates a fresh database; `close` also drops it. */
export async function openTestStorage(dialect: DialectName): Promise<Storage & { url: string }> {
  const location = await createTestDatabase(dialect);
  const storage = await openStorage(location.url);
  await migrateToLatest(storage);
  return {
    ...storage,
    url: location.url,
    async close() {
      await storage.close();
      await location.drop();
    },
  };
}
