/** Opaque access tokens: a per-client option for APIs that introspect rather than verify JWTs. */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/cb";

describe.each(DIALECTS)("opaque access tokens on %s", (dialect) => {
  let t: TestApp;
  let config: oidc.Configuration;
  let userId: string;
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: "correct horse battery staple 42" },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "Opaque",
      redirectUris: [CALLBACK],
      firstParty: true,
      accessTokenFormat: "opaque",
    });
    config = await discover(t.app, ISSUER, client.id, secret);
  });
  afterAll(async () => {
    await t.close();
  });

  async function tokens() {
    return codeFlowTokens(config, new PageClient(t.app, ISSUER), CALLBACK, "openid profile");
  }

  it("issues an opaque token that userinfo and introspection understand, stored only as a hash", async () => {
    const { access_token } = await tokens();
    expect(access_token).toMatch(/^tsr_at_[0-9A-Za-z]{49}$/);
    expect(access_token.split(".")).toHaveLength(1);
    const info = await oidc.fetchUserInfo(config, access_token, userId);
    expect(info.preferred_username).toBe("pat");
    const introspection = await oidc.tokenIntrospection(config, access_token);
    expect(introspection).toMatchObject({
      active: true,
      sub: userId,
      scope: "openid profile",
      username: "pat",
    });
    const rows = await t.ctx.storage.db.selectFrom("access_tokens").selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(access_token);
  });

  it("refuses it once revoked, expired, or with a character changed", async () => {
    const { access_token } = await tokens();
    const last = access_token.at(-1) === "A" ? "B" : "A";
    expect((await oidc.tokenIntrospection(config, `${access_token.slice(0, -1)}${last}`)).active).toBe(false);
    await oidc.tokenRevocation(config, access_token);
    expect((await oidc.tokenIntrospection(config, access_token)).active).toBe(false);
    const userinfo = await t.app.inject({
      url: "/userinfo",
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(userinfo.statusCode).toBe(401);
    const { access_token: second } = await tokens();
    t.clock.advance(901_000);
    expect((await oidc.tokenIntrospection(config, second)).active).toBe(false);
  });
});
