/**
 * The sign-in state machine: what a correct password, a second factor, a passkey or a step-up leads to. Every
 * entry point (the sign-in pages through src/http/web/mfa-flow.ts, and anything later) goes through these
 * operations; they take plain inputs and answer decisions, and the caller only carries them out (cookies,
 * redirects). No HTTP here.
 *
 * - After a correct password, a user who must use a second factor (one is enrolled, or the policy requires
 *   one) gets a pending sign-in (src/mfa/pending.ts), not a session: stage `verify` (a factor is due,
 *   `/login/verify`) or `enrol` (required, none yet, `/login/enrol`). Anyone else gets a session with amr
 *   `pwd`.
 * - `completeSignIn` ends a pending sign-in once (single use, not after it expired): the session is created
 *   with the combined `amr` (RFC 8176, `mfa` when two factors).
 * - A passkey alone starts a session with the methods it proved (audited as `signin.passkey`).
 * - A sign-in at an upstream identity provider (`afterUpstream`, amr `fed`…) is a first factor like a password,
 *   unless the administrator set the provider to satisfy the MFA requirement: then a session at once.
 * - Every new session ends the session the browser already had, if any (fixation defence): the
 *   `session_replaced` access-ending event.
 * - Five failed second-factor attempts end a pending sign-in (the password is needed again).
 * - Sensitive actions need a sign-in no older than `TESSERA_STEP_UP_MAX_AGE` seconds; `stepUp` records a new
 *   proof on the session (auth_time now, amr combined, a new token).
 * - Who may manage factors without a session: the active user of a pending sign-in at the `enrol` stage.
 */
import type { Accounts, User } from "../accounts/index.js";
import type { Clock } from "../lib/clock.js";
import type { Session } from "../sessions/index.js";
import type { PendingSignIn, PendingSignIns } from "./pending.js";
import { combineAmr, isFresh, type MfaPolicy } from "./policy.js";

/** Where the request came from (recorded on the session and in the audit log). */
export interface SignInClient {
  ip: string | null;
  userAgent: string | null;
}

/** A session was started: the browser gets `token`, kept for `keepFor` seconds, and goes to `redirect`. */
export interface SessionDecision {
  kind: "session";
  token: string;
  session: Session;
  /**
   * Seconds the browser keeps the token: a remembered session's absolute lifetime; undefined: until the browser
   * closes.
   */
  keepFor: number | undefined;
  redirect: string;
}

/** A second factor is due (`verify`) or must be set up first (`enrol`); no session exists yet. */
export interface PendingDecision {
  kind: "pending";
  /** The pending sign-in's token (for a new pending sign-in; absent when an existing one changed stage). */
  token?: string;
  stage: PendingSignIn["stage"];
  redirect: string;
}

/** The pending sign-in was used, expired, or ended by failed attempts: start again with the password. */
export interface PendingGoneDecision {
  kind: "pending-gone";
  redirect: "/login";
}

export interface StepUpNeededDecision {
  kind: "step-up-needed";
  redirect: string;
}

/** After a step-up: the same session with a new token (`session` with its new auth time and amr), or none. */
export type StepUpDecision =
  | { kind: "renewed"; token: string; session: Session; keepFor: number | undefined }
  | { kind: "session-gone" };

export interface SignInFlowDeps {
  accounts: Pick<Accounts, "sessions" | "access" | "audit" | "users">;
  mfa: { policy: MfaPolicy; pending: PendingSignIns };
  clock: Clock;
  /** Seconds (`TESSERA_STEP_UP_MAX_AGE`). */
  stepUpMaxAge: number;
}

export interface SignInFlow {
  /** After a correct password: a session at once, or a pending sign-in at the `verify` or `enrol` stage. */
  afterPassword(input: {
    userId: string;
    remember: boolean;
    returnTo: string | undefined;
    /** The session token the browser already holds, if any: ended when a session starts. */
    previousToken: string | undefined;
    client: SignInClient;
  }): Promise<SessionDecision | PendingDecision>;
  /**
   * After a sign-in at an upstream identity provider (src/federation): `amr` as the federation decided it.
   * When the provider satisfies Tessera's MFA requirement, a session at once; otherwise as after a password
   * (a user who must use a second factor gets a pending sign-in).
   */
  afterUpstream(input: {
    userId: string;
    amr: string[];
    satisfiesMfa: boolean;
    returnTo: string | undefined;
    previousToken: string | undefined;
    client: SignInClient;
  }): Promise<SessionDecision | PendingDecision>;
  /** The live pending sign-in for a token, if any. */
  loadPending(token: string | undefined): Promise<PendingSignIn | undefined>;
  /** The live pending sign-in at the `enrol` stage and its (active) user: who may register a first factor. */
  pendingEnrolment(token: string | undefined): Promise<{ pending: PendingSignIn; user: User } | undefined>;
  /** Ends a pending sign-in (once) with the methods just proven: a session with the combined amr. */
  completeSignIn(input: {
    pending: PendingSignIn;
    methods: readonly string[];
    previousToken: string | undefined;
    client: SignInClient;
  }): Promise<SessionDecision | PendingGoneDecision>;
  /** A wrong second factor: try again, or (the fifth) the pending sign-in is gone. */
  failedAttempt(pending: PendingSignIn): Promise<{ kind: "retry" } | PendingGoneDecision>;
  /** A first factor was registered during a required enrolment: the next step is to use it. */
  continueToVerify(pending: PendingSignIn): Promise<PendingDecision>;
  /** A passwordless sign-in (a passkey the caller verified, an active user): a session with its methods. */
  signInWithPasskey(input: {
    userId: string;
    methods: readonly string[];
    returnTo: string | undefined;
    previousToken: string | undefined;
    client: SignInClient;
  }): Promise<SessionDecision>;
  /** Whether a session's sign-in is recent enough for a sensitive action. */
  isFresh(session: Pick<Session, "authTime">): boolean;
  /** A sensitive action at `returnTo`: go ahead, or prove it is you first at `/login/step-up`. */
  requireFresh(
    session: Pick<Session, "authTime">,
    returnTo: string,
  ): { kind: "fresh" } | StepUpNeededDecision;
  /** Records a new proof on the session: auth_time now, the strongest amr, a new token. */
  stepUp(session: Session, methods: readonly string[]): Promise<StepUpDecision>;
}

const DEFAULT_REDIRECT = "/account";

export function createSignInFlow(deps: SignInFlowDeps): SignInFlow {
  const { accounts, mfa, clock } = deps;

  async function startSession(input: {
    userId: string;
    amr: string[];
    remember: boolean;
    previousToken: string | undefined;
    client: SignInClient;
    redirect: string;
  }): Promise<SessionDecision> {
    // A session the browser already had is ended (fixation defence; the new sign-in replaces it).
    if (input.previousToken) {
      const old = await accounts.sessions.check(input.previousToken);
      if (old) {
        await accounts.access.end(
          { type: "session_replaced", userId: old.user.id, sessionId: old.session.id },
          { actor: `user:${old.user.id}` },
        );
      }
    }
    const { token, session } = await accounts.sessions.create({
      userId: input.userId,
      amr: input.amr,
      remember: input.remember,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
    });
    const keepFor = input.remember
      ? Math.floor((session.absoluteExpiresAt - session.createdAt) / 1000)
      : undefined;
    return { kind: "session", token, session, keepFor, redirect: input.redirect };
  }

  /** After a first factor (`amr`): a session, or a pending sign-in when a second factor is due. */
  async function afterFirstFactor(input: {
    userId: string;
    amr: string[];
    remember: boolean;
    returnTo: string | undefined;
    previousToken: string | undefined;
    client: SignInClient;
  }): Promise<SessionDecision | PendingDecision> {
    const { userId, amr, remember, returnTo, previousToken, client } = input;
    const factors = await mfa.policy.factors(userId);
    const hasFactor = factors.totp || factors.webauthn > 0;
    const required = hasFactor || (await mfa.policy.required(userId));
    if (!required) {
      return startSession({
        userId,
        amr,
        remember,
        previousToken,
        client,
        redirect: returnTo ?? DEFAULT_REDIRECT,
      });
    }
    const stage = hasFactor ? "verify" : "enrol";
    const { token } = await mfa.pending.create({ userId, amr, stage, remember, returnTo: returnTo ?? null });
    return {
      kind: "pending",
      token,
      stage,
      redirect: stage === "verify" ? "/login/verify" : "/login/enrol",
    };
  }

  const fresh = (session: Pick<Session, "authTime">) =>
    isFresh(session.authTime, clock.now(), deps.stepUpMaxAge);

  return {
    afterPassword: ({ userId, remember, returnTo, previousToken, client }) =>
      afterFirstFactor({ userId, amr: ["pwd"], remember, returnTo, previousToken, client }),

    afterUpstream: ({ userId, amr, satisfiesMfa, returnTo, previousToken, client }) =>
      satisfiesMfa
        ? startSession({
            userId,
            amr,
            remember: false,
            previousToken,
            client,
            redirect: returnTo ?? DEFAULT_REDIRECT,
          })
        : afterFirstFactor({ userId, amr, remember: false, returnTo, previousToken, client }),

    loadPending: (token) => mfa.pending.load(token),

    async pendingEnrolment(token) {
      const pending = await mfa.pending.load(token);
      if (pending?.stage !== "enrol") return undefined;
      const user = await accounts.users.get(pending.userId);
      return user?.active ? { pending, user } : undefined;
    },

    async completeSignIn({ pending, methods, previousToken, client }) {
      if (!(await mfa.pending.take(pending))) return { kind: "pending-gone", redirect: "/login" };
      return startSession({
        userId: pending.userId,
        amr: combineAmr(pending.amr, methods),
        remember: pending.remember,
        previousToken,
        client,
        redirect: pending.returnTo ?? DEFAULT_REDIRECT,
      });
    },

    async failedAttempt(pending) {
      return (await mfa.pending.failedAttempt(pending))
        ? { kind: "retry" }
        : { kind: "pending-gone", redirect: "/login" };
    },

    async continueToVerify(pending) {
      await mfa.pending.toVerifyStage(pending);
      return { kind: "pending", stage: "verify", redirect: "/login/verify" };
    },

    async signInWithPasskey({ userId, methods, returnTo, previousToken, client }) {
      const decision = await startSession({
        userId,
        amr: [...methods],
        remember: false,
        previousToken,
        client,
        redirect: returnTo ?? DEFAULT_REDIRECT,
      });
      await accounts.audit.record({
        type: "signin.passkey",
        outcome: "success",
        userId,
        actor: `user:${userId}`,
        ip: client.ip,
        userAgent: client.userAgent,
      });
      return decision;
    },

    isFresh: fresh,

    requireFresh(session, returnTo) {
      return fresh(session)
        ? { kind: "fresh" }
        : { kind: "step-up-needed", redirect: `/login/step-up?return_to=${encodeURIComponent(returnTo)}` };
    },

    async stepUp(session, methods) {
      const amr = combineAmr(session.amr, methods);
      const token = await accounts.sessions.reauthenticate(session.id, amr);
      if (!token) return { kind: "session-gone" };
      const now = clock.now();
      return {
        kind: "renewed",
        token,
        session: { ...session, authTime: now, amr },
        keepFor: session.remember ? Math.floor((session.absoluteExpiresAt - now) / 1000) : undefined,
      };
    },
  };
}
