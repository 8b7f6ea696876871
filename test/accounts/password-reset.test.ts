import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { changePassword } from "../../src/accounts/index.js";
import { hashToken } from "../../src/crypto/index.js";
import { AccountError } from "../../src/lib/errors.js";
import { createTestAccounts, STRONG_PASSWORD, type TestAccounts } from "../helpers/accounts.js";
import { DIALECTS } from "../helpers/databases.js";

const CLI = { actor: "cli", authority: "admin" as const };
const NET = { ip: "192.0.2.7", userAgent: "test" };
const NEW_PASSWORD = "a brand new passphrase 2026";

function linkToken(text: string): string {
  const match = /\/password\/reset\?token=(tsr_rst_[0-9A-Za-z]+)/.exec(text);
  if (!match) throw new Error("no reset link in the message");
  return match[1]!;
}

describe.each(DIALECTS)("password reset and change on %s", (dialect) => {
  let t: TestAccounts;
  let userId: string;
  beforeAll(async () => {
    t = await createTestAccounts(dialect);
    userId = (
      await t.accounts.users.create(
        {
          userName: "rita",
          emails: [{ value: "Rita@Example.test", type: "work", primary: true }],
          password: STRONG_PASSWORD,
        },
        CLI,
      )
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  async function requestLink(identifier: string): Promise<string> {
    const before = t.outbox.messages.length;
    await t.accounts.passwordReset.request(identifier, NET);
    await vi.waitFor(() => expect(t.outbox.messages.length).toBe(before + 1), { timeout: 5000 });
    const message = t.outbox.messages.at(-1)!;
    expect(message.to).toBe("Rita@Example.test");
    return linkToken(message.text);
  }

  it("mails a single-use link for a user name or an e-mail address, stored only as a hash", async () => {
    const token = await requestLink("RITA");
    const row = await t.storage.db
      .selectFrom("password_reset_tokens")
      .selectAll()
      .where("token_hash", "=", hashToken(token))
      .executeTakeFirstOrThrow();
    expect(row.expires_at - row.created_at).toBe(15 * 60_000);
    expect(JSON.stringify(row)).not.toContain(token);
    await requestLink("rita@example.test");
  });

  it("sends nothing for unknown users, users without e-mail, or disabled users", async () => {
    const noMail = await t.accounts.users.create({ userName: "nomail" }, CLI);
    const disabled = await t.accounts.users.create(
      { userName: "gone", emails: [{ value: "gone@example.test", type: null, primary: true }] },
      CLI,
    );
    await t.accounts.users.setActive(disabled.id, false, CLI);
    const before = t.outbox.messages.length;
    for (const id of ["nobody", "nobody@example.test", noMail.userName, "gone", "gone@example.test", ""]) {
      await expect(t.accounts.passwordReset.request(id, NET)).resolves.toBeUndefined();
    }
    // Give any (wrongly) started background send time to finish.
    await new Promise((r) => setTimeout(r, 300));
    expect(t.outbox.messages.length).toBe(before);
  });

  it("completing a reset sets the password, ends every session and kills all outstanding links", async () => {
    const first = await requestLink("rita");
    const second = await requestLink("rita");
    const { token: sessionToken } = await t.accounts.sessions.create({
      userId,
      amr: ["pwd"],
      remember: true,
    });
    expect(await t.accounts.passwordReset.isLive(first)).toBe(true);
    await t.accounts.passwordReset.complete(first, NEW_PASSWORD, NET);
    expect(await t.accounts.sessions.check(sessionToken)).toBeUndefined();
    await expect(
      t.accounts.passwordReset.complete(first, "yet another passphrase 99", NET),
    ).rejects.toMatchObject({
      code: "invalid_reset_token",
    });
    await expect(
      t.accounts.passwordReset.complete(second, "yet another passphrase 99", NET),
    ).rejects.toMatchObject({
      code: "invalid_reset_token",
    });
    await t.accounts.signIn.signIn({ userName: "rita", password: NEW_PASSWORD, ip: null, userAgent: null });
    const events = await t.accounts.audit.list({ userId, type: "password.reset" });
    expect(events).toHaveLength(1);
  });

  it("a link expires after 15 minutes", async () => {
    const token = await requestLink("rita");
    t.clock.advance(15 * 60_000);
    expect(await t.accounts.passwordReset.isLive(token)).toBe(false);
    await expect(
      t.accounts.passwordReset.complete(token, "expired passphrase 12345", NET),
    ).rejects.toMatchObject({
      code: "invalid_reset_token",
    });
  });

  it("purges used and expired links, keeping live ones", async () => {
    const live = await requestLink("rita");
    t.clock.advance(16 * 60_000);
    const fresh = await requestLink("rita");
    expect(await t.accounts.passwordReset.purgeExpired()).toBeGreaterThan(0);
    expect(await t.accounts.passwordReset.isLive(live)).toBe(false);
    expect(await t.accounts.passwordReset.isLive(fresh)).toBe(true);
    const remaining = await t.storage.db.selectFrom("password_reset_tokens").select("token_hash").execute();
    expect(remaining.map((r) => r.token_hash)).toEqual([hashToken(fresh)]);
  });

  it("a weak new password is refused and the link stays usable", async () => {
    const token = await requestLink("rita");
    await expect(t.accounts.passwordReset.complete(token, "short pass", NET)).rejects.toMatchObject({
      code: "password_rejected",
    });
    expect(await t.accounts.passwordReset.isLive(token)).toBe(true);
  });

  it("two concurrent uses of one link: exactly one wins", async () => {
    const token = await requestLink("rita");
    const results = await Promise.allSettled([
      t.accounts.passwordReset.complete(token, "racing passphrase number one", NET),
      t.accounts.passwordReset.complete(token, "racing passphrase number two", NET),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(AccountError);
  });

  it("forged and malformed tokens are refused", async () => {
    for (const bad of [
      "",
      "tsr_rst_",
      "tsr_rst_0000000000000000000000000000000000000000000000000",
      "x".repeat(5000),
    ]) {
      expect(await t.accounts.passwordReset.isLive(bad)).toBe(false);
    }
  });

  it("changing the password needs the current one, ends other sessions and renews the current token", async () => {
    await t.accounts.users.setPassword(userId, STRONG_PASSWORD, CLI);
    const user = (await t.accounts.users.get(userId))!;
    const current = await t.accounts.sessions.create({ userId, amr: ["pwd"], remember: false });
    const other = await t.accounts.sessions.create({ userId, amr: ["pwd"], remember: false });
    const deps = {
      users: t.accounts.users,
      signIn: t.accounts.signIn,
      sessions: t.accounts.sessions,
      audit: t.accounts.audit,
      access: t.accounts.access,
    };
    const input = {
      user,
      sessionId: current.session.id,
      newPassword: NEW_PASSWORD,
      signOutOthers: true,
      ...NET,
    };
    await expect(
      changePassword(deps, { ...input, currentPassword: "not my password" }),
    ).rejects.toMatchObject({
      code: "invalid_credentials",
    });
    expect(await t.accounts.sessions.check(other.token)).toBeDefined();
    const result = await changePassword(deps, { ...input, currentPassword: STRONG_PASSWORD });
    expect(result.signedOut).toBe(1);
    expect(await t.accounts.sessions.check(other.token)).toBeUndefined();
    expect(await t.accounts.sessions.check(current.token)).toBeUndefined();
    expect((await t.accounts.sessions.check(result.token!))?.session.id).toBe(current.session.id);
    await t.accounts.signIn.signIn({ userName: "rita", password: NEW_PASSWORD, ip: null, userAgent: null });
  });
});
