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
  it("manages groups and members by name, and a group confers no administrator right", async () => {
    expect((await tessera(["users", "create", "gina"], env)).code).toBe(0);
    const created = await tessera(["groups", "create", "Engineering"], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created group Engineering \(id [0-9a-f-]{36}\)\n$/);
    expect((await tessera(["groups", "add", "engineering", "gina"], env)).stdout).toBe(
      "Added gina to Engineering\n",
    );
    const shown = JSON.parse((await tessera(["groups", "show", "Engineering", "--json"], env)).stdout);
    expect(shown.members.map((m: { userName: string }) => m.userName)).toEqual(["gina"]);
    // The old admin group's name is just a name now.
    expect((await tessera(["groups", "create", "tessera-admins"], env)).code).toBe(0);
    expect((await tessera(["groups", "add", "tessera-admins", "gina"], env)).code).toBe(0);
    const admins = JSON.parse((await tessera(["users", "admins", "--json"], env)).stdout);
    expect(admins.map((a: { userName: string }) => a.userName)).not.toContain("gina");
    const unknown = await tessera(["groups", "add", "Engineering", "nobody"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user named "nobody"');
    expect((await tessera(["groups", "remove", "Engineering", "gina"], env)).code).toBe(0);
    const listed = JSON.parse((await tessera(["groups", "list", "--json"], env)).stdout);
    expect(listed.find((g: { displayName: string }) => g.displayName === "Engineering").members).toEqual([]);
    expect((await tessera(["groups", "delete", "Engineering"], env)).stdout).toBe(
      "Deleted group Engineering\n",
    );
    expect((await tessera(["groups", "show", "Engineering"], env)).code).toBe(1);
  });

  it("grants and revokes the administrator right, audited, and refuses doing it twice", async () => {
    expect((await tessera(["users", "create", "hank"], env)).code).toBe(0);
    expect((await tessera(["users", "grant-admin", "hank"], env)).stdout).toBe(
      "hank is now an administrator\n",
    );
    const twice = await tessera(["users", "grant-admin", "hank"], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("already an administrator");
    const admins = JSON.parse((await tessera(["users", "admins", "--json"], env)).stdout);
    expect(admins.find((a: { userName: string }) => a.userName === "hank")).toMatchObject({
      grantedBy: "cli",
    });
    expect((await tessera(["users", "revoke-admin", "hank"], env)).stdout).toBe(
      "hank is no longer an administrator\n",
    );
    expect((await tessera(["users", "revoke-admin", "hank"], env)).code).toBe(1);
  });
});
