import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken, isWellFormedOpaqueToken } from "../../src/crypto/index.js";
import { createTestAccounts, STRONG_PASSWORD, type TestAccounts } from "../helpers/accounts.js";
import { DIALECTS } from "../helpers/databases.js";

const CLI = { actor: "cli", authority: "admin" as const };
const MIN = 60_000;

describe.each(DIALECTS)("sessions on %s", (dialect) => {
  let t: TestAccounts;
  let userId: string;
  beforeAll(async () => {
    t = await createTestAccounts(dialect);
    userId = (await t.accounts.users.create({ userName: "sam", password: STRONG_PASSWORD }, CLI)).id;
  });
  afterAll(async () => {
    await t.close();
  });

  const create = (remember = false) =>
    t.accounts.sessions.create({ userId, amr: ["pwd"], remember, ip: "192.0.2.1", userAgent: "ua" });

  it("issues 256-bit prefixed tokens with a checksum and stores only their SHA-256", async () => {
    const { token, session } = await create();
    expect(isWellFormedOpaqueToken(token, { prefix: "tsr_ses_", checksum: true })).toBe(true);
    const row = await t.storage.db
      .selectFrom("sessions")
      .selectAll()
      .where("id", "=", session.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(row)).not.toContain(token);
    expect((await t.accounts.sessions.check(token))?.user.userName).toBe("sam");
  });

  it("refuses unknown, malformed and checksum-broken tokens", async () => {
    const { token } = await create();
    const flipped = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const bad of ["", "tsr_ses_", flipped, token.toUpperCase(), `${token}x`, "tsr_pat_abc"]) {
      expect(await t.accounts.sessions.check(bad)).toBeUndefined();
    }
  });

  it("ends a session after 30 idle minutes, and use keeps it alive (recorded at most once a minute)", async () => {
    const { token, session } = await create();
    t.clock.advance(29 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeDefined();
    // The check itself does not wait on the write: last_seen_at is written behind it, batched.
    await t.accounts.sessions.flush();
    const touched = await t.storage.db
      .selectFrom("sessions")
      .select("last_seen_at")
      .where("id", "=", session.id)
      .executeTakeFirstOrThrow();
    expect(touched.last_seen_at).toBe(t.clock.now());
    t.clock.advance(30 * 1000);
    await t.accounts.sessions.check(token);
    await t.accounts.sessions.flush();
    const again = await t.storage.db
      .selectFrom("sessions")
      .select("last_seen_at")
      .where("id", "=", session.id)
      .executeTakeFirstOrThrow();
    expect(again.last_seen_at).toBe(touched.last_seen_at);
    t.clock.advance(30 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
    // Refused at once; the row goes with the purge.
    expect(await t.accounts.sessions.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(
      await t.storage.db.selectFrom("sessions").select("id").where("id", "=", session.id).executeTakeFirst(),
    ).toBeUndefined();
  });

  it("ends a session at its absolute lifetime (10 h) however active", async () => {
    const { token } = await create();
    for (let i = 0; i < 20; i++) {
      t.clock.advance(29 * MIN);
      expect(await t.accounts.sessions.check(token)).toBeDefined();
    }
    t.clock.advance(19 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeDefined();
    t.clock.advance(1 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
  });

  it("keeps a remembered session for 14 days, not longer", async () => {
    const { token, session } = await create(true);
    expect(session.absoluteExpiresAt - session.createdAt).toBe(14 * 24 * 60 * MIN);
    t.clock.advance(13 * 24 * 60 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeDefined();
    t.clock.advance(24 * 60 * MIN);
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
  });

  it("rotation gives a new token and kills the old one", async () => {
    const { token, session } = await create();
    const next = await t.accounts.sessions.rotate(session.id);
    expect(next).toBeDefined();
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
    expect((await t.accounts.sessions.check(next!))?.session.id).toBe(session.id);
  });

  it("revokes one session, the others, or all; never another user's", async () => {
    await t.accounts.sessions.revokeAll(userId);
    const a = await create();
    const b = await create();
    const c = await create();
    const other = await t.accounts.users.create({ userName: "other" }, CLI);
    expect(await t.accounts.sessions.revoke(other.id, a.session.id)).toBe(false);
    expect(await t.accounts.sessions.check(a.token)).toBeDefined();
    expect(await t.accounts.sessions.revoke(userId, a.session.id)).toBe(true);
    expect(await t.accounts.sessions.check(a.token)).toBeUndefined();
    expect(await t.accounts.sessions.revokeOthers(userId, b.session.id)).toBe(1);
    expect(await t.accounts.sessions.check(c.token)).toBeUndefined();
    expect(await t.accounts.sessions.check(b.token)).toBeDefined();
    expect((await t.accounts.sessions.list(userId)).map((s) => s.id)).toEqual([b.session.id]);
  });

  it("a disabled user's sessions stop at once, and stay dead when re-enabled", async () => {
    const { token } = await create();
    await t.accounts.users.setActive(userId, false, CLI);
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
    await t.accounts.users.setActive(userId, true, CLI);
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
  });

  it("refuses a session whose user row was switched off directly (the check joins the user)", async () => {
    const { token } = await create();
    await t.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", userId).execute();
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
    await t.storage.db.updateTable("users").set({ active: 1 }).where("id", "=", userId).execute();
    expect(await t.accounts.sessions.check(token)).toBeDefined();
  });

  it("purges expired sessions", async () => {
    await create();
    t.clock.advance(11 * 60 * MIN);
    expect(await t.accounts.sessions.purgeExpired()).toBeGreaterThan(0);
    expect(await t.accounts.sessions.list(userId)).toEqual([]);
  });
});
