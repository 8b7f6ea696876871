/**
 * The decisions behind dynamic registration (src/oauth/registration.ts, RFC 7591/7592), RP-initiated logout
 * (src/oauth/logout.ts) and client authentication for confidential-only endpoints (src/oauth/clients.ts),
 * taken without HTTP.
 */
import { type JsonWebKey, randomUUID, type webcrypto } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/oauth/clients.js";
import type { LogoutRequest } from "../../src/oauth/logout.js";
import { DIALECTS } from "../helpers/databases.js";
import { API, CALLBACK, createOAuthFixture, expectOAuthError, ISSUER, type OAuthFixture } from "./fixture.js";

const LOGGED_OUT = "https://app.example.test/logged-out";
const noAdmin = async () => false;

describe.each(DIALECTS)("registration, logout and client authentication decisions on %s", (dialect) => {
  let f: OAuthFixture;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
  });
  afterAll(async () => {
    await f.close();
  });

  describe("registration (RFC 7591, RFC 7592)", () => {
    const metadata = { client_name: "Registered", redirect_uris: [CALLBACK] };

    it("refuses without a token (token_missing) and with one that grants nothing (token_invalid)", async () => {
      expect(await f.oauth.registration.register(undefined, metadata, noAdmin)).toEqual({
        refused: "token_missing",
      });
      expect(await f.oauth.registration.register("tsr_iat_nope", metadata, noAdmin)).toEqual({
        refused: "token_invalid",
      });
    });

    it("registers with an initial access token, as many times as it allows", async () => {
      const { token } = await f.oauth.initialTokens.create({ uses: 1 });
      const answer = await f.oauth.registration.register(token, metadata, noAdmin);
      if (!("metadata" in answer)) throw new Error("refused");
      expect(answer.metadata).toMatchObject({ client_name: "Registered", redirect_uris: [CALLBACK] });
      expect(answer.metadata.client_secret).toMatch(/^tsr_cs_/);
      expect(answer.metadata.registration_access_token).toMatch(/^tsr_rat_/);
      expect(await f.oauth.registration.register(token, metadata, noAdmin)).toEqual({
        refused: "token_invalid",
      });
    });

    it("registers with a token the admin check accepts, and refuses bad metadata", async () => {
      const answer = await f.oauth.registration.register("admin", metadata, async (t) => t === "admin");
      expect(answer).toHaveProperty("metadata");
      await expectOAuthError(
        f.oauth.registration.register("admin", { response_types: ["token"] }, async () => true),
        "invalid_client_metadata",
      );
    });

    it("manages a client only with its registration access token", async () => {
      const created = await f.oauth.registration.register("admin", metadata, async () => true);
      if (!("metadata" in created)) throw new Error("refused");
      const id = created.metadata.client_id as string;
      const token = created.metadata.registration_access_token as string;
      expect(await f.oauth.registration.read(id, undefined)).toEqual({ refused: "token_missing" });
      expect(await f.oauth.registration.read(id, "tsr_rat_wrong")).toEqual({ refused: "token_invalid" });
      expect(await f.oauth.registration.read(id, token)).toMatchObject({ metadata: { client_id: id } });
      await expectOAuthError(
        f.oauth.registration.update(id, token, { ...metadata, client_id: "someone-else" }),
        "invalid_client_metadata",
      );
      expect(
        await f.oauth.registration.update(id, token, { ...metadata, client_id: id, client_name: "Renamed" }),
      ).toMatchObject({ metadata: { client_name: "Renamed" } });
      expect(await f.oauth.registration.remove(id, token)).toEqual({ removed: true });
      expect(await f.oauth.clients.get(id)).toBeUndefined();
      expect(await f.oauth.registration.read(id, token)).toEqual({ refused: "token_invalid" });
    });
  });

  describe("registration refuses what could never be used", () => {
    const register = (extra: Record<string, unknown>) =>
      f.oauth.registration.register("admin", { ...metadata(), ...extra }, async () => true);
    const metadata = () => ({ client_name: "Checked", redirect_uris: [CALLBACK] });

    it.each([
      ["a space in a redirect URI", { redirect_uris: ["https://app.example.test/c b"] }],
      ["a line break in a redirect URI", { redirect_uris: [`${CALLBACK}\n`] }],
      ["a tab in a post-logout URI", { post_logout_redirect_uris: ["https://app.example.test/\tout"] }],
      ["a NUL in a post-logout URI", { post_logout_redirect_uris: ["https://app.example.test/out\u0000"] }],
      ["a redirect URI not in its serialised form", { redirect_uris: ["https://APP.example.test/callback"] }],
    ])("refuses %s (invalid_redirect_uri)", async (_name, extra) => {
      await expectOAuthError(register(extra), "invalid_redirect_uri");
    });

    it("refuses a scope that is neither OpenID Connect's nor of an API the client may address", async () => {
      // orders:read is a registered resource server's scope, but registration names no resources.
      for (const scope of ["openid orders:read", "openid no-such-scope"]) {
        await expectOAuthError(register({ scope }), "invalid_client_metadata", /cannot be granted/);
      }
      await expectOAuthError(register({ scope: 'openid "bad"' }), "invalid_client_metadata", /malformed/);
      const answer = await register({ scope: "openid profile email groups offline_access" });
      expect(answer).toMatchObject({ metadata: { scope: "openid profile email groups offline_access" } });
    });

    it("lets a replacement keep the scopes of the APIs an administrator gave the client", async () => {
      const created = await register({ scope: "openid" });
      if (!("metadata" in created)) throw new Error("refused");
      const id = created.metadata.client_id as string;
      const token = created.metadata.registration_access_token as string;
      const replace = (scope: string) =>
        f.oauth.registration.update(id, token, { ...metadata(), client_id: id, scope });
      await expectOAuthError(replace("openid orders:read"), "invalid_client_metadata");
      // An administrator gives the client the API (and its scope).
      const current = (await f.oauth.clients.get(id)) as Client;
      await f.oauth.clients.replace(id, {
        name: current.name,
        redirectUris: [CALLBACK],
        resources: [API],
        scope: "openid orders:read",
      });
      expect(await replace("openid orders:read")).toMatchObject({
        metadata: { scope: "openid orders:read" },
      });
      // orders:write is the API's too, but the administrator did not give it: a replacement cannot widen.
      await expectOAuthError(replace("openid orders:write"), "invalid_client_metadata", /orders:write/);
      await expectOAuthError(replace("openid no-such-scope"), "invalid_client_metadata", /no-such-scope/);
    });
  });

  describe("RP-initiated logout", () => {
    let idToken: string;
    let clientId: string;

    beforeAll(async () => {
      const { client } = await f.client({ name: "Logout", postLogoutRedirectUris: [LOGGED_OUT] });
      clientId = client.id;
      const answer = await f.oauth.tokens.grant(
        client,
        f.codeParams(await f.code(client, { scope: "openid" })),
      );
      idToken = answer.id_token as string;
    });

    const read = async (params: Record<string, unknown>) => f.oauth.logout.readRequest(params);

    it("reads a good request: the hint's client, the registered target, the state", async () => {
      const request = (await read({
        id_token_hint: idToken,
        post_logout_redirect_uri: LOGGED_OUT,
        state: "s",
      })) as LogoutRequest;
      expect(request).toMatchObject({ clientId, state: "s", target: { uri: LOGGED_OUT } });
      expect(request.hint).toMatchObject({ sub: f.userId, sid: "session-1" });
    });

    it.each([
      ["a repeated parameter", { state: ["a", "b"] }, /repeats a parameter/],
      ["an id_token_hint Tessera did not issue", { id_token_hint: "e30.e30.x" }, /not valid/],
      ["a client_id other than the hint's", { client_id: "someone-else" }, /does not match/],
      [
        "an unregistered post-logout URI",
        { post_logout_redirect_uri: "https://evil.example.test/" },
        /not registered/,
      ],
    ])("refuses %s", async (_name, extra, problem) => {
      const answer = await read({ id_token_hint: idToken, ...extra });
      expect(answer).toHaveProperty("problem");
      expect((answer as { problem: string }).problem).toMatch(problem);
    });

    it("refuses a registered post-logout URI that is not the text a redirect would send", async () => {
      // A row stored before registration required the serialised form.
      const legacy = "https://APP.example.test/logged-out";
      const { client } = await f.client({ name: "Legacy", postLogoutRedirectUris: [LOGGED_OUT] });
      await f.t.ctx.storage.db
        .updateTable("oauth_clients")
        .set({ post_logout_redirect_uris: JSON.stringify([legacy]) })
        .where("id", "=", client.id)
        .execute();
      f.t.clock.advance(6_000); // past the client cache
      const answer = await read({ client_id: client.id, post_logout_redirect_uri: legacy });
      expect((answer as { problem: string }).problem).toMatch(/not registered/);
    });

    it("signs out without confirmation only for an ID token of this very sign-in", async () => {
      const request = (await read({ id_token_hint: idToken })) as LogoutRequest;
      expect(f.oauth.logout.needsConfirmation(request, { userId: f.userId, sessionId: "session-1" })).toBe(
        false,
      );
      expect(f.oauth.logout.needsConfirmation(request, { userId: f.userId, sessionId: "session-2" })).toBe(
        true,
      );
      const withoutHint = (await read({ client_id: clientId })) as LogoutRequest;
      expect(
        f.oauth.logout.needsConfirmation(withoutHint, { userId: f.userId, sessionId: "session-1" }),
      ).toBe(true);
    });
  });

  describe("client authentication", () => {
    describe("private_key_jwt assertions (RFC 7523 §3)", () => {
      let clientId: string;
      let key: webcrypto.CryptoKey;
      beforeAll(async () => {
        const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
        key = pair.privateKey as webcrypto.CryptoKey;
        const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1" };
        const { client } = await f.client({
          name: "Signer",
          authMethod: "private_key_jwt",
          jwks: { keys: [jwk as JsonWebKey] },
        });
        clientId = client.id;
      });
      const authenticate = async (times: { iat?: number; exp: number }) => {
        const now = Math.floor(f.t.clock.now() / 1000);
        const payload: Record<string, unknown> = {
          iss: clientId,
          sub: clientId,
          aud: ISSUER,
          jti: randomUUID(),
          exp: now + times.exp,
          ...(times.iat === undefined ? {} : { iat: now + times.iat }),
        };
        const assertion = await new SignJWT(payload)
          .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
          .sign(key);
        return f.oauth.clients.authenticate({ method: "private_key_jwt", clientId, assertion });
      };

      it.each([
        ["iat now", { iat: 0, exp: 60 }],
        ["no iat", { exp: 60 }],
        ["iat ahead within the 60 s of clock skew", { iat: 60, exp: 120 }],
        ["a lifetime of 10 minutes", { iat: -10, exp: 590 }],
      ])("accepts %s", async (_name, times) => {
        expect((await authenticate(times)).id).toBe(clientId);
      });

      it.each([
        ["iat after exp", { iat: 50, exp: 40 }],
        ["iat equal to exp", { iat: 40, exp: 40 }],
        ["iat beyond the clock skew", { iat: 61, exp: 120 }],
        ["a lifetime over 10 minutes (an old iat)", { iat: -3600, exp: 60 }],
        ["a lifetime just over 10 minutes", { iat: -1, exp: 600 }],
        ["exp more than 10 minutes ahead", { exp: 601 }],
      ])("refuses %s (invalid_client)", async (_name, times) => {
        await expectOAuthError(authenticate(times), "invalid_client");
      });
    });

    it("refuses a public client where only confidential clients are served", async () => {
      const credentials = { method: "none" as const, clientId: f.spa.client.id };
      expect((await f.oauth.clients.authenticate(credentials)).id).toBe(f.spa.client.id);
      await expectOAuthError(
        f.oauth.clients.authenticate(credentials, { confidential: true }),
        "invalid_client",
      );
      const secret = {
        method: "client_secret_basic" as const,
        clientId: f.web.client.id,
        secret: f.web.secret,
      };
      expect((await f.oauth.clients.authenticate(secret, { confidential: true })).id).toBe(f.web.client.id);
      await expectOAuthError(
        f.oauth.clients.authenticate({ ...secret, secret: `${f.web.secret}x` }, { confidential: true }),
        "invalid_client",
      );
    });
  });
});
