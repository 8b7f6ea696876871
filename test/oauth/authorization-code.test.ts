/**
 * The `authorization_code` grant at the domain level (src/oauth/grants/authorization-code.ts): the tokens a
 * code yields, and each refusal with its RFC 6749 §5.2 error: another client's code, a different redirect URI,
 * a wrong or malformed PKCE verifier, an expired code, a replay (which revokes what the first redemption
 * issued), a disabled user, a code bound to a DPoP key. A failed PKCE verification or a different
 * redirect_uri burns the code. Also the dispatcher's own refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/crypto/hash.js";
import { DIALECTS } from "../helpers/databases.js";
import { createOAuthFixture, expectOAuthError, type OAuthFixture, proof, proofKey } from "./fixture.js";

describe.each(DIALECTS)("authorization_code grant on %s", (dialect) => {
  let f: OAuthFixture;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
  });
  afterAll(async () => {
    await f.close();
  });

  const codeRow = (code: string) =>
    f.t.ctx.storage.db
      .selectFrom("authorization_codes")
      .selectAll()
      .where("code_hash", "=", hashToken(code))
      .executeTakeFirstOrThrow();

  it("exchanges a code for an access token, an ID token and a refresh token, and consumes it", async () => {
    const code = await f.code(f.web.client, { scope: "openid profile offline_access", nonce: "n-1" });
    const answer = await f.oauth.tokens.grant(f.web.client, f.codeParams(code));
    expect(answer).toMatchObject({ token_type: "Bearer", scope: "openid profile offline_access" });
    expect(answer.refresh_token).toMatch(/^tsr_rt_/);
    const { claims } = await f.oauth.issuer.checkAccessToken(answer.access_token);
    expect(claims).toMatchObject({
      sub: f.userId,
      client_id: f.web.client.id,
      aud: "https://api.example.test",
    });
    const idToken = JSON.parse(
      Buffer.from(String(answer.id_token).split(".")[1] as string, "base64url").toString(),
    );
    expect(idToken).toMatchObject({ sub: f.userId, aud: f.web.client.id, nonce: "n-1", sid: "session-1" });
    const row = await codeRow(code);
    expect(row.consumed_at).not.toBeNull();
    expect(row.issued_jti).toBe(claims.jti);
    const family = await f.oauth.tokens.findRefreshToken(answer.refresh_token as string);
    expect(family?.family_id).toBe(row.issued_family_id);
  });

  it("gives a public client a refresh token only for offline_access", async () => {
    const without = await f.oauth.tokens.grant(
      f.spa.client,
      f.codeParams(await f.code(f.spa.client, { scope: "openid" })),
    );
    expect(without.refresh_token).toBeUndefined();
    const withOffline = await f.oauth.tokens.grant(
      f.spa.client,
      f.codeParams(await f.code(f.spa.client, { scope: "openid offline_access" })),
    );
    expect(withOffline.refresh_token).toMatch(/^tsr_rt_/);
  });

  it("refuses another client's code (invalid_grant) and leaves it unused", async () => {
    const code = await f.code(f.web.client);
    await expectOAuthError(f.oauth.tokens.grant(f.spa.client, f.codeParams(code)), "invalid_grant");
    expect((await codeRow(code)).consumed_at).toBeNull();
  });

  it("refuses a redirect_uri other than the authorization request's (invalid_grant)", async () => {
    const code = await f.code(f.web.client);
    await expectOAuthError(
      f.oauth.tokens.grant(
        f.web.client,
        f.codeParams(code, { redirect_uri: "https://app.example.test/other" }),
      ),
      "invalid_grant",
      /redirect_uri/,
    );
  });

  it.each([
    ["a wrong verifier", "A".repeat(43)],
    ["a verifier too short to be one", "short"],
    ["the challenge itself", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
  ])("refuses %s (invalid_grant, PKCE)", async (_name, verifier) => {
    const code = await f.code(f.web.client);
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code, { code_verifier: verifier })),
      "invalid_grant",
      /PKCE/,
    );
  });

  it.each([
    ["a wrong PKCE verifier", { code_verifier: "A".repeat(43) }, /PKCE/],
    ["a malformed PKCE verifier", { code_verifier: "short" }, /PKCE/],
    ["a different redirect_uri", { redirect_uri: "https://app.example.test/other" }, /redirect_uri/],
  ])("burns the code after %s: the right request then fails too", async (_name, wrong, reason) => {
    const code = await f.code(f.web.client);
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code, wrong)),
      "invalid_grant",
      reason,
    );
    expect((await codeRow(code)).consumed_at).not.toBeNull();
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code)),
      "invalid_grant",
      /already used/,
    );
  });

  it("revokes what a code issued when a wrong verifier comes after its redemption", async () => {
    const code = await f.code(f.web.client);
    const first = await f.oauth.tokens.grant(f.web.client, f.codeParams(code));
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code, { code_verifier: "A".repeat(43) })),
      "invalid_grant",
    );
    await expect(f.oauth.issuer.checkAccessToken(first.access_token)).rejects.toMatchObject({
      name: "TokenError",
    });
    expect((await f.oauth.tokens.findRefreshToken(first.refresh_token as string))?.revoked_at).not.toBeNull();
  });

  it("does not burn the code for a missing parameter or when another client presents it", async () => {
    const code = await f.code(f.web.client);
    const { code_verifier: _v, ...noVerifier } = f.codeParams(code);
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, noVerifier), "invalid_request");
    await expectOAuthError(f.oauth.tokens.grant(f.spa.client, f.codeParams(code)), "invalid_grant");
    expect((await codeRow(code)).consumed_at).toBeNull();
    expect((await f.oauth.tokens.grant(f.web.client, f.codeParams(code))).access_token).toBeTruthy();
  });

  it("refuses a request without code_verifier or redirect_uri (invalid_request)", async () => {
    const code = await f.code(f.web.client);
    const { code_verifier: _v, ...noVerifier } = f.codeParams(code);
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, noVerifier), "invalid_request");
    const { redirect_uri: _r, ...noRedirect } = f.codeParams(code);
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, noRedirect), "invalid_request");
  });

  it("refuses an expired code", async () => {
    const code = await f.code(f.web.client);
    f.t.clock.advance((f.t.config.authorizationCodeTtl + 1) * 1000);
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code)),
      "invalid_grant",
      /expired/,
    );
  });

  it("refuses a malformed or unknown code without a database hint", async () => {
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, f.codeParams("not-a-code")), "invalid_grant");
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(`tsr_ac_${"A".repeat(43)}`)),
      "invalid_grant",
    );
  });

  it("refuses a replayed code and revokes what its first redemption issued", async () => {
    const code = await f.code(f.web.client);
    const first = await f.oauth.tokens.grant(f.web.client, f.codeParams(code));
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code)),
      "invalid_grant",
      /already used/,
    );
    // The family is revoked, the access token is on the revocation list.
    const family = await f.oauth.tokens.findRefreshToken(first.refresh_token as string);
    expect(family?.revoked_at).not.toBeNull();
    await expect(f.oauth.issuer.checkAccessToken(first.access_token)).rejects.toMatchObject({
      name: "TokenError",
    });
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, {
        grant_type: "refresh_token",
        refresh_token: first.refresh_token as string,
      }),
      "invalid_grant",
    );
    await f.t.ctx.accounts.audit.flush();
    const audit = await f.t.ctx.storage.db
      .selectFrom("audit_events")
      .select(["type", "outcome", "user_id"])
      .where("type", "=", "oauth.code_replayed")
      .execute();
    expect(audit).toContainEqual({ type: "oauth.code_replayed", outcome: "failure", user_id: f.userId });
  });

  it("lets only one of two concurrent redemptions win", async () => {
    const code = await f.code(f.web.client);
    const results = await Promise.allSettled([
      f.oauth.tokens.grant(f.web.client, f.codeParams(code)),
      f.oauth.tokens.grant(f.web.client, f.codeParams(code)),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "invalid_grant" } });
  });

  it("refuses the code of a user disabled since the sign-in", async () => {
    const other = await f.t.ctx.accounts.users.create(
      { userName: `gone-${dialect}`, password: "correct horse battery staple 43" },
      { actor: "test", authority: "admin" as const },
    );
    const code = await f.code(f.web.client, {}, f.user({ userId: other.id }));
    await f.t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", other.id).execute();
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, f.codeParams(code)), "invalid_grant");
  });

  it("redeems a code bound with dpop_jkt only with a proof of that key", async () => {
    const key = await proofKey();
    const code = await f.code(f.web.client, { dpop_jkt: key.jkt });
    await expectOAuthError(f.oauth.tokens.grant(f.web.client, f.codeParams(code)), "invalid_dpop_proof");
    const other = await proofKey();
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, f.codeParams(code), { dpopJkt: other.jkt }),
      "invalid_dpop_proof",
    );
    // A proof of the wrong key does not burn the code: the binding protects it, and the client may retry.
    const answer = await f.oauth.tokens.grant(f.web.client, f.codeParams(code), { dpopJkt: key.jkt });
    expect(answer.token_type).toBe("DPoP");
    const { claims } = await f.oauth.issuer.checkAccessToken(answer.access_token);
    expect(claims.cnf).toEqual({ jkt: key.jkt });
    // Sanity: the fixture's proofs are accepted by the domain's checker.
    const checked = await f.oauth.dpop.check(await proof(key, f.t.clock.now(), { path: "/token" }), {
      method: "POST",
      path: "/token",
    });
    expect(checked?.jkt).toBe(key.jkt);
  });

  describe("the dispatcher", () => {
    it("refuses a missing grant_type (invalid_request) and an unknown one (unsupported_grant_type)", async () => {
      await expectOAuthError(f.oauth.tokens.grant(f.web.client, {}), "invalid_request");
      await expectOAuthError(
        f.oauth.tokens.grant(f.web.client, { grant_type: "password" }),
        "unsupported_grant_type",
      );
      // Names of the table's prototype are not grant types.
      await expectOAuthError(
        f.oauth.tokens.grant(f.web.client, { grant_type: "constructor" }),
        "unsupported_grant_type",
      );
    });

    it("refuses a grant the client is not registered for (unauthorized_client)", async () => {
      await expectOAuthError(
        f.oauth.tokens.grant(f.web.client, { grant_type: "client_credentials" }),
        "unauthorized_client",
      );
    });

    it("requires a DPoP proof of a client registered with dpop_bound_access_tokens", async () => {
      const { client } = await f.client({ dpopBound: true });
      const code = await f.code(client);
      await expectOAuthError(f.oauth.tokens.grant(client, f.codeParams(code)), "invalid_dpop_proof");
    });
  });
});
