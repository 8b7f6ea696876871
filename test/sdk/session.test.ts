import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessionChecker } from "../../src/sdk/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";

describe("SDK session checker against a real listening server", () => {
  let t: TestApp;
  let issuer: string;
  let userId: string;
  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address();
    issuer = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "sdk-user", displayName: "SDK" },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  it("returns the user and expiry for a live session token", async () => {
    const { token, session } = await t.ctx.accounts.sessions.create({
      userId,
      amr: ["pwd"],
      remember: false,
    });
    const info = await createSessionChecker({ issuer }).check(token);
    expect(info).toEqual({
      user: { id: userId, userName: "sdk-user", displayName: "SDK" },
      session: {
        id: session.id,
        expiresAt: new Date(Math.floor(session.expiresAt / 1000) * 1000),
        absoluteExpiresAt: new Date(Math.floor(session.absoluteExpiresAt / 1000) * 1000),
        authTime: new Date(Math.floor(session.authTime / 1000) * 1000),
        amr: ["pwd"],
      },
    });
  });

  it("returns undefined once the session is revoked, and for malformed tokens without a request", async () => {
    const { token, session } = await t.ctx.accounts.sessions.create({
      userId,
      amr: ["pwd"],
      remember: false,
    });
    const checker = createSessionChecker({ issuer });
    expect(await checker.check(token)).toBeDefined();
    await t.ctx.accounts.sessions.revoke(userId, session.id);
    expect(await checker.check(token)).toBeUndefined();
    let calls = 0;
    const counting = createSessionChecker({
      issuer,
      fetch: (async (...args: Parameters<typeof fetch>) => {
        calls++;
        return fetch(...args);
      }) as typeof fetch,
    });
    for (const bad of [
      "",
      "tsr_ses_short",
      `${token};x=1`,
      `tsr_pat_${"a".repeat(49)}`,
      `${token}\r\nX: y`,
    ]) {
      expect(await counting.check(bad)).toBeUndefined();
    }
    expect(calls).toBe(0);
  });

  it("throws when Tessera cannot be reached (fail closed, distinguishable from signed out)", async () => {
    const checker = createSessionChecker({ issuer: "http://127.0.0.1:1", timeoutMs: 2000 });
    const { token } = await t.ctx.accounts.sessions.create({ userId, amr: ["pwd"], remember: false });
    await expect(checker.check(token)).rejects.toThrow();
  });
});
