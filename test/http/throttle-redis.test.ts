/**
 * With REDIS_URL set, sign-in throttling is shared by every instance: failures counted on one node block the
 * account on another (many stateless instances behind a load balancer).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TooManyAttemptsError } from "../../src/accounts/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const PASSWORD = "correct horse battery staple 42";

describe("sign-in throttling across instances through Redis", () => {
  let one: TestApp;
  let two: TestApp;
  const userName = `shared-${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    one = await createTestApp({ env: { REDIS_URL } });
    two = await createTestApp({ env: { REDIS_URL } });
    // Two instances, two databases here; the account exists on both so each can verify.
    for (const t of [one, two])
      await t.ctx.accounts.users.create(
        { userName, password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      );
    two.clock.set(one.clock.now());
  });
  afterAll(async () => {
    await one.close();
    await two.close();
  });

  it("failures on instance one block the account on instance two", async () => {
    for (let i = 0; i < 5; i++) {
      await expect(
        one.ctx.accounts.signIn.signIn({
          userName,
          password: `wrong-${i}-wrong-wrong`,
          ip: `203.0.113.${i}`,
          userAgent: null,
        }),
      ).rejects.toMatchObject({ code: "invalid_credentials" });
    }
    const blocked = await two.ctx.accounts.signIn
      .signIn({ userName, password: PASSWORD, ip: "203.0.113.99", userAgent: null })
      .catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(TooManyAttemptsError);
    two.clock.advance(1000);
    await expect(
      two.ctx.accounts.signIn.signIn({ userName, password: PASSWORD, ip: "203.0.113.99", userAgent: null }),
    ).resolves.toMatchObject({ userName });
  });
});
