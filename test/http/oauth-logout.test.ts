/** RP-initiated logout and back-channel logout, with a real HTTP receiver for the logout tokens. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalJWKSet, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const CALLBACK = "https://app.example.test/callback";
const BYE = "https://app.example.test/signed-out";

describe("logout", () => {
  let t: TestApp;
  let userId: string;
  let receiver: Server;
  let received: URLSearchParams[];
  let client: { id: string; secret: string };

  beforeAll(async () => {
    received = [];
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push(new URLSearchParams(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const port = (receiver.address() as AddressInfo).port;
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const created = await t.ctx.oauth.clients.create({
      name: "Web App",
      redirectUris: [CALLBACK],
      postLogoutRedirectUris: [BYE],
      backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel`,
      firstParty: true,
    });
    client = { id: created.client.id, secret: created.secret as string };
  });
  afterAll(async () => {
    await t.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  async function signInThroughClient(scope = "openid") {
    const page = new PageClient(t.app, ISSUER);
    const config = await discover(t.app, ISSUER, client.id, client.secret);
    const tokens = await codeFlowTokens(config, page, CALLBACK, scope);
    return { page, config, tokens };
  }

  async function sessionAlive(page: PageClient) {
    return (await page.get("/session")).statusCode === 200;
  }

  it("signs out with id_token_hint, redirects to the registered URI with state, and posts a logout token", async () => {
    received.length = 0;
    const { page, config, tokens } = await signInThroughClient();
    const sid = tokens.claims()?.sid as string;
    expect(sid).toBeTruthy();
    const logoutUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: BYE,
      state: "bye-state",
    });
    const response = await page.get(logoutUrl.pathname + logoutUrl.search);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${BYE}?state=bye-state`);
    expect(await sessionAlive(page)).toBe(false);

    await t.ctx.oauth.logout.idle();
    expect(received).toHaveLength(1);
    const logoutToken = received[0]?.get("logout_token") as string;
    const jwks = (await t.app.inject({ url: "/.well-known/jwks.json" })).json();
    const { payload, protectedHeader } = await jwtVerify(logoutToken, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: client.id,
      typ: "logout+jwt",
    });
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({
      sub: userId,
      sid,
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    expect(payload.nonce).toBeUndefined();
    expect(typeof payload.jti).toBe("string");

    // The sign-in's refresh token (no offline_access) ended with the session.
    const introspection = await oidc.tokenIntrospection(config, tokens.refresh_token as string);
    expect(introspection.active).toBe(false);
  });

  it("keeps offline_access refresh tokens, and signs out from Tessera's own page too", async () => {
    const other = await t.ctx.oauth.clients.create({
      name: "Offline",
      redirectUris: [CALLBACK],
      scope: "openid offline_access",
      firstParty: true,
    });
    expect(other.client.id).toBeTruthy();
    received.length = 0;
    const { page, config, tokens } = await signInThroughClient("openid offline_access");
    await page.get("/account");
    const out = await page.post("/logout", {});
    expect(out.statusCode).toBe(200);
    expect(await sessionAlive(page)).toBe(false);
    await t.ctx.oauth.logout.idle();
    expect(received).toHaveLength(1);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token as string)).active).toBe(true);
  });

  it("asks for confirmation without a valid hint, so a link elsewhere cannot sign anyone out", async () => {
    const { page } = await signInThroughClient();
    const ask = await page.get(
      `/end-session?client_id=${client.id}&post_logout_redirect_uri=${encodeURIComponent(BYE)}&state=x`,
    );
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('action="/end-session/confirm"');
    expect(ask.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.test");
    expect(await sessionAlive(page)).toBe(true);
    // A cross-site POST of the confirmation is refused (no valid CSRF token).
    const forged = await page.post("/end-session/confirm", { client_id: client.id }, { csrf: false });
    expect(forged.statusCode).toBe(403);
    expect(await sessionAlive(page)).toBe(true);
    const confirmed = await page.post("/end-session/confirm", {
      client_id: client.id,
      post_logout_redirect_uri: BYE,
      state: "x",
    });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe(`${BYE}?state=x`);
    expect(await sessionAlive(page)).toBe(false);
  });

  it("never redirects to an unregistered post-logout URI or on a bad hint", async () => {
    const { page, tokens } = await signInThroughClient();
    for (const query of [
      `id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent("https://evil.example.test/")}`,
      `post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
      `id_token_hint=${tokens.id_token}x&post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
      `id_token_hint=${tokens.id_token}&client_id=someone-else`,
    ]) {
      const response = await page.get(`/end-session?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers.location).toBeUndefined();
    }
    expect(await sessionAlive(page)).toBe(true);
  });

  it("accepts an expired ID token as a hint", async () => {
    const { page, tokens } = await signInThroughClient();
    t.clock.advance(2 * 3600 * 1000);
    // Two hours later the ID token has expired (and the idle session too): the hint still names the client,
    // so the registered post-logout URI is honoured.
    const response = await page.get(
      `/end-session?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
    );
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(BYE);
  });
});
