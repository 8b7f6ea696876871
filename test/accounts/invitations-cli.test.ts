/**
 * `tessera invitations …` through the real built CLI (`dist/src/cli/main.js`, a child process per command) on
 * SQLite and PostgreSQL: create (groups by name or id, lifetime, the printed link), list, revoke, and refusals
 * with their exit codes (1: refused, 2: bad usage).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/crypto/index.js";
import { openStorage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../helpers/databases.js";

describe.each(DIALECTS)("tessera invitations on %s", (dialect) => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    env = { DATABASE_URL: db.url, TESSERA_ISSUER: "https://id.example.test" };
    expect((await runTessera(["groups", "create", "Engineering"], env)).code).toBe(0);
    expect((await runTessera(["users", "create", "taken", "--email", "taken@example.test"], env)).code).toBe(
      0,
    );
  });
  afterAll(async () => {
    await db.drop();
  });

  async function rows() {
    const storage = await openStorage(db.url);
    try {
      return await storage.db.selectFrom("invitations").selectAll().orderBy("created_at").execute();
    } finally {
      await storage.close();
    }
  }

  it("invites an address into a group by name; --show-link prints the link, stored only as a hash", async () => {
    const r = await runTessera(
      [
        "invitations",
        "create",
        "ada@example.test",
        "--groups",
        "engineering",
        "--expires-in",
        "3600",
        "--show-link",
      ],
      env,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [summary, link] = r.stdout.trimEnd().split("\n");
    expect(summary).toMatch(
      /^Invited ada@example\.test \(id [0-9a-f-]{36}\); the link expires \d{4}-\d\d-\d\dT/,
    );
    const token = /^https:\/\/id\.example\.test\/invitations\/accept\?token=(tsr_inv_[0-9A-Za-z]+)$/.exec(
      link ?? "",
    )?.[1];
    expect(token).toBeDefined();
    const [row] = await rows();
    expect(row).toMatchObject({
      email: "ada@example.test",
      created_by: "cli",
      token_hash: hashToken(token!),
    });
    expect(row!.expires_at - row!.created_at).toBe(3600_000);
    expect(JSON.parse(row!.groups)).toHaveLength(1);
  });

  it("without --show-link and without SMTP it says where the mail went", async () => {
    const r = await runTessera(["invitations", "create", "grace@example.test"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Invited grace@example\.test/);
    expect(r.stdout).not.toContain("tsr_inv_");
    expect(r.stderr).toContain("--show-link");
  });

  it("lists newest first as a table and as JSON, by status", async () => {
    const table = await runTessera(["invitations", "list"], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^id\s+email\s+status\s+groups\s+createdBy/);
    expect(lines[1]).toContain("grace@example.test");
    expect(lines[2]).toContain("ada@example.test");
    const json = await runTessera(["invitations", "list", "--json", "--status", "pending"], env);
    const listed = JSON.parse(json.stdout) as { email: string; status: string }[];
    expect(listed.map((i) => i.email)).toEqual(["grace@example.test", "ada@example.test"]);
    expect(listed.every((i) => i.status === "pending")).toBe(true);
    expect(json.stdout).not.toContain("token");
    const none = await runTessera(["invitations", "list", "--status", "revoked"], env);
    expect(none.stdout).toBe("(none)\n");
  });

  it("revokes by id; the invitation is then revoked", async () => {
    const id = (await rows()).find((r) => r.email === "grace@example.test")!.id;
    const r = await runTessera(["invitations", "revoke", id], env);
    expect(r).toMatchObject({ code: 0, stdout: `Revoked the invitation of grace@example.test (id ${id})\n` });
    const listed = JSON.parse(
      (await runTessera(["invitations", "list", "--json", "--status", "revoked"], env)).stdout,
    );
    expect(listed).toMatchObject([{ id, status: "revoked", revokedBy: "cli" }]);
  });

  it("refuses with exit 1: an unknown group, an address with an account, a malformed address, an unknown id", async () => {
    const before = (await rows()).length;
    for (const [args, message] of [
      [["invitations", "create", "x@example.test", "--groups", "Nope"], /no group named "Nope"/],
      [["invitations", "create", "TAKEN@example.test"], /exists already/],
      [["invitations", "create", "not-an-address"], /e-mail address/],
      [["invitations", "create", "x@example.test", "--expires-in", "10"], /between 300 and 2592000/],
      [["invitations", "revoke", "no-such-id"], /No such invitation/],
    ] as const) {
      const r = await runTessera([...args], env);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(message);
    }
    expect((await rows()).length).toBe(before);
  });

  it("bad usage exits 2", async () => {
    for (const args of [
      ["invitations", "create"],
      ["invitations", "create", "x@example.test", "--expires-in", "soon"],
      ["invitations", "list", "--status", "lost"],
      ["invitations", "revoke"],
      ["invitations", "frobnicate"],
    ]) {
      const r = await runTessera(args, env);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain("Run `tessera --help` for usage.");
    }
    const help = await runTessera(["--help"], env);
    expect(help.stdout).toContain("invitations create EMAIL");
  });
});
