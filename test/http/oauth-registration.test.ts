/** Dynamic client registration (RFC 7591) and management (RFC 7592), then the registered client in use. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/cb";

describe.each(DIALECTS)("dynamic client registration on %s", (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: "correct horse battery staple 42" },
      { actor: "test", authority: "admin" as const },
    );
  });
  afterAll(async () => {
    await t.close();
  });

  const register = (body: unknown, token?: string) =>
    t.app.inject({
      method: "POST",
      url: "/register",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      payload: JSON.stringify(body),
    });

  it("registers with an initial access token, then the client signs a user in", async () => {
    const { token } = await t.ctx.oauth.initialTokens.create({ uses: 1 });
    const response = await register(
      { client_name: "Dynamic RP", redirect_uris: [CALLBACK], scope: "openid profile", unknown_field: 1 },
      token,
    );
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      client_name: "Dynamic RP",
      redirect_uris: [CALLBACK],
      token_endpoint_auth_method: "client_secret_basic",
      response_types: ["code"],
      registration_client_uri: `${ISSUER}/register/${encodeURIComponent(body.client_id)}`,
      client_secret_expires_at: 0,
    });
    expect(body.client_secret).toMatch(/^tsr_cs_/);
    expect(body.registration_access_token).toMatch(/^tsr_rat_/);
    expect(body).not.toHaveProperty("unknown_field");
    // The token allowed one registration only.
    expect((await register({ client_name: "x", redirect_uris: [CALLBACK] }, token)).statusCode).toBe(401);

    const config = await discover(t.app, ISSUER, body.client_id, body.client_secret);
    expect(config.serverMetadata().registration_endpoint).toBe(`${ISSUER}/register`);
    const tokens = await codeFlowTokens(config, new PageClient(t.app, ISSUER), CALLBACK, "openid");
    expect(tokens.id_token).toBeTruthy();
  });

  it("reads, updates and deletes a registration with its registration access token (RFC 7592)", async () => {
    const created = (
      await register({ client_name: "Managed", redirect_uris: [CALLBACK] }, TEST_ADMIN_TOKEN)
    ).json();
    const auth = { authorization: `Bearer ${created.registration_access_token}` };
    const path = `/register/${encodeURIComponent(created.client_id)}`;
    const read = await t.app.inject({ url: path, headers: auth });
    expect(read.statusCode).toBe(200);
    expect(read.json()).not.toHaveProperty("client_secret");
    const updated = await t.app.inject({
      method: "PUT",
      url: path,
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({
        client_id: created.client_id,
        client_name: "Renamed",
        redirect_uris: ["https://rp.example.test/new"],
      }),
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.json()).toMatchObject({
      client_name: "Renamed",
      redirect_uris: ["https://rp.example.test/new"],
    });
    expect((await t.ctx.oauth.clients.get(created.client_id))?.name).toBe("Renamed");
    const wrong = await t.app.inject({ url: path, headers: { authorization: "Bearer tsr_rat_wrong" } });
    expect(wrong.statusCode).toBe(401);
    const other = (
      await register({ client_name: "Other", redirect_uris: [CALLBACK] }, TEST_ADMIN_TOKEN)
    ).json();
    const crossed = await t.app.inject({
      url: path,
      headers: { authorization: `Bearer ${other.registration_access_token}` },
    });
    expect(crossed.statusCode).toBe(401);
    const deleted = await t.app.inject({ method: "DELETE", url: path, headers: auth });
    expect(deleted.statusCode).toBe(204);
    expect(await t.ctx.oauth.clients.get(created.client_id)).toBeUndefined();
    expect((await t.app.inject({ url: path, headers: auth })).statusCode).toBe(401);
  });

  it.each([
    [{ client_name: "x", redirect_uris: ["http://rp.example.test/cb"] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: ["https://rp.example.test/cb#f"] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: ["https://rp.example.test/c b"] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: [`${CALLBACK}\r\n`] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: [`\t${CALLBACK}`] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: [`${CALLBACK}\u0000`] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: [`${CALLBACK}\u00a0`] }, "invalid_redirect_uri"],
    [
      {
        client_name: "x",
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: ["https://rp.example.test/ out"],
      },
      "invalid_redirect_uri",
    ],
    [{ client_name: "x", redirect_uris: ["https://RP.example.test/cb"] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: ["https://rp.example.test:443/cb"] }, "invalid_redirect_uri"],
    [{ client_name: "x", redirect_uris: [CALLBACK], scope: "openid api:read" }, "invalid_client_metadata"],
    [{ client_name: "x", redirect_uris: [CALLBACK], scope: "openid admin" }, "invalid_client_metadata"],
    [{ client_name: "x", redirect_uris: [CALLBACK], response_types: ["token"] }, "invalid_client_metadata"],
    [{ client_name: "x", redirect_uris: [CALLBACK], grant_types: ["implicit"] }, "invalid_client_metadata"],
    [{ client_name: "x", redirect_uris: "not-an-array" }, "invalid_client_metadata"],
    [
      { client_name: "x", token_endpoint_auth_method: "none", grant_types: ["client_credentials"] },
      "invalid_client_metadata",
    ],
    [
      { client_name: "x", redirect_uris: [CALLBACK], jwks_uri: "https://rp.example.test/jwks" },
      "invalid_client_metadata",
    ],
  ])("refuses %j with %s", async (metadata, error) => {
    const response = await register(metadata, TEST_ADMIN_TOKEN);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe(error);
  });

  it("refuses the same redirect URIs and scopes in an RFC 7592 replacement", async () => {
    const created = (
      await register({ client_name: "Kept", redirect_uris: [CALLBACK] }, TEST_ADMIN_TOKEN)
    ).json();
    const replace = (metadata: Record<string, unknown>) =>
      t.app.inject({
        method: "PUT",
        url: `/register/${encodeURIComponent(created.client_id)}`,
        headers: {
          authorization: `Bearer ${created.registration_access_token}`,
          "content-type": "application/json",
        },
        payload: JSON.stringify({ client_id: created.client_id, client_name: "Kept", ...metadata }),
      });
    for (const [metadata, error] of [
      [{ redirect_uris: ["https://rp.example.test/c b"] }, "invalid_redirect_uri"],
      [
        { redirect_uris: [CALLBACK], post_logout_redirect_uris: ["https://rp.example.test/\nout"] },
        "invalid_redirect_uri",
      ],
      [{ redirect_uris: [CALLBACK], scope: "openid api:read" }, "invalid_client_metadata"],
    ] as const) {
      const response = await replace(metadata);
      expect(response.statusCode, JSON.stringify(metadata)).toBe(400);
      expect(response.json().error).toBe(error);
    }
    expect((await t.ctx.oauth.clients.get(created.client_id))?.redirectUris).toEqual([CALLBACK]);
  });

  it("refuses a body that is not UTF-8 (400 invalid_request) and stores nothing", async () => {
    const before = (await t.ctx.oauth.clients.list()).length;
    const json = Buffer.from(
      '{"client_name":"X\u00c3(","redirect_uris":["https://rp.example.test/cb"]}',
      "latin1",
    );
    // The bytes C3 28: a UTF-8 lead byte followed by "(" is not UTF-8.
    expect(json.includes(Buffer.from([0xc3, 0x28]))).toBe(true);
    const response = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: json,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: "invalid_request",
      error_description: "The JSON body is not valid UTF-8.",
    });
    expect((await t.ctx.oauth.clients.list()).length).toBe(before);
  });

  it("refuses registration without a valid initial access token, or with an expired one", async () => {
    expect((await register({ client_name: "x", redirect_uris: [CALLBACK] })).statusCode).toBe(401);
    expect((await register({ client_name: "x", redirect_uris: [CALLBACK] }, "tsr_iat_nope")).statusCode).toBe(
      401,
    );
    const { token } = await t.ctx.oauth.initialTokens.create({ ttlSeconds: 60 });
    t.clock.advance(61_000);
    const expired = await register({ client_name: "x", redirect_uris: [CALLBACK] }, token);
    expect(expired.statusCode).toBe(401);
    expect(expired.headers["www-authenticate"]).toMatch(/invalid_token/);
  });
});
