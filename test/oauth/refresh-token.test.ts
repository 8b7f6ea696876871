/**
 * The `refresh_token` grant at the domain level (src/oauth/grants/refresh-token.ts): rotation leaves exactly
 * one live successor (also under concurrent use), a retry inside the grace window gets the same answer, reuse
 * after it ends the whole family (the `refresh_reused` access-ending event) and is audited; refusals for
 * another client's token, a widened scope, an idle token, a disabled user and a DPoP-bound token without its
 * key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenResponse } from "../../src/oauth/token-endpoint.js";
import { DIALECTS } from "../helpers/databases.js";
import { createOAuthFixture, expectOAuthError, type OAuthFixture, proofKey } from "./fixture.js";

describe.each(DIALECTS)("refresh_token grant on %s", (dialect) => {
  let f: OAuthFixture;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
  });
  afterAll(async () => {
    await f.close();
  });

  async function pair(scope = "openid offline_access orders:read"): Promise<TokenResponse> {
    const code = await f.code(f.web.client, { scope });
    return f.oauth.tokens.grant(f.web.client, f.codeParams(code));
  }

  const refresh = (token: string, extra: Record<string, string> = {}, client = f.web.client) =>
    f.oauth.tokens.grant(client, { grant_type: "refresh_token", refresh_token: token, ...extra });

  async function family(token: string) {
    const row = await f.oauth.tokens.findRefreshToken(token);
    return f.t.ctx.storage.db
      .selectFrom("refresh_tokens")
      .selectAll()
      .where("family_id", "=", row?.family_id as string)
      .orderBy("created_at")
      .execute();
  }

  it("rotates: a new refresh token, the old one marked rotated, one live member in the family", async () => {
    const first = await pair();
    f.t.clock.advance(1000);
    const second = await refresh(first.refresh_token as string);
    expect(second.refresh_token).toMatch(/^tsr_rt_/);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.scope).toBe("openid offline_access orders:read");
    expect(second.id_token).toBeDefined();
    const members = await family(first.refresh_token as string);
    expect(members).toHaveLength(2);
    expect(members.filter((m) => m.rotated_at === null && m.revoked_at === null)).toHaveLength(1);
    expect((await f.oauth.tokens.findRefreshToken(first.refresh_token as string))?.rotated_at).not.toBeNull();
  });

  it("mints a single successor when the same token is refreshed concurrently; both callers get it", async () => {
    const first = await pair();
    const answers = await Promise.all([
      refresh(first.refresh_token as string),
      refresh(first.refresh_token as string),
      refresh(first.refresh_token as string),
    ]);
    expect(new Set(answers.map((a) => a.refresh_token)).size).toBe(1);
    const members = await family(first.refresh_token as string);
    expect(members).toHaveLength(2);
    expect(members.filter((m) => m.rotated_at === null)).toHaveLength(1);
  });

  it("answers a retry inside the grace window with the same answer", async () => {
    const first = await pair();
    const second = await refresh(first.refresh_token as string);
    f.t.clock.advance((f.t.config.refreshGraceWindow - 1) * 1000);
    expect(await refresh(first.refresh_token as string)).toEqual(second);
  });

  it("treats use of a rotated token after the grace window as reuse: the family ends, the event is audited", async () => {
    const first = await pair();
    const second = await refresh(first.refresh_token as string);
    f.t.clock.advance((f.t.config.refreshGraceWindow + 1) * 1000);
    await expectOAuthError(refresh(first.refresh_token as string), "invalid_grant", /already used/);
    const members = await family(first.refresh_token as string);
    expect(members.every((m) => m.revoked_at !== null)).toBe(true);
    // The successor and the access tokens of the family are dead too.
    await expectOAuthError(refresh(second.refresh_token as string), "invalid_grant");
    await expect(f.oauth.issuer.checkAccessToken(second.access_token)).rejects.toMatchObject({
      name: "TokenError",
    });
    await f.t.ctx.accounts.audit.flush();
    const events = await f.t.ctx.storage.db
      .selectFrom("audit_events")
      .select(["type", "outcome"])
      .where("type", "=", "oauth.refresh_reused")
      .execute();
    expect(events).toContainEqual({ type: "oauth.refresh_reused", outcome: "failure" });
  });

  it("treats a retry as reuse once the answer it would repeat has been rotated in turn", async () => {
    const first = await pair();
    const second = await refresh(first.refresh_token as string);
    await refresh(second.refresh_token as string);
    await expectOAuthError(refresh(first.refresh_token as string), "invalid_grant", /already used/);
  });

  it("narrows the scope on request and refuses a scope the token was not granted (invalid_scope)", async () => {
    const first = await pair();
    const narrowed = await refresh(first.refresh_token as string, { scope: "openid" });
    expect(narrowed.scope).toBe("openid");
    expect(narrowed.id_token).toBeDefined();
    await expectOAuthError(
      refresh(narrowed.refresh_token as string, { scope: "openid profile" }),
      "invalid_scope",
    );
  });

  it("refuses another client's refresh token, an unknown one and a malformed one (invalid_grant)", async () => {
    const first = await pair();
    const { client: other } = await f.client({ name: "Other" });
    await expectOAuthError(refresh(first.refresh_token as string, {}, other), "invalid_grant");
    await expectOAuthError(refresh("tsr_rt_unknown"), "invalid_grant");
    await expectOAuthError(
      f.oauth.tokens.grant(f.web.client, { grant_type: "refresh_token" }),
      "invalid_request",
    );
    // The token was not touched by the refused attempts.
    expect(await refresh(first.refresh_token as string)).toMatchObject({ token_type: "Bearer" });
  });

  it("refuses a token unused for longer than the idle lifetime", async () => {
    const first = await pair();
    f.t.clock.advance((f.t.config.refreshTokenIdle + 1) * 1000);
    await expectOAuthError(refresh(first.refresh_token as string), "invalid_grant");
  });

  it("refuses the token of a user who is no longer active", async () => {
    const other = await f.t.ctx.accounts.users.create(
      { userName: `off-${dialect}`, password: "correct horse battery staple 44" },
      { actor: "test", authority: "admin" as const },
    );
    const code = await f.code(f.web.client, { scope: "openid offline_access" }, f.user({ userId: other.id }));
    const first = await f.oauth.tokens.grant(f.web.client, f.codeParams(code));
    await f.t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", other.id).execute();
    await expectOAuthError(refresh(first.refresh_token as string), "invalid_grant");
  });

  it("binds a public client's refresh tokens to its DPoP key", async () => {
    const key = await proofKey();
    const code = await f.code(f.spa.client, { scope: "openid offline_access" });
    const first = await f.oauth.tokens.grant(f.spa.client, f.codeParams(code), { dpopJkt: key.jkt });
    expect(first.token_type).toBe("DPoP");
    await expectOAuthError(refresh(first.refresh_token as string, {}, f.spa.client), "invalid_dpop_proof");
    const other = await proofKey();
    await expectOAuthError(
      f.oauth.tokens.grant(
        f.spa.client,
        { grant_type: "refresh_token", refresh_token: first.refresh_token as string },
        { dpopJkt: other.jkt },
      ),
      "invalid_dpop_proof",
    );
    const second = await f.oauth.tokens.grant(
      f.spa.client,
      { grant_type: "refresh_token", refresh_token: first.refresh_token as string },
      { dpopJkt: key.jkt },
    );
    expect((await f.oauth.tokens.findRefreshToken(second.refresh_token as string))?.dpop_jkt).toBe(key.jkt);
  });

  it("revokes every family of a user at a client ('disconnect app')", async () => {
    const a = await pair();
    const b = await pair();
    expect(await f.oauth.tokens.revokeUserClient(f.userId, f.web.client.id)).toBeGreaterThanOrEqual(2);
    await expectOAuthError(refresh(a.refresh_token as string), "invalid_grant");
    await expectOAuthError(refresh(b.refresh_token as string), "invalid_grant");
  });

  it("purges families that ended and forgets sealed answers past the grace window", async () => {
    const first = await pair();
    await refresh(first.refresh_token as string);
    f.t.clock.advance((f.t.config.refreshGraceWindow + 1) * 1000);
    await f.oauth.tokens.clearSealedSuccessors();
    const rotated = await f.oauth.tokens.findRefreshToken(first.refresh_token as string);
    expect(rotated?.successor).toBeNull();
    f.t.clock.advance((f.t.config.refreshTokenLifetime + 1) * 1000);
    expect(await f.oauth.tokens.purgeExpired()).toBeGreaterThan(0);
    expect(await f.oauth.tokens.findRefreshToken(first.refresh_token as string)).toBeUndefined();
  });
});
