/**
 * The sign-in pages' side of the sign-in state machine (src/mfa/sign-in-flow.ts), shared by the password,
 * TOTP and WebAuthn routes. The rules live in the domain; this adapter reads the cookies and the client,
 * asks the domain, and carries out its decision:
 *
 * - a session: the session cookie (`__Host-tessera_session`, kept for the decision's `keepFor`), and the
 *   pending cookie cleared when a pending sign-in ended;
 * - a pending sign-in: the pending cookie (`__Host-tessera_mfa`), then `/login/verify` or `/login/enrol`;
 * - a pending sign-in that is gone (used, expired, too many failed attempts): no session; the pending
 *   cookie is cleared after failed attempts;
 * - a step-up needed: a 303 to `/login/step-up?return_to=…` (or the URL, for JSON answers).
 *
 * `subject` says whose factors a request may manage: the signed-in user (account pages), or the user of a
 * pending sign-in at the enrolment stage (`/login/enrol`).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { User } from "../../accounts/index.js";
import {
  createSignInFlow,
  type PendingSignIn,
  type SessionDecision,
  type SignInClient,
  type StepUpNeededDecision,
} from "../../mfa/index.js";
import type { HttpServices } from "../services.js";
import { clearPendingCookie, readCookie, setPendingCookie, setSessionCookie } from "./cookies.js";
import type { Web, WebAuth } from "./web-context.js";

export type MfaSubject =
  | { via: "session"; user: User; csrfToken: string; auth: WebAuth }
  | { via: "pending"; user: User; csrfToken: string; pending: PendingSignIn };

export interface MfaFlow {
  /**
   * After a correct password: either a session right away (answers its redirect target) or a pending sign-in
   * (answers `/login/verify` or `/login/enrol`).
   */
  afterPassword(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { user: { id: string }; remember: boolean; returnTo: string | undefined },
  ): Promise<string>;
  /**
   * After a sign-in at an upstream identity provider: a session (answers its redirect target, and the new
   * session's id) or a pending sign-in when a second factor is still due.
   */
  afterFederation(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { userId: string; amr: string[]; satisfiesMfa: boolean; returnTo: string | undefined },
  ): Promise<{ redirect: string; sessionId?: string }>;
  /** The live pending sign-in of this browser, if any. */
  loadPending(request: FastifyRequest): Promise<PendingSignIn | undefined>;
  /** This browser's pending sign-in at the enrolment stage and its active user, if any. */
  pendingEnrolment(request: FastifyRequest): Promise<{ pending: PendingSignIn; user: User } | undefined>;
  /** Ends a pending sign-in with the methods just proven; undefined when it was already used or expired. */
  completeSignIn(
    request: FastifyRequest,
    reply: FastifyReply,
    pending: PendingSignIn,
    methods: readonly string[],
  ): Promise<string | undefined>;
  /**
   * Counts a wrong second factor: true when the user may try again; false when the pending sign-in ended (its
   * cookie is cleared: the password is needed again).
   */
  failedAttempt(reply: FastifyReply, pending: PendingSignIn): Promise<boolean>;
  /** After a first factor was registered during a required enrolment: answers the next step (use it). */
  continueToVerify(pending: PendingSignIn): Promise<string>;
  /** Starts a session for a passwordless sign-in (passkey): answers the redirect target. */
  signInWithoutPassword(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { userId: string; methods: readonly string[]; returnTo: string | undefined },
  ): Promise<string>;
  /** Sends the browser to `/login/step-up` and answers false when the session's sign-in is not fresh. */
  requireFresh(
    request: FastifyRequest,
    reply: FastifyReply,
    auth: WebAuth,
    returnTo: string,
  ): Promise<boolean>;
  /** The step-up a sensitive action at `returnTo` needs first (for JSON answers), or undefined when fresh. */
  stepUpNeeded(auth: WebAuth, returnTo: string): StepUpNeededDecision | undefined;
  /** Records a step-up on the session (new auth_time, combined amr, new token). */
  stepUp(
    request: FastifyRequest,
    reply: FastifyReply,
    auth: WebAuth,
    methods: readonly string[],
  ): Promise<void>;
  /** The user whose factors this request may manage, or undefined (then a redirect to /login was sent). */
  subject(request: FastifyRequest, reply: FastifyReply): Promise<MfaSubject | undefined>;
}

export function createMfaFlow(
  ctx: Pick<HttpServices, "accounts" | "clock" | "config" | "mfa">,
  web: Web,
): MfaFlow {
  const signIn = createSignInFlow({
    accounts: ctx.accounts,
    mfa: ctx.mfa,
    clock: ctx.clock,
    stepUpMaxAge: ctx.config.stepUpMaxAge,
  });

  const client = (request: FastifyRequest): SignInClient => web.client(request);
  const previousToken = (request: FastifyRequest) => readCookie(request, web.names.session);
  const pendingToken = (request: FastifyRequest) => readCookie(request, web.names.mfa);

  /** Hands a new session to the browser; answers where it goes next. */
  function startSession(reply: FastifyReply, decision: SessionDecision): string {
    setSessionCookie(reply, web.names, decision.token, decision.keepFor);
    return decision.redirect;
  }

  return {
    async afterPassword(request, reply, { user, remember, returnTo }) {
      const decision = await signIn.afterPassword({
        userId: user.id,
        remember,
        returnTo,
        previousToken: previousToken(request),
        client: client(request),
      });
      if (decision.kind === "session") return startSession(reply, decision);
      if (decision.token) setPendingCookie(reply, web.names, decision.token);
      return decision.redirect;
    },

    async afterFederation(request, reply, input) {
      const decision = await signIn.afterUpstream({
        ...input,
        previousToken: previousToken(request),
        client: client(request),
      });
      if (decision.kind === "session") {
        return { redirect: startSession(reply, decision), sessionId: decision.session.id };
      }
      if (decision.token) setPendingCookie(reply, web.names, decision.token);
      return { redirect: decision.redirect };
    },

    loadPending: (request) => signIn.loadPending(pendingToken(request)),

    pendingEnrolment: (request) => signIn.pendingEnrolment(pendingToken(request)),

    async completeSignIn(request, reply, pending, methods) {
      const decision = await signIn.completeSignIn({
        pending,
        methods,
        previousToken: previousToken(request),
        client: client(request),
      });
      if (decision.kind === "pending-gone") return undefined;
      clearPendingCookie(reply, web.names);
      return startSession(reply, decision);
    },

    async failedAttempt(reply, pending) {
      const decision = await signIn.failedAttempt(pending);
      if (decision.kind === "retry") return true;
      clearPendingCookie(reply, web.names);
      return false;
    },

    continueToVerify: async (pending) => (await signIn.continueToVerify(pending)).redirect,

    async signInWithoutPassword(request, reply, input) {
      const decision = await signIn.signInWithPasskey({
        ...input,
        previousToken: previousToken(request),
        client: client(request),
      });
      return startSession(reply, decision);
    },

    stepUpNeeded(auth, returnTo) {
      const decision = signIn.requireFresh(auth.session, returnTo);
      return decision.kind === "step-up-needed" ? decision : undefined;
    },

    async requireFresh(_request, reply, auth, returnTo) {
      const decision = signIn.requireFresh(auth.session, returnTo);
      if (decision.kind === "fresh") return true;
      await reply.redirect(decision.redirect, 303);
      return false;
    },

    async stepUp(_request, reply, auth, methods) {
      const decision = await signIn.stepUp(auth.session, methods);
      if (decision.kind === "renewed") setSessionCookie(reply, web.names, decision.token, decision.keepFor);
    },

    async subject(request, reply) {
      const auth = await web.loadAuth(request, reply);
      if (auth) return { via: "session", user: auth.user, csrfToken: auth.csrfToken, auth };
      const enrolment = await signIn.pendingEnrolment(pendingToken(request));
      if (enrolment) {
        return {
          via: "pending",
          user: enrolment.user,
          csrfToken: web.anonymousCsrf(request, reply),
          pending: enrolment.pending,
        };
      }
      await reply.redirect("/login", 303);
      return undefined;
    },
  };
}
