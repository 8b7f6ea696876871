/** The device authorization grant (RFC 8628): openid-client as the device, the page client as the user. */
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const GRANT = "urn:ietf:params:oauth:grant-type:device_code";

describe.each(DIALECTS)("device authorization grant on %s", (dialect) => {
  let t: TestApp;
  let cli: { id: string };
  let userId: string;
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER, TESSERA_DEVICE_POLL_INTERVAL: "1" } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const created = await t.ctx.oauth.clients.create({
      name: "Tessera CLI",
      authMethod: "none",
      grantTypes: [GRANT, "refresh_token"],
      scope: "openid profile offline_access",
    });
    cli = { id: created.client.id };
  });
  afterAll(async () => {
    await t.close();
  });

  async function signedInPage() {
    const page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    await page.post("/login", { username: "pat", password: PASSWORD });
    return page;
  }

  async function enterCode(page: PageClient, userCode: string, decision: "allow" | "deny") {
    await page.get(`/device?user_code=${encodeURIComponent(userCode)}`);
    const confirm = await page.post("/device", { user_code: userCode.toLowerCase().replace("-", " ") });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain("Tessera CLI");
    expect(confirm.body).toContain('action="/device/confirm"');
    return page.post("/device/confirm", { user_code: userCode, decision });
  }

  async function poll(deviceCode: string) {
    return t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({
        grant_type: GRANT,
        device_code: deviceCode,
        client_id: cli.id,
      }).toString(),
    });
  }

  it("signs a CLI in: the user enters the code, openid-client's polling gets tokens", async () => {
    const config = await discover(t.app, ISSUER, cli.id, undefined);
    expect(config.serverMetadata().device_authorization_endpoint).toBe(`${ISSUER}/device_authorization`);
    const response = await oidc.initiateDeviceAuthorization(config, {
      scope: "openid profile offline_access",
    });
    expect(response.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(response.verification_uri).toBe(`${ISSUER}/device`);
    expect(response.interval).toBe(1);
    const page = await signedInPage();
    const polling = oidc.pollDeviceAuthorizationGrant(config, response);
    const done = await enterCode(page, response.user_code, "allow");
    expect(done.body).toContain("Device connected");
    const tokens = await polling;
    expect(tokens.claims()?.sub).toBe(userId);
    expect(tokens.refresh_token).toMatch(/^tsr_rt_/);
    // The device code is used once.
    const again = await poll(response.device_code);
    expect(again.json().error).toBe("invalid_grant");
  });

  it("answers authorization_pending, then slow_down when polled too fast, access_denied after a deny", async () => {
    const config = await discover(t.app, ISSUER, cli.id, undefined);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: "openid" });
    expect((await poll(response.device_code)).json().error).toBe("authorization_pending");
    expect((await poll(response.device_code)).json().error).toBe("slow_down");
    t.clock.advance(7_000);
    expect((await poll(response.device_code)).json().error).toBe("authorization_pending");
    const page = await signedInPage();
    await enterCode(page, response.user_code, "deny");
    t.clock.advance(7_000);
    expect((await poll(response.device_code)).json().error).toBe("access_denied");
  });

  it("answers expired_token after the code's lifetime, and the page refuses the old code", async () => {
    const config = await discover(t.app, ISSUER, cli.id, undefined);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: "openid" });
    t.clock.advance(601_000);
    expect((await poll(response.device_code)).json().error).toBe("expired_token");
    const page = await signedInPage();
    await page.get("/device");
    const late = await page.post("/device", { user_code: response.user_code });
    expect(late.statusCode).toBe(400);
    expect(late.body).toContain("not valid or has expired");
  });

  it("throttles code guessing, sends signed-out users to sign in, and refuses foreign device codes", async () => {
    const anonymous = await t.app.inject({ url: "/device?user_code=BCDF-GHJK" });
    expect(anonymous.statusCode).toBe(303);
    expect(String(anonymous.headers.location)).toBe(
      `/login?return_to=${encodeURIComponent("/device?user_code=BCDF-GHJK")}`,
    );
    const page = new PageClient(t.app, ISSUER, "203.0.113.9");
    await page.get("/login");
    await page.post("/login", { username: "pat", password: PASSWORD });
    await page.get("/device");
    let last = 0;
    for (let i = 0; i < 25; i++) last = (await page.post("/device", { user_code: "BBBB-BBBB" })).statusCode;
    expect(last).toBe(429);
    const config = await discover(t.app, ISSUER, cli.id, undefined);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: "openid" });
    const other = await t.ctx.oauth.clients.create({
      name: "other",
      authMethod: "none",
      grantTypes: [GRANT],
    });
    const foreign = await t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: new URLSearchParams({
        grant_type: GRANT,
        device_code: response.device_code,
        client_id: other.client.id,
      }).toString(),
    });
    expect(foreign.json().error).toBe("invalid_grant");
    const notAllowed = await t.ctx.oauth.clients.create({
      name: "web",
      redirectUris: ["https://x.example.test/cb"],
    });
    const refused = await t.app.inject({
      method: "POST",
      url: "/device_authorization",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${notAllowed.client.id}:${notAllowed.secret}`).toString("base64")}`,
      },
      payload: "scope=openid",
    });
    expect(refused.json().error).toBe("unauthorized_client");
  });
});
