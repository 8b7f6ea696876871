/**
 * Access tokens encrypted to a resource server (JWE), on SQLite and PostgreSQL: the admin API sets an API's
 * keys and algorithms; access tokens for it are signed, then encrypted; the SDK verifier decrypts them with the
 * API's private key (and refuses what it must); Tessera, which cannot decrypt them, still introspects, serves
 * userinfo for and revokes them from its record.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVerifier, type Verifier, VerifyError } from "../../src/sdk/verify/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { basicAuth, codeFlow, discover, injectFetch } from "../helpers/oauth.js";
import { decryptNested, type RecipientKey, recipientKey, segments, verifyWithJwks } from "./jwe-fixture.js";

const ISSUER = "https://id.example.test";
const API = "https://orders.example.test";
const PLAIN_API = "https://catalog.example.test";
const CALLBACK = "https://rp.example.test/callback";
const PASSWORD = "correct horse battery staple 42";

describe.each(DIALECTS)("access tokens encrypted to a resource server on %s", (dialect) => {
  let t: TestApp;
  let userId: string;
  let rsaKey: RecipientKey;
  let job: { id: string; secret: string };
  let api: { id: string; secret: string };
  const verifiers: Verifier[] = [];

  const admin = (method: "POST" | "PUT" | "DELETE" | "GET", url: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    rsaKey = await recipientKey("rsa", { kid: "orders-enc-1" });
    const created = await admin("POST", "/admin/resource-servers", {
      audience: API,
      name: "Orders",
      scopes: ["orders:read"],
      encryption: { alg: "RSA-OAEP-256", enc: "A256GCM", jwks: { keys: [rsaKey.publicJwk] } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      audience: API,
      accessTokenEncryption: { alg: "RSA-OAEP-256", enc: "A256GCM" },
      jwks: { keys: [rsaKey.publicJwk] },
    });
    await t.ctx.oauth.clients.createResourceServer({
      audience: PLAIN_API,
      name: "Catalog",
      scope: "catalog:read",
    });
    const { clients } = t.ctx.oauth;
    const j = await clients.create({
      name: "Billing job",
      grantTypes: ["client_credentials"],
      scope: "orders:read catalog:read",
      resources: [API, PLAIN_API],
    });
    job = { id: j.client.id, secret: j.secret as string };
    // The API's own confidential client, for introspection (its resources name the API).
    const a = await clients.create({
      name: "Orders API",
      grantTypes: ["client_credentials"],
      resources: [API],
    });
    api = { id: a.client.id, secret: a.secret as string };
  });
  afterAll(async () => {
    for (const verifier of verifiers) verifier.close();
    await t.close();
  });

  async function clientCredentials(resource: string | string[], scope = "orders:read") {
    const form = new URLSearchParams({ grant_type: "client_credentials", scope });
    for (const r of ([] as string[]).concat(resource)) form.append("resource", r);
    return t.app.inject({
      method: "POST",
      url: "/token",
      headers: { authorization: basicAuth(job), "content-type": "application/x-www-form-urlencoded" },
      payload: form.toString(),
    });
  }

  async function accessToken(resource = API, scope = "orders:read"): Promise<string> {
    const response = await clientCredentials(resource, scope);
    expect(response.statusCode, response.body).toBe(200);
    return response.json().access_token as string;
  }

  function verifier(options: Partial<Parameters<typeof createVerifier>[0]> = {}): Verifier {
    const v = createVerifier({
      issuer: ISSUER,
      audience: API,
      fetch: injectFetch(t.app),
      revocations: false,
      ...options,
    });
    verifiers.push(v);
    return v;
  }

  async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerifyError);
    return error as VerifyError;
  }

  async function introspect(token: string) {
    const response = await t.app.inject({
      method: "POST",
      url: "/introspect",
      headers: { authorization: basicAuth(api), "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ token }).toString(),
    });
    expect(response.statusCode).toBe(200);
    return response.json() as Record<string, unknown>;
  }

  it("a token for the API is signed, then encrypted to its key; jose decrypts it and verifies the JWT inside", async () => {
    const token = await accessToken();
    expect(segments(token)).toBe(5);
    const { header, inner } = await decryptNested(token, rsaKey.privateKey);
    expect(header).toMatchObject({ alg: "RSA-OAEP-256", enc: "A256GCM", cty: "JWT", kid: "orders-enc-1" });
    const { payload, protectedHeader } = await verifyWithJwks(t.app, inner, {
      issuer: ISSUER,
      audience: API,
      typ: "at+jwt",
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({ sub: job.id, client_id: job.id, scope: "orders:read", aud: API });
  });

  it("a token for an API that asked for nothing stays a signed JWT", async () => {
    const token = await accessToken(PLAIN_API, "catalog:read");
    expect(segments(token)).toBe(3);
    await verifyWithJwks(t.app, token, { issuer: ISSUER, audience: PLAIN_API, typ: "at+jwt" });
  });

  it("the SDK verifier decrypts with the API's private key, then verifies and caches", async () => {
    const v = verifier({ decryptionKeys: [rsaKey.privateKey] });
    const token = await accessToken();
    const claims = await v.verify(token, { scopes: ["orders:read"] });
    expect(claims).toMatchObject({ tokenKind: "jwt", sub: job.id, client_id: job.id, aud: API });
    // Cached by the encrypted token: the same verdict again.
    expect((await v.verify(token)).jti).toBe(claims.jti);
    // A private JWK with its kid works the same.
    const { exportJWK } = await import("jose");
    const jwkVerifier = verifier({
      decryptionKeys: [{ ...(await exportJWK(rsaKey.privateKey)), kid: "orders-enc-1" }],
    });
    expect((await jwkVerifier.verify(token)).sub).toBe(job.id);
    // And a WebCrypto key, wrapped with its kid.
    const cryptoKeyVerifier = verifier({
      decryptionKeys: [{ key: await rsaKey.cryptoKey("RSA-OAEP-256"), kid: "orders-enc-1" }],
    });
    expect((await cryptoKeyVerifier.verify(token)).sub).toBe(job.id);
    // A key whose kid is not the one the token names is not tried.
    const otherKid = verifier({ decryptionKeys: [{ key: rsaKey.privateKey, kid: "orders-enc-0" }] });
    expect((await refusal(otherKid.verify(token))).reason).toBe("decryption_failed");
  });

  it("the SDK refuses an encrypted token it has no key for, the wrong key, a tampered one, and a plain one when encryption is required", async () => {
    const token = await accessToken();
    const noKeys = await refusal(verifier().verify(token));
    expect(noKeys).toMatchObject({
      status: 401,
      error: "invalid_token",
      reason: "decryption_not_configured",
    });

    const other = await recipientKey("rsa");
    const wrongKey = await refusal(verifier({ decryptionKeys: [other.privateKey] }).verify(token));
    expect(wrongKey).toMatchObject({ status: 401, error: "invalid_token", reason: "decryption_failed" });

    const ecKey = await recipientKey("ec");
    const wrongType = await refusal(verifier({ decryptionKeys: [ecKey.privateKey] }).verify(token));
    expect(wrongType.reason).toBe("decryption_failed");

    const parts = token.split(".");
    const ciphertext = parts[3] as string;
    parts[3] = `${ciphertext.slice(0, 10)}${ciphertext[10] === "A" ? "B" : "A"}${ciphertext.slice(11)}`;
    const tampered = await refusal(verifier({ decryptionKeys: [rsaKey.privateKey] }).verify(parts.join(".")));
    expect(tampered.reason).toBe("decryption_failed");

    const strict = verifier({
      audience: PLAIN_API,
      decryptionKeys: [rsaKey.privateKey],
      requireEncryption: true,
    });
    const plain = await refusal(strict.verify(await accessToken(PLAIN_API, "catalog:read")));
    expect(plain).toMatchObject({ status: 401, reason: "encryption_required" });
    expect(() => createVerifier({ issuer: ISSUER, audience: API, requireEncryption: true })).toThrow(
      TypeError,
    );
    expect(() =>
      createVerifier({ issuer: ISSUER, audience: API, decryptionKeys: [rsaKey.publicJwk] }),
    ).toThrow(TypeError);
  });

  it("Tessera introspects an encrypted token from its record, and revocation ends it", async () => {
    const token = await accessToken();
    const active = await introspect(token);
    expect(active).toMatchObject({
      active: true,
      token_type: "Bearer",
      client_id: job.id,
      sub: job.id,
      aud: API,
      scope: "orders:read",
      iss: ISSUER,
    });
    const { inner } = await decryptNested(token, rsaKey.privateKey);
    const { payload } = await verifyWithJwks(t.app, inner, { issuer: ISSUER, audience: API, typ: "at+jwt" });
    expect(active.jti).toBe(payload.jti);
    expect(active.exp).toBe(payload.exp);

    // A JWE Tessera never issued (same shape, different bytes) is not active.
    const forged = token.split(".");
    forged[2] = "AAAAAAAAAAAAAAAA";
    expect(await introspect(forged.join("."))).toEqual({ active: false });

    const revoked = await t.app.inject({
      method: "POST",
      url: "/revoke",
      headers: { authorization: basicAuth(job), "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ token }).toString(),
    });
    expect(revoked.statusCode).toBe(200);
    expect(await introspect(token)).toEqual({ active: false });
  });

  it("userinfo accepts a user's encrypted access token, read from Tessera's record", async () => {
    const rp = await t.ctx.oauth.clients.create({
      name: "Shop",
      redirectUris: [CALLBACK],
      firstParty: true,
      scope: "openid profile orders:read",
      resources: [API],
    });
    const config = await discover(t.app, ISSUER, rp.client.id, rp.secret);
    const { tokens } = await codeFlow(
      config,
      new PageClient(t.app, ISSUER),
      CALLBACK,
      "openid profile orders:read",
    );
    expect(segments(tokens.access_token)).toBe(5);
    const userinfo = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(userinfo.statusCode, userinfo.body).toBe(200);
    expect(userinfo.json()).toMatchObject({ sub: userId, preferred_username: "pat" });
    const claims = await verifier({ decryptionKeys: [rsaKey.privateKey] }).verify(tokens.access_token);
    expect(claims).toMatchObject({ sub: userId, client_id: rp.client.id });
  });

  it("an encrypting API cannot share a token with another audience (invalid_target)", async () => {
    const response = await clientCredentials([API, PLAIN_API], "orders:read catalog:read");
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe("invalid_target");
  });

  it("the admin API switches an API's encryption (ECDH-ES+A256KW, then off) for the tokens issued after", async () => {
    const ec = await recipientKey("ec", { kid: "orders-enc-2" });
    const set = await admin("PUT", `/admin/resource-servers/${encodeURIComponent(API)}/encryption`, {
      alg: "ECDH-ES+A256KW",
      jwks: { keys: [ec.publicJwk] },
    });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().accessTokenEncryption).toEqual({ alg: "ECDH-ES+A256KW", enc: "A128CBC-HS256" });
    const token = await accessToken();
    const { header } = await decryptNested(token, ec.privateKey);
    expect(header).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A128CBC-HS256", kid: "orders-enc-2" });
    expect((await verifier({ decryptionKeys: [ec.privateKey] }).verify(token)).sub).toBe(job.id);

    const off = await admin("DELETE", `/admin/resource-servers/${encodeURIComponent(API)}/encryption`);
    expect(off.statusCode).toBe(200);
    expect(off.json()).toEqual({ audience: API, name: "Orders", scopes: ["orders:read"] });
    expect(segments(await accessToken())).toBe(3);
    const listed = (await admin("GET", "/admin/resource-servers")).json().resourceServers;
    expect(
      listed.find((s: { audience: string }) => s.audience === API).accessTokenEncryption,
    ).toBeUndefined();

    // Back to RSA for any later test.
    await admin("PUT", `/admin/resource-servers/${encodeURIComponent(API)}/encryption`, {
      alg: "RSA-OAEP-256",
      enc: "A256GCM",
      jwks: { keys: [rsaKey.publicJwk] },
    });
  });
});
