import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStorage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const tessera = runTessera;

describe("tessera clients and resources", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    env = { DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db.drop();
  });

  it("registers a resource server and a confidential client whose secret is shown once and stored hashed", async () => {
    const api = await tessera(
      ["resources", "create", "https://api.example.test", "--name", "API", "--scope", "read write"],
      env,
    );
    expect(api.stderr).toBe("");
    expect(api.stdout).toBe("Registered resource server https://api.example.test\n");
    const created = await tessera(
      [
        "clients",
        "create",
        "Web App",
        "--redirect-uris",
        "https://app.example.test/cb,http://127.0.0.1/cb",
        "--scope",
        "openid profile read",
        "--resources",
        "https://api.example.test",
      ],
      env,
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const id = /client_id: +(\S+)/.exec(created.stdout)?.[1] as string;
    const secret = /client_secret: (\S+)/.exec(created.stdout)?.[1] as string;
    expect(secret).toMatch(/^tsr_cs_[0-9A-Za-z]{49}$/);
    const storage = await openStorage(db.url);
    try {
      const row = await storage.db
        .selectFrom("oauth_clients")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      expect(row.secret_hash).toBe(createHash("sha256").update(secret).digest("base64url"));
      expect(JSON.stringify(row)).not.toContain(secret);
    } finally {
      await storage.close();
    }
    const listed = await tessera(["clients", "list", "--json"], env);
    expect(listed.stdout).not.toContain(secret);
    const clients = JSON.parse(listed.stdout) as {
      id: string;
      redirectUris: string[];
      resources: string[];
    }[];
    expect(clients.find((c) => c.id === id)).toMatchObject({
      redirectUris: ["https://app.example.test/cb", "http://127.0.0.1/cb"],
      resources: ["https://api.example.test"],
    });
    const resources = await tessera(["resources", "list", "--json"], env);
    // Besides the one created here, the resource server Tessera registers for its Shared Signals API.
    expect(JSON.parse(resources.stdout)).toEqual([
      {
        audience: "http://localhost:8080/ssf",
        name: "Tessera Shared Signals transmitter",
        scopes: ["ssf.manage", "ssf.read"],
      },
      { audience: "https://api.example.test", name: "API", scopes: ["read", "write"] },
    ]);
    expect((await tessera(["clients", "delete", id], env)).stdout).toBe(`Deleted client ${id}\n`);
    const gone = await tessera(["clients", "delete", id], env);
    expect(gone.code).toBe(1);
  });

  it("registers a private_key_jwt client from a JWK Set file, without a secret", async () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const file = join(mkdtempSync(join(tmpdir(), "jwks-")), "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1" }] }));
    const r = await tessera(
      [
        "clients",
        "create",
        "Signer",
        "--grant-types",
        "client_credentials",
        "--scope",
        "read",
        "--jwks-file",
        file,
        "--json",
      ],
      env,
    );
    expect(r.stderr).toBe("");
    const client = JSON.parse(r.stdout) as {
      authMethod: string;
      secret?: string;
      jwks: { keys: { kid: string }[] };
    };
    expect(client.authMethod).toBe("private_key_jwt");
    expect(client.secret).toBeUndefined();
    expect(client.jwks.keys[0]?.kid).toBe("k1");
  });

  it("mints initial access tokens for dynamic registration, shown once and stored hashed", async () => {
    const r = await tessera(["clients", "initial-token", "--uses", "2", "--expires-in", "3600"], env);
    expect(r.stderr).toBe("");
    const token = r.stdout.trim();
    expect(token).toMatch(/^tsr_iat_[0-9A-Za-z]{49}$/);
    const storage = await openStorage(db.url);
    try {
      const rows = await storage.db.selectFrom("initial_access_tokens").selectAll().execute();
      expect(rows.map((row) => row.token_hash)).toContain(
        createHash("sha256").update(token).digest("base64url"),
      );
      expect(JSON.stringify(rows)).not.toContain(token);
      expect(rows.at(-1)?.uses_left).toBe(2);
    } finally {
      await storage.close();
    }
    expect((await tessera(["clients", "initial-token", "--uses", "0"], env)).code).toBe(2);
  });

  it("registers the post-logout and back-channel logout URIs of a client (a BFF's)", async () => {
    const r = await tessera(
      [
        "clients",
        "create",
        "Shop BFF",
        "--redirect-uris",
        "https://shop.example.test/bff/callback",
        "--post-logout-redirect-uris",
        "https://shop.example.test/",
        "--backchannel-logout-uri",
        "https://shop.example.test/bff/backchannel-logout",
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const id = /client_id: +(\S+)/.exec(r.stdout)?.[1] as string;
    const storage = await openStorage(db.url);
    try {
      const row = await storage.db
        .selectFrom("oauth_clients")
        .select(["backchannel_logout_uri", "post_logout_redirect_uris"])
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      expect(row.backchannel_logout_uri).toBe("https://shop.example.test/bff/backchannel-logout");
      expect(JSON.parse(row.post_logout_redirect_uris)).toEqual(["https://shop.example.test/"]);
    } finally {
      await storage.close();
    }
  });

  it("registers a public client without a secret", async () => {
    const r = await tessera(
      ["clients", "create", "CLI", "--public", "--redirect-uris", "http://127.0.0.1/cb"],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("client_secret");
  });

  it("registers a client that must send DPoP proofs (--dpop-bound)", async () => {
    const r = await tessera(
      [
        "clients",
        "create",
        "Bound",
        "--public",
        "--dpop-bound",
        "--redirect-uris",
        "http://127.0.0.1/cb",
        "--json",
      ],
      env,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: "Bound", dpopBound: true });
    const plain = await tessera(
      ["clients", "create", "Plain", "--public", "--redirect-uris", "http://127.0.0.1/cb", "--json"],
      env,
    );
    expect(JSON.parse(plain.stdout)).toMatchObject({ name: "Plain", dpopBound: false });
  });

  it.each([
    [["--redirect-uris", "http://app.example.test/cb"], /http is allowed only on a loopback IP literal/],
    [["--redirect-uris", "https://app.example.test/cb#frag"], /must not contain a fragment/],
    [[], /needs at least one redirect URI/],
    [["--redirect-uris", "https://a.test/cb", "--access-token-ttl", "3600"], /60 to 1800 seconds/],
    [["--public", "--grant-types", "client_credentials"], /needs a confidential client/],
  ])("refuses invalid registrations (%j)", async (flags, message) => {
    const r = await tessera(["clients", "create", "Bad", ...flags], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});
