import SQLite from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  adminTokens,
  migrateToLatest,
  openStorage,
  parseDatabaseUrl,
  type Storage,
  signingKeys,
} from "../../src/storage/index.js";
import * as m0007 from "../../src/storage/migrations/0007_change_marks.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";
import { signingKeyRow } from "../helpers/signing-keys.js";

const keyRow = signingKeyRow;

/** Runs `body` with a fresh SQLite storage, closed afterwards whatever happens. */
async function withSqlite(body: (storage: Storage & { url: string }) => Promise<void>): Promise<void> {
  const storage = await openTestStorage("sqlite");
  try {
    await body(storage);
  } finally {
    await storage.close();
  }
}

describe.each(DIALECTS)("storage on %s", (dialect) => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await openTestStorage(dialect);
  });
  afterAll(async () => {
    await storage.close();
  });

  it("answers ping and reports its dialect", async () => {
    await expect(storage.ping()).resolves.toBeUndefined();
    expect(storage.dialect).toBe(dialect);
  });

  it("applies migrations once: a second run applies nothing", async () => {
    const again = await migrateToLatest(storage);
    expect(again.applied).toEqual([]);
  });

  it("stores epoch-millisecond times as numbers, not strings", async () => {
    const big = Date.UTC(2100, 0, 1);
    await signingKeys.insertSigningKey(storage.db, keyRow("time-1", "next", big));
    const rows = await signingKeys.listSigningKeys(storage.db);
    const row = rows.find((r) => r.kid === "time-1")!;
    expect(row.created_at).toBe(big);
    expect(typeof row.created_at).toBe("number");
  });

  it("a key transition happens once: the second identical transition loses", async () => {
    await signingKeys.insertSigningKey(storage.db, keyRow("k-once", "next"));
    const first = await signingKeys.transitionSigningKey(storage.db, {
      kid: "k-once",
      from: "next",
      to: "active",
      at: 2000,
    });
    const second = await signingKeys.transitionSigningKey(storage.db, {
      kid: "k-once",
      from: "next",
      to: "active",
      at: 3000,
    });
    expect([first, second]).toEqual([true, false]);
    const row = (await signingKeys.listSigningKeys(storage.db)).find((r) => r.kid === "k-once")!;
    expect(row.status).toBe("active");
    expect(row.activated_at).toBe(2000);
  });

  it("concurrent transitions of one key produce exactly one winner", async () => {
    await signingKeys.insertSigningKey(storage.db, keyRow("k-race", "next"));
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        signingKeys.transitionSigningKey(storage.db, {
          kid: "k-race",
          from: "next",
          to: "active",
          at: 5000 + i,
        }),
      ),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(1);
  });

  it("retiring sets retired_at and expires_at; expired retired keys are deleted, others kept", async () => {
    await signingKeys.insertSigningKey(storage.db, keyRow("k-old", "active"));
    await signingKeys.transitionSigningKey(storage.db, {
      kid: "k-old",
      from: "active",
      to: "retired",
      at: 10_000,
      expiresAt: 20_000,
    });
    expect(await signingKeys.deleteExpiredSigningKeys(storage.db, 19_999)).toBe(0);
    expect(await signingKeys.deleteExpiredSigningKeys(storage.db, 20_000)).toBe(1);
    const kids = (await signingKeys.listSigningKeys(storage.db)).map((r) => r.kid);
    expect(kids).not.toContain("k-old");
    expect(kids).toContain("k-once");
  });

  it("admin tokens: found by hash while active, not after revocation; revocation happens once", async () => {
    await adminTokens.insertAdminToken(storage.db, {
      id: "a1",
      name: "ops",
      token_hash: "hash-a1",
      created_at: 1,
      last_used_at: null,
      revoked_at: null,
    });
    expect((await adminTokens.findActiveAdminTokenByHash(storage.db, "hash-a1"))?.id).toBe("a1");
    expect(await adminTokens.findActiveAdminTokenByHash(storage.db, "hash-other")).toBeUndefined();
    expect(await adminTokens.revokeAdminToken(storage.db, "a1", 50)).toBe(true);
    expect(await adminTokens.revokeAdminToken(storage.db, "a1", 60)).toBe(false);
    expect(await adminTokens.findActiveAdminTokenByHash(storage.db, "hash-a1")).toBeUndefined();
  });

  it("admin token hashes are unique", async () => {
    const row = {
      id: "u1",
      name: "x",
      token_hash: "same",
      created_at: 1,
      last_used_at: null,
      revoked_at: null,
    };
    await adminTokens.insertAdminToken(storage.db, row);
    await expect(adminTokens.insertAdminToken(storage.db, { ...row, id: "u2" })).rejects.toThrow();
  });

  it("last use is written at most once a minute", async () => {
    await adminTokens.insertAdminToken(storage.db, {
      id: "t1",
      name: "x",
      token_hash: "hash-t1",
      created_at: 1,
      last_used_at: null,
      revoked_at: null,
    });
    const lastUsed = async () =>
      (await adminTokens.listAdminTokens(storage.db)).find((r) => r.id === "t1")!.last_used_at;
    await adminTokens.touchAdminToken(storage.db, "t1", 100_000);
    expect(await lastUsed()).toBe(100_000);
    await adminTokens.touchAdminToken(storage.db, "t1", 130_000);
    expect(await lastUsed()).toBe(100_000);
    await adminTokens.touchAdminToken(storage.db, "t1", 160_001);
    expect(await lastUsed()).toBe(160_001);
  });

  if (dialect === "sqlite") {
    it("runs SQLite in WAL mode", async () => {
      const { rows } = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(storage.db);
      expect(rows[0]?.journal_mode).toBe("wal");
    });
  } else {
    it("keeps its tables in its own schema", async () => {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(storage.db);
      expect(rows[0]?.schema).toMatch(/^t_[0-9a-f]{12}$/);
    });
  }
});

describe("DATABASE_URL parsing", () => {
  it("reads plain paths and sqlite: URLs as SQLite files", () => {
    expect(parseDatabaseUrl("./data/x.db")).toMatchObject({ dialect: "sqlite" });
    expect(parseDatabaseUrl("sqlite:/tmp/a.db")).toEqual({ dialect: "sqlite", path: "/tmp/a.db" });
    expect(parseDatabaseUrl("sqlite:///tmp/a.db")).toEqual({ dialect: "sqlite", path: "/tmp/a.db" });
    expect(parseDatabaseUrl(":memory:")).toEqual({ dialect: "sqlite", path: ":memory:" });
  });

  it("reads postgres URLs with an optional schema and hides the password in the description", () => {
    const loc = parseDatabaseUrl("postgres://u:s3cret@db:5432/tessera?schema=prod_1&sslmode=require");
    expect(loc).toMatchObject({ dialect: "postgres", schema: "prod_1" });
    if (loc.dialect !== "postgres") throw new Error("expected postgres");
    expect(loc.description).not.toContain("s3cret");
    expect(loc.connectionString).not.toContain("schema=");
    expect(loc.connectionString).toContain("sslmode=require");
  });

  it("refuses an unsafe schema name and unknown schemes", () => {
    expect(() => parseDatabaseUrl("postgres://db/x?schema=a;drop")).toThrow(/schema/);
    expect(() => parseDatabaseUrl("mysql://db/x")).toThrow(/unsupported scheme/);
    expect(() => parseDatabaseUrl("sqlite:")).toThrow(/empty/);
  });
});

describe("SQLite transactions with another connection on the same file", () => {
  let storage: Storage;
  let other: SQLite.Database;
  beforeAll(async () => {
    storage = await openTestStorage("sqlite");
    other = new SQLite(storage.description.slice("sqlite:".length), { fileMustExist: true, timeout: 0 });
  });
  afterAll(async () => {
    other.close();
    await storage.close();
  });

  it("begin IMMEDIATE: a read-then-write transaction holds the write lock, so another connection's commit cannot slip in between and fail it", async () => {
    await signingKeys.insertSigningKey(storage.db, keyRow("imm-1", "next"));
    const otherInsert = other.prepare(
      "insert into signing_keys (kid, alg, status, public_jwk, private_key, created_at) values (?, 'EdDSA', 'next', '{}', 'sealed', 1)",
    );
    let otherError: unknown;
    await storage.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom("signing_keys").select("kid").where("kid", "=", "imm-1").execute();
      expect(rows).toHaveLength(1);
      // With a deferred BEGIN this insert would commit, and the write below would fail with SQLITE_BUSY.
      try {
        otherInsert.run("imm-other");
      } catch (error) {
        otherError = error;
      }
      await signingKeys.insertSigningKey(trx, keyRow("imm-2", "next"));
    });
    expect((otherError as { code?: string } | undefined)?.code).toBe("SQLITE_BUSY");
    const kids = (await signingKeys.listSigningKeys(storage.db)).map((r) => r.kid);
    expect(kids).toEqual(expect.arrayContaining(["imm-1", "imm-2"]));
    expect(kids).not.toContain("imm-other");
    // Once the transaction has committed, the other connection writes as usual.
    otherInsert.run("imm-after");
    expect((await signingKeys.listSigningKeys(storage.db)).map((r) => r.kid)).toContain("imm-after");
  });
});

describe("the SQLite background writer (a second connection in a worker thread)", () => {
  const insert =
    "insert into signing_keys (kid, alg, status, public_jwk, private_key, created_at) values (?, 'EdDSA', 'next', '{}', 'sealed', ?)";
  const kids = async (storage: Storage) =>
    (await signingKeys.listSigningKeys(storage.db)).map((r) => r.kid).filter((k) => k.startsWith("bg-"));

  it("commits every row of a write, and the main connection reads them at once", async () => {
    await withSqlite(async (storage) => {
      const writer = storage.backgroundWriter!;
      expect(
        await writer.write(insert, [
          ["bg-1", 1],
          ["bg-2", 2],
          ["bg-3", 3],
        ]),
      ).toBe(true);
      expect((await kids(storage)).sort()).toEqual(["bg-1", "bg-2", "bg-3"]);
    });
  });

  it("writes all or nothing: a row that fails rolls back the rows before it", async () => {
    await withSqlite(async (storage) => {
      const writer = storage.backgroundWriter!;
      await expect(
        writer.write(insert, [
          ["bg-a", 1],
          ["bg-a", 2],
        ]),
      ).rejects.toThrow(/background write failed: .*UNIQUE/);
      expect(await kids(storage)).toEqual([]);
      // The connection is fine afterwards.
      expect(await writer.write(insert, [["bg-b", 1]])).toBe(true);
      expect(await kids(storage)).toEqual(["bg-b"]);
    });
  });

  it("refuses a query (rows to return) and bad SQL with an error, not a crash", async () => {
    await withSqlite(async (storage) => {
      const writer = storage.backgroundWriter!;
      await expect(writer.write("select * from signing_keys", [[]])).rejects.toThrow(/must not return rows/);
      await expect(writer.write("insert into nowhere values (?)", [[1]])).rejects.toThrow(/no such table/);
    });
  });

  it("waits for a main-connection transaction holding the write lock, then commits", async () => {
    await withSqlite(async (storage) => {
      let write: Promise<boolean> | undefined;
      await storage.db.transaction().execute(async (trx) => {
        await signingKeys.insertSigningKey(trx, keyRow("bg-main", "next"));
        write = storage.backgroundWriter!.write(insert, [["bg-worker", 1]]);
        await new Promise((resolve) => setTimeout(resolve, 30));
        // Inside the transaction: its own row, not the worker's (which waits for the write lock).
        const inside = await trx
          .selectFrom("signing_keys")
          .select("kid")
          .where("kid", "like", "bg-%")
          .execute();
        expect(inside.map((r) => r.kid)).toEqual(["bg-main"]);
      });
      expect(await write).toBe(true);
      expect((await kids(storage)).sort()).toEqual(["bg-main", "bg-worker"]);
    });
  });

  it("answers false (the caller writes itself) once the storage is closed", async () => {
    const storage = await openTestStorage("sqlite");
    const writer = storage.backgroundWriter!;
    await storage.close();
    expect(await writer.write(insert, [["bg-late", 1]])).toBe(false);
  });

  it("exists only for SQLite files", async () => {
    const memory = await openStorage(":memory:");
    const postgres = await openTestStorage("postgres");
    try {
      expect(memory.backgroundWriter).toBeUndefined();
      expect(postgres.backgroundWriter).toBeUndefined();
    } finally {
      await memory.close();
      await postgres.close();
    }
  });
});

describe("change_marks (migration 0007)", () => {
  it("can be applied again over itself (a run cut short is completed, not failed)", async () => {
    const storage = await openTestStorage("sqlite");
    const other = new SQLite(storage.description.slice("sqlite:".length), { fileMustExist: true });
    try {
      const version = storage.externalChangeVersion!;
      await m0007.up(storage.db);
      const before = version()!;
      other
        .prepare(
          "insert into users (id, user_name, user_name_key, active, created_at, updated_at, version) values ('cm', 'cm', 'cm', 1, 1, 1, 1)",
        )
        .run();
      expect(version()).toBe(before); // an insert is not a change the cache depends on
      other.prepare("update users set active = 0 where id = 'cm'").run();
      expect(version()).toBe(before + 1); // one raise per row: the triggers exist once
    } finally {
      other.close();
      await storage.close();
    }
  });

  it("without its row, the version falls back to any other connection's commits instead of going blind", async () => {
    const storage = await openTestStorage("sqlite");
    const other = new SQLite(storage.description.slice("sqlite:".length), { fileMustExist: true });
    try {
      const version = storage.externalChangeVersion!;
      await sql`delete from change_marks`.execute(storage.db);
      const before = version();
      other
        .prepare("insert into audit_events (id, at, type, outcome) values ('cm-a', 1, 't', 'success')")
        .run();
      expect(version()).not.toBe(before);
    } finally {
      other.close();
      await storage.close();
    }
  });

  it("inside a transaction it is the version when the transaction began, never its own uncommitted raises", async () => {
    const storage = await openTestStorage("sqlite");
    try {
      const version = storage.externalChangeVersion!;
      await storage.db
        .insertInto("users")
        .values({
          id: "tx",
          user_name: "tx",
          user_name_key: "tx",
          active: 1,
          created_at: 1,
          updated_at: 1,
          version: 1,
        })
        .execute();
      const before = version()!;
      expect(before).toBeTypeOf("number");
      let inside: number | undefined;
      await expect(
        storage.db.transaction().execute(async (trx) => {
          await trx.updateTable("users").set({ active: 0 }).where("id", "=", "tx").execute();
          inside = version();
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      expect(inside).toBe(before);
      expect(version()).toBe(before); // the raise was rolled back with the transaction
      // A transaction begun some other way has no recorded start: unknown, so the cache asks again later.
      await sql`begin`.execute(storage.db);
      try {
        expect(version()).toBeUndefined();
      } finally {
        await sql`rollback`.execute(storage.db);
      }
      await storage.db.updateTable("users").set({ active: 0 }).where("id", "=", "tx").execute();
      expect(version()).toBe(before + 1);
    } finally {
      await storage.close();
    }
  });

  it("starts from the clock, not 0, so a counter recreated by a migration down and up never repeats a value", async () => {
    await withSqlite(async (storage) => {
      const version = storage.externalChangeVersion!;
      const first = version()!;
      // Microseconds since the epoch when the migration ran (within the last minute).
      expect(Math.abs(first - Date.now() * 1000)).toBeLessThan(60_000_000);
      await sql`update change_marks set version = ${first + 5} where id = 1`.execute(storage.db);
      await m0007.down(storage.db);
      await new Promise((r) => setTimeout(r, 5));
      await m0007.up(storage.db);
      expect(version()!).toBeGreaterThan(first + 5);
    });
  });
});
