/**
 * The userinfo decision (src/oauth/userinfo.ts), called as the HTTP layer calls it: the claims for a good
 * token, and each refusal with its status, error and challenge scheme: no token, a bad token, a token without
 * `openid` or without a user, a disabled user, a token issued before the user's cut-off, and the DPoP rules
 * (a bound token under Bearer, an unbound one under DPoP, no proof, a proof of another key).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessTokenHash } from "../../src/lib/dpop.js";
import type { UserinfoRequest } from "../../src/oauth/userinfo.js";
import { DIALECTS } from "../helpers/databases.js";
import { createOAuthFixture, type OAuthFixture, type ProofKey, proof, proofKey } from "./fixture.js";

describe.each(DIALECTS)("userinfo decision on %s", (dialect) => {
  let f: OAuthFixture;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
  });
  afterAll(async () => {
    await f.close();
  });

  async function accessToken(
    scope = "openid profile email",
    options: { dpopJkt?: string; userId?: string } = {},
  ) {
    const code = await f.code(
      f.web.client,
      { scope },
      f.user(options.userId ? { userId: options.userId } : {}),
    );
    const answer = await f.oauth.tokens.grant(
      f.web.client,
      f.codeParams(code),
      options.dpopJkt ? { dpopJkt: options.dpopJkt } : {},
    );
    return answer.access_token;
  }

  const ask = (request: Partial<UserinfoRequest>) =>
    f.oauth.userinfo({ token: undefined, scheme: "Bearer", dpop: undefined, method: "GET", ...request });

  const dpopProof = (key: ProofKey, token: string) =>
    proof(key, f.t.clock.now(), { method: "GET", path: "/userinfo", ath: accessTokenHash(token) });

  it("answers the claims of the granted scopes for a bearer token", async () => {
    const decision = await ask({ token: await accessToken() });
    expect(decision).toEqual({
      ok: true,
      claims: expect.objectContaining({
        sub: f.userId,
        preferred_username: "pat",
        email: "pat@example.test",
      }),
    });
    const onlyOpenid = await ask({ token: await accessToken("openid") });
    expect(onlyOpenid).toEqual({ ok: true, claims: { sub: f.userId } });
  });

  it("refuses a request without a token: 401 with a bare challenge", async () => {
    expect(await ask({})).toEqual({
      ok: false,
      refuse: {
        status: 401,
        error: "unauthorized",
        description: "An access token is required.",
        scheme: "Bearer",
      },
    });
  });

  it.each([
    ["garbage", "garbage"],
    ["a tampered JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
    ["an unknown opaque token", `tsr_at_${"A".repeat(43)}`],
  ])("refuses %s as invalid_token", async (_name, token) => {
    expect(await ask({ token })).toMatchObject({
      ok: false,
      refuse: { status: 401, error: "invalid_token", scheme: "Bearer" },
    });
  });

  it("refuses a token without openid, and a client's own token, with 403 insufficient_scope", async () => {
    expect(await ask({ token: await accessToken("orders:read") })).toMatchObject({
      ok: false,
      refuse: { status: 403, error: "insufficient_scope" },
    });
    const service = (
      await f.client({
        name: `svc-${dialect}`,
        redirectUris: [],
        grantTypes: ["client_credentials"],
        scope: "orders:read",
        resources: ["https://api.example.test"],
      })
    ).client;
    const { access_token } = await f.oauth.tokens.grant(service, { grant_type: "client_credentials" });
    expect(await ask({ token: access_token })).toMatchObject({
      ok: false,
      refuse: { status: 403, error: "insufficient_scope" },
    });
  });

  it("checks the user like every token check: a disabled user's token, a token before the cut-off", async () => {
    const other = await f.t.ctx.accounts.users.create(
      { userName: `ui-${dialect}`, password: "correct horse battery staple 47" },
      { actor: "test", authority: "admin" as const },
    );
    const token = await accessToken("openid", { userId: other.id });
    expect(await ask({ token })).toMatchObject({ ok: true });
    // The cut-off moved past the token's iat: refused although the signature and the revocation list are fine.
    await f.t.ctx.storage.db
      .updateTable("users")
      .set({ tokens_not_before: f.t.clock.now() + 1000 })
      .where("id", "=", other.id)
      .execute();
    expect(await ask({ token })).toMatchObject({
      ok: false,
      refuse: { status: 401, error: "invalid_token" },
    });
    // A token issued after the cut-off is good again; disabling the user ends it.
    f.t.clock.advance(2000);
    const fresh = await accessToken("openid", { userId: other.id });
    expect(await ask({ token: fresh })).toMatchObject({ ok: true });
    await f.t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", other.id).execute();
    expect(await ask({ token: fresh })).toMatchObject({ ok: false, refuse: { error: "invalid_token" } });
  });

  describe("DPoP (RFC 9449 §7)", () => {
    it("answers a bound token presented under DPoP with a proof of its key", async () => {
      const key = await proofKey();
      const token = await accessToken("openid", { dpopJkt: key.jkt });
      expect(await ask({ token, scheme: "DPoP", dpop: await dpopProof(key, token) })).toEqual({
        ok: true,
        claims: { sub: f.userId },
      });
    });

    it("refuses a bound token presented as a bearer token; the challenge names DPoP", async () => {
      const key = await proofKey();
      const token = await accessToken("openid", { dpopJkt: key.jkt });
      expect(await ask({ token })).toMatchObject({
        ok: false,
        refuse: {
          status: 401,
          error: "invalid_token",
          scheme: "DPoP",
          description: expect.stringMatching(/DPoP-bound/),
        },
      });
    });

    it("refuses the DPoP scheme without a proof, with a bad proof, and with a proof of another key", async () => {
      const key = await proofKey();
      const token = await accessToken("openid", { dpopJkt: key.jkt });
      expect(await ask({ token, scheme: "DPoP" })).toMatchObject({
        ok: false,
        refuse: { status: 401, error: "invalid_dpop_proof", scheme: "DPoP" },
      });
      // A proof for another request (no ath) is a bad proof.
      const withoutAth = await proof(key, f.t.clock.now(), { method: "GET", path: "/userinfo" });
      expect(await ask({ token, scheme: "DPoP", dpop: withoutAth })).toMatchObject({
        ok: false,
        refuse: { error: "invalid_dpop_proof" },
      });
      const other = await proofKey();
      expect(await ask({ token, scheme: "DPoP", dpop: await dpopProof(other, token) })).toMatchObject({
        ok: false,
        refuse: {
          status: 401,
          error: "invalid_token",
          scheme: "DPoP",
          description: expect.stringMatching(/not bound/),
        },
      });
    });

    it("refuses an unbound token under the DPoP scheme, and a replayed proof", async () => {
      const key = await proofKey();
      const token = await accessToken("openid");
      const once = await dpopProof(key, token);
      expect(await ask({ token, scheme: "DPoP", dpop: once })).toMatchObject({
        ok: false,
        refuse: { error: "invalid_token" },
      });
      expect(await ask({ token, scheme: "DPoP", dpop: once })).toMatchObject({
        ok: false,
        refuse: { error: "invalid_dpop_proof", description: expect.stringMatching(/already used/) },
      });
    });
  });
});
