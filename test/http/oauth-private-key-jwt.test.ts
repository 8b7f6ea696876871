/** private_key_jwt client authentication (RFC 7523 §2.2, §3), with openid-client and hand-made assertions. */
import { generateKeyPairSync, type webcrypto } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { injectFetch } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const API = "https://api.example.test";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

describe.each(DIALECTS)("private_key_jwt on %s", (dialect) => {
  let t: TestApp;
  let clientId: string;
  let privateKey: webcrypto.CryptoKey;
  let otherKey: webcrypto.CryptoKey;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    privateKey = pair.privateKey as webcrypto.CryptoKey;
    otherKey = (await generateKeyPair("EdDSA", { crv: "Ed25519" })).privateKey as webcrypto.CryptoKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1" };
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "read" });
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "Signer",
      authMethod: "private_key_jwt",
      jwks: { keys: [jwk] },
      grantTypes: ["client_credentials"],
      scope: "read",
      resources: [API],
    });
    expect(secret).toBeUndefined();
    clientId = client.id;
  });
  afterAll(async () => {
    await t.close();
  });

  function assertion(
    claims: Record<string, unknown> = {},
    key = privateKey,
    header: Record<string, unknown> = {},
  ) {
    const now = Math.floor(t.clock.now() / 1000);
    const payload: Record<string, unknown> = {
      iss: clientId,
      sub: clientId,
      aud: `${ISSUER}/token`,
      iat: now,
      exp: now + 60,
      jti: crypto.randomUUID(),
      ...claims,
    };
    for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
    return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: "k1", ...header }).sign(key);
  }

  async function token(form: Record<string, string>) {
    return t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({ grant_type: "client_credentials", ...form }).toString(),
    });
  }

  it("authenticates openid-client's PrivateKeyJwt", async () => {
    const config = await oidc.discovery(
      new URL(ISSUER),
      clientId,
      {},
      // openid-client names an Ed25519 signature with RFC 9864's fully-specified "Ed25519" (not "EdDSA").
      oidc.PrivateKeyJwt({ key: privateKey, kid: "k1" }),
      { [oidc.customFetch]: injectFetch(t.app), execute: [] },
    );
    expect(config.serverMetadata().token_endpoint_auth_methods_supported).toContain("private_key_jwt");
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "read", resource: API });
    expect(tokens.access_token).toBeTruthy();
    // Twice: each call signs a fresh assertion (new jti).
    expect((await oidc.clientCredentialsGrant(config, { scope: "read" })).access_token).toBeTruthy();
  });

  it("accepts both names of an Ed25519 signature, EdDSA and Ed25519 (RFC 9864)", async () => {
    for (const alg of ["EdDSA", "Ed25519"]) {
      const value = await assertion({}, privateKey, { alg });
      const response = await token({ client_assertion_type: ASSERTION_TYPE, client_assertion: value });
      expect(response.statusCode, alg).toBe(200);
    }
  });

  it("accepts an assertion once; the same jti again is refused", async () => {
    const value = await assertion();
    const first = await token({ client_assertion_type: ASSERTION_TYPE, client_assertion: value });
    expect(first.statusCode).toBe(200);
    const replay = await token({ client_assertion_type: ASSERTION_TYPE, client_assertion: value });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe("invalid_client");
  });

  it.each([
    ["signed with another key", async (a: typeof assertion) => a({}, otherKey)],
    [
      "for another audience",
      async (a: typeof assertion) => a({ aud: "https://elsewhere.example.test/token" }),
    ],
    ["expired", async (a: typeof assertion) => a({ exp: 1_000_000 })],
    ["valid for too long", async (a: typeof assertion) => a({ exp: 4_000_000_000 })],
    [
      "issued after it expires",
      async (a: typeof assertion) => {
        const now = Math.floor(t.clock.now() / 1000);
        return a({ iat: now + 50, exp: now + 40 });
      },
    ],
    [
      "issued beyond the clock skew in the future",
      async (a: typeof assertion) => {
        const now = Math.floor(t.clock.now() / 1000);
        return a({ iat: now + 120, exp: now + 180 });
      },
    ],
    [
      "made to live longer than 10 minutes",
      async (a: typeof assertion) => {
        const now = Math.floor(t.clock.now() / 1000);
        return a({ iat: now - 3600, exp: now + 60 });
      },
    ],
    ["without a jti", async (a: typeof assertion) => a({ jti: undefined })],
    ["with another subject", async (a: typeof assertion) => a({ sub: "someone-else" })],
    ["with an unknown kid", async (a: typeof assertion) => a({}, privateKey, { kid: "k2" })],
  ])("refuses an assertion %s", async (_name, make) => {
    const value = await make(assertion);
    const response = await token({ client_assertion_type: ASSERTION_TYPE, client_assertion: value });
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toBe("invalid_client");
  });

  it("refuses alg none, a wrong assertion type, and a second method alongside", async () => {
    const valid = await assertion();
    const [, payload] = valid.split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "k1" })).toString("base64url")}.${payload}.`;
    expect((await token({ client_assertion_type: ASSERTION_TYPE, client_assertion: none })).statusCode).toBe(
      401,
    );
    const wrongType = await token({ client_assertion_type: "urn:example:other", client_assertion: valid });
    expect(wrongType.json().error).toBe("invalid_request");
    const both = await token({
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: valid,
      client_secret: "x",
    });
    expect(both.json().error).toBe("invalid_request");
  });

  it("refuses to register private keys, keys without kid, weak RSA, or no keys", async () => {
    const weak = {
      ...generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" }),
      kid: "r",
    };
    const secretJwk = { ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: "p" };
    const noKid = await exportJWK((await generateKeyPair("ES256")).publicKey);
    for (const jwks of [{ keys: [] }, { keys: [secretJwk] }, { keys: [weak] }, { keys: [noKid] }]) {
      await expect(
        t.ctx.oauth.clients.create({
          name: "bad",
          authMethod: "private_key_jwt",
          jwks,
          grantTypes: ["client_credentials"],
        } as never),
      ).rejects.toMatchObject({ code: "invalid_client_metadata" });
    }
  });
});
