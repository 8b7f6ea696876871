/**
 * The device authorization grant at the domain level (src/oauth/device.ts, src/oauth/grants/device-code.ts):
 * each state of a request as the polling device sees it (pending, too fast, denied, expired, approved, used),
 * another client's device code, and the user's side (`review`, `answer`) with the per-address throttle.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/oauth/clients.js";
import { DEVICE_CODE_GRANT } from "../../src/oauth/device.js";
import { DIALECTS } from "../helpers/databases.js";
import { createOAuthFixture, expectOAuthError, ISSUER, type OAuthFixture } from "./fixture.js";

describe.each(DIALECTS)("device code grant on %s", (dialect) => {
  let f: OAuthFixture;
  let cli: Client;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    cli = (
      await f.client({
        name: "CLI",
        authMethod: "none",
        redirectUris: [],
        grantTypes: [DEVICE_CODE_GRANT, "refresh_token"],
        scope: "openid profile offline_access",
      })
    ).client;
  });
  afterAll(async () => {
    await f.close();
  });

  const poll = (deviceCode: string, client = cli) =>
    f.oauth.tokens.grant(client, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });

  const start = (scope = "openid offline_access") => f.oauth.device.start(cli, { scope });

  it("answers authorization_pending, then slow_down when polled too fast (and lengthens the interval)", async () => {
    const started = await start();
    expect(started.user_code).toMatch(/^[B-Z]{4}-[B-Z]{4}$/);
    expect(started.verification_uri_complete).toBe(`${ISSUER}/device?user_code=${started.user_code}`);
    await expectOAuthError(poll(started.device_code), "authorization_pending");
    await expectOAuthError(poll(started.device_code), "slow_down", /every 10 seconds/);
    f.t.clock.advance(11_000);
    await expectOAuthError(poll(started.device_code), "authorization_pending");
  });

  it("issues tokens once for the user who approved, then refuses the used code (invalid_grant)", async () => {
    const started = await start();
    expect(await f.oauth.device.decide(started.user_code, f.user(), true)).toBe(true);
    const answer = await poll(started.device_code);
    expect(answer).toMatchObject({ token_type: "Bearer", scope: "openid offline_access" });
    expect(answer.refresh_token).toMatch(/^tsr_rt_/);
    expect(answer.id_token).toBeDefined();
    expect((await f.oauth.issuer.checkAccessToken(answer.access_token)).claims.sub).toBe(f.userId);
    await expectOAuthError(poll(started.device_code), "invalid_grant", /already used/);
    const row = await f.oauth.device.findPending(started.user_code);
    expect(row).toBeUndefined();
  });

  it("answers access_denied after the user denied", async () => {
    const started = await start();
    expect(await f.oauth.device.decide(started.user_code, f.user(), false)).toBe(true);
    await expectOAuthError(poll(started.device_code), "access_denied");
    // A decided request cannot be decided again.
    expect(await f.oauth.device.decide(started.user_code, f.user(), true)).toBe(false);
  });

  it("answers expired_token once the code expired", async () => {
    const started = await start();
    f.t.clock.advance((started.expires_in + 1) * 1000);
    await expectOAuthError(poll(started.device_code), "expired_token");
    expect(await f.oauth.device.decide(started.user_code, f.user(), true)).toBe(false);
  });

  it("refuses another client's device code and a malformed one (invalid_grant)", async () => {
    const started = await start();
    const { client: other } = await f.client({
      name: "Other CLI",
      authMethod: "none",
      redirectUris: [],
      grantTypes: [DEVICE_CODE_GRANT],
    });
    await expectOAuthError(poll(started.device_code, other), "invalid_grant");
    await expectOAuthError(poll("tsr_dc_nope"), "invalid_grant");
    await expectOAuthError(poll(started.device_code, f.web.client), "unauthorized_client");
  });

  it("refuses a device code whose approving user was disabled since", async () => {
    const other = await f.t.ctx.accounts.users.create(
      { userName: `tv-${dialect}`, password: "correct horse battery staple 45" },
      { actor: "test", authority: "admin" as const },
    );
    const started = await start();
    await f.oauth.device.decide(started.user_code, f.user({ userId: other.id }), true);
    await f.t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", other.id).execute();
    await expectOAuthError(poll(started.device_code), "invalid_grant");
  });

  it("refuses to start for a scope the client may not ask (invalid_scope) or without the grant", async () => {
    await expectOAuthError(f.oauth.device.start(cli, { scope: "email" }), "invalid_scope");
    await expectOAuthError(f.oauth.device.start(f.web.client, {}), "unauthorized_client");
  });

  describe("the user's side", () => {
    it("reviews a pending code (typed loosely) and records the answer", async () => {
      const started = await start("openid profile");
      const typed = started.user_code.toLowerCase().replace("-", " ");
      const review = await f.oauth.device.review(typed, "192.0.2.1");
      expect(review).toMatchObject({ userCode: started.user_code, scopes: ["openid", "profile"] });
      expect("client" in review && review.client.id).toBe(cli.id);
      expect(await f.oauth.device.answer(typed, f.user(), true, "192.0.2.1")).toEqual({ answered: true });
      expect(await f.oauth.device.answer(typed, f.user(), true, "192.0.2.1")).toEqual({ refused: "unknown" });
      expect(await poll(started.device_code)).toMatchObject({ scope: "openid profile" });
    });

    it("counts unknown codes per address and refuses while that address is backing off", async () => {
      const ip = "198.51.100.7";
      let last: Awaited<ReturnType<typeof f.oauth.device.review>> | undefined;
      for (let i = 0; i < 25 && !(last && "refused" in last && last.refused === "throttled"); i++) {
        last = await f.oauth.device.review("BBBB-BBBB", ip);
      }
      expect(last).toMatchObject({ refused: "throttled" });
      const started = await start();
      // A good code from that address is refused too, on both steps; another address is not affected.
      expect(await f.oauth.device.review(started.user_code, ip)).toMatchObject({ refused: "throttled" });
      expect(await f.oauth.device.answer(started.user_code, f.user(), true, ip)).toMatchObject({
        refused: "throttled",
      });
      expect(await f.oauth.device.review(started.user_code, "198.51.100.8")).toMatchObject({
        userCode: started.user_code,
      });
    });
  });
});
