/** Pushed authorization requests (RFC 9126), with openid-client as the client. */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover, runAuthorization } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://app.example.test/callback";

describe.each(DIALECTS)("pushed authorization requests on %s", (dialect) => {
  let t: TestApp;
  let client: { id: string; secret: string };
  let strict: { id: string; secret: string };
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: "correct horse battery staple 42" },
      { actor: "test", authority: "admin" as const },
    );
    const a = await t.ctx.oauth.clients.create({ name: "App", redirectUris: [CALLBACK], firstParty: true });
    client = { id: a.client.id, secret: a.secret as string };
    const b = await t.ctx.oauth.clients.create({
      name: "Strict",
      redirectUris: [CALLBACK],
      firstParty: true,
      requirePar: true,
    });
    strict = { id: b.client.id, secret: b.secret as string };
  });
  afterAll(async () => {
    await t.close();
  });

  async function flow(who: { id: string; secret: string }) {
    const config = await discover(t.app, ISSUER, who.id, who.secret);
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${ISSUER}/par`);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CALLBACK,
      scope: "openid",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "par-state",
    });
    expect([...url.searchParams.keys()].sort()).toEqual(["client_id", "request_uri"]);
    expect(url.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const callback = await runAuthorization(new PageClient(t.app, ISSUER), url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: "par-state",
    });
    return { tokens, url };
  }

  it("runs the code flow through a pushed request", async () => {
    const { tokens } = await flow(client);
    expect(tokens.access_token).toBeTruthy();
  });

  it("lets a client that requires PAR use it, and refuses its plain requests", async () => {
    const { tokens } = await flow(strict);
    expect(tokens.id_token).toBeTruthy();
    const plain = await t.app.inject({
      url: `/authorize?response_type=code&client_id=${strict.id}&redirect_uri=${encodeURIComponent(CALLBACK)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s`,
    });
    expect(plain.statusCode).toBe(303);
    const location = new URL(String(plain.headers.location));
    expect(location.searchParams.get("error")).toBe("invalid_request");
  });

  it("refuses a request_uri of another client, an unknown or expired one, and a used one", async () => {
    const config = await discover(t.app, ISSUER, client.id, client.secret);
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CALLBACK,
      scope: "openid",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    });
    const requestUri = url.searchParams.get("request_uri") as string;
    const other = await t.app.inject({
      url: `/authorize?client_id=${strict.id}&request_uri=${encodeURIComponent(requestUri)}`,
    });
    expect(other.statusCode).toBe(400);
    expect(other.headers.location).toBeUndefined();
    const unknown = await t.app.inject({
      url: `/authorize?client_id=${client.id}&request_uri=${encodeURIComponent("urn:ietf:params:oauth:request_uri:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}`,
    });
    expect(unknown.statusCode).toBe(400);
    t.clock.advance(61_000);
    const expired = await t.app.inject({
      url: `/authorize?client_id=${client.id}&request_uri=${encodeURIComponent(requestUri)}`,
    });
    expect(expired.statusCode).toBe(400);
  });

  it("answers a bad pushed request with a JSON error, never a redirect", async () => {
    const push = (form: Record<string, string>, auth = true) =>
      t.app.inject({
        method: "POST",
        url: "/par",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(auth
            ? { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}` }
            : {}),
        },
        payload: new URLSearchParams(form).toString(),
      });
    const base = {
      response_type: "code",
      redirect_uri: CALLBACK,
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
    };
    const ok = await push(base);
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ expires_in: 60 });
    for (const [form, error] of [
      [{ ...base, redirect_uri: "https://evil.example.test/cb" }, "invalid_request"],
      [{ ...base, code_challenge_method: "plain" }, "invalid_request"],
      [{ ...base, scope: "admin" }, "invalid_scope"],
      [{ ...base, request_uri: "urn:ietf:params:oauth:request_uri:x" }, "invalid_request"],
    ] as const) {
      const response = await push(form);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBe(error);
      expect(response.headers.location).toBeUndefined();
    }
    const anonymous = await push(base, false);
    expect(anonymous.statusCode).toBe(401);
  });
});
