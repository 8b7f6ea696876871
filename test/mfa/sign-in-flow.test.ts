/**
 * The sign-in state machine (src/mfa/sign-in-flow.ts) on both dialects, through the domain alone (no HTTP):
 * the decisions after a password (session, pending `verify`, pending `enrol`), completing a pending sign-in
 * once with the combined amr, failed attempts, passkey sign-in, step-up freshness at the
 * `TESSERA_STEP_UP_MAX_AGE` boundary, `stepUp`, and the fixation defence (the browser's previous session
 * ends).
 */
import { readFileSync } from "node:fs";
import { Secret, TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSignInFlow, type SessionDecision, type SignInFlow } from "../../src/mfa/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const STEP_UP_MAX_AGE = 120;
const client = { ip: "192.0.2.7", userAgent: "vitest" };
const admin = { actor: "test", authority: "admin" as const };

it("imports no HTTP layer", () => {
  const source = readFileSync(new URL("../../src/mfa/sign-in-flow.ts", import.meta.url), "utf8");
  const imports = [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  expect(imports.length).toBeGreaterThan(0);
  for (const specifier of imports) expect(specifier).not.toMatch(/fastify|\/http\/|\/cli\//);
});

describe.each(DIALECTS)("the sign-in flow on %s", (dialect) => {
  let t: TestApp;
  let flow: SignInFlow;
  let count = 0;

  beforeAll(async () => {
    t = await createTestApp({
      dialect,
      env: { TESSERA_ISSUER: ISSUER, TESSERA_STEP_UP_MAX_AGE: String(STEP_UP_MAX_AGE) },
    });
    flow = createSignInFlow({
      accounts: t.ctx.accounts,
      mfa: t.ctx.mfa,
      clock: t.ctx.clock,
      stepUpMaxAge: t.ctx.config.stepUpMaxAge,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function newUser() {
    count += 1;
    const user = await t.ctx.accounts.users.create(
      { userName: `flow-user-${count}`, password: PASSWORD },
      admin,
    );
    return { id: user.id, userName: user.userName };
  }

  /** Enrols an authenticator app; answers a code generator at the test clock's time. */
  async function withTotp(user: { id: string; userName: string }) {
    const { secret } = await t.ctx.mfa.totp.beginEnrolment(user, admin);
    const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
    const code = () => totp.generate({ timestamp: t.clock.now() });
    expect(await t.ctx.mfa.totp.confirmEnrolment(user.id, code(), admin)).toBe(true);
    t.clock.advance(30_000);
    return code;
  }

  const password = (userId: string, options: { returnTo?: string; previousToken?: string } = {}) =>
    flow.afterPassword({
      userId,
      remember: false,
      returnTo: options.returnTo,
      previousToken: options.previousToken,
      client,
    });

  async function signedIn(userId: string): Promise<SessionDecision> {
    const decision = await password(userId);
    if (decision.kind !== "session") throw new Error(`expected a session, got ${decision.kind}`);
    return decision;
  }

  async function pendingFor(userId: string, options: { returnTo?: string; previousToken?: string } = {}) {
    const decision = await password(userId, options);
    if (decision.kind !== "pending" || !decision.token) throw new Error(`expected a pending sign-in`);
    const pending = await flow.loadPending(decision.token);
    if (!pending) throw new Error("the pending sign-in did not load");
    return { decision, token: decision.token, pending };
  }

  it("gives a password-only user a session with amr pwd", async () => {
    const user = await newUser();
    const decision = await password(user.id, { returnTo: "/account/sessions" });
    expect(decision).toMatchObject({ kind: "session", redirect: "/account/sessions", keepFor: undefined });
    if (decision.kind !== "session") return;
    expect(decision.token).toMatch(/^tsr_ses_/);
    const checked = await t.ctx.accounts.sessions.check(decision.token);
    expect(checked?.session.id).toBe(decision.session.id);
    expect(checked?.user.id).toBe(user.id);
    expect(checked?.session.amr).toEqual(["pwd"]);
    expect(checked?.session.ip).toBe(client.ip);
    expect(checked?.session.userAgent).toBe(client.userAgent);
    // Without a return target: the account page.
    expect((await signedIn(user.id)).redirect).toBe("/account");
  });

  it("keeps a remembered session for its absolute lifetime", async () => {
    const user = await newUser();
    const decision = await flow.afterPassword({
      userId: user.id,
      remember: true,
      returnTo: undefined,
      previousToken: undefined,
      client,
    });
    expect(decision.kind).toBe("session");
    if (decision.kind !== "session") return;
    expect(decision.session.remember).toBe(true);
    expect(decision.keepFor).toBe(t.ctx.config.sessionRememberLifetime);
  });

  it("asks a user with an authenticator for a code before any session, then combines the amr", async () => {
    const user = await newUser();
    const code = await withTotp(user);
    const { decision, token, pending } = await pendingFor(user.id, { returnTo: "/account/tokens" });
    expect(decision).toMatchObject({ kind: "pending", stage: "verify", redirect: "/login/verify" });
    expect(token).toMatch(/^tsr_mfa_/);
    expect(pending).toMatchObject({
      userId: user.id,
      amr: ["pwd"],
      stage: "verify",
      returnTo: "/account/tokens",
    });
    expect(await t.ctx.accounts.sessions.list(user.id)).toEqual([]);
    // Not an enrolment: nobody may register factors through it.
    expect(await flow.pendingEnrolment(token)).toBeUndefined();

    expect(await t.ctx.mfa.totp.verify(user.id, code(), { actor: `user:${user.id}` })).toBe(true);
    const done = await flow.completeSignIn({ pending, methods: ["otp"], previousToken: undefined, client });
    expect(done).toMatchObject({ kind: "session", redirect: "/account/tokens" });
    if (done.kind !== "session") return;
    const checked = await t.ctx.accounts.sessions.check(done.token);
    expect(checked?.user.id).toBe(user.id);
    expect(checked?.session.amr).toEqual(["pwd", "otp", "mfa"]);
    // Single use: the pending sign-in is gone.
    expect(await flow.loadPending(token)).toBeUndefined();
  });

  it("sends a user who must use a second factor but has none to enrol, then to verify", async () => {
    const user = await newUser();
    await t.ctx.mfa.policy.setRequired(user.id, true);
    const { decision, token, pending } = await pendingFor(user.id);
    expect(decision).toMatchObject({ kind: "pending", stage: "enrol", redirect: "/login/enrol" });
    expect(pending.stage).toBe("enrol");
    expect(await t.ctx.accounts.sessions.list(user.id)).toEqual([]);
    const enrolment = await flow.pendingEnrolment(token);
    expect(enrolment?.user.id).toBe(user.id);
    expect(enrolment?.pending.tokenHash).toBe(pending.tokenHash);

    // A security key registered: the next step is to use it.
    expect(await flow.continueToVerify(pending)).toEqual({
      kind: "pending",
      stage: "verify",
      redirect: "/login/verify",
    });
    expect((await flow.loadPending(token))?.stage).toBe("verify");
    expect(await flow.pendingEnrolment(token)).toBeUndefined();
  });

  it("offers no enrolment to a disabled user's pending sign-in", async () => {
    const user = await newUser();
    await t.ctx.mfa.policy.setRequired(user.id, true);
    const { token } = await pendingFor(user.id);
    await t.ctx.accounts.users.setActive(user.id, false, admin);
    expect(await flow.pendingEnrolment(token)).toBeUndefined();
  });

  it("completes a pending sign-in once, even when two completions race", async () => {
    const user = await newUser();
    await withTotp(user);
    const { pending } = await pendingFor(user.id);
    const input = { pending, methods: ["otp"], previousToken: undefined, client };
    const first = await flow.completeSignIn(input);
    expect(first.kind).toBe("session");
    expect(await flow.completeSignIn(input)).toEqual({ kind: "pending-gone", redirect: "/login" });
    expect(await t.ctx.accounts.sessions.list(user.id)).toHaveLength(1);

    const again = await pendingFor(user.id);
    const race = await Promise.all([
      flow.completeSignIn({ ...input, pending: again.pending }),
      flow.completeSignIn({ ...input, pending: again.pending }),
    ]);
    expect(race.map((d) => d.kind).sort()).toEqual(["pending-gone", "session"]);
    expect(await t.ctx.accounts.sessions.list(user.id)).toHaveLength(2);
  });

  it("does not complete an expired pending sign-in", async () => {
    const user = await newUser();
    await withTotp(user);
    const { token, pending } = await pendingFor(user.id);
    t.clock.advance(10 * 60_000);
    expect(await flow.loadPending(token)).toBeUndefined();
    expect(
      await flow.completeSignIn({ pending, methods: ["otp"], previousToken: undefined, client }),
    ).toEqual({ kind: "pending-gone", redirect: "/login" });
    expect(await t.ctx.accounts.sessions.list(user.id)).toEqual([]);
  });

  it("ends a pending sign-in at the fifth failed attempt", async () => {
    const user = await newUser();
    await withTotp(user);
    const { token, pending } = await pendingFor(user.id);
    for (let i = 0; i < 4; i += 1) expect(await flow.failedAttempt(pending)).toEqual({ kind: "retry" });
    expect(await flow.failedAttempt(pending)).toEqual({ kind: "pending-gone", redirect: "/login" });
    expect(await flow.loadPending(token)).toBeUndefined();
    expect(
      await flow.completeSignIn({ pending, methods: ["otp"], previousToken: undefined, client }),
    ).toMatchObject({ kind: "pending-gone" });
    expect(await t.ctx.accounts.sessions.list(user.id)).toEqual([]);
  });

  it("starts a passwordless session with the passkey's methods, audited", async () => {
    const user = await newUser();
    const decision = await flow.signInWithPasskey({
      userId: user.id,
      methods: ["hwk", "user", "pin", "mfa"],
      returnTo: undefined,
      previousToken: undefined,
      client,
    });
    expect(decision).toMatchObject({ kind: "session", redirect: "/account", keepFor: undefined });
    expect((await t.ctx.accounts.sessions.check(decision.token))?.session.amr).toEqual([
      "hwk",
      "user",
      "pin",
      "mfa",
    ]);
    const events = await t.ctx.accounts.audit.list({ userId: user.id, type: "signin.passkey" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "success", actor: `user:${user.id}`, ip: client.ip });
  });

  it(`asks for a step-up once the sign-in is older than ${STEP_UP_MAX_AGE} s; stepUp renews it`, async () => {
    expect(t.ctx.config.stepUpMaxAge).toBe(STEP_UP_MAX_AGE);
    const user = await newUser();
    const { token, session } = await signedIn(user.id);
    expect(flow.requireFresh(session, "/account/tokens")).toEqual({ kind: "fresh" });

    t.clock.advance(STEP_UP_MAX_AGE * 1000);
    expect(flow.isFresh(session)).toBe(true);
    expect(flow.requireFresh(session, "/account/tokens")).toEqual({ kind: "fresh" });
    t.clock.advance(1);
    expect(flow.isFresh(session)).toBe(false);
    expect(flow.requireFresh(session, "/account/tokens?x=1&y=2")).toEqual({
      kind: "step-up-needed",
      redirect: "/login/step-up?return_to=%2Faccount%2Ftokens%3Fx%3D1%26y%3D2",
    });

    const stepped = await flow.stepUp(session, ["otp"]);
    expect(stepped.kind).toBe("renewed");
    if (stepped.kind !== "renewed") return;
    expect(stepped.token).not.toBe(token);
    expect(stepped.keepFor).toBeUndefined();
    expect(stepped.session).toMatchObject({
      id: session.id,
      authTime: t.clock.now(),
      amr: ["pwd", "otp", "mfa"],
    });
    // A new token for the same session: the old one no longer works.
    expect(await t.ctx.accounts.sessions.check(token)).toBeUndefined();
    const checked = await t.ctx.accounts.sessions.check(stepped.token);
    expect(checked?.session).toMatchObject({
      id: session.id,
      authTime: t.clock.now(),
      amr: ["pwd", "otp", "mfa"],
    });
    expect(flow.requireFresh(checked!.session, "/account/tokens")).toEqual({ kind: "fresh" });

    // A step-up of a session that ended meanwhile renews nothing.
    await t.ctx.accounts.sessions.revoke(user.id, session.id);
    expect(await flow.stepUp(stepped.session, ["pwd"])).toEqual({ kind: "session-gone" });
  });

  it("keeps a remembered session's cookie until its absolute end after a step-up", async () => {
    const user = await newUser();
    const decision = await flow.afterPassword({
      userId: user.id,
      remember: true,
      returnTo: undefined,
      previousToken: undefined,
      client,
    });
    if (decision.kind !== "session") throw new Error("expected a session");
    t.clock.advance(1000 * 1000);
    const stepped = await flow.stepUp(decision.session, ["pwd"]);
    expect(stepped).toMatchObject({ kind: "renewed", keepFor: t.ctx.config.sessionRememberLifetime - 1000 });
  });

  it("ends the browser's previous session when a new sign-in starts one", async () => {
    const user = await newUser();
    const first = await signedIn(user.id);
    const second = await password(user.id, { previousToken: first.token });
    expect(second.kind).toBe("session");
    if (second.kind !== "session") return;
    expect(second.session.id).not.toBe(first.session.id);
    expect(await t.ctx.accounts.sessions.check(first.token)).toBeUndefined();
    expect((await t.ctx.accounts.sessions.list(user.id)).map((s) => s.id)).toEqual([second.session.id]);
    const ended = await t.ctx.accounts.audit.list({ userId: user.id, type: "access.ended" });
    expect(ended.map((e) => e.details)).toContainEqual(
      expect.objectContaining({ event: "session_replaced", sessions: 1 }),
    );

    // The same after a second factor, and for another user's session left in the browser.
    const other = await newUser();
    await withTotp(other);
    // A pending sign-in alone ends nothing: the password is not the whole sign-in.
    const { pending } = await pendingFor(other.id, { previousToken: second.token });
    expect(await t.ctx.accounts.sessions.check(second.token)).toBeDefined();
    const done = await flow.completeSignIn({
      pending,
      methods: ["otp"],
      previousToken: second.token,
      client,
    });
    expect(done.kind).toBe("session");
    expect(await t.ctx.accounts.sessions.check(second.token)).toBeUndefined();

    // And for a passkey sign-in; a token that is no session is ignored.
    if (done.kind !== "session") return;
    const passkey = await flow.signInWithPasskey({
      userId: other.id,
      methods: ["hwk", "user", "pin", "mfa"],
      returnTo: "/account",
      previousToken: done.token,
      client,
    });
    expect(await t.ctx.accounts.sessions.check(done.token)).toBeUndefined();
    expect((await t.ctx.accounts.sessions.list(other.id)).map((s) => s.id)).toEqual([passkey.session.id]);
    const stray = await password(user.id, { previousToken: "tsr_not_a_session" });
    expect(stray.kind).toBe("session");
  });
});
