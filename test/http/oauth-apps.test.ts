/** The "Connected apps" account page: what the user allowed, and disconnecting an app. */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://notes.example.test/cb";

describe("connected apps", () => {
  let t: TestApp;
  let client: { id: string; secret: string };
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: "correct horse battery staple 42" },
      { actor: "test", authority: "admin" as const },
    );
    const created = await t.ctx.oauth.clients.create({ name: "Notes <App>", redirectUris: [CALLBACK] });
    client = { id: created.client.id, secret: created.secret as string };
  });
  afterAll(async () => {
    await t.close();
  });

  it("lists an app after consent, and disconnecting it forgets the consent and revokes its tokens", async () => {
    const page = new PageClient(t.app, ISSUER);
    const config = await discover(t.app, ISSUER, client.id, client.secret);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid email offline_access",
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
    });
    const tokens = await codeFlowTokens(config, page, CALLBACK, "openid email offline_access");

    const list = await page.get("/account/apps");
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain("Notes &lt;App&gt;");
    expect(list.body).toContain("See your e-mail address");
    expect(list.body).toContain(`action="/account/apps/${encodeURIComponent(client.id)}/revoke"`);

    const forged = await page.post(`/account/apps/${client.id}/revoke`, {}, { csrf: false });
    expect(forged.statusCode).toBe(403);

    const done = await page.post(`/account/apps/${encodeURIComponent(client.id)}/revoke`, {});
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe("/account/apps?done=app-revoked");
    const after = await page.get("/account/apps");
    expect(after.body).toContain("No application is connected");
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token as string)).active).toBe(false);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const events = await t.ctx.accounts.audit.list({ type: "oauth.consent_revoked" });
    expect(events).toHaveLength(1);

    // The next request asks for consent again.
    const again = await page.get(url.pathname + url.search);
    expect(again.statusCode).toBe(200);
    expect(again.body).toContain('action="/authorize/consent"');
  });
});
