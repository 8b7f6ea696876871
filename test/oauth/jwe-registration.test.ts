/**
 * What a client or resource server may register for encrypted tokens, and every refusal: through dynamic
 * registration (`/register`, RFC 7591: 400 `invalid_client_metadata`), the admin API (its JSON schema: 400
 * `invalid_request`; the domain's rules: 400 `invalid_client_metadata`) and the CLI's domain call.
 *
 * - Unsupported `alg` / `enc`, an `_enc` without its `_alg`, a key of the wrong type or use or `alg`, a private
 *   or weak key, no key at all, `jwks` with `jwks_uri`, a malformed `jwks_uri`, and a `jwks_uri` that points at
 *   a loopback address in production (refused by the outbound guard before any request is sent).
 * - A private_key_jwt client with encryption keys in the same set: every key must say its `use`, and an
 *   encryption key never verifies a client assertion.
 * Validation only (nothing is stored on a refusal): SQLite; the stored side runs on both in jwe.test.ts.
 */

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { recipientKey } from "./jwe-fixture.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/callback";
const API = "https://encrypted-api.example.test";

async function registerOn(t: TestApp, metadata: Record<string, unknown>) {
  return t.app.inject({
    method: "POST",
    url: "/register",
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
    payload: JSON.stringify({ client_name: "RP", redirect_uris: [CALLBACK], ...metadata }),
  });
}

describe("registering encrypted tokens: refusals", () => {
  let t: TestApp;
  let ec: Awaited<ReturnType<typeof recipientKey>>;
  let rsa: Awaited<ReturnType<typeof recipientKey>>;

  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    ec = await recipientKey("ec", { kid: "ec-1" });
    rsa = await recipientKey("rsa", { kid: "rsa-1" });
  });
  afterAll(async () => {
    await t.close();
  });

  const refused = async (metadata: Record<string, unknown>, message: RegExp) => {
    const before = (await t.ctx.oauth.clients.list()).length;
    const response = await registerOn(t, metadata);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json().error).toBe("invalid_client_metadata");
    expect(response.json().error_description).toMatch(message);
    expect((await t.ctx.oauth.clients.list()).length).toBe(before);
  };

  it.each([
    ["RSA1_5", /Unsupported id_token_encrypted_response_alg "RSA1_5"/],
    ["dir", /Unsupported id_token_encrypted_response_alg "dir"/],
    ["ECDH-ES", /Unsupported id_token_encrypted_response_alg "ECDH-ES"/],
    ["A256KW", /Unsupported id_token_encrypted_response_alg "A256KW"/],
  ])("refuses the key management algorithm %s", async (alg, message) => {
    await refused({ id_token_encrypted_response_alg: alg, jwks: { keys: [rsa.publicJwk] } }, message);
  });

  it.each(["A128GCM", "A192CBC-HS384", "none"])("refuses the content encryption %s", async (enc) => {
    await refused(
      {
        userinfo_encrypted_response_alg: "RSA-OAEP-256",
        userinfo_encrypted_response_enc: enc,
        jwks: { keys: [rsa.publicJwk] },
      },
      /Unsupported userinfo_encrypted_response_enc/,
    );
  });

  it("refuses an _enc without its _alg (Registration §2)", async () => {
    await refused(
      { id_token_encrypted_response_enc: "A256GCM", jwks: { keys: [ec.publicJwk] } },
      /id_token_encrypted_response_enc needs id_token_encrypted_response_alg/,
    );
    await refused(
      { userinfo_encrypted_response_enc: "A256GCM", jwks: { keys: [ec.publicJwk] } },
      /userinfo_encrypted_response_enc needs userinfo_encrypted_response_alg/,
    );
  });

  it("refuses a key of the wrong type for the algorithm", async () => {
    await refused(
      { id_token_encrypted_response_alg: "RSA-OAEP-256", jwks: { keys: [ec.publicJwk] } },
      /RSA-OAEP-256 needs an RSA key/,
    );
    await refused(
      { id_token_encrypted_response_alg: "ECDH-ES+A256KW", jwks: { keys: [rsa.publicJwk] } },
      /ECDH-ES\+A256KW needs an EC key/,
    );
    const ed = await recipientKey("ec");
    const edJwk = {
      ...ed.publicJwk,
      kty: "OKP",
      crv: "Ed25519",
      x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    };
    delete (edJwk as Record<string, unknown>).y;
    await refused(
      { id_token_encrypted_response_alg: "ECDH-ES+A256KW", jwks: { keys: [edJwk] } },
      /ECDH-ES\+A256KW needs an EC key/,
    );
  });

  it("refuses a key meant for signing, or for another algorithm", async () => {
    const signing = await recipientKey("ec", { use: "sig" });
    await refused(
      { id_token_encrypted_response_alg: "ECDH-ES+A256KW", jwks: { keys: [signing.publicJwk] } },
      /needs an EC key .* use "enc"/,
    );
    const otherAlg = await recipientKey("rsa", { alg: "RSA-OAEP" });
    await refused(
      { id_token_encrypted_response_alg: "RSA-OAEP-256", jwks: { keys: [otherAlg.publicJwk] } },
      /no other alg/,
    );
  });

  it("refuses a private key, a weak RSA key and a key that is no JWK", async () => {
    const privateJwk = { ...rsa.publicJwk, d: "AQAB" };
    await refused(
      { id_token_encrypted_response_alg: "RSA-OAEP-256", jwks: { keys: [privateJwk] } },
      /not a public key/,
    );
    const weak = await recipientKey("rsa", { modulusLength: 1024 });
    await refused(
      { id_token_encrypted_response_alg: "RSA-OAEP-256", jwks: { keys: [weak.publicJwk] } },
      /at least 2048 bits/,
    );
    await refused(
      {
        id_token_encrypted_response_alg: "RSA-OAEP-256",
        jwks: { keys: [{ kty: "RSA", n: "AQAB", e: "AQAB" }] },
      },
      /not a valid public JWK|at least 2048 bits/,
    );
    await refused({ id_token_encrypted_response_alg: "RSA-OAEP-256", jwks: { keys: "none" } }, /JWK Set/);
  });

  it("refuses encryption without a key (neither jwks nor jwks_uri)", async () => {
    await refused({ id_token_encrypted_response_alg: "ECDH-ES+A256KW" }, /needs the client's public keys/);
    await refused({ userinfo_encrypted_response_alg: "RSA-OAEP-256" }, /needs the client's public keys/);
  });

  it("refuses jwks together with jwks_uri, a malformed jwks_uri, and a jwks_uri without encryption", async () => {
    await refused(
      {
        id_token_encrypted_response_alg: "ECDH-ES+A256KW",
        jwks: { keys: [ec.publicJwk] },
        jwks_uri: "https://rp.example.test/jwks",
      },
      /jwks or jwks_uri, not both/,
    );
    for (const uri of ["https://rp.example.test/jwks#keys", "ftp://rp.example.test/jwks", "not a url"]) {
      await refused({ id_token_encrypted_response_alg: "ECDH-ES+A256KW", jwks_uri: uri }, /jwks_uri must be/);
    }
    await refused({ jwks_uri: "https://rp.example.test/jwks" }, /jwks_uri is only for/);
  });

  it("refuses a userinfo signing algorithm Tessera does not sign with", async () => {
    for (const alg of ["HS256", "none", "PS256"]) {
      await refused({ userinfo_signed_response_alg: alg }, /Unsupported userinfo_signed_response_alg/);
    }
  });

  it("private_key_jwt with encryption keys in the same set: each key says its use, and the enc key never authenticates", async () => {
    const signing = await recipientKey("ec", { kid: "sig-1", use: "sig" });
    const unmarked = await recipientKey("ec", { kid: "enc-2", use: null });
    await refused(
      {
        token_endpoint_auth_method: "private_key_jwt",
        id_token_encrypted_response_alg: "ECDH-ES+A256KW",
        jwks: { keys: [{ ...signing.publicJwk, alg: "ES256" }, unmarked.publicJwk] },
      },
      /Key enc-2 needs use/,
    );
    const response = await registerOn(t, {
      token_endpoint_auth_method: "private_key_jwt",
      grant_types: ["client_credentials"],
      redirect_uris: [],
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      jwks: { keys: [{ ...signing.publicJwk, alg: "ES256" }, ec.publicJwk] },
    });
    expect(response.statusCode, response.body).toBe(201);
    const clientId = response.json().client_id as string;
    const assertion = (key: typeof signing) =>
      new SignJWT({})
        .setProtectedHeader({ alg: "ES256", kid: key.kid as string })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${ISSUER}/token`)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime("2m")
        .sign(key.privateKey);
    const token = (clientAssertion: string) =>
      t.app.inject({
        method: "POST",
        url: "/token",
        payload: new URLSearchParams({
          grant_type: "client_credentials",
          client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
          client_assertion: clientAssertion,
        }).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    const accepted = await token(await assertion(signing));
    expect(accepted.statusCode, accepted.body).toBe(200);
    // An assertion signed with the private half of the encryption key (a P-256 key too) is refused.
    const refusedAssertion = await token(await assertion(ec));
    expect(refusedAssertion.statusCode).toBe(401);
    expect(refusedAssertion.json().error).toBe("invalid_client");
  });

  it("changes: the admin API's PATCH adds and drops encryption, an RFC 7592 replacement without it drops it", async () => {
    const patch = (id: string, payload: Record<string, unknown>) =>
      t.app.inject({
        method: "PATCH",
        url: `/admin/clients/${encodeURIComponent(id)}`,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        payload,
      });
    const { client } = await t.ctx.oauth.clients.create({ name: "Patched", redirectUris: [CALLBACK] });
    const added = await patch(client.id, {
      idTokenEncryption: { alg: "ECDH-ES+A256KW", enc: "A256GCM" },
      jwks: { keys: [ec.publicJwk] },
    });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json()).toMatchObject({
      idTokenEncryption: { alg: "ECDH-ES+A256KW", enc: "A256GCM" },
      userinfoEncryption: null,
      jwks: { keys: [ec.publicJwk] },
    });
    // Another field changed: the encryption and its keys stay.
    const renamed = await patch(client.id, { name: "Patched again" });
    expect(renamed.json()).toMatchObject({
      idTokenEncryption: { alg: "ECDH-ES+A256KW" },
      jwks: { keys: [ec.publicJwk] },
    });
    const dropped = await patch(client.id, { idTokenEncryption: null });
    expect(dropped.statusCode, dropped.body).toBe(200);
    expect(dropped.json()).toMatchObject({ idTokenEncryption: null, jwks: null, jwksUri: null });

    const registered = await registerOn(t, {
      id_token_encrypted_response_alg: "RSA-OAEP-256",
      jwks: { keys: [rsa.publicJwk] },
    });
    const { client_id: id, registration_access_token: rat } = registered.json();
    const replaced = await t.app.inject({
      method: "PUT",
      url: `/register/${encodeURIComponent(id)}`,
      headers: { authorization: `Bearer ${rat}`, "content-type": "application/json" },
      payload: JSON.stringify({ client_id: id, client_name: "RP", redirect_uris: [CALLBACK] }),
    });
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json().id_token_encrypted_response_alg).toBeUndefined();
    expect(replaced.json().jwks).toBeUndefined();
    expect((await t.ctx.oauth.clients.get(id))?.idTokenEncryption).toBeNull();
  });

  it("the admin API refuses unsupported algorithms by schema and wrong keys by the domain's rule", async () => {
    const post = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: "POST",
        url: "/admin/clients",
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        payload: { name: "Admin RP", redirectUris: [CALLBACK], ...payload },
      });
    const badAlg = await post({ idTokenEncryption: { alg: "RSA1_5" }, jwks: { keys: [rsa.publicJwk] } });
    expect(badAlg.statusCode).toBe(400);
    expect(badAlg.json().error).toBe("invalid_request");
    const badEnc = await post({
      userinfoEncryption: { alg: "RSA-OAEP-256", enc: "A128GCM" },
      jwks: { keys: [rsa.publicJwk] },
    });
    expect(badEnc.statusCode).toBe(400);
    expect(badEnc.json().error).toBe("invalid_request");
    const wrongKey = await post({
      idTokenEncryption: { alg: "RSA-OAEP-256" },
      jwks: { keys: [ec.publicJwk] },
    });
    expect(wrongKey.statusCode).toBe(400);
    expect(wrongKey.json().error).toBe("invalid_client_metadata");
    const noKey = await post({ userinfoEncryption: { alg: "ECDH-ES+A256KW" } });
    expect(noKey.statusCode).toBe(400);
    expect(noKey.json().error).toBe("invalid_client_metadata");
  });

  it("a resource server's encryption: refused with a wrong, private or missing key, an unknown alg, or an unknown API", async () => {
    const post = (encryption: Record<string, unknown>) =>
      t.app.inject({
        method: "POST",
        url: "/admin/resource-servers",
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        payload: { audience: API, scopes: ["orders:read"], encryption },
      });
    const wrongType = await post({ alg: "RSA-OAEP-256", jwks: { keys: [ec.publicJwk] } });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toMatchObject({ error: "invalid_client_metadata" });
    expect(wrongType.json().error_description).toMatch(/RSA-OAEP-256 needs an RSA key/);
    const privateKey = await post({ alg: "RSA-OAEP-256", jwks: { keys: [{ ...rsa.publicJwk, d: "AQAB" }] } });
    expect(privateKey.statusCode).toBe(400);
    expect(privateKey.json().error_description).toMatch(/not a public key/);
    const badAlg = await post({ alg: "RSA1_5", jwks: { keys: [rsa.publicJwk] } });
    expect(badAlg.statusCode).toBe(400);
    expect(badAlg.json().error).toBe("invalid_request");
    const noKeys = await post({ alg: "RSA-OAEP-256" });
    expect(noKeys.statusCode).toBe(400);
    expect(await t.ctx.oauth.clients.getResourceServer(API)).toBeUndefined();
    const unknown = await t.app.inject({
      method: "PUT",
      url: `/admin/resource-servers/${encodeURIComponent("https://nowhere.example.test")}/encryption`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: { alg: "RSA-OAEP-256", jwks: { keys: [rsa.publicJwk] } },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toBe("resource_server_not_found");
  });
});

describe("registering a jwks_uri in production", () => {
  let t: TestApp;
  let server: Server;
  let port: number;
  let requests = 0;

  beforeAll(async () => {
    t = await createTestApp({
      env: { NODE_ENV: "production", TESSERA_ISSUER: ISSUER, TESSERA_MASTER_KEY: "07".repeat(32) },
    });
    const key = await recipientKey("ec");
    server = createServer((_req, res) => {
      requests++;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ keys: [key.publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  it("refuses a jwks_uri on a loopback or private address without sending it a request", async () => {
    for (const uri of [
      `http://127.0.0.1:${port}/jwks`,
      `https://127.0.0.1:${port}/jwks`,
      `http://localhost:${port}/jwks`,
      "https://10.0.0.7/jwks",
      "https://169.254.169.254/latest/jwks",
    ]) {
      const response = await registerOn(t, {
        id_token_encrypted_response_alg: "ECDH-ES+A256KW",
        jwks_uri: uri,
      });
      expect(response.statusCode, uri).toBe(400);
      expect(response.json().error).toBe("invalid_client_metadata");
      // The reason, without the address the name resolved to.
      expect(response.json().error_description).toMatch(/^jwks_uri cannot be used: /);
      expect(response.json().error_description).not.toMatch(/127\.0\.0\.1|::1|TESSERA_/);
    }
    expect(requests).toBe(0);
    expect(await t.ctx.oauth.clients.list()).toEqual([]);
  });
});
