/**
 * Encrypted ID tokens and userinfo answers (OpenID Connect Core §10.2, §5.3.2; Dynamic Client Registration §2),
 * on SQLite and PostgreSQL, checked on the client side by two independent implementations: openid-client (a
 * certified relying party, decrypting with `enableDecryptingResponses`) and jose (decrypting, then verifying
 * the signed token inside against the published JWKS).
 *
 * - ECDH-ES+A256KW with a P-256 key (registered through `/register`), RSA-OAEP-256 with an RSA key (admin API,
 *   `enc` left to its default A128CBC-HS256), X25519; the code flow, the refresh grant.
 * - Userinfo as a signed-then-encrypted JWT, and as a signed JWT only; a client that registered nothing still
 *   gets plain tokens and JSON; discovery advertises what is supported.
 */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { codeFlow, discover } from "../helpers/oauth.js";
import { decryptNested, type RecipientKey, recipientKey, segments, verifyWithJwks } from "./jwe-fixture.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/callback";
const PASSWORD = "correct horse battery staple 42";

describe.each(DIALECTS)("encrypted ID tokens and userinfo on %s", (dialect) => {
  let t: TestApp;
  let userId: string;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        {
          userName: "pat",
          password: PASSWORD,
          emails: [{ value: "pat@example.test", type: "work", primary: true }],
        },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  async function register(metadata: Record<string, unknown>) {
    const response = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: JSON.stringify({ client_name: "Encrypting RP", redirect_uris: [CALLBACK], ...metadata }),
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as Record<string, unknown> & { client_id: string; client_secret: string };
  }

  /** openid-client, told to decrypt with `key` (its alg pins the key management algorithm). */
  async function relyingParty(clientId: string, secret: string, key?: { key: RecipientKey; alg: string }) {
    const config = await discover(t.app, ISSUER, clientId, secret);
    if (key) {
      oidc.enableDecryptingResponses(config, ["A256GCM", "A128CBC-HS256"], {
        key: await key.key.cryptoKey(key.alg),
        alg: key.alg,
        ...(key.key.kid === undefined ? {} : { kid: key.key.kid }),
      });
    }
    return config;
  }

  const signIn = (config: oidc.Configuration, scope = "openid profile email offline_access") =>
    codeFlow(config, new PageClient(t.app, ISSUER), CALLBACK, scope, { nonce: true });

  it("ECDH-ES+A256KW with a P-256 key: the ID token is signed, then encrypted; openid-client and jose read it", async () => {
    const key = await recipientKey("ec", { kid: "rp-enc-1" });
    const registered = await register({
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      id_token_encrypted_response_enc: "A256GCM",
      jwks: { keys: [key.publicJwk] },
    });
    expect(registered).toMatchObject({
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      id_token_encrypted_response_enc: "A256GCM",
      jwks: { keys: [key.publicJwk] },
    });
    const config = await relyingParty(registered.client_id, registered.client_secret, {
      key,
      alg: "ECDH-ES+A256KW",
    });
    const { tokens } = await signIn(config);

    // openid-client decrypted it and validated the ID token inside (iss, aud, nonce, exp).
    expect(tokens.claims()).toMatchObject({
      iss: ISSUER,
      sub: userId,
      aud: registered.client_id,
      email: "pat@example.test",
    });
    const idToken = tokens.id_token as string;
    expect(segments(idToken)).toBe(5);

    // jose: the JWE header, then the signed ID token inside, verified against the published keys.
    const { header, inner } = await decryptNested(idToken, key.privateKey);
    expect(header).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM", cty: "JWT", kid: "rp-enc-1" });
    expect(segments(inner)).toBe(3);
    const { payload, protectedHeader } = await verifyWithJwks(t.app, inner, {
      issuer: ISSUER,
      audience: registered.client_id,
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({ sub: userId, azp: registered.client_id, email: "pat@example.test" });
    expect(oidc.getDecryptedResponses(tokens)?.id_token?.token_endpoint).toBe(inner);

    // The access token is not the client's to decrypt: it stays a signed JWT.
    expect(segments(tokens.access_token)).toBe(3);
  });

  it("RSA-OAEP-256 with an RSA key, registered by the admin API with the default enc (A128CBC-HS256), also on refresh", async () => {
    const key = await recipientKey("rsa");
    const created = await t.app.inject({
      method: "POST",
      url: "/admin/clients",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: {
        name: "RSA RP",
        redirectUris: [CALLBACK],
        idTokenEncryption: { alg: "RSA-OAEP-256" },
        jwks: { keys: [key.publicJwk] },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { client, secret } = created.json();
    expect(client.idTokenEncryption).toEqual({ alg: "RSA-OAEP-256", enc: "A128CBC-HS256" });
    expect(client.jwksUri).toBeNull();

    const config = await relyingParty(client.id, secret, { key, alg: "RSA-OAEP-256" });
    const { tokens } = await signIn(config);
    expect(tokens.claims()?.sub).toBe(userId);
    const first = await decryptNested(tokens.id_token as string, key.privateKey);
    expect(first.header).toMatchObject({
      alg: "RSA-OAEP-256",
      enc: "A128CBC-HS256",
      cty: "JWT",
      kid: key.kid,
    });
    await verifyWithJwks(t.app, first.inner, { issuer: ISSUER, audience: client.id });

    // Every ID token the client gets is encrypted: the refresh grant's too.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(segments(refreshed.id_token as string)).toBe(5);
    expect(refreshed.claims()?.sub).toBe(userId);
    const second = await decryptNested(refreshed.id_token as string, key.privateKey);
    const { payload } = await verifyWithJwks(t.app, second.inner, { issuer: ISSUER, audience: client.id });
    expect(payload.sub).toBe(userId);
  });

  it("ECDH-ES+A256KW with an X25519 key", async () => {
    const key = await recipientKey("x25519", { kid: null });
    const registered = await register({
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      jwks: { keys: [key.publicJwk] },
    });
    // Registration §2: the enc defaults to A128CBC-HS256, and the answer says so.
    expect(registered.id_token_encrypted_response_enc).toBe("A128CBC-HS256");
    const config = await relyingParty(registered.client_id, registered.client_secret, {
      key,
      alg: "ECDH-ES+A256KW",
    });
    const { tokens } = await signIn(config, "openid");
    expect(tokens.claims()?.sub).toBe(userId);
    const { header, inner } = await decryptNested(tokens.id_token as string, key.privateKey);
    expect(header).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A128CBC-HS256", cty: "JWT" });
    expect(header.kid).toBeUndefined();
    await verifyWithJwks(t.app, inner, { issuer: ISSUER, audience: registered.client_id });
  });

  it("userinfo as a signed-then-encrypted JWT (application/jwt), read by openid-client and jose", async () => {
    const key = await recipientKey("ec");
    const registered = await register({
      userinfo_encrypted_response_alg: "ECDH-ES+A256KW",
      userinfo_encrypted_response_enc: "A256GCM",
      jwks: { keys: [key.publicJwk] },
    });
    expect(registered).toMatchObject({
      userinfo_encrypted_response_alg: "ECDH-ES+A256KW",
      userinfo_encrypted_response_enc: "A256GCM",
    });
    expect(registered.id_token_encrypted_response_alg).toBeUndefined();
    const config = await relyingParty(registered.client_id, registered.client_secret, {
      key,
      alg: "ECDH-ES+A256KW",
    });
    const { tokens } = await signIn(config);
    // Only userinfo was asked to be encrypted: the ID token is a plain signed JWT.
    expect(segments(tokens.id_token as string)).toBe(3);

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(userinfo).toMatchObject({ sub: userId, email: "pat@example.test", preferred_username: "pat" });
    const signed = oidc.getDecryptedResponses(userinfo) as string;

    const raw = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(raw.statusCode).toBe(200);
    expect(raw.headers["content-type"]).toMatch(/^application\/jwt/);
    expect(raw.headers["cache-control"]).toBe("no-store");
    expect(segments(raw.body)).toBe(5);
    const { header, inner } = await decryptNested(raw.body, key.privateKey);
    expect(header).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM", cty: "JWT", kid: key.kid });
    // Signed with the client's ID token algorithm (it registered no userinfo_signed_response_alg), with iss and
    // aud (§5.3.2).
    const { payload, protectedHeader } = await verifyWithJwks(t.app, inner, {
      issuer: ISSUER,
      audience: registered.client_id,
    });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({ sub: userId, email: "pat@example.test" });
    expect(segments(signed)).toBe(3);
  });

  it("userinfo as a signed JWT only (userinfo_signed_response_alg ES256)", async () => {
    const registered = await register({ userinfo_signed_response_alg: "ES256" });
    expect(registered.userinfo_signed_response_alg).toBe("ES256");
    const config = await relyingParty(registered.client_id, registered.client_secret);
    const { tokens } = await signIn(config, "openid email");
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(userinfo).toMatchObject({ sub: userId, email: "pat@example.test" });
    const raw = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(raw.headers["content-type"]).toMatch(/^application\/jwt/);
    expect(segments(raw.body)).toBe(3);
    const { protectedHeader, payload } = await verifyWithJwks(t.app, raw.body, {
      issuer: ISSUER,
      audience: registered.client_id,
    });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload.sub).toBe(userId);
  });

  it("a client that registered no encryption still gets a signed ID token and JSON userinfo", async () => {
    const registered = await register({});
    for (const name of [
      "id_token_encrypted_response_alg",
      "userinfo_encrypted_response_alg",
      "userinfo_signed_response_alg",
      "jwks",
      "jwks_uri",
    ]) {
      expect(registered[name], name).toBeUndefined();
    }
    const config = await relyingParty(registered.client_id, registered.client_secret);
    const { tokens } = await signIn(config);
    expect(segments(tokens.id_token as string)).toBe(3);
    await verifyWithJwks(t.app, tokens.id_token as string, {
      issuer: ISSUER,
      audience: registered.client_id,
    });
    const raw = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(raw.headers["content-type"]).toMatch(/^application\/json/);
    expect(raw.json()).toMatchObject({ sub: userId });
  });

  it("discovery advertises the algorithms clients may register", async () => {
    const document = (await t.app.inject({ url: "/.well-known/openid-configuration" })).json();
    expect(document).toMatchObject({
      id_token_encryption_alg_values_supported: ["ECDH-ES+A256KW", "RSA-OAEP-256"],
      id_token_encryption_enc_values_supported: ["A128CBC-HS256", "A256GCM"],
      userinfo_encryption_alg_values_supported: ["ECDH-ES+A256KW", "RSA-OAEP-256"],
      userinfo_encryption_enc_values_supported: ["A128CBC-HS256", "A256GCM"],
      userinfo_signing_alg_values_supported: ["EdDSA", "ES256", "RS256"],
    });
  });
});
