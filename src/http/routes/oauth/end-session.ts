/**
 * `/end-session` (OpenID Connect RP-Initiated Logout 1.0, GET or POST) and `/end-session/confirm` (the
 * confirmation form). src/oauth/logout.ts checks the request (hint, client, post-logout URI) and decides
 * whether the user must confirm; ending the session is the `signed_out` access-ending event.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { withQuery } from "../../../oauth/redirect-uri.js";
import { logoutConfirmPage } from "../../../ui/pages/logout.js";
import { messagePage } from "../../../ui/pages/message.js";
import type { HttpServices } from "../../services.js";
import { clearSessionCookie } from "../../web/cookies.js";
import { formActionSource, formField, type Web, type WebAuth } from "../../web/web-context.js";
import { errorPage } from "./shared.js";

export function endSessionRoutes(ctx: Pick<HttpServices, "accounts" | "oauth">, web: Web) {
  const { oauth } = ctx;

  /** Ends the browser's Tessera session and tells the clients (back-channel logout). */
  async function endSession(request: FastifyRequest, reply: FastifyReply, auth: WebAuth) {
    await ctx.accounts.access.end(
      { type: "signed_out", userId: auth.user.id, sessionId: auth.session.id },
      { actor: `user:${auth.user.id}` },
    );
    await web.auditUserAction(request, auth, "signout");
    clearSessionCookie(reply, web.names);
  }

  function signedOut(reply: FastifyReply, target: { uri: string } | undefined, state: string | undefined) {
    if (target) {
      return reply.redirect(withQuery(target.uri, { state }), 303);
    }
    return web.sendPage(
      reply,
      messagePage({
        title: "You are signed out",
        message: "You have been signed out of Tessera.",
        link: { href: "/login", text: "Sign in again" },
      }),
    );
  }

  const endSessionEndpoint = async (request: FastifyRequest, reply: FastifyReply) => {
    const params = ((request.method === "POST" ? request.body : request.query) ?? {}) as Record<
      string,
      unknown
    >;
    const logout = await oauth.logout.readRequest(params);
    if ("problem" in logout) return errorPage(web, reply, logout.problem);
    const { target, state, client } = logout;
    const auth = await web.loadAuth(request, reply);
    if (!auth) return signedOut(reply, target, state);
    if (!oauth.logout.needsConfirmation(logout, { userId: auth.user.id, sessionId: auth.session.id })) {
      await endSession(request, reply, auth);
      return signedOut(reply, target, state);
    }
    return web.sendPage(
      reply,
      logoutConfirmPage({
        user: auth.user,
        csrfToken: auth.csrfToken,
        ...(client ? { clientName: client.name, clientId: client.id } : {}),
        ...(target ? { postLogoutRedirectUri: target.uri } : {}),
        ...(state === undefined ? {} : { state }),
      }),
      200,
      target ? [formActionSource(target.uri)].filter((v): v is string => v !== undefined) : [],
    );
  };

  return async (app: FastifyInstance) => {
    app.get("/end-session", endSessionEndpoint);
    app.post("/end-session", endSessionEndpoint);

    app.post("/end-session/confirm", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const clientId = formField(request.body, "client_id");
      const uri = formField(request.body, "post_logout_redirect_uri");
      const state = formField(request.body, "state");
      const target = await oauth.logout.postLogoutTarget(clientId, uri);
      if (target && "problem" in target) return errorPage(web, reply, target.problem);
      if (!auth) return signedOut(reply, target, state);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(web, reply, "This form expired or came from another site.", 403);
      }
      await endSession(request, reply, auth);
      return signedOut(reply, target, state);
    });
  };
}
