import { execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const run = promisify(execFile);
const BIN = "dist/src/cli/main.js";
const pkg = (await import("../../package.json", { with: { type: "json" } })).default as { version: string };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function tessera(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("tessera CLI", () => {
  it("--version prints the package version", async () => {
    const r = await tessera(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it("--help lists the commands", async () => {
    const r = await tessera(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["serve", "migrate", "keys list", "keys rotate", "admin-token create"])
      expect(r.stdout).toContain(c);
  });

  it("an unknown command exits 2 with a pointer to --help", async () => {
    const r = await tessera(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"[\s\S]*--help/);
  });

  it("a bad configuration value exits 2 naming the key", async () => {
    const r = await tessera(["migrate"], { PORT: "nope" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid port \(PORT\/--port\) = "nope"/);
  });

  it("production without a master key refuses to start", async () => {
    const r = await tessera(["serve"], { NODE_ENV: "production", TESSERA_ISSUER: "https://id.example.com" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TESSERA_MASTER_KEY is required/);
  });
});

describe.each(["sqlite", "postgres"] as const)("tessera CLI against %s", (dialect) => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    env = { DATABASE_URL: db.url, TESSERA_DATA_DIR: mkdtempSync(join(tmpdir(), "tessera-cli-")) };
  });
  afterAll(async () => {
    await db.drop();
  });

  it("migrate applies the migrations, then reports the database up to date", async () => {
    const first = await tessera(["migrate"], env);
    expect(first).toMatchObject({
      code: 0,
      stdout:
        "Applied: 0001_initial, 0002_accounts, 0003_oauth, 0004_api_tokens, 0005_mfa, 0006_dpop, 0007_change_marks, 0008_access_policy, " +
        "0009_audit_chain, 0010_events, 0011_ssf, 0012_token_exchange, 0013_jwe, 0014_federation, 0015_sign_up\n",
    });
    const second = await tessera(["migrate"], env);
    expect(second).toMatchObject({ code: 0, stdout: "Database is up to date.\n" });
  });

  it("keys list shows an active and a next key per algorithm", async () => {
    const r = await tessera(["keys", "list", "--json"], env);
    expect(r.code).toBe(0);
    const keys = JSON.parse(r.stdout) as { alg: string; status: string }[];
    expect(keys.map((k) => `${k.alg}:${k.status}`).sort()).toEqual([
      "ES256:active",
      "ES256:next",
      "EdDSA:active",
      "EdDSA:next",
      "RS256:active",
      "RS256:next",
    ]);
    const table = await tessera(["keys", "list"], env);
    expect(table.stdout.split("\n")[0]).toMatch(/^kid\s+alg\s+status/);
  });

  it("keys rotate refuses a too-early rotation (exit 1) and rotates with --force", async () => {
    const early = await tessera(["keys", "rotate"], env);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/published \d+s ago/);
    const forced = await tessera(["keys", "rotate", "--alg", "EdDSA", "--force"], env);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^EdDSA: now signing with \S+; retired \S+; published next \S+\n$/);
    const bad = await tessera(["keys", "rotate", "--alg", "HS256"], env);
    expect(bad.code).toBe(2);
  });

  it("admin-token create prints the token once on stdout; list never shows it; revoke works once", async () => {
    const created = await tessera(["admin-token", "create", "--name", "ops"], env);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^tsr_adm_[0-9A-Za-z]{49}$/);
    expect(created.stderr).toMatch(/shown once/);
    const list = await tessera(["admin-token", "list", "--json"], env);
    expect(list.stdout).not.toContain(token);
    const [entry] = JSON.parse(list.stdout) as { id: string; name: string }[];
    expect(entry?.name).toBe("ops");
    expect((await tessera(["admin-token", "revoke", entry!.id], env)).code).toBe(0);
    expect((await tessera(["admin-token", "revoke", entry!.id], env)).code).toBe(1);
  });
});

describe("tessera serve", () => {
  it("starts on a fresh data folder, serves /healthz, /readyz and the JWKS, and stops on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tessera-serve-"));
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--data-dir", dataDir], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "development" },
    });
    let output = "";
    let human = "";
    child.stderr.on("data", (chunk: Buffer) => {
      human += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line in:\n${output}`)), 20_000);
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const m = /"url":"(http:\/\/[^"]+)".*"msg":"tessera is listening"/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on("exit", () => reject(new Error(`exited early:\n${output}`)));
    });
    try {
      expect(output).toContain("GENERATED A DEVELOPMENT MASTER KEY");
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(6);
      // One line for a person on stderr: where to open it, and (development) how to get an administrator.
      await vi.waitFor(() => expect(human).toContain("Tessera is running: open http://localhost:"));
      expect(human).toMatch(/open http:\/\/localhost:\d+\/login/);
      expect(human).toContain("users grant-admin NAME");
      // A second server on the same port says which setting to change.
      const port = new URL(url).port;
      const taken = await tessera(["serve", "--port", port, "--data-dir", dataDir], {
        NODE_ENV: "development",
      });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain(`port ${port} on localhost is already in use: set PORT (or --port)`);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });
});
