import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrepare, type Storage, signingKeys } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

const keyRow = (kid: string, status: "next" | "active" | "retired", created: number) => ({
  kid,
  alg: "EdDSA",
  status,
  public_jwk: "{}",
  private_key: "sealed",
  created_at: created,
  activated_at: status === "active" ? created : null,
  retired_at: null,
  expires_at: null,
});

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
    const byStatusAfter = storage.prepare((db, status: string, after: number) =>
      db
        .selectFrom("signing_keys")
        .select(["kid", "status", "created_at"])
        .where("status", "=", status)
        .where("created_at", ">", after)
        .where("kid", "like", "p-%")
        .orderBy("created_at", "desc"),
    );
    const cases: Array<[string, number]> = [
      ["active", 0],
      ["active", 100],
      ["next", 0],
      ["retired", 1000],
      ["none", 0],
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
    const newest = storage.prepare((db, status: string) =>
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

  it("refuses a placeholder spliced into the SQL text", () => {
    expect(() =>
      storage.prepare((db, kid: string) =>
        db.selectFrom("signing_keys").select("kid").where(sql.raw(`kid = '${kid}'`) as never),
      ),
    ).toThrow(/SQL text/);
  });

  it("refuses a placeholder the build transformed", () => {
    expect(() =>
      storage.prepare((db, kid: string) =>
        db.selectFrom("signing_keys").select("kid").where("kid", "=", kid.toLowerCase().slice(1)),
      ),
    ).toThrow(/transformed|SQL text|not bound/);
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
