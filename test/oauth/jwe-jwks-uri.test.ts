/**
 * A client's encryption keys at its `jwks_uri` (OpenID Connect Registration §2, Core §10.2.1), on SQLite and
 * PostgreSQL: fetched through the outbound guard at registration and then as the answer's Cache-Control says,
 * noticed when rotated, the last good set kept while the URL fails, and never a token sent in the clear when no
 * key fits. The receiver is a local HTTP server (loopback allowed by `TESSERA_OUTBOUND_ALLOW_PRIVATE`); time
 * moves by the test clock.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { basicAuth, codeFlow, discover } from "../helpers/oauth.js";
import { decryptNested, type RecipientKey, recipientKey, segments, verifyWithJwks } from "./jwe-fixture.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/callback";
const PASSWORD = "correct horse battery staple 42";

describe.each(DIALECTS)("encryption keys at a jwks_uri on %s", (dialect) => {
  let t: TestApp;
  let server: Server;
  let jwksUri: string;
  /** What the key server answers next. */
  let answer: { status: number; body: unknown; cacheControl?: string };
  let hits = 0;
  let k1: RecipientKey;
  let k2: RecipientKey;

  beforeAll(async () => {
    t = await createTestApp({
      dialect,
      env: { TESSERA_ISSUER: ISSUER, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" },
    });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    k1 = await recipientKey("ec", { kid: "k1" });
    k2 = await recipientKey("ec", { kid: "k2" });
    answer = { status: 200, body: { keys: [k1.publicJwk] }, cacheControl: "public, max-age=120" };
    server = createServer((_req, res) => {
      hits++;
      res
        .writeHead(answer.status, {
          "content-type": "application/json",
          ...(answer.cacheControl ? { "cache-control": answer.cacheControl } : {}),
        })
        .end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.close();
  });

  const register = (metadata: Record<string, unknown>) =>
    t.app.inject({
      method: "POST",
      url: "/register",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: JSON.stringify({ client_name: "Key-publishing RP", redirect_uris: [CALLBACK], ...metadata }),
    });

  it("fetches at registration, caches, follows a rotation, keeps the last keys while the URL fails", async () => {
    const registered = await register({
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      id_token_encrypted_response_enc: "A256GCM",
      jwks_uri: jwksUri,
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const client = registered.json() as { client_id: string; client_secret: string; jwks_uri: string };
    expect(client.jwks_uri).toBe(jwksUri);
    expect(hits).toBe(1);

    // The code flow, through openid-client decrypting with k1: no second fetch (the set is fresh).
    const config = await discover(t.app, ISSUER, client.client_id, client.client_secret);
    const { enableDecryptingResponses } = await import("openid-client");
    enableDecryptingResponses(config, ["A256GCM"], { key: await k1.cryptoKey("ECDH-ES+A256KW"), kid: "k1" });
    const { tokens } = await codeFlow(
      config,
      new PageClient(t.app, ISSUER),
      CALLBACK,
      "openid offline_access",
    );
    expect(tokens.claims()?.aud).toBe(client.client_id);
    expect(hits).toBe(1);
    let refreshToken = tokens.refresh_token as string;

    const refresh = async () => {
      const response = await t.app.inject({
        method: "POST",
        url: "/token",
        headers: {
          authorization: basicAuth({ id: client.client_id, secret: client.client_secret }),
          "content-type": "application/x-www-form-urlencoded",
        },
        payload: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString(),
      });
      if (response.statusCode === 200) refreshToken = response.json().refresh_token;
      return response;
    };
    const idTokenKid = async (key: RecipientKey) => {
      const response = await refresh();
      expect(response.statusCode, response.body).toBe(200);
      const { header, inner } = await decryptNested(response.json().id_token, key.privateKey);
      await verifyWithJwks(t.app, inner, { issuer: ISSUER, audience: client.client_id });
      return header.kid;
    };

    expect(await idTokenKid(k1)).toBe("k1");
    expect(hits).toBe(1);

    // The client rotates: k2 only. Seen once the cached set expires (max-age 120 s), not before.
    answer = { ...answer, body: { keys: [k2.publicJwk] } };
    t.clock.advance(60_000);
    expect(await idTokenKid(k1)).toBe("k1");
    expect(hits).toBe(1);
    t.clock.advance(61_000);
    expect(await idTokenKid(k2)).toBe("k2");
    expect(hits).toBe(2);

    // The URL fails: the last good keys are used, and the failure is logged; asked again after a minute.
    answer = { status: 500, body: { error: "down" } };
    t.clock.advance(121_000);
    expect(await idTokenKid(k2)).toBe("k2");
    expect(hits).toBe(3);
    expect(t.logs()).toContain("jwks_uri could not be refetched");
    expect(await idTokenKid(k2)).toBe("k2");
    expect(hits).toBe(3);

    // A set with no key for the algorithm: nothing is sent in the clear, the request fails.
    const rsa = await recipientKey("rsa");
    answer = { status: 200, body: { keys: [rsa.publicJwk] } };
    t.clock.advance(61_000);
    const failed = await refresh();
    expect(failed.statusCode).toBe(500);
    expect(failed.body).not.toContain("eyJ");
    expect(hits).toBe(4);
  });

  it("refuses at registration a jwks_uri that is not a JWK Set, answers an error, or has no fitting key", async () => {
    for (const [next, message] of [
      [{ status: 404, body: {} }, /answered HTTP 404/],
      [{ status: 200, body: ["not", "a", "set"] }, /not a JWK Set/],
      [{ status: 200, body: { keys: [(await recipientKey("rsa")).publicJwk] } }, /needs an EC key/],
    ] as const) {
      answer = next as typeof answer;
      const response = await register({
        id_token_encrypted_response_alg: "ECDH-ES+A256KW",
        jwks_uri: jwksUri,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe("invalid_client_metadata");
      expect(response.json().error_description).toMatch(message);
    }
    // A set of 64 KiB or more is refused too.
    answer = { status: 200, body: { keys: [{ kty: "EC", pad: "x".repeat(70_000) }] } };
    const large = await register({ id_token_encrypted_response_alg: "ECDH-ES+A256KW", jwks_uri: jwksUri });
    expect(large.json().error_description).toMatch(/larger than 64 KiB/);
  });

  it("an administrator's change leaves the keys alone unless the jwks_uri or an algorithm changes", async () => {
    answer = { status: 200, body: { keys: [k1.publicJwk] } };
    const registered = await register({
      id_token_encrypted_response_alg: "ECDH-ES+A256KW",
      jwks_uri: jwksUri,
    });
    const id = registered.json().client_id as string;
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: "PATCH",
        url: `/admin/clients/${encodeURIComponent(id)}`,
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        payload,
      });
    // The key server is down: a rename does not need it...
    answer = { status: 503, body: {} };
    const before = hits;
    const renamed = await patch({ name: "Renamed RP" });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ name: "Renamed RP", jwksUri });
    expect(hits).toBe(before);
    // ...a new URL or algorithm is checked at once.
    const moved = await patch({ jwksUri: `${jwksUri}/v2` });
    expect(moved.statusCode).toBe(400);
    expect(moved.json().error_description).toMatch(/answered HTTP 503/);
    const realg = await patch({ idTokenEncryption: { alg: "RSA-OAEP-256" } });
    expect(realg.statusCode).toBe(400);
    expect(hits).toBe(before + 2);
  });

  it("a userinfo answer is encrypted to the key at the jwks_uri too", async () => {
    answer = { status: 200, body: { keys: [k1.publicJwk] }, cacheControl: "max-age=600" };
    const registered = await register({
      userinfo_encrypted_response_alg: "ECDH-ES+A256KW",
      jwks_uri: jwksUri,
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const client = registered.json() as { client_id: string; client_secret: string };
    const config = await discover(t.app, ISSUER, client.client_id, client.client_secret);
    const { tokens } = await codeFlow(config, new PageClient(t.app, ISSUER), CALLBACK, "openid");
    const userinfo = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(userinfo.headers["content-type"]).toMatch(/^application\/jwt/);
    expect(segments(userinfo.body)).toBe(5);
    const { header, inner } = await decryptNested(userinfo.body, k1.privateKey);
    expect(header.kid).toBe("k1");
    const { payload } = await verifyWithJwks(t.app, inner, { issuer: ISSUER, audience: client.client_id });
    expect(payload.sub).toBe(tokens.claims()?.sub);
  });
});
