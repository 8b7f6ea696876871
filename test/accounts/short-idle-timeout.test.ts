/** The shortest allowed idle timeout (60 s) never ends the session of a user who keeps using it. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

describe.each(DIALECTS)("a 60-second idle timeout on %s", (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_SESSION_IDLE_TIMEOUT: "60" } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("keeps a session used every 40 s alive for ten minutes, and ends it 60 s after the last use", async () => {
    const user = await t.ctx.accounts.users.create(
      { userName: "brisk" },
      { actor: "test", authority: "admin" },
    );
    const { token } = await t.ctx.accounts.sessions.create({
      userId: user.id,
      amr: ["pwd"],
      remember: false,
      ip: null,
      userAgent: null,
    });
    for (let i = 0; i < 15; i++) {
      t.clock.advance(40_000);
      expect(await t.ctx.accounts.sessions.check(token), `after ${(i + 1) * 40} s`).toBeDefined();
      await t.ctx.accounts.sessions.flush();
    }
    t.clock.advance(60_000);
    expect(await t.ctx.accounts.sessions.check(token)).toBeUndefined();
  });
});
