/**
 * Tessera as the OpenID Provider of panva's openid-client (a certified relying party), on SQLite and
 * PostgreSQL: discovery, the code flow with PKCE through the real sign-in and consent pages, ID token,
 * userinfo, refresh with rotation, client_credentials, introspection, revocation, single sign-on.
 * Access tokens are also checked with `jose` against the published JWKS (an independent verifier).
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover, runAuthorization, codeFlow as sharedCodeFlow } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const API = "https://api.example.test";
const WEB_CALLBACK = "https://app.example.test/callback";

describe.each(DIALECTS)("openid-client against Tessera on %s", (dialect) => {
  let t: TestApp;
  let userId: string;
  let web: { id: string; secret: string };
  let other: { id: string; secret: string };
  let native: { id: string };
  let service: { id: string; secret: string };

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        {
          userName: "pat",
          displayName: "Pat Doe",
          givenName: "Pat",
          familyName: "Doe",
          emails: [{ value: "pat@example.test", type: "work", primary: true }],
          password: PASSWORD,
        },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const group = await t.ctx.accounts.groups.create(
      { displayName: "Engineering", members: [userId] },
      { actor: "test", authority: "admin" },
    );
    expect(group.displayName).toBe("Engineering");
    const { clients } = t.ctx.oauth;
    await clients.createResourceServer({
      audience: API,
      name: "Orders API",
      scope: "orders:read orders:write",
    });
    const a = await clients.create({
      name: "Web App",
      redirectUris: [WEB_CALLBACK],
      scope: "openid profile email groups offline_access orders:read",
      resources: [API],
    });
    web = { id: a.client.id, secret: a.secret as string };
    const b = await clients.create({ name: "Second App", redirectUris: ["https://second.example.test/cb"] });
    other = { id: b.client.id, secret: b.secret as string };
    const c = await clients.create({
      name: "Desktop App",
      authMethod: "none",
      redirectUris: ["http://127.0.0.1/callback", "com.example.desktop:/callback"],
      scope: "openid profile offline_access",
    });
    native = { id: c.client.id };
    const d = await clients.create({
      name: "Billing Service",
      grantTypes: ["client_credentials"],
      scope: "orders:read orders:write",
      resources: [API],
    });
    service = { id: d.client.id, secret: d.secret as string };
  });
  afterAll(async () => {
    await t.close();
  });

  async function codeFlow(
    config: oidc.Configuration,
    redirectUri: string,
    scope: string,
    page = new PageClient(t.app, ISSUER),
  ) {
    return { ...(await sharedCodeFlow(config, page, redirectUri, scope, { nonce: true })), page };
  }

  async function verifyWithJose(token: string, audience: string) {
    const jwks = (await t.app.inject({ url: "/.well-known/jwks.json" })).json();
    return jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience, typ: "at+jwt" });
  }

  it("discovers a truthful configuration", async () => {
    const config = await discover(t.app, ISSUER, web.id, web.secret);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(ISSUER);
    expect(meta.response_types_supported).toEqual(["code"]);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.grant_types_supported).not.toContain("implicit");
    expect(meta.grant_types_supported).not.toContain("password");
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    const rfc8414 = (await t.app.inject({ url: "/.well-known/oauth-authorization-server" })).json();
    expect(rfc8414).toEqual((await t.app.inject({ url: "/.well-known/openid-configuration" })).json());
  });

  it("runs the code flow with PKCE through sign-in and consent, then userinfo and refresh", async () => {
    const config = await discover(t.app, ISSUER, web.id, web.secret);
    const { tokens, callback } = await codeFlow(
      config,
      WEB_CALLBACK,
      "openid profile email groups orders:read",
    );
    expect(callback.searchParams.get("iss")).toBe(ISSUER);
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: ISSUER,
      sub: userId,
      aud: web.id,
      acr: "urn:tessera:acr:password",
      amr: ["pwd"],
      name: "Pat Doe",
      email: "pat@example.test",
    });
    expect(typeof claims?.auth_time).toBe("number");
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.expires_in).toBe(900);
    expect(tokens.scope).toBe("openid profile email groups orders:read");

    // The access token is an RFC 9068 JWT for the API, checked by an independent verifier.
    const { payload, protectedHeader } = await verifyWithJose(tokens.access_token, API);
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
    expect(payload).toMatchObject({
      sub: userId,
      client_id: web.id,
      scope: "openid profile email groups orders:read",
    });
    for (const claim of ["exp", "iat", "jti", "auth_time"]) expect(payload).toHaveProperty(claim);
    expect((payload.exp as number) - (payload.iat as number)).toBe(900);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).toMatchObject({
      sub: userId,
      preferred_username: "pat",
      given_name: "Pat",
      family_name: "Doe",
      email: "pat@example.test",
      groups: ["Engineering"],
    });

    // A confidential client allowed refresh tokens gets one; rotation gives a new one each time.
    expect(tokens.refresh_token).toMatch(/^tsr_rt_/);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.refresh_token).toMatch(/^tsr_rt_/);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()?.sub).toBe(userId);
    const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token as string);
    expect(again.access_token).not.toBe(refreshed.access_token);
  });

  it("signs a second application in without asking for the password again (SSO)", async () => {
    const page = new PageClient(t.app, ISSUER);
    const first = await discover(t.app, ISSUER, web.id, web.secret);
    await codeFlow(first, WEB_CALLBACK, "openid profile", page);
    const second = await discover(t.app, ISSUER, other.id, other.secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(second, {
      redirect_uri: "https://second.example.test/cb",
      scope: "openid",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "s2",
    });
    const response = await page.get(url.pathname + url.search);
    // Straight to consent: the session from the first sign-in is reused.
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('action="/authorize/consent"');
    expect(response.body).toContain("Second App");
    expect(response.body).not.toContain('action="/login"');
    const callback = await runAuthorization(page, url);
    const tokens = await oidc.authorizationCodeGrant(second, callback, {
      pkceCodeVerifier: verifier,
      expectedState: "s2",
    });
    expect(tokens.claims()?.sub).toBe(userId);
    // Consent is remembered: the next request of the same scopes goes straight back with a code.
    const remembered = await page.get(url.pathname + url.search);
    expect(remembered.statusCode).toBe(303);
    expect(String(remembered.headers.location)).toMatch(/^https:\/\/second\.example\.test\/cb\?code=/);
  });

  it("serves a public native client on any loopback port, with offline_access", async () => {
    const config = await discover(t.app, ISSUER, native.id, undefined);
    const { tokens, callback } = await codeFlow(
      config,
      "http://127.0.0.1:53117/callback",
      "openid offline_access",
    );
    expect(callback.origin).toBe("http://127.0.0.1:53117");
    expect(tokens.refresh_token).toMatch(/^tsr_rt_/);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).toBeTruthy();
    // Without offline_access a public client gets no refresh token.
    const { tokens: plain } = await codeFlow(config, "com.example.desktop:/callback", "openid");
    expect(plain.refresh_token).toBeUndefined();
  });

  it("issues client_credentials tokens for the resource, with only resource scopes", async () => {
    const config = await discover(t.app, ISSUER, service.id, service.secret);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "orders:read", resource: API });
    const { payload } = await verifyWithJose(tokens.access_token, API);
    expect(payload).toMatchObject({ sub: service.id, client_id: service.id, scope: "orders:read", aud: API });
    expect(payload.auth_time).toBeUndefined();
    expect(tokens.refresh_token).toBeUndefined();
    await expect(oidc.clientCredentialsGrant(config, { scope: "openid" })).rejects.toMatchObject({
      error: "invalid_scope",
    });
    await expect(oidc.clientCredentialsGrant(config, { scope: "admin" })).rejects.toMatchObject({
      error: "invalid_scope",
    });
    await expect(
      oidc.clientCredentialsGrant(config, { scope: "orders:read", resource: "https://other.example.test" }),
    ).rejects.toMatchObject({ error: "invalid_target" });
  });

  it("introspects and revokes access and refresh tokens", async () => {
    const config = await discover(t.app, ISSUER, web.id, web.secret);
    const { tokens } = await codeFlow(config, WEB_CALLBACK, "openid offline_access");
    const access = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(access).toMatchObject({ active: true, sub: userId, client_id: web.id, username: "pat" });
    const refresh = await oidc.tokenIntrospection(config, tokens.refresh_token as string);
    expect(refresh).toMatchObject({ active: true, token_type: "refresh_token", sub: userId });
    expect((await oidc.tokenIntrospection(config, "tsr_rt_unknown")).active).toBe(false);

    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(oidc.fetchUserInfo(config, tokens.access_token, userId)).rejects.toBeDefined();

    await oidc.tokenRevocation(config, tokens.refresh_token as string);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token as string)).active).toBe(false);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    // Unknown tokens: 200 and nothing else (RFC 7009 §2.2).
    await expect(oidc.tokenRevocation(config, "not-a-token")).resolves.toBeUndefined();
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe("at+jwt");
  });
});
