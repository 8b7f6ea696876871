import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrepare, type Storage, signingKeys } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";
import { type KeyStatus, signingKeyRow } from "../helpers/signing-keys.js";

type Status = KeyStatus;
const keyRow = signingKeyRow;

describe.each(DIALECTS)("prepared queries on %s", (dialect) => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    const rows = [
      keyRow("p-a", "active", 100),
      keyRow("p-b", "next", 200),
      keyRow("p-c", "retired", 300),
      keyRow("p-d", "active", 400),
      keyRow("p-é", "next", 500),
    ];
    for (const row of rows) await signingKeys.insertSigningKey(storage.db, row);
  });
  afterAll(async () => {
    await storage.close();
  });

  it("answers exactly what the same query answers through Kysely, for each set of values", async () => {
    const byStatusAfter = storage.prepare((db, status: Status, after: number) =>
      db
        .selectFrom("signing_keys")
        .select(["kid", "status", "created_at"])
        .where("status", "=", status)
        .where("created_at", ">", after)
        .where("kid", "like", "p-%")
        .orderBy("created_at", "desc"),
    );
    const cases: Array<[Status, number]> = [
      ["active", 0],
      ["active", 100],
      ["next", 0],
      ["retired", 1000],
      ["none" as Status, 0], // no such status: no rows
    ];
    for (const [status, after] of cases) {
      const expected = await storage.db
        .selectFrom("signing_keys")
        .select(["kid", "status", "created_at"])
        .where("status", "=", status)
        .where("created_at", ">", after)
        .where("kid", "like", "p-%")
        .orderBy("created_at", "desc")
        .execute();
      expect(await byStatusAfter.all(status, after)).toEqual(expected);
    }
    // Independent of Kysely too: the rows the fixture inserted.
    expect((await byStatusAfter.all("active", 0)).map((r) => r.kid)).toEqual(["p-d", "p-a"]);
  });

  it("first answers the first row or undefined; values are bound, never spliced into SQL", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select(["kid", "created_at"]).where("kid", "=", kid),
    );
    expect(await byKid.first("p-é")).toEqual({ kid: "p-é", created_at: 500 });
    expect(await byKid.first("nope")).toBeUndefined();
    expect(await byKid.first("p-a' OR '1'='1")).toBeUndefined();
    expect(await byKid.first("p-%")).toBeUndefined();
  });

  it("keeps constants the builder bound (a limit) next to the values", async () => {
    const newest = storage.prepare((db, status: Status) =>
      db
        .selectFrom("signing_keys")
        .select("kid")
        .where("status", "=", status)
        .where("kid", "like", "p-%")
        .orderBy("created_at", "desc")
        .limit(1),
    );
    expect(await newest.all("active")).toEqual([{ kid: "p-d" }]);
    expect(await newest.all("next")).toEqual([{ kid: "p-é" }]);
  });

  it("refuses a placeholder spliced into the SQL text (sql.raw)", () => {
    expect(() =>
      storage.prepare((db, kid: string) =>
        db
          .selectFrom("signing_keys")
          .select("kid")
          .where(sql.raw(`kid = '${kid}'`) as never),
      ),
    ).toThrow(/transformed/);
  });

  it("refuses a placeholder the build transformed, however harmless the transformation looks", () => {
    const transforms: Array<(value: string) => unknown> = [
      (v) => v.toLowerCase(),
      (v) => v.normalize("NFKC"),
      (v) => v.trim(),
      (v) => `${v}`,
      (v) => v.slice(1),
      (v) => JSON.stringify(v),
      (v) => String(v),
    ];
    for (const transform of transforms) {
      expect(() =>
        storage.prepare((db, kid: string) =>
          db
            .selectFrom("signing_keys")
            .select("kid")
            .where("kid", "=", transform(kid) as string),
        ),
      ).toThrow(TypeError); // "transformed", or no such method on a placeholder: at declaration either way
    }
  });

  it("refuses a value the query does not use", () => {
    expect(() =>
      storage.prepare((db, kid: string, _unused: string) =>
        db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
      ),
    ).toThrow(/1 of 2 values are not bound/);
  });

  it("refuses anything but a SELECT", () => {
    expect(() =>
      storage.prepare((db, kid: string) => db.deleteFrom("signing_keys").where("kid", "=", kid) as never),
    ).toThrow(/only SELECT/);
  });

  it("refuses a SELECT whose common table expression writes", () => {
    expect(() =>
      storage.prepare((db, kid: string) =>
        db
          .with("gone", (q) => q.deleteFrom("signing_keys").where("kid", "=", kid).returning("kid"))
          .selectFrom("gone")
          .select("kid"),
      ),
    ).toThrow(/only SELECT/);
    // A SELECT in the CTE is fine.
    const viaCte = storage.prepare((db, kid: string) =>
      db
        .with("k", (q) => q.selectFrom("signing_keys").select("kid").where("kid", "=", kid))
        .selectFrom("k")
        .select("kid"),
    );
    return expect(viaCte.first("p-b")).resolves.toEqual({ kid: "p-b" });
  });

  it("waits while another caller holds Kysely's connection (db.connection()), then answers", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    let released = false;
    let answeredWhileHeld: boolean | undefined;
    let read: Promise<unknown> | undefined;
    await storage.db.connection().execute(async () => {
      read = byKid.first("p-a").then((row) => {
        answeredWhileHeld = !released;
        return row;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      released = true;
    });
    expect(await read).toEqual({ kid: "p-a" });
    if (dialect === "sqlite") expect(answeredWhileHeld).toBe(false);
  });

  it("firstNow answers at once when it can read directly (SQLite, connection free), else a promise of the same", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    const now = byKid.firstNow("p-a");
    if (dialect === "sqlite") expect(now).toEqual({ kid: "p-a" });
    else expect(now).toBeInstanceOf(Promise);
    expect(await now).toEqual({ kid: "p-a" });
    expect(await byKid.firstNow("p-none")).toBeUndefined();
    // While another caller holds the connection: a promise, answered once it is free.
    let held: unknown;
    await storage.db.connection().execute(async () => {
      held = byKid.firstNow("p-b");
      expect(held).toBeInstanceOf(Promise);
    });
    expect(await held).toEqual({ kid: "p-b" });
    const call = byKid.firstNow as unknown as (...values: unknown[]) => unknown;
    expect(() => call()).toThrow(/expected 1 values, got 0/);
  });

  it("rejects a call with the wrong number of values", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    const call = byKid.first as unknown as (...values: unknown[]) => Promise<unknown>;
    await expect(call()).rejects.toThrow(/expected 1 values, got 0/);
    await expect(call("p-a", "p-b")).rejects.toThrow(/expected 1 values, got 2/);
  });

  it("never sees another query's open transaction: a read during it answers after the rollback", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    let read: Promise<unknown> | undefined;
    await expect(
      storage.db.transaction().execute(async (trx) => {
        await signingKeys.insertSigningKey(trx, keyRow("p-uncommitted", "next", 900));
        read = byKid.first("p-uncommitted");
        // Give a read that wrongly took the connection time to finish inside the transaction.
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    expect(await read).toBeUndefined();
    expect(await byKid.first("p-uncommitted")).toBeUndefined();
  });

  it("sees a committed write at once", async () => {
    const byKid = storage.prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    expect(await byKid.first("p-later")).toBeUndefined();
    await storage.db.transaction().execute(async (trx) => {
      await signingKeys.insertSigningKey(trx, keyRow("p-later", "next", 950));
    });
    expect(await byKid.first("p-later")).toEqual({ kid: "p-later" });
  });

  it("without a direct reader (the default) runs the compiled query through Kysely with the same answers", async () => {
    const prepare = createPrepare(storage.db);
    const byKid = prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select(["kid", "status"]).where("kid", "=", kid),
    );
    expect(await byKid.first("p-c")).toEqual({ kid: "p-c", status: "retired" });
    expect(await byKid.all("missing")).toEqual([]);
  });
});

describe("prepared queries with a direct reader", () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage("sqlite");
    await signingKeys.insertSigningKey(storage.db, keyRow("d-a", "active", 100));
  });
  afterAll(async () => {
    await storage.close();
  });

  it("hands the compiled SQL and the bound values, constants in place, to the reader and answers its rows", async () => {
    const calls: Array<{ sql: string; parameters: readonly unknown[] }> = [];
    const prepare = createPrepare(storage.db, (sql, parameters) => {
      calls.push({ sql, parameters });
      return [{ kid: "from-reader" }];
    });
    const query = prepare((db, kid: string, after: number) =>
      db
        .selectFrom("signing_keys")
        .select("kid")
        .where("status", "=", "active")
        .where("kid", "=", kid)
        .where("created_at", ">", after),
    );
    expect(await query.all("x", 5)).toEqual([{ kid: "from-reader" }]);
    expect(await query.first("y", 6)).toEqual({ kid: "from-reader" });
    const expected = storage.db
      .selectFrom("signing_keys")
      .select("kid")
      .where("status", "=", "active")
      .where("kid", "=", "x")
      .where("created_at", ">", 5)
      .compile();
    expect(calls).toEqual([
      { sql: expected.sql, parameters: ["active", "x", 5] },
      { sql: expected.sql, parameters: ["active", "y", 6] },
    ]);
  });

  it("goes through Kysely when the reader declines (answers undefined)", async () => {
    let asked = 0;
    const prepare = createPrepare(storage.db, () => {
      asked++;
      return undefined;
    });
    const byKid = prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    expect(await byKid.first("d-a")).toEqual({ kid: "d-a" });
    expect(asked).toBe(1);
  });

  it("rejects (never throws synchronously) when the reader fails", async () => {
    const prepare = createPrepare(storage.db, () => {
      throw new Error("reader failed");
    });
    const byKid = prepare((db, kid: string) =>
      db.selectFrom("signing_keys").select("kid").where("kid", "=", kid),
    );
    const pending = byKid.first("d-a");
    await expect(pending).rejects.toThrow("reader failed");
  });
});
