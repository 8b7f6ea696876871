/**
 * The authorization endpoint (OpenID Connect Core §3.1.2.1, OAuth 2.1 §4.1.1): `/authorize` (GET, or a form
 * POST), `/authorize/continue` (the way back from the sign-in page) and `/authorize/consent` (the consent
 * form). src/oauth/authorize.ts decides every step (sign in, consent, back to the client with a code or an
 * error); this file renders the pages and redirects. Errors before the client and redirect URI are trusted are
 * shown on a page, never redirected.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  type AuthorizationStep,
  redirectWith,
  type SignedInUser,
  type StoredRequest,
} from "../../../oauth/authorize.js";
import type { Client } from "../../../oauth/clients.js";
import { consentPage } from "../../../ui/pages/consent.js";
import type { HttpServices } from "../../services.js";
import { formActionSource, formField, type Web, type WebAuth } from "../../web/web-context.js";
import { errorPage, isForm, signedInUser } from "./shared.js";

export function authorizeRoutes(ctx: Pick<HttpServices, "config" | "oauth">, web: Web) {
  const { oauth } = ctx;
  const issuer = ctx.config.issuer;

  /** Answers the authorization endpoint's errors: shown on a page, or sent back to the client. */
  function answerError(error: unknown, reply: FastifyReply) {
    if (error instanceof AuthorizationPageError) return errorPage(web, reply, error.message);
    if (error instanceof AuthorizationRedirectError) {
      return reply.redirect(
        redirectWith(
          error.redirectUri,
          { error: error.error, error_description: error.description, state: error.state },
          issuer,
        ),
        303,
      );
    }
    throw error;
  }

  /** Takes the browser to the step the domain decided. */
  function take(
    step: AuthorizationStep,
    stored: StoredRequest,
    client: Client,
    auth: WebAuth | undefined,
    reply: FastifyReply,
  ) {
    if (step.kind === "redirect") return reply.redirect(step.to, 303);
    if (step.kind === "login") {
      const query = new URLSearchParams({ return_to: `/authorize/continue?request=${stored.id}` });
      if (step.reauthenticate) query.set("prompt", "login");
      if (step.loginHint) query.set("login_hint", step.loginHint);
      return reply.redirect(`/login?${query.toString()}`, 303);
    }
    // Consent is asked only of a signed-in user.
    const { request } = stored;
    const source = formActionSource(request.redirectUri);
    return web.sendPage(
      reply,
      consentPage({
        user: auth!.user,
        csrfToken: auth!.csrfToken,
        requestId: stored.id,
        clientName: client.name,
        scopes: request.scopes,
        resources: request.resources,
      }),
      200,
      source ? [source] : [],
    );
  }

  /** The next step of a stored request for the browser's user. */
  async function proceed(
    stored: StoredRequest,
    client: Client,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const auth = await web.loadAuth(request, reply);
    const step = await oauth.authorization.step(stored, client, signedInUser(auth));
    return take(step, stored, client, auth, reply);
  }

  async function start(params: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply) {
    try {
      const { stored, client } = await oauth.authorization.start(params);
      return await proceed(stored, client, request, reply);
    } catch (error) {
      return answerError(error, reply);
    }
  }

  return async (app: FastifyInstance) => {
    app.get("/authorize", async (request, reply) =>
      start((request.query ?? {}) as Record<string, unknown>, request, reply),
    );
    app.post("/authorize", async (request, reply) => {
      if (!isForm(request)) {
        return errorPage(web, reply, "The authorization request must be a form post or a link.");
      }
      return start((request.body ?? {}) as Record<string, unknown>, request, reply);
    });

    app.get("/authorize/continue", async (request, reply) => {
      try {
        const { stored, client } = await oauth.authorization.resume(
          (request.query as Record<string, unknown>).request,
        );
        return await proceed(stored, client, request, reply);
      } catch (error) {
        return answerError(error, reply);
      }
    });

    app.post("/authorize/consent", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) {
        return errorPage(
          web,
          reply,
          "Your session has ended. Go back to the application and try again.",
          401,
        );
      }
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(web, reply, "This form expired or came from another site.", 403);
      }
      try {
        const { stored, client } = await oauth.authorization.resume(formField(request.body, "request"));
        const user = signedInUser(auth) as SignedInUser;
        const allow = formField(request.body, "decision") === "allow";
        const answer = await oauth.authorization.consent(stored, client, user, allow);
        // Not consented: the user denied, or must sign in again first.
        if (answer.kind !== "consented") return take(answer, stored, client, auth, reply);
        await web.auditUserAction(request, auth, "oauth.consent_granted", {
          client_id: client.id,
          scope: stored.request.scopes.join(" "),
        });
        return reply.redirect(await oauth.authorization.issueCode(stored, user), 303);
      } catch (error) {
        return answerError(error, reply);
      }
    });
  };
}
