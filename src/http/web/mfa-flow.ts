/**
 * The multi-factor steps of the sign-in pages, shared by the password, TOTP and WebAuthn routes.
 *
 * - After a correct password, a user who must use a second factor gets a pending sign-in (cookie
 *   `__Host-tessera_mfa`, src/mfa/pending.ts), not a session: `/login/verify` (a factor is due) or
 *   `/login/enrol` (MFA is required and the user has none yet).
 * - `completeSignIn` ends a pending sign-in once: the session is created with the combined `amr` (RFC 8176,
 *   `mfa` when two factors), the cookie set, the pending cookie cleared; it answers where to go next.
 * - Sensitive account actions call `requireFresh`: a sign-in older than `TESSERA_STEP_UP_MAX_AGE` is sent to
 *   `/login/step-up` first; `stepUp` records the new proof on the session (auth_time now, amr combined, new
 *   token).
 * - `subject` says whose factors a request may manage: the signed-in user (account pages), or the user of a
 *   pending sign-in at the enrolment stage (`/login/enrol`).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { User } from "../../accounts/index.js";
import { combineAmr, isFresh, type PendingSignIn } from "../../mfa/index.js";
import type { AppContext } from "../../server/context.js";
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
  /** The live pending sign-in of this browser, if any. */
  loadPending(request: FastifyRequest): Promise<PendingSignIn | undefined>;
  /** Ends a pending sign-in with the methods just proven; undefined when it was already used or expired. */
  completeSignIn(
    request: FastifyRequest,
    reply: FastifyReply,
    pending: PendingSignIn,
    methods: readonly string[],
  ): Promise<string | undefined>;
  /** After a first factor was registered during a required enrolment: the next step is to use it. */
  continueToVerify(pending: PendingSignIn): Promise<void>;
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
  /** Whether the session's sign-in is fresh enough for a sensitive action. */
  isFresh(auth: WebAuth): boolean;
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

export function createMfaFlow(ctx: AppContext, web: Web): MfaFlow {
  const { accounts, mfa } = ctx;

  async function startSession(
    request: FastifyRequest,
    reply: FastifyReply,
    input: { userId: string; amr: string[]; remember: boolean; authTime?: number },
  ) {
    // A session the browser already had is ended (fixation defence; the new sign-in replaces it).
    const previous = readCookie(request, web.names.session);
    if (previous) {
      const old = await accounts.sessions.check(previous);
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
      ip: web.clientIp(request),
      userAgent: web.userAgent(request),
      ...(input.authTime === undefined ? {} : { authTime: input.authTime }),
    });
    setSessionCookie(
      reply,
      web.names,
      token,
      input.remember ? Math.floor((session.absoluteExpiresAt - session.createdAt) / 1000) : undefined,
    );
  }

  return {
    async afterPassword(request, reply, { user, remember, returnTo }) {
      const factors = await mfa.policy.factors(user.id);
      const hasFactor = factors.totp || factors.webauthn > 0;
      const required = hasFactor || (await mfa.policy.required(user.id));
      if (!required) {
        await startSession(request, reply, { userId: user.id, amr: ["pwd"], remember });
        return returnTo ?? "/account";
      }
      const { token } = await mfa.pending.create({
        userId: user.id,
        amr: ["pwd"],
        stage: hasFactor ? "verify" : "enrol",
        remember,
        returnTo: returnTo ?? null,
      });
      setPendingCookie(reply, web.names, token);
      return hasFactor ? "/login/verify" : "/login/enrol";
    },

    loadPending: (request) => mfa.pending.load(readCookie(request, web.names.mfa)),

    async completeSignIn(request, reply, pending, methods) {
      if (!(await mfa.pending.take(pending))) return undefined;
      clearPendingCookie(reply, web.names);
      await startSession(request, reply, {
        userId: pending.userId,
        amr: combineAmr(pending.amr, methods),
        remember: pending.remember,
      });
      return pending.returnTo ?? "/account";
    },

    continueToVerify: (pending) => mfa.pending.toVerifyStage(pending),

    async signInWithoutPassword(request, reply, input) {
      await startSession(request, reply, { userId: input.userId, amr: [...input.methods], remember: false });
      await accounts.audit.record({
        type: "signin.passkey",
        outcome: "success",
        userId: input.userId,
        actor: `user:${input.userId}`,
        ip: web.clientIp(request),
        userAgent: web.userAgent(request),
      });
      return input.returnTo ?? "/account";
    },

    isFresh: (auth) => isFresh(auth.session.authTime, ctx.clock.now(), ctx.config.stepUpMaxAge),

    async requireFresh(_request, reply, auth, returnTo) {
      if (isFresh(auth.session.authTime, ctx.clock.now(), ctx.config.stepUpMaxAge)) return true;
      await reply.redirect(`/login/step-up?return_to=${encodeURIComponent(returnTo)}`, 303);
      return false;
    },

    async stepUp(_request, reply, auth, methods) {
      const token = await accounts.sessions.reauthenticate(
        auth.session.id,
        combineAmr(auth.session.amr, methods),
      );
      if (token) {
        const maxAge = auth.session.remember
          ? Math.floor((auth.session.absoluteExpiresAt - ctx.clock.now()) / 1000)
          : undefined;
        setSessionCookie(reply, web.names, token, maxAge);
      }
    },

    async subject(request, reply) {
      const auth = await web.loadAuth(request, reply);
      if (auth) return { via: "session", user: auth.user, csrfToken: auth.csrfToken, auth };
      const pending = await mfa.pending.load(readCookie(request, web.names.mfa));
      if (pending?.stage === "enrol") {
        const user = await accounts.users.get(pending.userId);
        if (user?.active) {
          return { via: "pending", user, csrfToken: web.anonymousCsrf(request, reply), pending };
        }
      }
      await reply.redirect("/login", 303);
      return undefined;
    },
  };
}
