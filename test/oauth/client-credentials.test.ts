/**
 * The `client_credentials` grant at the domain level (src/oauth/grants/client-credentials.ts): the client is
 * the subject and gets no refresh or ID token; the default scopes are what the client may ask and the resource
 * accepts; OpenID scopes, scopes off the client's list or not accepted by the resource are `invalid_scope`, a
 * resource off the client's list `invalid_target`, a client without the grant `unauthorized_client`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/oauth/clients.js";
import { DIALECTS } from "../helpers/databases.js";
import { API, createOAuthFixture, expectOAuthError, type OAuthFixture } from "./fixture.js";

const OTHER_API = "https://other-api.example.test";

describe.each(DIALECTS)("client_credentials grant on %s", (dialect) => {
  let f: OAuthFixture;
  let service: Client;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    await f.oauth.clients.createResourceServer({ audience: OTHER_API, name: "Other", scope: "reports:read" });
    service = (
      await f.client({
        name: "Service",
        redirectUris: [],
        firstParty: false,
        grantTypes: ["client_credentials"],
        scope: "orders:read orders:write reports:read",
        resources: [API, OTHER_API],
      })
    ).client;
  });
  afterAll(async () => {
    await f.close();
  });

  const grant = (params: Record<string, string | string[]> = {}, client = service) =>
    f.oauth.tokens.grant(client, { grant_type: "client_credentials", ...params });

  it("issues a token for the client itself, for its default resource and the scopes that resource accepts", async () => {
    const answer = await grant();
    expect(answer).toMatchObject({ token_type: "Bearer", scope: "orders:read orders:write" });
    expect(answer.refresh_token).toBeUndefined();
    expect(answer.id_token).toBeUndefined();
    const { claims, holder } = await f.oauth.issuer.checkAccessToken(answer.access_token);
    expect(claims).toMatchObject({ sub: service.id, client_id: service.id, aud: API });
    expect(claims.auth_time).toBeUndefined();
    expect(holder).toBeUndefined();
  });

  it("narrows to the scopes and resources asked for", async () => {
    const answer = await grant({ scope: "reports:read", resource: OTHER_API });
    expect(answer.scope).toBe("reports:read");
    const { claims } = await f.oauth.issuer.checkAccessToken(answer.access_token);
    expect(claims.aud).toBe(OTHER_API);
    const both = await grant({ scope: "orders:read reports:read", resource: [API, OTHER_API] });
    expect((await f.oauth.issuer.checkAccessToken(both.access_token)).claims.aud).toEqual([API, OTHER_API]);
  });

  it.each([
    ["an OpenID scope (no user)", "openid"],
    ["offline_access", "offline_access"],
    ["a scope off the client's list", "orders:delete"],
  ])("refuses %s (invalid_scope)", async (_name, scope) => {
    await expectOAuthError(grant({ scope }), "invalid_scope");
  });

  it("refuses a scope no requested resource accepts (invalid_scope)", async () => {
    await expectOAuthError(grant({ scope: "reports:read", resource: API }), "invalid_scope");
  });

  it("refuses a resource off the client's list or not a URI (invalid_target)", async () => {
    await expectOAuthError(grant({ resource: "https://elsewhere.example.test" }), "invalid_target");
    await expectOAuthError(grant({ resource: "not a uri" }), "invalid_target");
  });

  it("refuses clients without the grant, and public clients (unauthorized_client)", async () => {
    await expectOAuthError(grant({}, f.web.client), "unauthorized_client");
    await expectOAuthError(grant({}, f.spa.client), "unauthorized_client");
  });
});
