/**
 * Sign-in with other identity providers: the browser's side of src/federation.
 *
 * - `POST /federation/:id/start` (CSRF-checked; from the sign-in page, or with `intent=link` from the account
 *   page by a recently signed-in user, or with `intent=invitation` and the link's token from the invitation page)
 *   starts a round trip and answers 303 to the upstream. The round trip is
 *   bound to this browser by an HttpOnly, SameSite=Lax cookie (`__Host-tessera_fed`, 10 minutes) whose SHA-256
 *   the server keeps with `state`; the pending authorization request (`return_to`) rides along server-side.
 * - `POST /federation/discover`: home-realm discovery — a work e-mail whose domain a provider lists goes to it.
 * - `GET /federation/:id/callback`: the upstream's answer. A known upstream account starts Tessera's sign-in
 *   (web/mfa-flow.ts: a session, or the second factor when still due); one linked to nobody waits in a pending
 *   link (cookie `__Host-tessera_fedlink`) at `/federation/link`, where the person signs in to their existing
 *   account to link it (`/federation/link/complete`, confirmed with a POST) or creates one where allowed.
 *   A round trip from an invitation ends with the invited account created, linked and signed in.
 *   Every refusal is a page with a generic message (the reason goes to the log and the audit trail).
 * - `GET /account/linked`: the user's linked providers; `POST /account/linked/:id/remove` unlinks (refused for
 *   the last way to sign in).
 * - `GET /federation/:id/jwks.json`: the public key of a `private_key_jwt` provider, for upstreams that fetch it.
 * - Forms whose answer redirects to an upstream or to an OAuth client carry those origins in the page's
 *   `form-action` CSP (Chrome applies it to the redirects that follow a form submission).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isWellFormedOpaqueToken } from "../../crypto/index.js";
import {
  BROWSER_BINDING_FORMAT,
  type Federation,
  FederationError,
  FederationSignInError,
  PENDING_LINK_FORMAT,
} from "../../federation/index.js";
import { clearCookie, serializeCookie } from "../../lib/cookies.js";
import { linkChoicePage, linkConfirmPage, linkedProvidersPage } from "../../ui/pages/federation.js";
import { messagePage } from "../../ui/pages/message.js";
import type { HttpServices } from "../services.js";
import { appendSetCookie, readCookie } from "../web/cookies.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formActionSource, formField, safeReturnTo, type Web, type WebAuth } from "../web/web-context.js";

const ROUND_TRIP_SECONDS = 600;

/** What the sign-in page shows of federation: buttons, home-realm discovery, and its CSP form-action sources. */
export async function federationSignInOptions(federation: Federation): Promise<{
  model: { providers: { id: string; displayName: string }[]; homeRealm: boolean };
  formActions: string[];
}> {
  const buttons = await federation.buttons();
  const origins = new Set<string>();
  for (const b of buttons) {
    const source = b.authorizationOrigin ? formActionSource(b.authorizationOrigin) : undefined;
    if (source) origins.add(source);
  }
  return {
    model: {
      providers: buttons.map((b) => ({ id: b.id, displayName: b.displayName })),
      homeRealm: buttons.length > 0 && (await federation.hasHomeRealmDiscovery()),
    },
    formActions: [...origins],
  };
}

const FLASHES: Record<string, { kind: "success"; message: string }> = {
  linked: { kind: "success", message: "The provider is linked to your account." },
  unlinked: { kind: "success", message: "The provider is removed from your account." },
};

export function federationRoutes(ctx: Pick<HttpServices, "federation">, web: Web, flow: MfaFlow) {
  const { federation } = ctx;
  const secure = web.names.secure;
  const names = {
    binding: secure ? "__Host-tessera_fed" : "tessera_fed",
    pending: secure ? "__Host-tessera_fedlink" : "tessera_fedlink",
  };
  const cookieOptions = { secure, sameSite: "Lax" as const };

  const client = web.client;

  /** This browser's binding value, made (and set) when missing. */
  function binding(request: FastifyRequest, reply: FastifyReply): string {
    const existing = readCookie(request, names.binding);
    if (isWellFormedOpaqueToken(existing, BROWSER_BINDING_FORMAT)) return existing;
    const value = federation.signIn.newBrowserBinding();
    appendSetCookie(
      reply,
      names.binding,
      serializeCookie(names.binding, value, { ...cookieOptions, maxAge: ROUND_TRIP_SECONDS }),
    );
    return value;
  }

  const setPending = (reply: FastifyReply, token: string) =>
    appendSetCookie(
      reply,
      names.pending,
      serializeCookie(names.pending, token, { ...cookieOptions, maxAge: ROUND_TRIP_SECONDS }),
    );
  const clearPending = (reply: FastifyReply) =>
    appendSetCookie(reply, names.pending, clearCookie(names.pending, cookieOptions));
  const pendingToken = (request: FastifyRequest) => {
    const value = readCookie(request, names.pending);
    return isWellFormedOpaqueToken(value, PENDING_LINK_FORMAT) ? value : undefined;
  };

  function failedPage(reply: FastifyReply, error: FederationSignInError | FederationError, auth?: WebAuth) {
    const status = error.status;
    const invitation = error instanceof FederationSignInError && error.reason.startsWith("invitation_");
    const title = invitation ? "Invitation not accepted" : "Sign-in failed";
    const common = { title, message: error.message, status };
    return web.sendPage(
      reply,
      messagePage(
        auth
          ? {
              ...common,
              link: { href: "/account", text: "Back to your account" },
              user: auth.user,
              csrfToken: auth.csrfToken,
            }
          : { ...common, link: { href: "/login", text: "Sign in" } },
      ),
      status,
    );
  }

  function refusedForm(reply: FastifyReply) {
    return web.sendPage(
      reply,
      messagePage({
        title: "Request refused",
        message: "This form expired or came from another site. Go back, reload the page and try again.",
        status: 403,
        link: { href: "/login", text: "Sign in" },
      }),
      403,
    );
  }

  /** Runs a federation step; its refusals become the "Sign-in failed" page (logged with their reason). */
  async function guarded(
    request: FastifyRequest,
    reply: FastifyReply,
    step: () => Promise<FastifyReply>,
    auth?: WebAuth,
  ): Promise<FastifyReply> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof FederationSignInError || error instanceof FederationError) {
        request.log.info({ reason: error.detail ?? error.code }, "federated sign-in refused");
        return failedPage(reply, error, auth);
      }
      throw error;
    }
  }

  /** Hands a signed-in upstream account to Tessera's sign-in state machine; answers the redirect. */
  async function startTesseraSignIn(
    request: FastifyRequest,
    reply: FastifyReply,
    outcome: {
      userId: string;
      providerId: string;
      amr: string[];
      satisfiesMfa: boolean;
      returnTo: string | null;
    },
  ) {
    const next = await flow.afterFederation(request, reply, {
      userId: outcome.userId,
      amr: outcome.amr,
      satisfiesMfa: outcome.satisfiesMfa,
      returnTo: safeReturnTo(outcome.returnTo) ?? undefined,
    });
    if (next.sessionId) await federation.signIn.recordSession(next.sessionId, outcome.providerId);
    return reply.redirect(next.redirect, 303);
  }

  async function sendLinkedPage(
    reply: FastifyReply,
    auth: WebAuth,
    options: { status?: number; error?: string; flash?: string },
  ) {
    const [linked, buttons] = await Promise.all([
      federation.linking.list(auth.user.id),
      federation.buttons(),
    ]);
    const available = buttons.filter((b) => !linked.some((l) => l.providerId === b.id));
    const origins = available
      .map((b) => (b.authorizationOrigin ? formActionSource(b.authorizationOrigin) : undefined))
      .filter((o): o is string => o !== undefined);
    return web.sendPage(
      reply,
      linkedProvidersPage({
        csrfToken: auth.csrfToken,
        user: auth.user,
        linked,
        available: available.map((b) => ({ id: b.id, displayName: b.displayName })),
        flash: options.flash ? FLASHES[options.flash] : null,
        ...(options.error ? { error: options.error } : {}),
      }),
      options.status ?? 200,
      [...new Set(origins)],
    );
  }

  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string } }>("/federation/:id/start", async (request, reply) => {
      const body = request.body;
      const requested = formField(body, "intent");
      const intent = requested === "link" || requested === "invitation" ? requested : "signin";
      if (intent === "invitation") {
        // From the invitation page: anyone holding the link may accept it (the invitation authorises the
        // account); the token stays in this POST and, sealed, in the server-side round-trip state.
        if (!web.verifyAnonymousCsrf(request, formField(body, "csrf"))) return refusedForm(reply);
        return guarded(request, reply, async () => {
          const url = await federation.signIn.start({
            providerId: request.params.id,
            intent,
            invitation: (formField(body, "invitation") ?? "").slice(0, 256),
            returnTo: null,
            browserBinding: binding(request, reply),
          });
          return reply.redirect(url.href, 303);
        });
      }
      if (intent === "link") {
        const auth = await web.loadAuth(request, reply);
        if (!auth) return reply.redirect("/login?return_to=%2Faccount%2Flinked", 303);
        if (!web.csrf.verify(request, auth.csrfToken, formField(body, "csrf"))) return refusedForm(reply);
        // Adding a way to sign in is a sensitive change: a recent sign-in first.
        if (!(await flow.requireFresh(request, reply, auth, "/account/linked"))) return reply;
        return guarded(
          request,
          reply,
          async () => {
            const url = await federation.signIn.start({
              providerId: request.params.id,
              intent,
              userId: auth.user.id,
              returnTo: "/account/linked",
              browserBinding: binding(request, reply),
            });
            return reply.redirect(url.href, 303);
          },
          auth,
        );
      }
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf"))) return refusedForm(reply);
      return guarded(request, reply, async () => {
        const url = await federation.signIn.start({
          providerId: request.params.id,
          intent,
          returnTo: safeReturnTo(formField(body, "return_to")) ?? null,
          browserBinding: binding(request, reply),
        });
        return reply.redirect(url.href, 303);
      });
    });

    app.post("/federation/discover", async (request, reply) => {
      const body = request.body;
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf"))) return refusedForm(reply);
      const email = (formField(body, "email") ?? "").trim().slice(0, 320);
      const returnTo = safeReturnTo(formField(body, "return_to"));
      const provider = email ? await federation.providerForEmail(email) : undefined;
      if (!provider) {
        // No provider for this domain: the password form, with the address as the user name to start with.
        const query = new URLSearchParams({ login_hint: email });
        if (returnTo) query.set("return_to", returnTo);
        return reply.redirect(`/login?${query}`, 303);
      }
      return guarded(request, reply, async () => {
        const url = await federation.signIn.start({
          providerId: provider.id,
          intent: "signin",
          returnTo: returnTo ?? null,
          browserBinding: binding(request, reply),
          loginHint: email,
        });
        return reply.redirect(url.href, 303);
      });
    });

    app.get<{ Params: { id: string } }>("/federation/:id/callback", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "";
      return guarded(
        request,
        reply,
        async () => {
          const outcome = await federation.signIn.callback({
            providerId: request.params.id,
            query,
            browserBinding: readCookie(request, names.binding),
            currentUserId: auth?.user.id,
            client: client(request),
          });
          switch (outcome.kind) {
            case "signed-in":
              return startTesseraSignIn(request, reply, outcome);
            case "linked":
              return reply.redirect("/account/linked?done=linked", 303);
            case "needs-link":
              setPending(reply, outcome.token);
              return reply.redirect("/federation/link", 303);
          }
        },
        auth,
      );
    });

    app.get("/federation/link", async (request, reply) => {
      const view = await federation.signIn.pendingLink(pendingToken(request));
      if (!view) {
        clearPending(reply);
        return reply.redirect("/login", 303);
      }
      return web.sendPage(
        reply,
        linkChoicePage({
          csrfToken: web.anonymousCsrf(request, reply),
          providerName: view.providerName,
          name: view.name,
          email: view.email,
          canCreate: view.canCreate,
        }),
        200,
        await web.formActionsFor(view.returnTo ?? undefined),
      );
    });

    app.post("/federation/link/create", async (request, reply) => {
      if (!web.verifyAnonymousCsrf(request, formField(request.body, "csrf"))) return refusedForm(reply);
      return guarded(request, reply, async () => {
        const outcome = await federation.signIn.createFromPendingLink(pendingToken(request), client(request));
        clearPending(reply);
        return startTesseraSignIn(request, reply, outcome);
      });
    });

    app.get("/federation/link/complete", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Ffederation%2Flink%2Fcomplete", 303);
      const view = await federation.signIn.pendingLink(pendingToken(request));
      if (!view) {
        clearPending(reply);
        return failedPage(reply, new FederationSignInError("pending_link_gone"), auth);
      }
      // Proof of ownership: signed in to this account after the upstream sign-in began.
      if (auth.session.authTime < view.createdAt) {
        return reply.redirect("/login/step-up?return_to=%2Ffederation%2Flink%2Fcomplete", 303);
      }
      return web.sendPage(
        reply,
        linkConfirmPage({
          csrfToken: auth.csrfToken,
          user: auth.user,
          providerName: view.providerName,
          upstream: view.email ?? view.name,
        }),
        200,
        await web.formActionsFor(view.returnTo ?? undefined),
      );
    });

    app.post("/federation/link/complete", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Ffederation%2Flink%2Fcomplete", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refusedForm(reply);
      return guarded(
        request,
        reply,
        async () => {
          const result = await federation.signIn.completePendingLink(
            pendingToken(request),
            { userId: auth.user.id, authTime: auth.session.authTime },
            client(request),
          );
          if (result.kind === "needs-proof") {
            return reply.redirect("/login/step-up?return_to=%2Ffederation%2Flink%2Fcomplete", 303);
          }
          clearPending(reply);
          return reply.redirect(safeReturnTo(result.returnTo) ?? "/account/linked?done=linked", 303);
        },
        auth,
      );
    });

    app.get("/account/linked", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Faccount%2Flinked", 303);
      const done = (request.query as Record<string, unknown>).done;
      return sendLinkedPage(reply, auth, { ...(typeof done === "string" ? { flash: done } : {}) });
    });

    app.post<{ Params: { id: string } }>("/account/linked/:id/remove", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Faccount%2Flinked", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refusedForm(reply);
      try {
        await federation.linking.unlink({
          userId: auth.user.id,
          providerId: request.params.id,
          actor: `user:${auth.user.id}`,
          ...client(request),
        });
      } catch (error) {
        if (error instanceof FederationError) {
          return sendLinkedPage(reply, auth, { status: error.status, error: error.message });
        }
        throw error;
      }
      return reply.redirect("/account/linked?done=unlinked", 303);
    });

    app.get<{ Params: { id: string } }>("/federation/:id/jwks.json", async (request, reply) => {
      const provider = await federation.providers.get(request.params.id);
      if (!provider?.publicJwk) {
        return reply.code(404).send({ error: "not_found", error_description: "No such key set." });
      }
      return reply.header("cache-control", "public, max-age=300").send({ keys: [provider.publicJwk] });
    });

    app.get("/federation/signed-out", async (request, reply) =>
      web.sendPage(
        reply,
        messagePage({
          title: "You are signed out",
          message: "You are signed out here and at your sign-in provider.",
          link: { href: "/login", text: "Sign in again" },
          csrfToken: web.anonymousCsrf(request, reply),
        }),
      ),
    );
  };
}
