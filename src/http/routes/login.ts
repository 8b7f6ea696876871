/**
 * Sign-in and sign-out pages.
 *
 * - `GET /login` shows the form; `POST /login` checks CSRF (anonymous token + Origin), then the password.
 * - One message for every credential failure, shown in place with the user name kept (never the password);
 *   a throttled attempt answers 429 with `Retry-After`.
 * - A successful sign-in always starts a new session with a new token (fixation defence); a session the
 *   browser already had is ended. Then it redirects (303) to a validated same-site `return_to`.
 * - `POST /logout` (CSRF-checked) deletes the session on the server and clears the cookie.
 */
import type { FastifyInstance } from "fastify";
import { TooManyAttemptsError } from "../../accounts/index.js";
import { TesseraError } from "../../lib/errors.js";
import type { AppContext } from "../../server/context.js";
import { loginPage } from "../../ui/pages/login.js";
import { messagePage } from "../../ui/pages/message.js";
import { clearSessionCookie, readCookie, setSessionCookie } from "../web/cookies.js";
import { formField, safeReturnTo, type Web } from "../web/web-context.js";

export function loginRoutes(ctx: AppContext, web: Web) {
  const { accounts } = ctx;
  return async (app: FastifyInstance) => {
    app.get("/login", async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const returnTo = safeReturnTo(query.return_to);
      const auth = await web.loadAuth(request, reply);
      if (auth && !query.prompt) return reply.redirect(returnTo ?? "/account", 303);
      return web.sendPage(
        reply,
        loginPage({
          csrfToken: web.anonymousCsrf(request, reply),
          returnTo,
          // OpenID Connect `login_hint`, passed on by the authorization endpoint: the user name to start with.
          ...(typeof query.login_hint === "string" && query.login_hint.length <= 256
            ? { userName: query.login_hint }
            : {}),
        }),
        200,
        await web.formActionsFor(returnTo),
      );
    });

    app.post("/login", async (request, reply) => {
      const body = request.body;
      const returnTo = safeReturnTo(formField(body, "return_to"));
      const userName = (formField(body, "username") ?? "").slice(0, 256);
      const formActions = await web.formActionsFor(returnTo);
      const page = (status: number, error: string, retryAfterSeconds?: number) =>
        web.sendPage(
          reply,
          loginPage({
            csrfToken: web.anonymousCsrf(request, reply),
            returnTo,
            userName,
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
        });
        const previous = readCookie(request, web.names.session);
        if (previous) {
          const old = await accounts.sessions.check(previous);
          if (old) {
            await accounts.sessions.revoke(old.user.id, old.session.id);
            await ctx.oauth.logout.sessionsEnded(old.user.id, [old.session.id]);
          }
        }
        const remember = formField(body, "remember") === "on" || formField(body, "remember") === "1";
        const { token, session } = await accounts.sessions.create({
          userId: user.id,
          amr: ["pwd"],
          remember,
          ip: web.clientIp(request),
          userAgent: web.userAgent(request),
        });
        setSessionCookie(
          reply,
          web.names,
          token,
          remember ? Math.floor((session.absoluteExpiresAt - session.createdAt) / 1000) : undefined,
        );
        return reply.redirect(returnTo ?? "/account", 303);
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

    app.post("/logout", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      // No live session: nothing to end. The cookie is not touched here — a cross-site POST arrives without it
      // (SameSite) and must not be able to make the browser delete it (a dead cookie is cleared by loadAuth).
      if (!auth) return reply.redirect("/login", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return web.sendPage(
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
      await accounts.sessions.revoke(auth.user.id, auth.session.id);
      await web.auditUserAction(request, auth, "signout");
      await ctx.oauth.logout.sessionsEnded(auth.user.id, [auth.session.id]);
      clearSessionCookie(reply, web.names);
      return web.sendPage(
        reply,
        loginPage({ csrfToken: web.anonymousCsrf(request, reply), notice: "You are signed out." }),
      );
    });
  };
}
