/**
 * A PostgreSQL connection the server ends while a transaction holds it between two statements (a restart, an
 * administrator's pg_terminate_backend, a failover) fails that transaction; it must not become an uncaught
 * exception that ends the process (pg emits the error on the checked-out client, where nothing listens).
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/storage/index.js";
import { openTestStorage } from "../helpers/databases.js";

describe("a PostgreSQL connection terminated inside a transaction", () => {
  let storage: Storage & { url: string };
  let other: Storage & { url: string };
  beforeAll(async () => {
    storage = await openTestStorage("postgres");
    other = await openTestStorage("postgres");
  });
  afterAll(async () => {
    await storage?.close();
    await other?.close();
  });

  it("fails the transaction, raises nothing uncaught, and the pool goes on", async () => {
    const uncaught: unknown[] = [];
    const listener = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", listener);
    try {
      const outcome = await storage.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          const pid = rows[0]!.pid;
          await sql`select pg_terminate_backend(${pid})`.execute(other.db);
          // The server's goodbye reaches the client while it waits here, between two statements.
          await new Promise((resolve) => setTimeout(resolve, 200));
          await sql`select 1`.execute(trx);
        })
        .then(
          () => "committed",
          (error: unknown) => error,
        );
      expect(outcome).not.toBe("committed");
      expect(uncaught).toEqual([]);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(storage.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      process.off("uncaughtException", listener);
    }
  });
});
