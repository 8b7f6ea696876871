/**
 * The authorization endpoint's decisions (src/oauth/authorize.ts), without HTTP: which step comes next
 * (sign in, consent, or back to the client), `prompt=none` answered as `login_required` / `consent_required`
 * without a page, `prompt=login` asking for a new sign-in once, the consent answer, the page errors of
 * `start` and `resume`, and pushed requests (RFC 9126) with their DPoP key agreement (RFC 9449 §10.1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthorizationPageError,
  type AuthorizationStep,
  REQUEST_URI_PREFIX,
} from "../../src/oauth/authorize.js";
import type { Client } from "../../src/oauth/clients.js";
import { DIALECTS } from "../helpers/databases.js";
import {
  CALLBACK,
  CHALLENGE,
  createOAuthFixture,
  expectOAuthError,
  ISSUER,
  type OAuthFixture,
  proof,
  proofKey,
} from "./fixture.js";

describe.each(DIALECTS)("authorization decisions on %s", (dialect) => {
  let f: OAuthFixture;
  /** A third-party client: consent is asked. */
  let thirdParty: Client;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    thirdParty = (await f.client({ name: "Third party", firstParty: false })).client;
  });
  afterAll(async () => {
    await f.close();
  });

  const params = (client: Client, extra: Record<string, string> = {}) => ({
    response_type: "code",
    client_id: client.id,
    redirect_uri: CALLBACK,
    scope: "openid",
    state: "st-9",
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
    ...extra,
  });

  /** The error a redirect step sends back to the client, with its state and issuer (RFC 9207). */
  function redirectError(step: AuthorizationStep) {
    expect(step.kind).toBe("redirect");
    const url = new URL((step as { to: string }).to);
    expect(url.origin + url.pathname).toBe(CALLBACK);
    return {
      error: url.searchParams.get("error"),
      state: url.searchParams.get("state"),
      iss: url.searchParams.get("iss"),
    };
  }

  it("sends a browser without a session to sign in, with the login hint", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(f.web.client, { login_hint: "pat" }));
    expect(await f.oauth.authorization.step(stored, client, undefined)).toEqual({
      kind: "login",
      reauthenticate: false,
      loginHint: "pat",
    });
  });

  it("answers prompt=none without a session as login_required, and forgets the request", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(f.web.client, { prompt: "none" }));
    const step = await f.oauth.authorization.step(stored, client, undefined);
    expect(redirectError(step)).toEqual({ error: "login_required", state: "st-9", iss: ISSUER });
    expect(await f.oauth.authorization.load(stored.id)).toBeUndefined();
  });

  it("answers prompt=none when consent is needed as consent_required", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(thirdParty, { prompt: "none" }));
    const step = await f.oauth.authorization.step(stored, client, f.user());
    expect(redirectError(step).error).toBe("consent_required");
  });

  it("answers prompt=none with max_age exceeded as login_required", async () => {
    const { stored, client } = await f.oauth.authorization.start(
      params(f.web.client, { prompt: "none", max_age: "60" }),
    );
    const step = await f.oauth.authorization.step(
      stored,
      client,
      f.user({ authTime: f.t.clock.now() - 120_000 }),
    );
    expect(redirectError(step).error).toBe("login_required");
  });

  it("asks a first-party client's signed-in user nothing: a code at once", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(f.web.client, { prompt: "none" }));
    const step = await f.oauth.authorization.step(stored, client, f.user());
    expect(step.kind).toBe("redirect");
    expect(new URL((step as { to: string }).to).searchParams.get("code")).toMatch(/^tsr_ac_/);
  });

  it("asks for a new sign-in once for prompt=login: the same session again, another session is fresh", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(f.web.client, { prompt: "login" }));
    const before = f.user({ sessionId: "old-session" });
    expect(await f.oauth.authorization.step(stored, client, before)).toEqual({
      kind: "login",
      reauthenticate: true,
    });
    const reloaded = (await f.oauth.authorization.resume(stored.id)).stored;
    expect(reloaded.request.loginRequestedOver).toBe("old-session");
    expect((await f.oauth.authorization.step(reloaded, client, before)).kind).toBe("login");
    const after = await f.oauth.authorization.step(reloaded, client, f.user({ sessionId: "new-session" }));
    expect(after.kind).toBe("redirect");
  });

  it("asks a third-party client's user for consent; denial is access_denied, consent is remembered", async () => {
    const first = await f.oauth.authorization.start(params(thirdParty));
    expect(await f.oauth.authorization.step(first.stored, first.client, f.user())).toEqual({
      kind: "consent",
    });
    const denied = await f.oauth.authorization.consent(first.stored, first.client, f.user(), false);
    expect(redirectError(denied as AuthorizationStep)).toMatchObject({
      error: "access_denied",
      state: "st-9",
    });
    expect(await f.oauth.authorization.load(first.stored.id)).toBeUndefined();

    const second = await f.oauth.authorization.start(params(thirdParty));
    expect(await f.oauth.authorization.consent(second.stored, second.client, f.user(), true)).toEqual({
      kind: "consented",
    });
    expect(await f.oauth.authorization.listConsents(f.userId)).toContainEqual(
      expect.objectContaining({ clientId: thirdParty.id, scopes: ["openid"] }),
    );
    const third = await f.oauth.authorization.start(params(thirdParty, { prompt: "none" }));
    expect((await f.oauth.authorization.step(third.stored, third.client, f.user())).kind).toBe("redirect");
  });

  it("answers a request once: a second code for the same request is a page error", async () => {
    const { stored, client } = await f.oauth.authorization.start(params(f.web.client));
    await f.oauth.authorization.step(stored, client, f.user());
    await expect(f.oauth.authorization.issueCode(stored, f.user())).rejects.toBeInstanceOf(
      AuthorizationPageError,
    );
  });

  it("shows page errors for requests that cannot be trusted or found", async () => {
    await expect(
      f.oauth.authorization.start({ ...params(f.web.client), request: "x", request_uri: "y" }),
    ).rejects.toBeInstanceOf(AuthorizationPageError);
    await expect(
      f.oauth.authorization.start({ client_id: f.web.client.id, request_uri: `${REQUEST_URI_PREFIX}nope` }),
    ).rejects.toThrow(/expired or is unknown/);
    await expect(
      f.oauth.authorization.start({ ...params(f.web.client), redirect_uri: "https://evil.example.test/cb" }),
    ).rejects.toBeInstanceOf(AuthorizationPageError);
    await expect(f.oauth.authorization.resume("A".repeat(32))).rejects.toThrow(/expired/);
  });

  describe("pushed requests (RFC 9126)", () => {
    it("stores a pushed request that only its request_uri and client can start", async () => {
      const pushed = await f.oauth.authorization.push(f.web.client, params(f.web.client), undefined);
      if (!("requestUri" in pushed)) throw new Error("refused");
      expect(pushed.expiresIn).toBe(60);
      await expect(
        f.oauth.authorization.start({ client_id: f.spa.client.id, request_uri: pushed.requestUri }),
      ).rejects.toBeInstanceOf(AuthorizationPageError);
      const { stored } = await f.oauth.authorization.start({
        client_id: f.web.client.id,
        request_uri: pushed.requestUri,
      });
      expect(stored.request).toMatchObject({ pushed: true, state: "st-9", clientId: f.web.client.id });
    });

    it("binds the request to the key of a DPoP proof, and refuses a dpop_jkt of another key", async () => {
      const key = await proofKey();
      const header = await proof(key, f.t.clock.now(), { path: "/par" });
      const pushed = await f.oauth.authorization.push(f.web.client, params(f.web.client), header);
      if (!("requestUri" in pushed)) throw new Error("refused");
      const { stored } = await f.oauth.authorization.start({
        client_id: f.web.client.id,
        request_uri: pushed.requestUri,
      });
      expect(stored.request.dpopJkt).toBe(key.jkt);

      const other = await proofKey();
      await expectOAuthError(
        f.oauth.authorization.push(
          f.web.client,
          params(f.web.client, { dpop_jkt: other.jkt }),
          await proof(key, f.t.clock.now(), { path: "/par" }),
        ),
        "invalid_dpop_proof",
        /does not match/,
      );
      // A proof made for another endpoint is a bad proof.
      await expectOAuthError(
        f.oauth.authorization.push(
          f.web.client,
          params(f.web.client),
          await proof(key, f.t.clock.now(), { path: "/token" }),
        ),
        "invalid_dpop_proof",
      );
    });

    it("refuses a pushed request_uri (invalid_request) and answers request errors as refusals", async () => {
      await expectOAuthError(
        f.oauth.authorization.push(f.web.client, { ...params(f.web.client), request_uri: "x" }, undefined),
        "invalid_request",
      );
      expect(
        await f.oauth.authorization.push(
          f.web.client,
          params(f.web.client, { response_type: "token" }),
          undefined,
        ),
      ).toEqual({
        refused: { error: "unsupported_response_type", description: "Only response_type=code is supported." },
      });
      await expectOAuthError(
        f.oauth.authorization.push(
          f.web.client,
          { ...params(f.web.client), redirect_uri: "https://evil.example.test/cb" },
          undefined,
        ),
        "invalid_request",
      );
    });
  });
});
