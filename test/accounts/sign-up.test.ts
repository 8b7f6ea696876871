/**
 * Self-service sign-up (src/onboarding/sign-up.ts) on SQLite and PostgreSQL: the domain, through its service,
 * with the real accounts domain, the development outbox and a manual clock. The pages are tested in
 * sign-up-pages.test.ts and in Chromium (test/browser/sign-up.browser.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../../src/crypto/index.js";
import { OnboardingError, OnboardingThrottledError } from "../../src/onboarding/index.js";
import { STRONG_PASSWORD } from "../helpers/accounts.js";
import { DIALECTS } from "../helpers/databases.js";
import { ADMIN, createTestOnboarding, ISSUER, signUpToken, type TestOnboarding } from "./sign-up-helpers.js";

const BREACHED = "qwertyuiopasdfgh";

let ipCounter = 0;
/** A fresh client address per request, so the per-address budget is the only one that binds. */
function net() {
  ipCounter += 1;
  return { ip: `198.51.100.${ipCounter % 250}`, userAgent: "test" };
}

async function refusal(promise: Promise<unknown>): Promise<OnboardingError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, String(error)).toBeInstanceOf(OnboardingError);
  return error as OnboardingError;
}

describe.each(DIALECTS)("self-service sign-up on %s", (dialect) => {
  let t: TestOnboarding;
  beforeAll(async () => {
    t = await createTestOnboarding(dialect, { signUp: "on" });
  });
  afterAll(async () => {
    await t.close();
  });

  let n = 0;
  const address = (name: string) => {
    n += 1;
    return `${name}${n}@example.test`;
  };

  /** Signs up and answers the link's token. */
  async function signUp(email: string, userName?: string, password = STRONG_PASSWORD): Promise<string> {
    await t.onboarding.signUp.request({ email, password, ...(userName ? { userName } : {}) }, net());
    await t.onboarding.idle();
    return signUpToken(t.mailTo(email).at(-1));
  }

  it("mails a single-use link; no account exists until it is confirmed with the chosen password", async () => {
    const email = address("ada");
    const token = await signUp(email, `ada-${n}`);
    const message = t.mailTo(email).at(-1)!;
    expect(message.subject).toBe("Confirm your new Tessera account");
    expect(message.text).toContain(`${ISSUER}/signup/verify?token=${token}`);
    expect(await t.accounts.users.findByUserName(`ada-${n}`)).toBeUndefined();
    expect(await t.accounts.users.findByEmail(email)).toEqual([]);

    // At rest: the token's SHA-256 and the password's argon2id hash, neither in the clear.
    const row = await t.storage.db
      .selectFrom("pending_sign_ups")
      .selectAll()
      .where("token_hash", "=", hashToken(token))
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.expires_at - row.created_at).toBe(3600_000);
    expect(JSON.stringify(row)).not.toContain(token);
    expect(JSON.stringify(row)).not.toContain(STRONG_PASSWORD);

    expect(await t.onboarding.signUp.pending(token)).toMatchObject({
      userName: `ada-${n}`,
      email,
      userNameTaken: false,
    });
    const { user } = await t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net());
    expect(user).toMatchObject({
      userName: `ada-${n}`,
      active: true,
      hasPassword: true,
      emails: [{ value: email, primary: true }],
    });
    const signedIn = await t.accounts.signIn.signIn({
      userName: `ada-${n}`,
      password: STRONG_PASSWORD,
      ip: null,
      userAgent: null,
    });
    expect(signedIn.id).toBe(user.id);
    expect(await t.accounts.audit.list({ userId: user.id, type: "user.signed_up" })).toHaveLength(1);
    expect((await t.accounts.audit.list({ userId: user.id, type: "user.created" }))[0]?.actor).toBe(
      "sign-up",
    );
  });

  it("uses the e-mail address as the user name when none is chosen", async () => {
    const email = address("grace");
    const token = await signUp(email);
    const { user } = await t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net());
    expect(user.userName).toBe(email);
  });

  it("a reused link is refused", async () => {
    const token = await signUp(address("reuse"));
    await t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net());
    expect(await t.onboarding.signUp.pending(token)).toBeUndefined();
    const error = await refusal(t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()));
    expect(error.code).toBe("invalid_sign_up_link");
  });

  it("an expired link is refused (at the lifetime, not a millisecond later)", async () => {
    const email = address("late");
    const token = await signUp(email);
    t.clock.advance(3600_000);
    expect(await t.onboarding.signUp.pending(token)).toBeUndefined();
    const error = await refusal(t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()));
    expect(error.code).toBe("invalid_sign_up_link");
    expect(await t.accounts.users.findByEmail(email)).toEqual([]);
  });

  it("forged and malformed tokens are refused", async () => {
    const real = await signUp(address("forge"));
    const flipped = `${real.slice(0, 20)}${real[20] === "A" ? "B" : "A"}${real.slice(21)}`;
    for (const bad of [
      "",
      "tsr_sup_",
      flipped,
      real.replace("tsr_sup_", "tsr_rst_"),
      `tsr_sup_${"0".repeat(49)}`,
      "x".repeat(5000),
    ]) {
      expect(await t.onboarding.signUp.pending(bad)).toBeUndefined();
      const error = await refusal(t.onboarding.signUp.complete(bad, { password: STRONG_PASSWORD }, net()));
      expect(error.code).toBe("invalid_sign_up_link");
    }
    expect(await t.onboarding.signUp.pending(real)).toBeDefined();
  });

  it("a wrong password at the confirmation is refused; the fifth ends the link", async () => {
    const email = address("wrong");
    const token = await signUp(email);
    for (let i = 1; i <= 4; i++) {
      const error = await refusal(
        t.onboarding.signUp.complete(token, { password: `not it at all ${i}!` }, net()),
      );
      expect(error).toMatchObject({ code: "invalid_credentials", status: 401 });
      expect(error.fields.password).toBe("That is not the password you chose when you signed up.");
    }
    const fifth = await refusal(t.onboarding.signUp.complete(token, { password: "not it at all 5!" }, net()));
    expect(fifth.code).toBe("invalid_sign_up_link");
    // Even the right password no longer works.
    const after = await refusal(t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()));
    expect(after.code).toBe("invalid_sign_up_link");
    expect(await t.accounts.users.findByEmail(email)).toEqual([]);
  });

  it("refuses each field next to it, and sends nothing", async () => {
    const before = t.outbox.messages.length;
    const cases: [Parameters<typeof t.onboarding.signUp.request>[0], string, string, RegExp][] = [
      [{ email: "not an address", password: STRONG_PASSWORD }, "email", "invalid_request", /e-mail address/],
      [{ email: "", password: STRONG_PASSWORD }, "email", "invalid_request", /e-mail address/],
      [{ email: address("short"), password: "too short" }, "password", "password_rejected", /at least 15/],
      [{ email: address("breach"), password: BREACHED }, "password", "password_rejected", /breached/],
      [
        { email: address("named"), userName: "margaret-hamilton", password: "margaret-hamilton rocks 42" },
        "password",
        "password_rejected",
        /user name/,
      ],
      [
        { email: "katherine.johnson@example.test", password: "katherine.johnson in orbit" },
        "password",
        "password_rejected",
        /user name or e-mail/,
      ],
      [
        { email: address("mismatch"), password: STRONG_PASSWORD, confirmPassword: `${STRONG_PASSWORD}!` },
        "confirmPassword",
        "invalid_request",
        /do not match/,
      ],
      [
        { email: address("long"), userName: "x".repeat(257), password: STRONG_PASSWORD },
        "userName",
        "invalid_request",
        /at most 256/,
      ],
    ];
    for (const [input, field, code, message] of cases) {
      const error = await refusal(
        t.onboarding.signUp.request(input, net()).then(() => {
          throw new Error(`accepted: ${JSON.stringify(input)}`);
        }),
      );
      expect(error.code, field).toBe(code);
      expect(error.fields[field as keyof typeof error.fields], field).toMatch(message);
    }
    // Several fields at once: each gets its message.
    const several = await refusal(
      t.onboarding.signUp.request({ email: "nope", password: "short", confirmPassword: "other" }, net()),
    );
    expect(Object.keys(several.fields).sort()).toEqual(["confirmPassword", "email", "password"]);
    await t.onboarding.idle();
    expect(t.outbox.messages.length).toBe(before);
  });

  it("a taken address gets the same answer; its owner gets a notice instead of a link", async () => {
    const email = address("owner");
    const owner = await t.accounts.users.create(
      {
        userName: `owner-${n}`,
        emails: [{ value: email, type: null, primary: true }],
        password: STRONG_PASSWORD,
      },
      ADMIN,
    );
    const fresh = address("fresh");
    const answers = await Promise.all([
      t.onboarding.signUp.request({ email: email.toUpperCase(), password: STRONG_PASSWORD }, net()),
      t.onboarding.signUp.request({ email: fresh, password: STRONG_PASSWORD }, net()),
    ]);
    expect(answers).toEqual([undefined, undefined]);
    await t.onboarding.idle();
    const notice = t.mailTo(email).at(-1)!;
    expect(notice.subject).toBe("Someone tried to sign up with your e-mail address");
    expect(notice.text).toContain(`${ISSUER}/login`);
    expect(notice.text).toContain(`${ISSUER}/password/forgot`);
    expect(notice.text).not.toContain("/signup/verify");
    expect(() => signUpToken(notice)).toThrow();
    signUpToken(t.mailTo(fresh).at(-1));
    const events = await t.accounts.audit.list({ userId: owner.id, type: "sign_up.requested" });
    expect(events).toMatchObject([{ outcome: "failure", details: { reason: "address_taken" } }]);
  });

  it("a taken user name: the link is sent all the same, and the confirmation asks for another name", async () => {
    const taken = `taken-${n}`;
    await t.accounts.users.create({ userName: taken }, ADMIN);
    const email = address("second");
    const token = await signUp(email, taken.toUpperCase());
    expect(await t.onboarding.signUp.pending(token)).toMatchObject({ userNameTaken: true });
    const error = await refusal(t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()));
    expect(error).toMatchObject({ code: "user_exists", status: 409 });
    expect(error.fields.userName).toMatch(/taken/);
    const { user } = await t.onboarding.signUp.complete(
      token,
      { password: STRONG_PASSWORD, userName: `${taken}-2` },
      net(),
    );
    expect(user.userName).toBe(`${taken}-2`);
  });

  it("an address that got an account meanwhile: email_taken, and the link is spent", async () => {
    const email = address("race");
    const first = await signUp(email);
    const second = await signUp(email);
    await t.onboarding.signUp.complete(first, { password: STRONG_PASSWORD }, net());
    const error = await refusal(t.onboarding.signUp.complete(second, { password: STRONG_PASSWORD }, net()));
    expect(error).toMatchObject({ code: "email_taken", status: 409 });
    expect(await t.onboarding.signUp.pending(second)).toBeUndefined();
    expect(await t.accounts.users.findByEmail(email)).toHaveLength(1);
  });

  it("two concurrent confirmations of one link create one account", async () => {
    const email = address("twice");
    const token = await signUp(email);
    const results = await Promise.allSettled([
      t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()),
      t.onboarding.signUp.complete(token, { password: STRONG_PASSWORD }, net()),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await t.accounts.users.findByEmail(email)).toHaveLength(1);
  });

  it("purges used and expired links, keeping live ones", async () => {
    const used = await signUp(address("purge-used"));
    await t.onboarding.signUp.complete(used, { password: STRONG_PASSWORD }, net());
    const old = await signUp(address("purge-old"));
    t.clock.advance(3600_000);
    const live = await signUp(address("purge-live"));
    expect(await t.onboarding.purgeExpired()).toBeGreaterThanOrEqual(2);
    const hashes = (await t.storage.db.selectFrom("pending_sign_ups").select("token_hash").execute()).map(
      (r) => r.token_hash,
    );
    expect(hashes).toContain(hashToken(live));
    expect(hashes).not.toContain(hashToken(used));
    expect(hashes).not.toContain(hashToken(old));
  });
});

describe("sign-up throttling", () => {
  let t: TestOnboarding;
  beforeAll(async () => {
    t = await createTestOnboarding("sqlite", { signUp: "on" });
  });
  afterAll(async () => {
    await t.close();
  });

  it("per e-mail address: 3 an hour, the same whether the address is taken or not, then one every 20 minutes", async () => {
    const free = "free@example.test";
    const taken = "taken@example.test";
    await t.accounts.users.create(
      { userName: "taken", emails: [{ value: taken, type: null, primary: true }] },
      ADMIN,
    );
    for (const email of [free, taken]) {
      for (let i = 0; i < 3; i++) {
        await t.onboarding.signUp.request(
          { email, password: STRONG_PASSWORD },
          { ip: `203.0.113.${i}`, userAgent: null },
        );
      }
      const error = await refusal(
        t.onboarding.signUp.request(
          { email: email.toUpperCase(), password: STRONG_PASSWORD },
          { ip: "203.0.113.9", userAgent: null },
        ),
      );
      expect(error).toBeInstanceOf(OnboardingThrottledError);
      expect(error).toMatchObject({ code: "too_many_attempts", status: 429, retryAfterSeconds: 1200 });
    }
    await t.onboarding.idle();
    expect(t.mailTo(free)).toHaveLength(3);
    expect(t.mailTo(taken)).toHaveLength(3);
    t.clock.advance(20 * 60_000);
    await t.onboarding.signUp.request(
      { email: free, password: STRONG_PASSWORD },
      { ip: "203.0.113.10", userAgent: null },
    );
    await t.onboarding.idle();
    expect(t.mailTo(free)).toHaveLength(4);
  });

  it("per client address: 10 an hour (an IPv6 client's /64 is one client)", async () => {
    for (let i = 0; i < 10; i++) {
      await t.onboarding.signUp.request(
        { email: `v6-${i}@example.test`, password: STRONG_PASSWORD },
        { ip: `2001:db8:1:2::${i + 1}`, userAgent: null },
      );
    }
    const error = await refusal(
      t.onboarding.signUp.request(
        { email: "v6-10@example.test", password: STRONG_PASSWORD },
        { ip: "2001:db8:1:2:ffff::1", userAgent: null },
      ),
    );
    expect(error).toMatchObject({ code: "too_many_attempts", status: 429, retryAfterSeconds: 360 });
    // Another /64 is another client.
    await t.onboarding.signUp.request(
      { email: "v6-11@example.test", password: STRONG_PASSWORD },
      { ip: "2001:db8:1:3::1", userAgent: null },
    );
    await t.onboarding.idle();
    expect(t.mailTo("v6-10@example.test")).toHaveLength(0);
    expect(t.mailTo("v6-11@example.test")).toHaveLength(1);
  });

  it("a refused form spends no budget", async () => {
    for (let i = 0; i < 5; i++) {
      await refusal(
        t.onboarding.signUp.request(
          { email: "budget@example.test", password: "short" },
          { ip: "203.0.113.77", userAgent: null },
        ),
      );
    }
    for (let i = 0; i < 3; i++) {
      await t.onboarding.signUp.request(
        { email: "budget@example.test", password: STRONG_PASSWORD },
        { ip: "203.0.113.77", userAgent: null },
      );
    }
  });
});

describe("sign-up settings", () => {
  it("off by default: every operation answers not_found, links issued while it was on included", async () => {
    const on = await createTestOnboarding("sqlite", { signUp: "on" });
    try {
      await on.onboarding.signUp.request({ email: "early@example.test", password: STRONG_PASSWORD }, net());
      await on.onboarding.idle();
      const token = signUpToken(on.mailTo("early@example.test").at(-1));
      const { createOnboarding } = await import("../../src/onboarding/index.js");
      const { createMemoryRateLimiter } = await import("../../src/accounts/throttle.js");
      const off = createOnboarding({
        accounts: on.accounts,
        storage: on.storage,
        mailer: on.outbox,
        clock: on.clock,
        log: (await import("../../src/observability/log.js")).createLogger({ level: "silent" }),
        limiter: createMemoryRateLimiter({ clock: on.clock }),
        issuer: ISSUER,
        settings: {
          signUp: "off",
          signUpAllowedDomains: undefined,
          signUpLinkTtl: 3600,
          invitationTtl: 604800,
        },
      });
      expect(off.signUp.enabled).toBe(false);
      const request = await refusal(
        off.signUp.request({ email: "x@example.test", password: STRONG_PASSWORD }, net()),
      );
      expect(request).toMatchObject({ code: "not_found", status: 404 });
      expect(await off.signUp.pending(token)).toBeUndefined();
      const complete = await refusal(off.signUp.complete(token, { password: STRONG_PASSWORD }, net()));
      expect(complete).toMatchObject({ code: "not_found", status: 404 });
      expect(await on.accounts.users.findByEmail("early@example.test")).toEqual([]);
    } finally {
      await on.close();
    }
    const { loadConfig } = await import("../../src/config/index.js");
    expect(loadConfig({ env: {} }).signUp).toBe("off");
  });

  it("an allow-list of domains: exact, case-insensitive; others are refused next to the address", async () => {
    const t = await createTestOnboarding("sqlite", {
      signUp: "on",
      signUpAllowedDomains: "Example.com, example.org",
    });
    try {
      expect(t.onboarding.signUp.allowedDomains).toEqual(["example.com", "example.org"]);
      for (const email of [
        "a@other.test",
        "b@eu.example.com",
        "c@example.com.evil.test",
        "d@notexample.com",
      ]) {
        const error = await refusal(t.onboarding.signUp.request({ email, password: STRONG_PASSWORD }, net()));
        expect(error.code, email).toBe("email_domain_not_allowed");
        expect(error.fields.email).toBe("Sign-up is open to addresses at example.com, example.org only.");
      }
      await t.onboarding.signUp.request({ email: "ok@EXAMPLE.com", password: STRONG_PASSWORD }, net());
      await t.onboarding.signUp.request({ email: "ok@example.org", password: STRONG_PASSWORD }, net());
      await t.onboarding.idle();
      expect(t.outbox.messages.map((m) => m.to).sort()).toEqual(["ok@EXAMPLE.com", "ok@example.org"]);
    } finally {
      await t.close();
    }
  });

  it("a malformed domain in the allow-list stops start-up", async () => {
    for (const bad of ["*.example.com", "@example.com", "example", "exa mple.com", "http://example.com"]) {
      await expect(
        createTestOnboarding("sqlite", { signUp: "on", signUpAllowedDomains: bad }),
      ).rejects.toThrow(/signUpAllowedDomains/);
    }
  });
});
