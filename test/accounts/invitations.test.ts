/**
 * Invitations (src/onboarding/invitations.ts) on SQLite and PostgreSQL: the domain through its service, with the
 * real accounts domain and the development outbox. The admin API and the page are tested in
 * invitations-http.test.ts, the CLI in invitations-cli.test.ts, the whole flow in Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { User } from "../../src/accounts/index.js";
import { hashToken } from "../../src/crypto/index.js";
import { OnboardingError } from "../../src/onboarding/index.js";
import { STRONG_PASSWORD } from "../helpers/accounts.js";
import { DIALECTS } from "../helpers/databases.js";
import {
  ADMIN,
  createTestOnboarding,
  ISSUER,
  invitationToken,
  NET,
  type TestOnboarding,
} from "./sign-up-helpers.js";

async function refusal(promise: Promise<unknown>): Promise<OnboardingError> {
  const error = await promise.then(
    (value) => new Error(`accepted: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(error, String(error)).toBeInstanceOf(OnboardingError);
  return error as OnboardingError;
}

describe.each(DIALECTS)("invitations on %s", (dialect) => {
  let t: TestOnboarding;
  let engineering: string;
  let support: string;
  beforeAll(async () => {
    // Self-service sign-up stays off: invitations work without it.
    t = await createTestOnboarding(dialect);
    engineering = (await t.accounts.groups.create({ displayName: "Engineering" }, ADMIN)).id;
    support = (await t.accounts.groups.create({ displayName: "Support" }, ADMIN)).id;
  });
  afterAll(async () => {
    await t.close();
  });

  let n = 0;
  const address = (name: string) => {
    n += 1;
    return `${name}${n}@example.test`;
  };

  async function invite(email: string, options: { groups?: string[]; expiresIn?: number } = {}) {
    const created = await t.onboarding.invitations.create({ email, ...options }, ADMIN);
    const token = invitationToken(t.mailTo(email).at(-1));
    expect(created.link).toBe(`${ISSUER}/invitations/accept?token=${token}`);
    return { ...created, token };
  }

  it("mails a single-use link (stored as a hash) and creates an active account in the groups", async () => {
    const email = address("linus");
    const { invitation, token, mailed } = await invite(email, {
      groups: [engineering, support, engineering],
    });
    expect(t.onboarding.signUp.enabled).toBe(false);
    expect(mailed).toBe(true);
    expect(invitation).toMatchObject({
      email,
      groups: [engineering, support],
      status: "pending",
      createdBy: "admin:test",
      acceptedAt: null,
      userId: null,
    });
    expect(invitation.expiresAt - invitation.createdAt).toBe(7 * 24 * 3600_000);
    const message = t.mailTo(email).at(-1)!;
    expect(message.subject).toBe("You are invited to Tessera");
    expect(message.text).toContain("You will join: Engineering, Support.");
    expect(message.text).toContain("within 7 days");
    const row = await t.storage.db
      .selectFrom("invitations")
      .selectAll()
      .where("id", "=", invitation.id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).toBe(hashToken(token));
    expect(JSON.stringify(row)).not.toContain(token);

    expect(await t.onboarding.invitations.pending(token)).toMatchObject({
      email,
      groups: ["Engineering", "Support"],
    });
    const user = await t.onboarding.invitations.accept(
      token,
      { userName: `linus-${n}`, password: STRONG_PASSWORD },
      NET,
    );
    expect(user).toMatchObject({
      userName: `linus-${n}`,
      active: true,
      hasPassword: true,
      emails: [{ value: email, primary: true }],
    });
    expect(user.groups.map((g) => g.displayName).sort()).toEqual(["Engineering", "Support"]);
    await t.accounts.signIn.signIn({
      userName: `linus-${n}`,
      password: STRONG_PASSWORD,
      ip: null,
      userAgent: null,
    });
    expect(await t.onboarding.invitations.get(invitation.id)).toMatchObject({
      status: "accepted",
      userId: user.id,
    });
    expect(await t.onboarding.invitations.pending(token)).toBeUndefined();

    const created = await t.accounts.audit.list({ type: "invitation.created" });
    expect(created.find((e) => e.details.invitationId === invitation.id)).toMatchObject({
      actor: "admin:test",
      details: { email, groups: `${engineering},${support}`, mailed: true },
    });
    const accepted = await t.accounts.audit.list({ userId: user.id, type: "invitation.accepted" });
    expect(accepted).toMatchObject([{ details: { invitationId: invitation.id, invitedBy: "admin:test" } }]);
    const userCreated = await t.accounts.audit.list({ userId: user.id, type: "user.created" });
    expect(userCreated[0]?.actor).toBe(`invitation:${invitation.id}`);
  });

  it("the user name defaults to the invited address", async () => {
    const email = address("ken");
    const { token } = await invite(email);
    const user = await t.onboarding.invitations.accept(
      token,
      { userName: "  ", password: STRONG_PASSWORD },
      NET,
    );
    expect(user.userName).toBe(email);
  });

  it("refuses to invite a malformed address, an address with an account, an unknown group or a bad lifetime", async () => {
    const taken = address("taken");
    await t.accounts.users.create(
      { userName: `taken-${n}`, emails: [{ value: taken, type: null, primary: true }] },
      ADMIN,
    );
    const before = t.outbox.messages.length;
    const cases: [Parameters<typeof t.onboarding.invitations.create>[0], string, number][] = [
      [{ email: "not an address" }, "invalid_request", 400],
      [{ email: taken.toUpperCase() }, "email_taken", 409],
      [{ email: address("g"), groups: ["no-such-group"] }, "invalid_request", 400],
      [
        { email: address("g"), groups: Array.from({ length: 101 }, (_, i) => `g${i}`) },
        "invalid_request",
        400,
      ],
      [{ email: address("ttl"), expiresIn: 299 }, "invalid_request", 400],
      [{ email: address("ttl"), expiresIn: 2_592_001 }, "invalid_request", 400],
      [{ email: address("ttl"), expiresIn: 1.5 }, "invalid_request", 400],
    ];
    for (const [input, code, status] of cases) {
      const error = await refusal(t.onboarding.invitations.create(input, ADMIN));
      expect(error, JSON.stringify(input)).toMatchObject({ code, status });
    }
    expect(t.outbox.messages.length).toBe(before);
  });

  it("refuses weak, breached and name-containing passwords, mismatched confirmations and taken names; the link stays live", async () => {
    const email = address("barbara");
    const { token } = await invite(email);
    const taken = `taken-name-${n}`;
    await t.accounts.users.create({ userName: taken }, ADMIN);
    const cases: [{ userName?: string; password: string; confirmPassword?: string }, string, string][] = [
      [{ password: "too short" }, "password", "password_rejected"],
      [{ password: "qwertyuiopasdfgh" }, "password", "password_rejected"],
      [
        { userName: "barbara-liskov", password: "barbara-liskov substitutes" },
        "password",
        "password_rejected",
      ],
      [
        { password: STRONG_PASSWORD, confirmPassword: "something else entirely" },
        "confirmPassword",
        "invalid_request",
      ],
      [{ userName: "x".repeat(300), password: STRONG_PASSWORD }, "userName", "invalid_request"],
      [{ userName: taken.toUpperCase(), password: STRONG_PASSWORD }, "userName", "user_exists"],
    ];
    for (const [input, field, code] of cases) {
      const error = await refusal(t.onboarding.invitations.accept(token, input, NET));
      expect(error.code, JSON.stringify(input)).toBe(code);
      expect(error.fields[field as keyof typeof error.fields], JSON.stringify(input)).toBeTruthy();
    }
    expect(await t.onboarding.invitations.pending(token)).toBeDefined();
    expect(await t.accounts.users.findByEmail(email)).toEqual([]);
    await t.onboarding.invitations.accept(
      token,
      { password: STRONG_PASSWORD, confirmPassword: STRONG_PASSWORD },
      NET,
    );
  });

  it("a revoked invitation's link is refused; revoking twice changes nothing; an accepted one cannot be revoked", async () => {
    const email = address("revoked");
    const { invitation, token } = await invite(email);
    const revoked = await t.onboarding.invitations.revoke(invitation.id, { ...ADMIN, actor: "admin:other" });
    expect(revoked).toMatchObject({ status: "revoked", revokedBy: "admin:other" });
    expect(await t.onboarding.invitations.pending(token)).toBeUndefined();
    const error = await refusal(t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET));
    expect(error.code).toBe("invalid_invitation");
    expect(await t.onboarding.invitations.revoke(invitation.id, ADMIN)).toMatchObject({
      revokedBy: "admin:other",
    });
    const events = (await t.accounts.audit.list({ type: "invitation.revoked" })).filter(
      (e) => e.details.invitationId === invitation.id,
    );
    expect(events).toMatchObject([{ actor: "admin:other" }]);

    const other = await invite(address("accepted"));
    await t.onboarding.invitations.accept(other.token, { password: STRONG_PASSWORD }, NET);
    const refused = await refusal(t.onboarding.invitations.revoke(other.invitation.id, ADMIN));
    expect(refused).toMatchObject({ code: "invitation_accepted", status: 409 });
    expect(await refusal(t.onboarding.invitations.revoke("no-such-id", ADMIN))).toMatchObject({
      code: "invitation_not_found",
      status: 404,
    });
  });

  it("an expired invitation is refused, at its lifetime exactly", async () => {
    const { invitation, token } = await invite(address("expired"), { expiresIn: 300 });
    t.clock.advance(299_999);
    expect(await t.onboarding.invitations.pending(token)).toBeDefined();
    t.clock.advance(1);
    expect(await t.onboarding.invitations.pending(token)).toBeUndefined();
    const error = await refusal(t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET));
    expect(error.code).toBe("invalid_invitation");
    expect(await t.onboarding.invitations.get(invitation.id)).toMatchObject({ status: "expired" });
  });

  it("a used link is refused", async () => {
    const { token } = await invite(address("reuse"));
    await t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET);
    const error = await refusal(
      t.onboarding.invitations.accept(token, { userName: `another-${n}`, password: STRONG_PASSWORD }, NET),
    );
    expect(error.code).toBe("invalid_invitation");
  });

  it("forged and malformed tokens are refused", async () => {
    const { token } = await invite(address("forged"));
    const flipped = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    for (const bad of [
      "",
      "tsr_inv_",
      flipped,
      token.replace("tsr_inv_", "tsr_sup_"),
      `tsr_inv_${"1".repeat(49)}`,
    ]) {
      expect(await t.onboarding.invitations.pending(bad)).toBeUndefined();
      const error = await refusal(t.onboarding.invitations.accept(bad, { password: STRONG_PASSWORD }, NET));
      expect(error.code).toBe("invalid_invitation");
    }
  });

  it("an address that got an account after the invitation: email_taken, nothing created", async () => {
    const email = address("late");
    const { token } = await invite(email);
    await t.accounts.users.create(
      { userName: `late-${n}`, emails: [{ value: email, type: null, primary: true }] },
      ADMIN,
    );
    const error = await refusal(t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET));
    expect(error).toMatchObject({ code: "email_taken", status: 409 });
    expect(await t.accounts.users.findByEmail(email)).toHaveLength(1);
  });

  it("two concurrent acceptances create one account", async () => {
    const email = address("race");
    const { token } = await invite(email);
    const results = await Promise.allSettled([
      t.onboarding.invitations.accept(token, { userName: `race-a-${n}`, password: STRONG_PASSWORD }, NET),
      t.onboarding.invitations.accept(token, { userName: `race-b-${n}`, password: STRONG_PASSWORD }, NET),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await t.accounts.users.findByEmail(email)).toHaveLength(1);
  });

  it("acceptance racing a revocation: exactly one of them wins", async () => {
    const { invitation, token } = await invite(address("versus"));
    const [accepted, revoked] = await Promise.allSettled([
      t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET),
      t.onboarding.invitations.revoke(invitation.id, ADMIN),
    ]);
    const after = await t.onboarding.invitations.get(invitation.id);
    if (after?.status === "accepted") {
      expect(accepted.status).toBe("fulfilled");
      expect(revoked.status).toBe("rejected");
    } else {
      expect(after?.status).toBe("revoked");
      expect(accepted.status).toBe("rejected");
    }
  });

  it("a group deleted since the invitation is skipped", async () => {
    const temporary = await t.accounts.groups.create({ displayName: `Temporary ${n}` }, ADMIN);
    const { token } = await invite(address("skip"), { groups: [temporary.id, support] });
    await t.accounts.groups.delete(temporary.id, ADMIN);
    const user = await t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET);
    expect(user.groups.map((g) => g.displayName)).toEqual(["Support"]);
  });

  it("lists newest first, by status, a page at a time", async () => {
    const all = await t.onboarding.invitations.list({ count: 1000 });
    expect(all.total).toBe(all.invitations.length);
    const times = all.invitations.map((i) => i.createdAt);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const status of ["pending", "accepted", "revoked", "expired"] as const) {
      const page = await t.onboarding.invitations.list({ status, count: 1000 });
      expect(
        page.invitations.every((i) => i.status === status),
        status,
      ).toBe(true);
      expect(page.total, status).toBe(all.invitations.filter((i) => i.status === status).length);
    }
    const first = await t.onboarding.invitations.list({ startIndex: 1, count: 2 });
    const second = await t.onboarding.invitations.list({ startIndex: 3, count: 2 });
    expect(first.invitations.map((i) => i.id)).toEqual(all.invitations.slice(0, 2).map((i) => i.id));
    expect(second.invitations.map((i) => i.id)).toEqual(all.invitations.slice(2, 4).map((i) => i.id));
  });

  describe("acceptWithUpstream (the federation hook)", () => {
    it("creates the account without a password, links it, and joins the groups", async () => {
      const email = address("upstream");
      const { invitation, token } = await invite(email, { groups: [engineering] });
      const linked: User[] = [];
      const user = await t.onboarding.invitations.acceptWithUpstream(
        token,
        { displayName: "Up Stream", linkAccount: async (u) => void linked.push(u) },
        NET,
      );
      expect(linked.map((u) => u.id)).toEqual([user.id]);
      expect(user).toMatchObject({
        userName: email,
        displayName: "Up Stream",
        hasPassword: false,
        active: true,
        emails: [{ value: email, primary: true }],
      });
      expect(user.groups.map((g) => g.displayName)).toEqual(["Engineering"]);
      expect(await t.onboarding.invitations.get(invitation.id)).toMatchObject({
        status: "accepted",
        userId: user.id,
      });
      const events = await t.accounts.audit.list({ userId: user.id, type: "invitation.accepted" });
      expect(events[0]?.details.method).toBe("upstream");
    });

    it("a link step that fails deletes the account and gives the invitation back", async () => {
      const email = address("unlinked");
      const { token } = await invite(email);
      await expect(
        t.onboarding.invitations.acceptWithUpstream(
          token,
          {
            linkAccount: async () => {
              throw new Error("provider already linked elsewhere");
            },
          },
          NET,
        ),
      ).rejects.toThrow("provider already linked elsewhere");
      expect(await t.accounts.users.findByEmail(email)).toEqual([]);
      expect(await t.onboarding.invitations.pending(token)).toBeDefined();
      await t.onboarding.invitations.accept(token, { password: STRONG_PASSWORD }, NET);
    });

    it("refuses revoked, used and forged links like accept", async () => {
      const { invitation, token } = await invite(address("up-revoked"));
      await t.onboarding.invitations.revoke(invitation.id, ADMIN);
      const error = await refusal(
        t.onboarding.invitations.acceptWithUpstream(token, { linkAccount: async () => undefined }, NET),
      );
      expect(error.code).toBe("invalid_invitation");
    });
  });
});
