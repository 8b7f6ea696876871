import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createMemoryThrottle,
  createPasswordSignIn,
  parseArgon2Parameters,
  type Throttle,
  TooManyAttemptsError,
} from "../../src/accounts/index.js";
import { AccountError } from "../../src/lib/errors.js";
import { createTestAccounts, STRONG_PASSWORD, type TestAccounts } from "../helpers/accounts.js";
import { DIALECTS } from "../helpers/databases.js";

const CLI = { actor: "cli", authority: "admin" as const };
const NET = { ip: "203.0.113.9", userAgent: "test" };

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AccountError) return error.code;
    throw error;
  }
  return "resolved";
}

describe.each(DIALECTS)("accounts on %s", (dialect) => {
  let t: TestAccounts;
  beforeAll(async () => {
    t = await createTestAccounts(dialect);
  });
  afterAll(async () => {
    await t.close();
  });

  it("creates a user and stores only an argon2id hash of the NFKC-normalised password", async () => {
    const user = await t.accounts.users.create(
      {
        userName: "Alice",
        displayName: "Alice A.",
        emails: [{ value: "alice@example.test", type: "work", primary: true }],
        password: STRONG_PASSWORD,
      },
      CLI,
    );
    expect(user).toMatchObject({ userName: "Alice", active: true, hasPassword: true, version: 1 });
    expect(user.emails).toEqual([{ value: "alice@example.test", type: "work", primary: true }]);
    const row = await t.storage.db
      .selectFrom("users")
      .selectAll()
      .where("id", "=", user.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.password_hash).not.toContain(STRONG_PASSWORD);
    expect(JSON.stringify(user)).not.toContain("argon2");
  });

  it("refuses a second user whose userName differs only in case or width", async () => {
    expect(await code(t.accounts.users.create({ userName: "ALICE" }, CLI))).toBe("user_exists");
    expect(await code(t.accounts.users.create({ userName: "ＡＬＩＣＥ" }, CLI))).toBe("user_exists");
    expect(await t.accounts.users.findByUserName("aLiCe")).toMatchObject({ userName: "Alice" });
  });

  it("refuses passwords that break the policy, and creates nothing", async () => {
    expect(await code(t.accounts.users.create({ userName: "short", password: "tooshort" }, CLI))).toBe(
      "password_rejected",
    );
    expect(
      await code(t.accounts.users.create({ userName: "common", password: "passwordpassword" }, CLI)),
    ).toBe("password_rejected");
    expect(await t.accounts.users.findByUserName("short")).toBeUndefined();
  });

  it("signs in with the right password (user name case-insensitive) and audits it", async () => {
    const user = await t.accounts.signIn.signIn({ userName: "alice", password: STRONG_PASSWORD, ...NET });
    expect(user.userName).toBe("Alice");
    const events = await t.accounts.audit.list({ userId: user.id, type: "signin.password" });
    expect(events[0]).toMatchObject({ outcome: "success", ip: NET.ip });
  });

  it("gives one answer for an unknown user, a wrong password and a disabled account", async () => {
    const bob = await t.accounts.users.create({ userName: "bob", password: STRONG_PASSWORD }, CLI);
    await t.accounts.users.setActive(bob.id, false, CLI);
    const attempts = [
      () =>
        t.accounts.signIn.signIn({
          userName: "nobody",
          password: STRONG_PASSWORD,
          ip: "198.51.100.1",
          userAgent: null,
        }),
      () =>
        t.accounts.signIn.signIn({
          userName: "alice",
          password: "wrong password!!",
          ip: "198.51.100.2",
          userAgent: null,
        }),
      () =>
        t.accounts.signIn.signIn({
          userName: "bob",
          password: STRONG_PASSWORD,
          ip: "198.51.100.3",
          userAgent: null,
        }),
    ];
    const messages: string[] = [];
    for (const attempt of attempts) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccountError);
      expect((error as AccountError).code).toBe("invalid_credentials");
      expect((error as AccountError).status).toBe(401);
      messages.push((error as AccountError).message);
    }
    expect(new Set(messages).size).toBe(1);
    const failures = (await t.accounts.audit.list({ type: "signin.password" })).filter(
      (e) => e.outcome === "failure",
    );
    expect(failures.map((e) => e.details.reason).sort()).toEqual([
      "inactive",
      "unknown_user",
      "wrong_password",
    ]);
    expect(JSON.stringify(failures)).not.toContain("wrong password!!");
  });

  it("throttles an account after five failures, refusing even the right password until the wait is over", async () => {
    await t.accounts.users.create({ userName: "carol", password: STRONG_PASSWORD }, CLI);
    for (let i = 0; i < 5; i++) {
      expect(
        await code(
          t.accounts.signIn.signIn({
            userName: "carol",
            password: `wrong-${i}-xxxxxxxx`,
            ip: `192.0.2.${i}`,
            userAgent: null,
          }),
        ),
      ).toBe("invalid_credentials");
    }
    const blocked = await t.accounts.signIn
      .signIn({ userName: "CAROL", password: STRONG_PASSWORD, ip: "192.0.2.99", userAgent: null })
      .catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(TooManyAttemptsError);
    expect((blocked as TooManyAttemptsError).retryAfterSeconds).toBe(1);
    t.clock.advance(1000);
    const user = await t.accounts.signIn.signIn({
      userName: "carol",
      password: STRONG_PASSWORD,
      ip: "192.0.2.99",
      userAgent: null,
    });
    expect(user.userName).toBe("carol");
  });

  it("with a throttle that answers only with promises (Redis), the same back-off applies and a success resets it", async () => {
    const memory = createMemoryThrottle({ clock: t.clock });
    const promisesOnly: Throttle = {
      check: (keys) => memory.check(keys),
      recordFailure: (keys) => memory.recordFailure(keys),
      reset: (keys) => memory.reset(keys),
    };
    const signIn = createPasswordSignIn({
      users: t.accounts.users,
      hasher: t.accounts.hasher,
      throttle: promisesOnly,
      audit: t.accounts.audit,
    });
    await t.accounts.users.create({ userName: "carla", password: STRONG_PASSWORD }, CLI);
    const attempt = (password: string, i: number) =>
      signIn.signIn({ userName: "carla", password, ip: `192.0.2.${100 + i}`, userAgent: null });
    for (let i = 0; i < 5; i++)
      expect(await code(attempt(`wrong-${i}-xxxxxxxx`, i))).toBe("invalid_credentials");
    expect(await attempt(STRONG_PASSWORD, 5).catch((e: unknown) => e)).toBeInstanceOf(TooManyAttemptsError);
    t.clock.advance(1000);
    expect((await attempt(STRONG_PASSWORD, 6)).userName).toBe("carla");
    // The success cleared the account's counter: four more failures leave the right password working.
    for (let i = 0; i < 4; i++)
      expect(await code(attempt(`wrong-${i}-yyyyyyyy`, 7 + i))).toBe("invalid_credentials");
    expect((await attempt(STRONG_PASSWORD, 11)).userName).toBe("carla");
  });

  it("reads the account for sign-in without a promise on SQLite, with one on PostgreSQL; the same record", async () => {
    const fiona = await t.accounts.users.create({ userName: "Fiona", password: STRONG_PASSWORD }, CLI);
    const now = t.accounts.users.findForSignInNow("FIONA");
    if (dialect === "sqlite") expect(now).not.toBeInstanceOf(Promise);
    else expect(now).toBeInstanceOf(Promise);
    const record = await now;
    expect(record).toMatchObject({ id: fiona.id, userName: "Fiona", active: true });
    expect(record?.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await t.accounts.users.findForSignIn("fiona")).toEqual(record);
    expect(await t.accounts.users.findForSignInNow("nobody-here")).toBeUndefined();
  });

  it("rehashes a stored hash with older parameters at the next successful sign-in", async () => {
    const dave = await t.accounts.users.create({ userName: "dave", password: STRONG_PASSWORD }, CLI);
    const stronger = t.withArgon2({ memoryKib: 24576, iterations: 3, parallelism: 1 });
    const before = await stronger.users.passwordHash(dave.id);
    expect(parseArgon2Parameters(before!)).toEqual({ memoryKib: 19456, iterations: 2, parallelism: 1 });
    await expect(
      stronger.signIn.signIn({ userName: "dave", password: "not the password!", ip: null, userAgent: null }),
    ).rejects.toThrow();
    expect(await stronger.users.passwordHash(dave.id)).toBe(before);
    await stronger.signIn.signIn({ userName: "dave", password: STRONG_PASSWORD, ip: null, userAgent: null });
    const after = await stronger.users.passwordHash(dave.id);
    expect(parseArgon2Parameters(after!)).toEqual({ memoryKib: 24576, iterations: 3, parallelism: 1 });
    // The upgraded hash still verifies, through either configuration.
    await t.accounts.signIn.signIn({
      userName: "dave",
      password: STRONG_PASSWORD,
      ip: null,
      userAgent: null,
    });
  });

  it("lists users with paging and a total", async () => {
    const all = await t.accounts.users.list({ startIndex: 1, count: 100 });
    expect(all.total).toBe(all.users.length);
    const page = await t.accounts.users.list({ startIndex: 2, count: 2 });
    expect(page.total).toBe(all.total);
    expect(page.users.map((u) => u.id)).toEqual(all.users.slice(1, 3).map((u) => u.id));
    expect((await t.accounts.users.list({ count: 0 })).users).toEqual([]);
  });

  it("replaces a user (SCIM PUT semantics) and refuses a stale version", async () => {
    const erin = await t.accounts.users.create({ userName: "erin", displayName: "Erin" }, CLI);
    const replaced = await t.accounts.users.replace(erin.id, { userName: "erin2", emails: [] }, CLI);
    expect(replaced).toMatchObject({ userName: "erin2", displayName: null, version: 2 });
    expect(
      await code(t.accounts.users.replace(erin.id, { userName: "erin3" }, { ...CLI, expectedVersion: 1 })),
    ).toBe("user_changed");
    expect(await code(t.accounts.users.replace(erin.id, { userName: "alice" }, CLI))).toBe("user_exists");
  });

  it("refuses a group replacement from a stale version (a concurrent member change is not lost)", async () => {
    const a = await t.accounts.users.create({ userName: "gina" }, CLI);
    const b = await t.accounts.users.create({ userName: "hal" }, CLI);
    const group = await t.accounts.groups.create({ displayName: "Stale test", members: [] }, CLI);
    // Two read-modify-writes from the same read: the first wins, the second is refused.
    const first = await t.accounts.groups.replace(
      group.id,
      { displayName: group.displayName, members: [a.id] },
      { ...CLI, expectedVersion: group.version },
    );
    expect(first.version).toBe(group.version + 1);
    expect(
      await code(
        t.accounts.groups.replace(
          group.id,
          { displayName: group.displayName, members: [b.id] },
          { ...CLI, expectedVersion: group.version },
        ),
      ),
    ).toBe("group_changed");
    expect((await t.accounts.groups.get(group.id))?.members.map((m) => m.id)).toEqual([a.id]);
  });

  it("manages groups and shows memberships on users", async () => {
    const alice = (await t.accounts.users.findByUserName("alice"))!;
    const group = await t.accounts.groups.create({ displayName: "Engineering", members: [alice.id] }, CLI);
    expect(group.members).toEqual([{ id: alice.id, userName: "Alice" }]);
    expect((await t.accounts.users.get(alice.id))!.groups).toEqual([
      { id: group.id, displayName: "Engineering" },
    ]);
    expect(await code(t.accounts.groups.create({ displayName: "engineering" }, CLI))).toBe("group_exists");
    expect(await code(t.accounts.groups.create({ displayName: "Ops", members: ["no-such-user"] }, CLI))).toBe(
      "invalid_request",
    );
    await t.accounts.groups.delete(group.id, CLI);
    expect((await t.accounts.users.get(alice.id))!.groups).toEqual([]);
  });

  it("deleting a user removes their emails, memberships and sessions", async () => {
    const frank = await t.accounts.users.create(
      { userName: "frank", emails: [{ value: "frank@example.test", type: null, primary: false }] },
      CLI,
    );
    const group = await t.accounts.groups.create({ displayName: "Frankies", members: [frank.id] }, CLI);
    const { token } = await t.accounts.sessions.create({ userId: frank.id, amr: ["pwd"], remember: false });
    await t.accounts.users.delete(frank.id, CLI);
    expect(await t.accounts.users.get(frank.id)).toBeUndefined();
    expect(await t.accounts.sessions.check(token)).toBeUndefined();
    expect((await t.accounts.groups.get(group.id))!.members).toEqual([]);
    expect(await t.accounts.users.findByEmail("frank@example.test")).toEqual([]);
  });
});
