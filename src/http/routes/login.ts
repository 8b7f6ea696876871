/**
 * Sign-in and sign-out pages.
 *
 * - `GET /login` shows the form; `POST /login` checks CSRF (anonymous token + Origin), then the password.
 * - One message for every credential failure, shown in place with the user name kept (never the password);
 *   a throttled attempt answers 429 with `Retry-After`.
 * - A successful sign-in always starts a new session with a new token (fixation defence); a session the
 *   browser already had is ended. Then it redirects (303) to a validated same-site `return_to`.
 * - `POST /logout` (CSRF-checked) deletes the session on the server and clears the cookie.
 * - Multi-factor (rules in src/mfa/sign-in-flow.ts, cookies in web/mfa-flow.ts): a user who must use a
 *   second factor gets a pending sign-in after the password, then `GET|POST /login/verify` (authenticator
 *   code, recovery code; security keys through routes/mfa-webauthn.ts) or `GET /login/enrol`.
 *   `GET|POST /login/step-up` renews a session's sign-in time for sensitive actions with any one proof:
 *   password, authenticator code or security key. Failed second-factor attempts are audited and limited (5
 *   per pending sign-in, and the per-user TOTP throttle).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TooManyAttemptsError } from "../../accounts/index.js";
import { TesseraError } from "../../lib/errors.js";
import type { PendingSignIn } from "../../mfa/index.js";
import { upstreamLogoutPage } from "../../ui/pages/federation.js";
import { loginPage } from "../../ui/pages/login.js";
import { messagePage } from "../../ui/pages/message.js";
import { enrolPage, type FactorChoices, stepUpPage, verifyPage } from "../../ui/pages/mfa-signin.js";
import type { HttpServices } from "../services.js";
import { clearPendingCookie, clearSessionCookie, readCookie, setDeviceCookie } from "../web/cookies.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formField, safeReturnTo, type Web } from "../web/web-context.js";
import { federationSignInOptions } from "./federation.js";

export function loginRoutes(
  ctx: Pick<HttpServices, "accounts" | "federation" | "mfa" | "onboarding">,
  web: Web,
  flow: MfaFlow,
) {
  const { accounts, mfa } = ctx;
  // Self-service sign-up on: the form links to it.
  const signUp = ctx.onboarding.signUp.enabled;
  // The sign-in pages run WebAuthn ceremonies (passkeys, security keys) from same-origin script files.
  const sendPage = (reply: FastifyReply, html: string, status = 200, formActions: readonly string[] = []) =>
    web.sendPage(reply, html, status, formActions, { scripts: true });

  async function choices(userId: string): Promise<FactorChoices> {
    const factors = await mfa.policy.factors(userId);
    return { totp: factors.totp, webauthn: factors.webauthn > 0, recoveryCodes: factors.recoveryCodes > 0 };
  }

  /** The pending sign-in at the `verify` stage, or a redirect to /login (answers undefined). */
  async function pendingAt(
    request: FastifyRequest,
    reply: FastifyReply,
    stage: PendingSignIn["stage"],
  ): Promise<PendingSignIn | undefined> {
    const pending = await flow.loadPending(request);
    if (pending?.stage === stage) return pending;
    clearPendingCookie(reply, web.names);
    await reply.redirect("/login", 303);
    return undefined;
  }

  /** Checks an authenticator code or a recovery code from a form; answers the amr it proves, or undefined. */
  async function secondFactor(
    request: FastifyRequest,
    userId: string,
    body: unknown,
  ): Promise<string[] | undefined> {
    const by = { actor: `user:${userId}`, ip: web.clientIp(request), userAgent: web.userAgent(request) };
    const code = (formField(body, "code") ?? "").replace(/\s+/g, "");
    if (code !== "") return (await mfa.totp.verify(userId, code, by)) ? ["otp"] : undefined;
    const recovery = formField(body, "recovery_code") ?? "";
    if (recovery !== "") return (await mfa.recoveryCodes.verify(userId, recovery, by)) ? ["otp"] : undefined;
    return undefined;
  }

  return async (app: FastifyInstance) => {
    app.get("/login", async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const returnTo = safeReturnTo(query.return_to);
      const auth = await web.loadAuth(request, reply);
      if (auth && !query.prompt) return reply.redirect(returnTo ?? "/account", 303);
      const federation = await federationSignInOptions(ctx.federation);
      return sendPage(
        reply,
        loginPage({
          csrfToken: web.anonymousCsrf(request, reply),
          returnTo,
          signUp,
          ...federation.model,
          // OpenID Connect `login_hint`, passed on by the authorization endpoint: the user name to start with.
          ...(typeof query.login_hint === "string" && query.login_hint.length <= 256
            ? { userName: query.login_hint }
            : {}),
        }),
        200,
        [...(await web.formActionsFor(returnTo)), ...federation.formActions],
      );
    });

    app.post("/login", async (request, reply) => {
      const body = request.body;
      const returnTo = safeReturnTo(formField(body, "return_to"));
      const userName = (formField(body, "username") ?? "").slice(0, 256);
      const federation = await federationSignInOptions(ctx.federation);
      const formActions = [...(await web.formActionsFor(returnTo)), ...federation.formActions];
      const page = (status: number, error: string, retryAfterSeconds?: number) =>
        sendPage(
          reply,
          loginPage({
            csrfToken: web.anonymousCsrf(request, reply),
            returnTo,
            userName,
            signUp,
            ...federation.model,
            error,
            ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          }),
          status,
          formActions,
        );
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf"))) {
        return page(403, "This form expired or came from another site. Please try again.");
      }
      const password = formField(body, "password") ?? "";
      if (userName.trim() === "" || password === "") return page(400, "Enter your user name and password.");
      try {
        const user = await accounts.signIn.signIn({
          userName,
          password,
          ip: web.clientIp(request),
          userAgent: web.userAgent(request),
          deviceCookie: readCookie(request, web.names.device),
        });
        if (user.deviceCookie) setDeviceCookie(reply, web.names, user.deviceCookie);
        const remember = formField(body, "remember") === "on" || formField(body, "remember") === "1";
        // A session now, or a pending sign-in that a second factor (or a required enrolment) completes.
        return reply.redirect(await flow.afterPassword(request, reply, { user, remember, returnTo }), 303);
      } catch (error) {
        if (error instanceof TooManyAttemptsError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return page(429, error.message, error.retryAfterSeconds);
        }
        if (error instanceof TesseraError && error.code === "invalid_credentials") {
          return page(401, error.message);
        }
        throw error;
      }
    });

    app.get("/login/verify", async (request, reply) => {
      const pending = await pendingAt(request, reply, "verify");
      if (!pending) return reply;
      return sendPage(
        reply,
        verifyPage({ csrfToken: web.anonymousCsrf(request, reply), factors: await choices(pending.userId) }),
        200,
        await web.formActionsFor(pending.returnTo ?? undefined),
      );
    });

    app.post("/login/verify", async (request, reply) => {
      const pending = await pendingAt(request, reply, "verify");
      if (!pending) return reply;
      const again = async (status: number, error: string) =>
        sendPage(
          reply,
          verifyPage({
            csrfToken: web.anonymousCsrf(request, reply),
            factors: await choices(pending.userId),
            error,
          }),
          status,
          await web.formActionsFor(pending.returnTo ?? undefined),
        );
      if (!web.verifyAnonymousCsrf(request, formField(request.body, "csrf"))) {
        return again(403, "This form expired or came from another site. Please try again.");
      }
      let methods: string[] | undefined;
      try {
        methods = await secondFactor(request, pending.userId, request.body);
      } catch (error) {
        if (error instanceof TooManyAttemptsError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return again(429, error.message);
        }
        throw error;
      }
      if (!methods) {
        if (!(await flow.failedAttempt(reply, pending))) {
          return sendPage(
            reply,
            loginPage({
              csrfToken: web.anonymousCsrf(request, reply),
              error: "Too many wrong codes. Sign in again.",
            }),
            401,
          );
        }
        return again(401, "That code is not right. Check your authenticator app and try again.");
      }
      const next = await flow.completeSignIn(request, reply, pending, methods);
      return reply.redirect(next ?? "/login", 303);
    });

    app.get("/login/enrol", async (request, reply) => {
      const pending = await pendingAt(request, reply, "enrol");
      if (!pending) return reply;
      return sendPage(reply, enrolPage({ csrfToken: web.anonymousCsrf(request, reply) }));
    });

    app.get("/login/step-up", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const returnTo =
        safeReturnTo((request.query as Record<string, unknown>).return_to) ?? "/account/security";
      if (!auth) return reply.redirect(`/login?return_to=${encodeURIComponent(returnTo)}`, 303);
      return sendPage(
        reply,
        stepUpPage({
          csrfToken: auth.csrfToken,
          user: auth.user,
          returnTo,
          factors: await choices(auth.user.id),
        }),
      );
    });

    app.post("/login/step-up", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const body = request.body;
      const returnTo = safeReturnTo(formField(body, "return_to")) ?? "/account/security";
      if (!auth) return reply.redirect(`/login?return_to=${encodeURIComponent(returnTo)}`, 303);
      const again = async (status: number, error: string) =>
        sendPage(
          reply,
          stepUpPage({
            csrfToken: auth.csrfToken,
            user: auth.user,
            returnTo,
            factors: await choices(auth.user.id),
            error,
          }),
          status,
        );
      if (!web.csrf.verify(request, auth.csrfToken, formField(body, "csrf"))) {
        return again(403, "This form expired or came from another site. Please try again.");
      }
      const context = { ip: web.clientIp(request), userAgent: web.userAgent(request) };
      try {
        const password = formField(body, "password") ?? "";
        const methods =
          password !== ""
            ? (await accounts.signIn.verifyPassword(auth.user, password, context))
              ? ["pwd"]
              : undefined
            : await secondFactor(request, auth.user.id, body);
        if (!methods) return again(401, "That did not match. Try again.");
        await flow.stepUp(request, reply, auth, methods);
        return reply.redirect(returnTo, 303);
      } catch (error) {
        if (error instanceof TooManyAttemptsError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return again(429, error.message);
        }
        throw error;
      }
    });

    app.post("/logout", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      // No live session: nothing to end. The cookie is not touched here — a cross-site POST arrives without it
      // (SameSite) and must not be able to make the browser delete it (a dead cookie is cleared by loadAuth).
      if (!auth) return reply.redirect("/login", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return sendPage(
          reply,
          messagePage({
            title: "Sign-out refused",
            message: "This form expired or came from another site. Go back, reload the page and try again.",
            status: 403,
            user: auth.user,
            csrfToken: auth.csrfToken,
          }),
          403,
        );
      }
      // A session started through a provider with upstream logout also ends there (RP-initiated logout).
      const upstreamLogout = await ctx.federation.upstreamLogoutUrl(auth.session.id);
      await accounts.access.end(
        { type: "signed_out", userId: auth.user.id, sessionId: auth.session.id },
        { actor: `user:${auth.user.id}` },
      );
      await web.auditUserAction(request, auth, "signout");
      clearSessionCookie(reply, web.names);
      // A page that moves on by itself: a redirect answering this form would be held to its form-action CSP.
      if (upstreamLogout) return web.sendPage(reply, upstreamLogoutPage(upstreamLogout));
      return sendPage(
        reply,
        loginPage({ csrfToken: web.anonymousCsrf(request, reply), notice: "You are signed out." }),
      );
    });
  };
}
