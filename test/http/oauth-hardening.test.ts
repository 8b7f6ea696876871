/**
 * Refusals found by a security review of the OAuth code: consent without scopes or for other resources,
 * walking a refresh grace window, codes outliving their session, introspection by other clients, unthrottled
 * device confirmation, hosts that could reach a CSP, end-session hints from another sign-in, and RFC 7592
 * updates that would drop administrator settings.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { runAuthorization } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const CALLBACK = "https://app.example.test/callback";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const API_A = "https://a.example.test";
const API_B = "https://b.example.test";

describe("OAuth hardening", () => {
  let t: TestApp;
  let thirdParty: { id: string; secret: string };
  let firstParty: { id: string; secret: string };

  const basic = (c: { id: string; secret: string }) =>
    `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString("base64")}`;
  const authorize = (clientId: string, extra: Record<string, string> = {}) =>
    `/authorize?${new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: CALLBACK,
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
      state: "s",
      ...extra,
    }).toString()}`;
  const form = (url: string, body: Record<string, string>, auth?: string) =>
    t.app.inject({
      method: "POST",
      url,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(auth ? { authorization: auth } : {}),
      },
      payload: new URLSearchParams(body).toString(),
    });
  async function signedIn() {
    const page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    await page.post("/login", { username: "pat", password: PASSWORD });
    return page;
  }
  async function pair(
    client: { id: string; secret: string },
    page?: PageClient,
    extra: Record<string, string> = {},
  ) {
    const callback = await runAuthorization(
      page ?? new PageClient(t.app, ISSUER),
      new URL(ISSUER + authorize(client.id, { scope: "openid", ...extra })),
    );
    const response = await form(
      "/token",
      {
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") as string,
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      },
      basic(client),
    );
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { access_token: string; refresh_token: string; id_token: string };
  }

  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    await t.ctx.oauth.clients.createResourceServer({ audience: API_A, name: "A", scope: "read" });
    await t.ctx.oauth.clients.createResourceServer({ audience: API_B, name: "B", scope: "read" });
    const a = await t.ctx.oauth.clients.create({
      name: "Third",
      redirectUris: [CALLBACK],
      scope: "openid read offline_access",
      resources: [API_A, API_B],
    });
    thirdParty = { id: a.client.id, secret: a.secret as string };
    const b = await t.ctx.oauth.clients.create({ name: "First", redirectUris: [CALLBACK], firstParty: true });
    firstParty = { id: b.client.id, secret: b.secret as string };
  });
  afterAll(async () => {
    await t.close();
  });

  it("asks for consent even when a client asks for no scope at all", async () => {
    const page = await signedIn();
    const silent = await page.get(authorize(thirdParty.id, { prompt: "none" }));
    expect(new URL(String(silent.headers.location)).searchParams.get("error")).toBe("consent_required");
    const shown = await page.get(authorize(thirdParty.id));
    expect(shown.statusCode).toBe(200);
    expect(shown.body).toContain('action="/authorize/consent"');
  });

  it("asks again when the same scope is requested for another resource", async () => {
    const page = await signedIn();
    await runAuthorization(
      page,
      new URL(ISSUER + authorize(thirdParty.id, { scope: "read", resource: API_A })),
    );
    const again = await page.get(authorize(thirdParty.id, { scope: "read", resource: API_A }));
    expect(again.statusCode).toBe(303);
    const other = await page.get(authorize(thirdParty.id, { scope: "read", resource: API_B }));
    expect(other.statusCode).toBe(200);
    expect(other.body).toContain('action="/authorize/consent"');
  });

  it("does not let an old refresh token walk the grace window once its successor was used", async () => {
    const { refresh_token: first } = await pair(firstParty);
    const second = (
      await form("/token", { grant_type: "refresh_token", refresh_token: first }, basic(firstParty))
    ).json();
    const third = await form(
      "/token",
      { grant_type: "refresh_token", refresh_token: second.refresh_token },
      basic(firstParty),
    );
    expect(third.statusCode).toBe(200);
    // Inside the window, but RT2 has been rotated since: replaying RT1 is reuse, and the family dies.
    const replay = await form(
      "/token",
      { grant_type: "refresh_token", refresh_token: first },
      basic(firstParty),
    );
    expect(replay.json().error).toBe("invalid_grant");
    const after = await form(
      "/token",
      { grant_type: "refresh_token", refresh_token: third.json().refresh_token },
      basic(firstParty),
    );
    expect(after.json().error).toBe("invalid_grant");
  });

  it("lets an unredeemed code die with its session", async () => {
    const page = await signedIn();
    const response = await page.get(authorize(firstParty.id, { scope: "openid" }));
    const code = new URL(String(response.headers.location)).searchParams.get("code") as string;
    await page.get("/account");
    await page.post("/logout", {});
    const redeemed = await form(
      "/token",
      { grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: VERIFIER },
      basic(firstParty),
    );
    expect(redeemed.json().error).toBe("invalid_grant");
  });

  it("answers introspection only to the token's client or a resource server it is for", async () => {
    const { access_token, refresh_token } = await pair(firstParty);
    const stranger = await t.ctx.oauth.clients.create({ name: "Stranger", redirectUris: [CALLBACK] });
    const strangerAuth = basic({ id: stranger.client.id, secret: stranger.secret as string });
    for (const token of [access_token, refresh_token]) {
      expect((await form("/introspect", { token }, strangerAuth)).json()).toEqual({ active: false });
      expect((await form("/introspect", { token }, basic(firstParty))).json().active).toBe(true);
    }
    // A resource server registered as a client with the token's audience may introspect it.
    const page = await signedIn();
    const tokens = await pair(thirdParty, page, { scope: "openid read", resource: API_A });
    const rs = await t.ctx.oauth.clients.create({
      name: "API A",
      grantTypes: ["client_credentials"],
      scope: "",
      resources: [API_A],
    });
    const rsAuth = basic({ id: rs.client.id, secret: rs.secret as string });
    expect((await form("/introspect", { token: tokens.access_token }, rsAuth)).json().active).toBe(true);
    expect((await form("/introspect", { token: tokens.refresh_token }, rsAuth)).json().active).toBe(false);
  });

  it("throttles guessing on the device confirmation form too", async () => {
    const page = new PageClient(t.app, ISSUER, "198.51.100.77");
    await page.get("/login");
    await page.post("/login", { username: "pat", password: PASSWORD });
    await page.get("/device");
    let last = 0;
    for (let i = 0; i < 25; i++) {
      last = (await page.post("/device/confirm", { user_code: "BBBB-BBBB", decision: "allow" })).statusCode;
    }
    expect(last).toBe(429);
  });

  it.each(["https://*/cb", "https://a;b.example.test/cb", "https://a'b/cb", "https://a_b.example.test/cb"])(
    "refuses the redirect URI host of %s",
    async (uri) => {
      await expect(t.ctx.oauth.clients.create({ name: "x", redirectUris: [uri] })).rejects.toMatchObject({
        code: "invalid_redirect_uri",
      });
    },
  );

  it("asks to confirm a logout whose ID token comes from another sign-in", async () => {
    const old = await pair(firstParty);
    const page = await signedIn();
    const response = await page.get(`/end-session?id_token_hint=${old.id_token}`);
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('action="/end-session/confirm"');
    expect((await page.get("/session")).statusCode).toBe(200);
  });

  it("keeps administrator settings through an RFC 7592 update, and refuses an http back-channel URI", async () => {
    const created = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: JSON.stringify({ client_name: "Self", redirect_uris: [CALLBACK] }),
    });
    const body = created.json();
    const id = body.client_id as string;
    await t.ctx.storage.db
      .updateTable("oauth_clients")
      .set({ require_par: 1, first_party: 1 })
      .where("id", "=", id)
      .execute();
    t.clock.advance(6_000); // past the 5-second client cache, so the direct change is seen
    const updated = await t.app.inject({
      method: "PUT",
      url: `/register/${encodeURIComponent(id)}`,
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${body.registration_access_token}`,
      },
      payload: JSON.stringify({ client_id: id, client_name: "Self 2", redirect_uris: [CALLBACK] }),
    });
    expect(updated.statusCode).toBe(200);
    const client = await t.ctx.oauth.clients.get(id);
    expect(client).toMatchObject({ name: "Self 2", requirePar: true, firstParty: true });
    const http = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: JSON.stringify({
        client_name: "x",
        redirect_uris: [CALLBACK],
        backchannel_logout_uri: "http://127.0.0.1:9/x",
      }),
    });
    expect(http.json().error).toBe("invalid_client_metadata");
  });
});
