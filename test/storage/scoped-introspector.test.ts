import { randomBytes } from "node:crypto";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrateToLatest, openStorage } from "../../src/storage/index.js";
import { createTestDatabase, openTestStorage, TEST_POSTGRES_URL } from "../helpers/databases.js";

/** Creates and drops tables in a neighbouring schema until `stop` is set: the DDL that raced the migrator. */
async function churn(schema: string, stop: { done: boolean }): Promise<number> {
  const pool = new pg.Pool({ connectionString: TEST_POSTGRES_URL, max: 1 });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  let rounds = 0;
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    while (!stop.done) {
      await sql`create table ${sql.id(schema, "t")} (a serial primary key, b text, c text, d text)`.execute(
        db,
      );
      await sql`drop table ${sql.id(schema, "t")}`.execute(db);
      rounds++;
    }
  } finally {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await db.destroy();
  }
  return rounds;
}

describe("PostgreSQL introspection scoped to Tessera's schema", () => {
  const toClose: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of toClose) await close();
  });

  it("lists this schema's tables and columns, and nothing from a neighbouring schema", async () => {
    const storage = await openTestStorage("postgres");
    toClose.push(() => storage.close());
    const neighbour = await openTestStorage("postgres");
    toClose.push(() => neighbour.close());
    await sql`create table neighbour_only (x int)`.execute(neighbour.db);

    const tables = await storage.db.introspection.getTables();
    const names = tables.map((t) => t.name);
    expect(names).toContain("users");
    expect(names).toContain("user_emails");
    expect(names).not.toContain("neighbour_only");
    expect(names).not.toContain("kysely_migration");
    expect(tables.every((t) => t.schema === storage.schema)).toBe(true);
    const emails = tables.find((t) => t.name === "user_emails");
    const valueKey = emails?.columns.find((c) => c.name === "value_key");
    expect(valueKey).toMatchObject({ isNullable: false, dataType: "varchar" });

    const withInternal = await storage.db.introspection.getTables({ withInternalKyselyTables: true });
    expect(withInternal.map((t) => t.name)).toContain("kysely_migration");
  });

  it("migrates fresh schemas while another schema of the same database is changing", async () => {
    const stop = { done: false };
    const churning = churn(`churn_${randomBytes(4).toString("hex")}`, stop);
    const migrated: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const location = await createTestDatabase("postgres");
        const storage = await openStorage(location.url);
        try {
          const report = await migrateToLatest(storage);
          migrated.push(report.applied.at(-1) ?? "");
        } finally {
          await storage.close();
          await location.drop();
        }
      }
    } finally {
      stop.done = true;
    }
    const rounds = await churning;
    expect(rounds).toBeGreaterThan(0);
    expect(migrated).toHaveLength(6);
    expect(new Set(migrated).size).toBe(1);
  }, 60_000);
});
