/**
 * The decisions behind dynamic registration (src/oauth/registration.ts, RFC 7591/7592), RP-initiated logout
 * (src/oauth/logout.ts) and client authentication for confidential-only endpoints (src/oauth/clients.ts),
 * taken without HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogoutRequest } from "../../src/oauth/logout.js";
import { DIALECTS } from "../helpers/databases.js";
import { CALLBACK, createOAuthFixture, expectOAuthError, type OAuthFixture } from "./fixture.js";

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
