import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStorage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../helpers/databases.js";

const PASSWORD = "correct horse battery staple 42";

const tessera = runTessera;

describe.each(DIALECTS)("tessera users on %s", (dialect) => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    env = { DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db.drop();
  });

  it("creates a user with a password read from stdin, never from the arguments", async () => {
    const r = await tessera(
      [
        "users",
        "create",
        "alice",
        "--email",
        "alice@example.test",
        "--display-name",
        "Alice A",
        "--password-stdin",
      ],
      env,
      `${PASSWORD}\n`,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Created user alice \(id [0-9a-f-]{36}\)\n$/);
    const storage = await openStorage(db.url);
    try {
      const row = await storage.db
        .selectFrom("users")
        .selectAll()
        .where("user_name", "=", "alice")
        .executeTakeFirstOrThrow();
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
    } finally {
      await storage.close();
    }
  });

  it("refuses a duplicate user name (exit 1) and a weak password (exit 1) with a clear message", async () => {
    const dup = await tessera(["users", "create", "ALICE"], env);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already exists/);
    const weak = await tessera(["users", "create", "bob", "--password-stdin"], env, "password\n");
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/at least 15 characters/);
  });

  it("lists users as a table and as JSON, without password hashes", async () => {
    const table = await tessera(["users", "list"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/userName[\s\S]*alice\s+Alice A\s+alice@example\.test\s+yes\s+set/);
    const json = await tessera(["users", "list", "--json"], env);
    const users = JSON.parse(json.stdout) as { userName: string; hasPassword: boolean }[];
    expect(users.map((u) => u.userName)).toEqual(["alice"]);
    expect(users[0]!.hasPassword).toBe(true);
    expect(json.stdout).not.toContain("argon2");
  });

  it("sets a password, disables and enables a user; an unknown user exits 1", async () => {
    const next = "a different strong passphrase";
    expect(
      (await tessera(["users", "set-password", "alice", "--password-stdin"], env, `${next}\n`)).code,
    ).toBe(0);
    const disabled = await tessera(["users", "disable", "Alice"], env);
    expect(disabled).toMatchObject({ code: 0, stdout: "Disabled alice\n" });
    const listed = await tessera(["users", "list", "--json"], env);
    expect((JSON.parse(listed.stdout) as { active: boolean }[])[0]!.active).toBe(false);
    expect((await tessera(["users", "enable", "alice"], env)).code).toBe(0);
    const missing = await tessera(["users", "disable", "nobody"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no user named "nobody"/);
    const usage = await tessera(["users", "frobnicate"], env);
    expect(usage.code).toBe(2);
  });
});
