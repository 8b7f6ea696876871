/**
 * The CLI's encryption flags, run as an operator runs them (the built `tessera` binary):
 * `tessera resources create … --jwks-file F --access-token-encryption ALG[,ENC]`, and `tessera clients create …
 * --jwks-file F --id-token-encryption ALG[,ENC] --userinfo-encryption ALG` (encryption keys only: the client keeps
 * its secret). Refusals come from the same domain rules as the admin API and registration.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera as tessera } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { recipientKey } from "./jwe-fixture.js";

describe("tessera clients and resources with encryption", () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
    env = { DATABASE_URL: db.url };
    dir = mkdtempSync(join(tmpdir(), "tessera-jwe-cli-"));
  });
  afterAll(async () => {
    await db.drop();
  });

  const jwksFile = (name: string, keys: unknown[]) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ keys }));
    return file;
  };

  it("registers an API with encrypted access tokens and a client with encrypted ID tokens and userinfo", async () => {
    const apiKey = await recipientKey("rsa", { kid: "api-enc" });
    const api = await tessera(
      [
        "resources",
        "create",
        "https://api.example.test",
        "--scope",
        "read",
        "--jwks-file",
        jwksFile("api.json", [apiKey.publicJwk]),
        "--access-token-encryption",
        "RSA-OAEP-256,A256GCM",
        "--json",
      ],
      env,
    );
    expect(api.stderr).toBe("");
    expect(JSON.parse(api.stdout)).toMatchObject({
      audience: "https://api.example.test",
      accessTokenEncryption: { alg: "RSA-OAEP-256", enc: "A256GCM" },
      jwks: { keys: [apiKey.publicJwk] },
    });

    const clientKey = await recipientKey("ec", { kid: "rp-enc" });
    const created = await tessera(
      [
        "clients",
        "create",
        "Payroll",
        "--redirect-uris",
        "https://payroll.example.test/cb",
        "--jwks-file",
        jwksFile("rp.json", [clientKey.publicJwk]),
        "--id-token-encryption",
        "ECDH-ES+A256KW",
        "--userinfo-encryption",
        "ECDH-ES+A256KW,A256GCM",
        "--json",
      ],
      env,
    );
    expect(created.stderr).toBe("");
    const client = JSON.parse(created.stdout);
    expect(client).toMatchObject({
      // Keys for encryption only: the client still authenticates with its secret.
      authMethod: "client_secret_basic",
      idTokenEncryption: { alg: "ECDH-ES+A256KW", enc: "A128CBC-HS256" },
      userinfoEncryption: { alg: "ECDH-ES+A256KW", enc: "A256GCM" },
      jwks: { keys: [clientKey.publicJwk] },
    });
    expect(client.secret).toMatch(/^tsr_cs_/);
  });

  it("refuses an unsupported algorithm, a key of the wrong type, and encryption without keys", async () => {
    const rsa = await recipientKey("rsa");
    const badAlg = await tessera(
      [
        "clients",
        "create",
        "Bad",
        "--redirect-uris",
        "https://bad.example.test/cb",
        "--jwks-file",
        jwksFile("bad.json", [rsa.publicJwk]),
        "--id-token-encryption",
        "RSA1_5",
      ],
      env,
    );
    expect(badAlg.code).not.toBe(0);
    expect(badAlg.stderr).toMatch(/Unsupported id_token_encrypted_response_alg "RSA1_5"/);
    const wrongType = await tessera(
      [
        "resources",
        "create",
        "https://wrong.example.test",
        "--jwks-file",
        jwksFile("wrong.json", [rsa.publicJwk]),
        "--access-token-encryption",
        "ECDH-ES+A256KW",
      ],
      env,
    );
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toMatch(/needs an EC key/);
    const noKeys = await tessera(
      ["resources", "create", "https://nokeys.example.test", "--access-token-encryption", "RSA-OAEP-256"],
      env,
    );
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.stderr).toMatch(/--access-token-encryption and --jwks-file go together/);
  });
});
