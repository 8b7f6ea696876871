/**
 * `tessera tokens …` and `tessera service-accounts …`, run as the built binary (the global setup builds `dist/`)
 * against SQLite and PostgreSQL.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStorage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../helpers/databases.js";

const API = "https://api.example.test";
const TOKEN = /^tsr_(pat|svc)_[0-9A-Za-z]{49}$/;

interface ApiTokenJson {
  id: string;
  kind: string;
  name: string;
  ownerId: string;
  scopes: string[];
  resources: string[];
  allowedIps: string[] | null;
  expiresAt: number | null;
  createdBy: string;
  revokedAt: number | null;
  revokedReason: string | null;
}

describe.each(DIALECTS)("tessera tokens and service-accounts on %s", (dialect) => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let aliceId: string;

  const tessera = (args: string[], extraEnv: Record<string, string> = {}) =>
    runTessera(args, { ...env, ...extraEnv });

  async function withStorage<T>(fn: (storage: Awaited<ReturnType<typeof openStorage>>) => Promise<T>) {
    const storage = await openStorage(db.url);
    try {
      return await fn(storage);
    } finally {
      await storage.close();
    }
  }

  async function created(args: string[], extraEnv: Record<string, string> = {}) {
    const r = await tessera([...args, "--json"], extraEnv);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as { token: string; apiToken: ApiTokenJson };
  }

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    env = { DATABASE_URL: db.url };
    for (const name of ["alice", "bob"]) {
      const r = await tessera(["users", "create", name]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await tessera(["resources", "create", API, "--name", "API", "--scope", "read write"])).code).toBe(
      0,
    );
    aliceId = await withStorage(async (storage) => {
      const alice = await storage.db
        .selectFrom("users")
        .select("id")
        .where("user_name", "=", "alice")
        .executeTakeFirstOrThrow();
      return alice.id;
    });
    // The administrator right is explicit (no group confers it).
    const granted = await tessera(["users", "grant-admin", "alice"]);
    expect(granted.stdout).toContain("alice is now an administrator");
    expect(granted.code).toBe(0);
  });
  afterAll(async () => {
    await db.drop();
  });

  it("creates a personal token shown once, stored only as its hash, and never listed", async () => {
    const before = Date.now();
    const { token, apiToken } = await created([
      "tokens",
      "create",
      "deploy script",
      "--user",
      "alice",
      "--scope",
      "read write",
      "--resources",
      API,
      "--expires-in",
      "3600",
      "--allowed-ips",
      "10.0.0.0/8, 2001:db8::/32",
    ]);
    expect(token).toMatch(TOKEN);
    expect(token.startsWith("tsr_pat_")).toBe(true);
    expect(apiToken).toMatchObject({
      kind: "personal",
      name: "deploy script",
      ownerId: aliceId,
      scopes: ["read", "write"],
      resources: [API],
      allowedIps: ["10.0.0.0/8", "2001:db8::/32"],
      createdBy: "cli",
      revokedAt: null,
    });
    expect(apiToken.expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(apiToken.expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    const rows = await withStorage((storage) => storage.db.selectFrom("api_tokens").selectAll().execute());
    expect(rows.find((r) => r.id === apiToken.id)?.token_hash).toBe(
      createHash("sha256").update(token).digest("base64url"),
    );
    expect(JSON.stringify(rows)).not.toContain(token.slice(8));

    const listed = await tessera(["tokens", "list", "--user", "alice", "--json"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token.slice(8));
    expect((JSON.parse(listed.stdout) as ApiTokenJson[]).map((x) => x.id)).toContain(apiToken.id);
    const table = await tessera(["tokens", "list"]);
    expect(table.stdout).toMatch(/^id\s+kind\s+name\s+owner\s+scope\s+expires\s+lastUsed\s+revoked\n/);
    expect(table.stdout).toContain("deploy script");
    expect(table.stdout).not.toContain(token.slice(8));
  });

  it("prints the token once after a table without --json, with the default 90-day expiry", async () => {
    const r = await tessera(["tokens", "create", "plain", "--user", "bob"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const match = /Token \(shown once; Tessera keeps only its hash\):\n(\S+)\n$/.exec(r.stdout);
    expect(match?.[1]).toMatch(TOKEN);
    const expires = /(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(r.stdout)?.[1] as string;
    const days = (Date.parse(expires) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
  });

  it("gives Tessera's scopes only to administrators", async () => {
    const refused = await tessera(["tokens", "create", "x", "--user", "bob", "--scope", "tessera:admin"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Only administrators");
    expect(refused.stdout).toBe("");
    const { apiToken } = await created([
      "tokens",
      "create",
      "x",
      "--user",
      "alice",
      "--scope",
      "tessera:admin",
    ]);
    expect(apiToken.scopes).toEqual(["tessera:admin"]);
  });

  it("refuses expiries the organisation does not allow, and allows no expiry when the maximum is 0", async () => {
    const forever = await tessera(["tokens", "create", "x", "--user", "bob", "--no-expiry"]);
    expect(forever.code).toBe(1);
    expect(forever.stderr).toMatch(/must expire/);
    const tooLong = await tessera(["tokens", "create", "x", "--user", "bob", "--expires-in", "31622401"]);
    expect(tooLong.code).toBe(1);
    const { apiToken } = await created(["tokens", "create", "x", "--user", "bob", "--no-expiry"], {
      TESSERA_API_TOKEN_MAX_LIFETIME: "0",
    });
    expect(apiToken.expiresAt).toBeNull();
    const listed = await tessera(["tokens", "list", "--user", "bob"]);
    expect(listed.stdout).toMatch(/never/);
  });

  it.each([
    [["tokens", "create"], /needs a name/],
    [["tokens", "create", "x"], /exactly one of --user and --service-account/],
    [["tokens", "create", "x", "--user", "bob", "--service-account", "y"], /exactly one of/],
    [["tokens", "create", "x", "--user", "bob", "--expires-in", "soon"], /--expires-in must be seconds/],
    [["tokens", "create", "x", "--user", "bob", "--expires-in", "60", "--no-expiry"], /exclude each other/],
    [["tokens", "create", "x", "--user"], /--user needs a value/],
    [["tokens", "list", "extra"], /takes no argument/],
    [["tokens", "list", "--user", "bob", "--service-account", "y"], /at most one of/],
    [["tokens", "revoke"], /needs a token id/],
    [["tokens", "frob"], /unknown command "tokens frob"/],
    [["service-accounts", "create"], /needs a name/],
    [["service-accounts", "disable"], /needs an id or a name/],
    [["service-accounts", "frob"], /unknown command "service-accounts frob"/],
  ])("%j is a usage error (exit 2)", async (args, message) => {
    const r = await tessera(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it.each([
    [["tokens", "create", "x", "--user", "nobody"], /no user named nobody/],
    [["tokens", "create", "x", "--service-account", "nobody"], /no service account nobody/],
    [["tokens", "list", "--service-account", "nobody"], /no service account nobody/],
    [["tokens", "create", "x", "--user", "bob", "--scope", "delete"], /scope delete/],
    [["tokens", "create", "x", "--user", "bob", "--allowed-ips", "10.0.0.0/33"], /CIDR/],
    [["service-accounts", "delete", "nobody"], /no service account nobody/],
    [["service-accounts", "create", "x", "--owner-user", "nobody"], /no user named nobody/],
    [["service-accounts", "create", "x", "--owner-group", "no-such-group"], /owner group does not exist/],
  ])("%j is refused (exit 1)", async (args, message) => {
    const r = await tessera(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("revokes a token at once; revoking it again exits 1", async () => {
    const { apiToken } = await created(["tokens", "create", "to revoke", "--user", "bob"]);
    const r = await tessera(["tokens", "revoke", apiToken.id]);
    expect(r).toMatchObject({ code: 0, stdout: `Revoked ${apiToken.id}\n`, stderr: "" });
    const row = await withStorage((storage) =>
      storage.db.selectFrom("api_tokens").selectAll().where("id", "=", apiToken.id).executeTakeFirstOrThrow(),
    );
    expect(row.revoked_at).not.toBeNull();
    expect(row.revoked_reason).toBe("revoked");
    const events = await withStorage((storage) =>
      storage.db.selectFrom("revocation_events").selectAll().where("value", "=", apiToken.id).execute(),
    );
    expect(events).toHaveLength(1);
    const again = await tessera(["tokens", "revoke", apiToken.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no active API token with id ${apiToken.id}`);
    expect((await tessera(["tokens", "revoke", "no-such-id"])).code).toBe(1);
  });

  it("manages a service account and its keys: create, list, key, disable, delete", async () => {
    const r = await tessera([
      "service-accounts",
      "create",
      "CI-Bot",
      "--description",
      "builds",
      "--owner-user",
      "alice",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    const account = JSON.parse(r.stdout) as { id: string; name: string; ownerUserId: string };
    expect(account).toMatchObject({ name: "CI-Bot", ownerUserId: aliceId, description: "builds" });
    const duplicate = await tessera(["service-accounts", "create", "ci-bot"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/exists/);
    const list = await tessera(["service-accounts", "list", "--json"]);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((a) => a.id)).toContain(account.id);
    expect((await tessera(["service-accounts", "list"])).stdout).toMatch(/^id\s+name\s+created\s+disabled\n/);

    // By name (any case) or by id.
    const key = await created([
      "tokens",
      "create",
      "ci key",
      "--service-account",
      "ci-bot",
      "--scope",
      "tessera:scim",
    ]);
    expect(key.token.startsWith("tsr_svc_")).toBe(true);
    expect(key.apiToken).toMatchObject({ kind: "service", ownerId: account.id, scopes: ["tessera:scim"] });
    const second = await created(["tokens", "create", "other key", "--service-account", account.id]);
    const keys = await tessera(["tokens", "list", "--service-account", "CI-BOT", "--json"]);
    expect((JSON.parse(keys.stdout) as ApiTokenJson[]).map((x) => x.id).sort()).toEqual(
      [key.apiToken.id, second.apiToken.id].sort(),
    );
    expect(keys.stdout).not.toContain(key.token.slice(8));

    const disabled = await tessera(["service-accounts", "disable", "ci-bot"]);
    expect(disabled).toMatchObject({ code: 0, stdout: `Disabled ${account.id}\n` });
    const rows = await withStorage((storage) =>
      storage.db.selectFrom("api_tokens").selectAll().where("service_account_id", "=", account.id).execute(),
    );
    expect(rows.map((row) => row.revoked_reason)).toEqual(["owner_disabled", "owner_disabled"]);
    const refused = await tessera(["tokens", "create", "late", "--service-account", "ci-bot"]);
    expect(refused.code).toBe(1);

    const deleted = await tessera(["service-accounts", "delete", account.id]);
    expect(deleted).toMatchObject({ code: 0, stdout: `Deleted ${account.id}\n` });
    const after = await tessera(["service-accounts", "list", "--json"]);
    expect((JSON.parse(after.stdout) as { id: string }[]).map((a) => a.id)).not.toContain(account.id);
    expect((await tessera(["service-accounts", "delete", account.id])).code).toBe(1);
  });

  it("disables the account whose id is given even when another account is named after that id", async () => {
    const target = JSON.parse(
      (await tessera(["service-accounts", "create", "by-id-target", "--json"])).stdout,
    ) as {
      id: string;
    };
    const impostor = JSON.parse(
      (await tessera(["service-accounts", "create", target.id, "--json"])).stdout,
    ) as {
      id: string;
    };
    await withStorage((storage) =>
      storage.db
        .updateTable("service_accounts")
        .set({ description: "moved" })
        .where("id", "=", target.id)
        .execute(),
    );
    const r = await tessera(["service-accounts", "disable", target.id]);
    expect(r.stdout).toBe(`Disabled ${target.id}\n`);
    const rows = await withStorage((storage) =>
      storage.db.selectFrom("service_accounts").select(["id", "disabled_at"]).execute(),
    );
    expect(rows.find((row) => row.id === target.id)?.disabled_at).not.toBeNull();
    expect(rows.find((row) => row.id === impostor.id)?.disabled_at).toBeNull();
  });
});
