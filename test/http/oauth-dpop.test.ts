/**
 * DPoP at Tessera (RFC 9449): openid-client (an independent, certified implementation) as the client for the
 * happy paths, hand-made proofs (jose) for the refusals.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, decodeJwt, exportJWK, type JWK, SignJWT } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { accessTokenHash } from "../../src/lib/dpop.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover, runAuthorization } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/cb";
const API = "https://api.example.test";
const PASSWORD = "correct horse battery staple 42";

interface ProofKey {
  privateKey: KeyObject;
  jwk: JWK;
  jkt: string;
}

async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

/** A proof made with jose: `claims` override the defaults (POST to the token endpoint, now, a fresh jti). */
function proof(key: ProofKey, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({
    htm: "POST",
    htu: `${ISSUER}/token`,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
    .sign(key.privateKey);
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

describe.each(DIALECTS)("DPoP (RFC 9449) on %s", (dialect) => {
  let t: TestApp;
  let userId: string;
  let confidential: { id: string; secret: string };
  let publicClient: { id: string };
  let service: { id: string; secret: string };
  let resourceServer: { id: string; secret: string };

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "orders:read" });
    const web = await t.ctx.oauth.clients.create({
      name: "Web",
      redirectUris: [CALLBACK],
      firstParty: true,
      grantTypes: ["authorization_code", "refresh_token"],
      scope: "openid profile offline_access orders:read",
      resources: [API],
    });
    confidential = { id: web.client.id, secret: web.secret as string };
    const spa = await t.ctx.oauth.clients.create({
      name: "SPA",
      redirectUris: [CALLBACK],
      firstParty: true,
      authMethod: "none",
      grantTypes: ["authorization_code", "refresh_token"],
      scope: "openid profile offline_access orders:read",
      resources: [API],
    });
    publicClient = { id: spa.client.id };
    const svc = await t.ctx.oauth.clients.create({
      name: "Service",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scope: "orders:read",
      resources: [API],
    });
    service = { id: svc.client.id, secret: svc.secret as string };
    const rs = await t.ctx.oauth.clients.create({
      name: "Resource server",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      resources: [API],
    });
    resourceServer = { id: rs.client.id, secret: rs.secret as string };
  });
  afterAll(async () => {
    await t.close();
  });
  // openid-client dates its proofs with the real clock; Tessera's test clock must agree.
  beforeEach(() => t.clock.set(Date.now()));

  async function token(headers: Record<string, string>, form: Record<string, string>) {
    const response = await t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      payload: new URLSearchParams(form).toString(),
    });
    return { status: response.statusCode, json: response.json() as Record<string, unknown>, response };
  }

  async function introspect(value: string) {
    const response = await t.app.inject({
      method: "POST",
      url: "/introspect",
      headers: {
        authorization: basic(resourceServer.id, resourceServer.secret),
        "content-type": "application/x-www-form-urlencoded",
      },
      payload: new URLSearchParams({ token: value }).toString(),
    });
    return response.json() as Record<string, unknown>;
  }

  /** A code for the public client (PKCE), with extra authorization parameters; answers code and verifier. */
  async function publicCode(extra: Record<string, string> = {}, viaPar?: { dpop?: string }) {
    const verifier = oidc.randomPKCECodeVerifier();
    const params: Record<string, string> = {
      client_id: publicClient.id,
      response_type: "code",
      redirect_uri: CALLBACK,
      scope: "openid offline_access orders:read",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "s",
      ...extra,
    };
    let url: URL;
    if (viaPar) {
      const pushed = await t.app.inject({
        method: "POST",
        url: "/par",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          ...(viaPar.dpop ? { dpop: viaPar.dpop } : {}),
        },
        payload: new URLSearchParams(params).toString(),
      });
      expect(pushed.statusCode, pushed.body).toBe(201);
      const requestUri = (pushed.json() as { request_uri: string }).request_uri;
      url = new URL(
        `${ISSUER}/authorize?client_id=${publicClient.id}&request_uri=${encodeURIComponent(requestUri)}`,
      );
    } else {
      url = new URL(`${ISSUER}/authorize?${new URLSearchParams(params)}`);
    }
    const callback = await runAuthorization(new PageClient(t.app, ISSUER), url, { password: PASSWORD });
    const code = callback.searchParams.get("code");
    return { code, callback, verifier };
  }

  function codeForm(code: string, verifier: string) {
    return {
      grant_type: "authorization_code",
      code,
      redirect_uri: CALLBACK,
      code_verifier: verifier,
      client_id: publicClient.id,
    };
  }

  it("advertises the proof algorithms in discovery", async () => {
    const meta = (await t.app.inject({ url: "/.well-known/openid-configuration" })).json();
    expect(meta.dpop_signing_alg_values_supported).toEqual(
      expect.arrayContaining(["ES256", "EdDSA", "RS256"]),
    );
  });

  it("binds a client_credentials token to openid-client's DPoP key; introspection shows the binding", async () => {
    const config = await discover(t.app, ISSUER, service.id, service.secret);
    const keyPair = await oidc.randomDPoPKeyPair();
    const DPoP = oidc.getDPoPHandle(config, keyPair);
    const tokens = await oidc.clientCredentialsGrant(
      config,
      { scope: "orders:read", resource: API },
      { DPoP },
    );
    expect(tokens.token_type).toBe("dpop");
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), "sha256");
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
    expect(await introspect(tokens.access_token)).toMatchObject({
      active: true,
      token_type: "DPoP",
      cnf: { jkt },
    });
    // Without a proof the same client still gets a bearer token (the client is not dpop-bound).
    const plain = await oidc.clientCredentialsGrant(config, { scope: "orders:read", resource: API });
    expect(plain.token_type).toBe("bearer");
    expect(decodeJwt(plain.access_token).cnf).toBeUndefined();
    expect(await introspect(plain.access_token)).toMatchObject({ active: true, token_type: "Bearer" });
  });

  it("runs the code flow, refresh and userinfo with openid-client's DPoP for a public client", async () => {
    const config = await discover(t.app, ISSUER, publicClient.id, undefined);
    const keyPair = await oidc.randomDPoPKeyPair();
    const DPoP = oidc.getDPoPHandle(config, keyPair);
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), "sha256");
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid profile offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "st",
      dpop_jkt: await DPoP.calculateThumbprint(),
    });
    const callback = await runAuthorization(new PageClient(t.app, ISSUER), url, { password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: "st" },
      undefined,
      { DPoP },
    );
    expect(tokens.token_type).toBe("dpop");
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
    const row = await t.ctx.storage.db
      .selectFrom("refresh_tokens")
      .select("dpop_jkt")
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .executeTakeFirst();
    expect(row?.dpop_jkt).toBe(jkt);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId, { DPoP });
    expect(info.preferred_username).toBe("pat");

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, undefined, {
      DPoP,
    });
    expect(refreshed.token_type).toBe("dpop");
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt });

    // The successor is bound too: without a proof, or with another key, it is refused.
    const successor = refreshed.refresh_token as string;
    const bare = await token(
      {},
      { grant_type: "refresh_token", refresh_token: successor, client_id: publicClient.id },
    );
    expect(bare.status).toBe(400);
    expect(bare.json.error).toBe("invalid_dpop_proof");
    const stranger = await proofKey();
    const other = await token(
      { dpop: await proof(stranger) },
      { grant_type: "refresh_token", refresh_token: successor, client_id: publicClient.id },
    );
    expect(other.json.error).toBe("invalid_dpop_proof");
    // …and neither attempt counted as reuse: the right key still refreshes.
    const again = await oidc.refreshTokenGrant(config, successor, undefined, { DPoP });
    expect(again.token_type).toBe("dpop");
  });

  it("userinfo refuses a bound token as a bearer token, a proof by another key, a replayed proof and an unbound token under DPoP", async () => {
    const key = await proofKey();
    const { code, verifier } = await publicCode();
    const issued = await token({ dpop: await proof(key) }, codeForm(code as string, verifier));
    expect(issued.status, JSON.stringify(issued.json)).toBe(200);
    expect(issued.json.token_type).toBe("DPoP");
    const at = issued.json.access_token as string;
    const userinfoProof = (k: ProofKey, extra: Record<string, unknown> = {}) =>
      proof(k, { htm: "GET", htu: `${ISSUER}/userinfo`, ath: accessTokenHash(at), ...extra });
    const call = (headers: Record<string, string>) => t.app.inject({ url: "/userinfo", headers });

    const ok = await call({ authorization: `DPoP ${at}`, dpop: await userinfoProof(key) });
    expect(ok.statusCode, ok.body).toBe(200);

    const asBearer = await call({ authorization: `Bearer ${at}` });
    expect(asBearer.statusCode).toBe(401);
    expect(asBearer.headers["www-authenticate"]).toMatch(/^DPoP algs="[^"]+", error="invalid_token"/);

    const noProof = await call({ authorization: `DPoP ${at}` });
    expect(noProof.statusCode).toBe(401);
    expect(noProof.headers["www-authenticate"]).toMatch(/^DPoP .*error="invalid_dpop_proof"/);

    const stranger = await proofKey();
    const foreign = await call({ authorization: `DPoP ${at}`, dpop: await userinfoProof(stranger) });
    expect(foreign.statusCode).toBe(401);
    expect(foreign.json().error).toBe("invalid_token");

    const once = await userinfoProof(key);
    expect((await call({ authorization: `DPoP ${at}`, dpop: once })).statusCode).toBe(200);
    const replay = await call({ authorization: `DPoP ${at}`, dpop: once });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe("invalid_dpop_proof");

    const noAth = await call({
      authorization: `DPoP ${at}`,
      dpop: await userinfoProof(key, { ath: undefined }),
    });
    expect(noAth.json().error).toBe("invalid_dpop_proof");
    const wrongMethod = await call({
      authorization: `DPoP ${at}`,
      dpop: await userinfoProof(key, { htm: "POST" }),
    });
    expect(wrongMethod.json().error).toBe("invalid_dpop_proof");

    // An unbound token under the DPoP scheme.
    const { code: code2, verifier: verifier2 } = await publicCode();
    const plain = await token({}, codeForm(code2 as string, verifier2));
    expect(plain.json.token_type).toBe("Bearer");
    const plainAt = plain.json.access_token as string;
    const mismatched = await call({
      authorization: `DPoP ${plainAt}`,
      dpop: await proof(key, { htm: "GET", htu: `${ISSUER}/userinfo`, ath: accessTokenHash(plainAt) }),
    });
    expect(mismatched.statusCode).toBe(401);
    expect(mismatched.json().error).toBe("invalid_token");
    expect((await call({ authorization: `Bearer ${plainAt}` })).statusCode).toBe(200);
  });

  it("binds the code to dpop_jkt: redeemed only with a proof by that key", async () => {
    const key = await proofKey();
    const { code, verifier } = await publicCode({ dpop_jkt: key.jkt });
    const without = await token({}, codeForm(code as string, verifier));
    expect(without.status).toBe(400);
    expect(without.json.error).toBe("invalid_dpop_proof");
    const stranger = await proofKey();
    const other = await token({ dpop: await proof(stranger) }, codeForm(code as string, verifier));
    expect(other.json.error).toBe("invalid_dpop_proof");
    const right = await token({ dpop: await proof(key) }, codeForm(code as string, verifier));
    expect(right.status, JSON.stringify(right.json)).toBe(200);
    expect(decodeJwt(right.json.access_token as string).cnf).toEqual({ jkt: key.jkt });
  });

  it("refuses a malformed dpop_jkt at the authorization endpoint", async () => {
    const { code, callback } = await publicCode({ dpop_jkt: "not-a-thumbprint" });
    expect(code).toBeNull();
    expect(callback.searchParams.get("error")).toBe("invalid_request");
  });

  it("binds the code to the key of a proof sent to PAR, and refuses a PAR whose dpop_jkt disagrees", async () => {
    const key = await proofKey();
    const { code, verifier } = await publicCode({}, { dpop: await proof(key, { htu: `${ISSUER}/par` }) });
    const stranger = await proofKey();
    const other = await token({ dpop: await proof(stranger) }, codeForm(code as string, verifier));
    expect(other.json.error).toBe("invalid_dpop_proof");
    const right = await token({ dpop: await proof(key) }, codeForm(code as string, verifier));
    expect(right.status).toBe(200);

    const disagree = await t.app.inject({
      method: "POST",
      url: "/par",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        dpop: await proof(key, { htu: `${ISSUER}/par` }),
      },
      payload: new URLSearchParams({
        client_id: publicClient.id,
        response_type: "code",
        redirect_uri: CALLBACK,
        scope: "openid",
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: "S256",
        dpop_jkt: stranger.jkt,
      }).toString(),
    });
    expect(disagree.statusCode).toBe(400);
    expect(disagree.json().error).toBe("invalid_dpop_proof");
  });

  it("leaves a confidential client's refresh token unbound (RFC 9449 §5), binding each access token to its request's proof", async () => {
    const key = await proofKey();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = new URL(
      `${ISSUER}/authorize?${new URLSearchParams({
        client_id: confidential.id,
        response_type: "code",
        redirect_uri: CALLBACK,
        scope: "openid offline_access",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
      })}`,
    );
    const callback = await runAuthorization(new PageClient(t.app, ISSUER), url, { password: PASSWORD });
    const auth = { authorization: basic(confidential.id, confidential.secret) };
    const issued = await token(
      { ...auth, dpop: await proof(key) },
      {
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") as string,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
      },
    );
    expect(issued.json.token_type).toBe("DPoP");
    const refreshed = await token(auth, {
      grant_type: "refresh_token",
      refresh_token: issued.json.refresh_token as string,
    });
    expect(refreshed.status, JSON.stringify(refreshed.json)).toBe(200);
    expect(refreshed.json.token_type).toBe("Bearer");
    expect(decodeJwt(refreshed.json.access_token as string).cnf).toBeUndefined();
  });

  it("refuses bad proofs at the token endpoint with invalid_dpop_proof, and a replayed one", async () => {
    const key = await proofKey();
    const auth = { authorization: basic(service.id, service.secret) };
    const form = { grant_type: "client_credentials", scope: "orders:read", resource: API };
    const cases: [string, string][] = [
      ["garbage", "not.a.jwt"],
      ["for userinfo", await proof(key, { htu: `${ISSUER}/userinfo` })],
      ["GET", await proof(key, { htm: "GET" })],
      ["too old", await proof(key, { iat: Math.floor(Date.now() / 1000) - 300 })],
      ["two headers", `${await proof(key)}, ${await proof(key)}`],
    ];
    for (const [name, value] of cases) {
      const answer = await token({ ...auth, dpop: value }, form);
      expect([name, answer.status, answer.json.error]).toEqual([name, 400, "invalid_dpop_proof"]);
    }
    const once = await proof(key);
    expect((await token({ ...auth, dpop: once }, form)).status).toBe(200);
    const replay = await token({ ...auth, dpop: once }, form);
    expect(replay.json).toMatchObject({ error: "invalid_dpop_proof" });
    expect(String(replay.json.error_description)).toMatch(/already used/);
  });

  it("requires a proof from a client registered with dpop_bound_access_tokens (RFC 7591 metadata)", async () => {
    const registered = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: {
        client_name: "Bound",
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "client_secret_basic",
        dpop_bound_access_tokens: true,
      },
    });
    expect(registered.statusCode, registered.body).toBe(201);
    const meta = registered.json() as {
      client_id: string;
      client_secret: string;
      dpop_bound_access_tokens: boolean;
    };
    expect(meta.dpop_bound_access_tokens).toBe(true);
    const auth = { authorization: basic(meta.client_id, meta.client_secret) };
    const refused = await token(auth, { grant_type: "client_credentials" });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("invalid_dpop_proof");
    const key = await proofKey();
    const accepted = await token({ ...auth, dpop: await proof(key) }, { grant_type: "client_credentials" });
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(200);
    expect(accepted.json.token_type).toBe("DPoP");

    const badType = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: { client_name: "Bad", grant_types: ["client_credentials"], dpop_bound_access_tokens: "yes" },
    });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().error).toBe("invalid_client_metadata");
  });

  it("binds opaque access tokens too: introspection answers their binding", async () => {
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "Opaque service",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scope: "orders:read",
      resources: [API],
      accessTokenFormat: "opaque",
    });
    const key = await proofKey();
    const issued = await token(
      { authorization: basic(client.id, secret as string), dpop: await proof(key) },
      { grant_type: "client_credentials", scope: "orders:read", resource: API },
    );
    expect(issued.json.token_type).toBe("DPoP");
    expect(await introspect(issued.json.access_token as string)).toMatchObject({
      active: true,
      token_type: "DPoP",
      cnf: { jkt: key.jkt },
    });
  });
});
