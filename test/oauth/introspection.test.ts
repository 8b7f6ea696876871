/**
 * Introspection (RFC 7662) and revocation (RFC 7009) at the domain level (src/oauth/introspection.ts), for each
 * kind of token: JWT and opaque access tokens, refresh tokens (live and rotated), a client's own token, and API
 * tokens; who may introspect what (the token's client, or a resource server it is addressed to); what revocation
 * ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/oauth/clients.js";
import { DIALECTS } from "../helpers/databases.js";
import { API, createOAuthFixture, type OAuthFixture } from "./fixture.js";

describe.each(DIALECTS)("introspection and revocation on %s", (dialect) => {
  let f: OAuthFixture;
  /** A resource server's client: may introspect tokens addressed to the API. */
  let rs: Client;
  /** A client that is neither a token's client nor its audience. */
  let stranger: Client;
  let opaqueClient: Client;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    rs = (
      await f.client({
        name: "RS",
        redirectUris: [],
        grantTypes: ["client_credentials"],
        resources: [API],
        scope: "orders:read",
      })
    ).client;
    stranger = (await f.client({ name: "Stranger" })).client;
    opaqueClient = (
      await f.client({
        name: "Opaque",
        accessTokenFormat: "opaque",
        resources: [API],
        scope: "openid offline_access orders:read",
      })
    ).client;
  });
  afterAll(async () => {
    await f.close();
  });

  async function tokensOf(client: Client, scope = "openid offline_access orders:read") {
    return f.oauth.tokens.grant(client, f.codeParams(await f.code(client, { scope })));
  }

  it("answers a JWT access token to its client and to the resource server it is for, not to others", async () => {
    const { access_token } = await tokensOf(f.web.client);
    const own = await f.oauth.introspection.introspect(f.web.client, access_token, undefined);
    expect(own).toMatchObject({
      active: true,
      token_type: "Bearer",
      client_id: f.web.client.id,
      sub: f.userId,
      username: "pat",
      aud: API,
      scope: "openid offline_access orders:read",
    });
    expect(await f.oauth.introspection.introspect(rs, access_token, undefined)).toMatchObject({
      active: true,
    });
    expect(await f.oauth.introspection.introspect(stranger, access_token, undefined)).toEqual({
      active: false,
    });
  });

  it("answers an opaque access token from the store, with the same claims", async () => {
    const { access_token } = await tokensOf(opaqueClient);
    expect(access_token).toMatch(/^tsr_at_/);
    expect(await f.oauth.introspection.introspect(opaqueClient, access_token, undefined)).toMatchObject({
      active: true,
      client_id: opaqueClient.id,
      sub: f.userId,
      aud: API,
    });
    expect(await f.oauth.introspection.introspect(rs, access_token, "access_token")).toMatchObject({
      active: true,
    });
  });

  it("answers a refresh token to its own client only, and a rotated one as inactive", async () => {
    const first = await tokensOf(f.web.client);
    const refresh = first.refresh_token as string;
    expect(await f.oauth.introspection.introspect(f.web.client, refresh, "refresh_token")).toMatchObject({
      active: true,
      token_type: "refresh_token",
      client_id: f.web.client.id,
      sub: f.userId,
    });
    // A resource server never sees refresh tokens, whatever their scope.
    expect(await f.oauth.introspection.introspect(rs, refresh, undefined)).toEqual({ active: false });
    await f.oauth.tokens.grant(f.web.client, { grant_type: "refresh_token", refresh_token: refresh });
    expect(await f.oauth.introspection.introspect(f.web.client, refresh, undefined)).toEqual({
      active: false,
    });
  });

  it("answers a client_credentials token without a user", async () => {
    const { access_token } = await f.oauth.tokens.grant(rs, { grant_type: "client_credentials" });
    const answer = await f.oauth.introspection.introspect(rs, access_token, undefined);
    expect(answer).toMatchObject({ active: true, sub: rs.id, client_id: rs.id });
    expect(answer).not.toHaveProperty("username");
  });

  it("answers an API token to the resource servers it names", async () => {
    const { token } = await f.t.ctx.apiTokens.create({
      kind: "personal",
      name: "script",
      ownerId: f.userId,
      scopes: ["orders:read"],
      resources: [API],
      createdBy: "test",
    });
    expect(await f.oauth.introspection.introspect(rs, token, undefined)).toMatchObject({
      active: true,
      sub: f.userId,
      tessera_token_kind: "personal",
      aud: API,
    });
    expect(await f.oauth.introspection.introspect(stranger, token, undefined)).toEqual({ active: false });
  });

  it.each([
    ["garbage", "not a token"],
    ["an unknown refresh token", `tsr_rt_${"A".repeat(40)}`],
    ["a tampered JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
    ["an empty token", ""],
  ])("answers %s as inactive", async (_name, token) => {
    expect(await f.oauth.introspection.introspect(f.web.client, token, undefined)).toEqual({ active: false });
  });

  it("answers the tokens of a disabled user as inactive", async () => {
    const other = await f.t.ctx.accounts.users.create(
      { userName: `intro-${dialect}`, password: "correct horse battery staple 46" },
      { actor: "test", authority: "admin" as const },
    );
    const code = await f.code(f.web.client, { scope: "openid offline_access" }, f.user({ userId: other.id }));
    const answer = await f.oauth.tokens.grant(f.web.client, f.codeParams(code));
    await f.t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", other.id).execute();
    expect(await f.oauth.introspection.introspect(f.web.client, answer.access_token, undefined)).toEqual({
      active: false,
    });
    expect(
      await f.oauth.introspection.introspect(f.web.client, answer.refresh_token as string, undefined),
    ).toEqual({ active: false });
  });

  describe("revocation", () => {
    it("ends a refresh token's family and its access tokens", async () => {
      const answer = await tokensOf(f.web.client);
      await f.oauth.introspection.revoke(f.web.client, answer.refresh_token as string, undefined);
      expect(
        (await f.oauth.tokens.findRefreshToken(answer.refresh_token as string))?.revoked_at,
      ).not.toBeNull();
      expect(await f.oauth.introspection.introspect(f.web.client, answer.access_token, undefined)).toEqual({
        active: false,
      });
    });

    it("puts an access token on the revocation list, and leaves the refresh token alive", async () => {
      const answer = await tokensOf(f.web.client);
      await f.oauth.introspection.revoke(f.web.client, answer.access_token, "access_token");
      expect(await f.oauth.introspection.introspect(f.web.client, answer.access_token, undefined)).toEqual({
        active: false,
      });
      expect(
        await f.oauth.introspection.introspect(f.web.client, answer.refresh_token as string, undefined),
      ).toMatchObject({ active: true });
    });

    it("changes nothing for another client's tokens (RFC 7009 §2.2: answered as success)", async () => {
      const answer = await tokensOf(f.web.client);
      await f.oauth.introspection.revoke(stranger, answer.access_token, undefined);
      await f.oauth.introspection.revoke(stranger, answer.refresh_token as string, undefined);
      expect(
        await f.oauth.introspection.introspect(f.web.client, answer.access_token, undefined),
      ).toMatchObject({
        active: true,
      });
      expect(
        await f.oauth.introspection.introspect(f.web.client, answer.refresh_token as string, undefined),
      ).toMatchObject({ active: true });
    });
  });
});
