/**
 * The OAuth 2.1 / OpenID Connect endpoints: authorization (with sign-in and consent), token, userinfo,
 * introspection, revocation, discovery. Rules live in src/oauth; this file translates HTTP.
 *
 * - `/authorize` (GET and POST, OpenID Connect Core §3.1.2.1): validates, stores the request, then sends the
 *   browser to sign in (`/login?return_to=/authorize/continue?request=…`), to the consent page, or back to
 *   the client with a code. Errors before the client and redirect URI are trusted are shown on a page.
 * - `/token`, `/introspect`, `/revoke` take `application/x-www-form-urlencoded` bodies only and authenticate
 *   the client (Basic header, or form fields; one method per request). A failed client authentication is
 *   401 `invalid_client` (with `WWW-Authenticate: Basic` when the Basic scheme was tried).
 * - `/userinfo` takes the access token in the Authorization header (or, for POST, the form body; never the
 *   query string) and answers the claims of the granted scopes; refusals follow RFC 6750.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { IP_POLICY } from "../../../accounts/throttle.js";
import { authenticateAdminToken } from "../../../api-tokens/index.js";
import { DpopProofError, type VerifiedDpopProof } from "../../../lib/dpop.js";
import { TokenError } from "../../../lib/errors.js";
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  PAR_TTL_SECONDS,
  REQUEST_URI_PREFIX,
  redirectWith,
  type SignedInUser,
  type StoredRequest,
} from "../../../oauth/authorize.js";
import { CLIENT_ASSERTION_TYPE, type Client, type ClientCredentials } from "../../../oauth/clients.js";
import { formatUserCode, normalizeUserCode } from "../../../oauth/device.js";
import { DPOP_SIGNING_ALGS } from "../../../oauth/dpop.js";
import { OAuthError } from "../../../oauth/errors.js";
import type { AccessTokenClaims } from "../../../oauth/issuer.js";
import { clientMetadata, metadataToInput } from "../../../oauth/registration.js";
import { parseScope } from "../../../oauth/scopes.js";
import type { AppContext } from "../../../server/context.js";
import { adminTokensRepository } from "../../../storage/index.js";
import { consentPage } from "../../../ui/pages/consent.js";
import { deviceCodePage, deviceConfirmPage } from "../../../ui/pages/device.js";
import { logoutConfirmPage } from "../../../ui/pages/logout.js";
import { messagePage } from "../../../ui/pages/message.js";
import { clearSessionCookie } from "../../web/cookies.js";
import { formActionSource, formField, type Web, type WebAuth } from "../../web/web-context.js";
import { discoveryRoutes } from "./discovery.js";

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

function signedInUser(auth: WebAuth | undefined): SignedInUser | undefined {
  return auth
    ? {
        userId: auth.user.id,
        sessionId: auth.session.id,
        authTime: auth.session.authTime,
        amr: auth.session.amr,
      }
    : undefined;
}

/** The form body of a back-channel endpoint; anything else is `invalid_request`. */
export function formBody(request: FastifyRequest): Record<string, unknown> {
  const type = request.headers["content-type"];
  if (typeof type !== "string" || !FORM_TYPE.test(type)) {
    throw new OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded.");
  }
  const body = request.body;
  return body && typeof body === "object" ? (body as Record<string, unknown>) : {};
}

function decodeBasicPart(text: string): string {
  // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Base64.
  return decodeURIComponent(text.replace(/\+/g, " "));
}

/** The client credentials the request carries; throws when it carries none or more than one kind. */
export function clientCredentials(request: FastifyRequest, body: Record<string, unknown>): ClientCredentials {
  const header = request.headers.authorization;
  const bodyId = body.client_id;
  const bodySecret = body.client_secret;
  if (bodyId !== undefined && typeof bodyId !== "string") {
    throw new OAuthError("invalid_request", "client_id must be given once.");
  }
  if (bodySecret !== undefined && typeof bodySecret !== "string") {
    throw new OAuthError("invalid_request", "client_secret must be given once.");
  }
  const assertionType = body.client_assertion_type;
  const assertion = body.client_assertion;
  if (assertionType !== undefined || assertion !== undefined) {
    // RFC 7523 §2.2: private_key_jwt, and no other method alongside it.
    if ((typeof header === "string" && /^basic /i.test(header)) || bodySecret !== undefined) {
      throw new OAuthError("invalid_request", "Use one client authentication method, not several.");
    }
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError("invalid_request", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
    }
    if (typeof assertion !== "string" || assertion.length === 0 || assertion.length > 8192) {
      throw new OAuthError("invalid_request", "client_assertion must be given once.");
    }
    return { method: "private_key_jwt", clientId: bodyId, assertion };
  }
  if (typeof header === "string" && /^basic /i.test(header)) {
    if (bodySecret !== undefined) {
      throw new OAuthError("invalid_request", "Use one client authentication method, not several.");
    }
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    let clientId: string;
    let secret: string;
    try {
      clientId = decodeBasicPart(colon < 0 ? decoded : decoded.slice(0, colon));
      secret = colon < 0 ? "" : decodeBasicPart(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError("invalid_client", "Client authentication failed.");
    }
    if (bodyId !== undefined && bodyId !== clientId) {
      throw new OAuthError("invalid_request", "client_id in the body differs from the authenticated client.");
    }
    return { method: "client_secret_basic", clientId, secret };
  }
  if (bodySecret !== undefined) {
    return { method: "client_secret_post", clientId: bodyId ?? "", secret: bodySecret };
  }
  if (bodyId !== undefined) return { method: "none", clientId: bodyId };
  throw new OAuthError("invalid_client", "Client authentication is required.");
}

export function oauthRoutes(ctx: AppContext, web: Web) {
  const { oauth } = ctx;
  const issuer = ctx.config.issuer;

  async function authenticate(
    request: FastifyRequest,
    reply: FastifyReply,
    body: Record<string, unknown>,
    options: { allowPublic: boolean },
  ): Promise<Client> {
    let credentials: ClientCredentials | undefined;
    try {
      if (
        typeof request.headers.authorization === "string" &&
        /^basic /i.test(request.headers.authorization)
      ) {
        credentials = { method: "client_secret_basic", clientId: "", secret: "" };
      }
      credentials = clientCredentials(request, body);
      if (credentials.method === "none" && !options.allowPublic) {
        throw new OAuthError("invalid_client", "This endpoint needs an authenticated (confidential) client.");
      }
      return await oauth.clients.authenticate(credentials);
    } catch (error) {
      if (error instanceof OAuthError && error.code === "invalid_client") {
        // RFC 6749 §5.2: 401 with the scheme the client tried.
        if (credentials?.method === "client_secret_basic")
          reply.header("www-authenticate", 'Basic realm="tessera"');
      }
      throw error;
    }
  }

  /** The request's DPoP proof for `path`, checked and recorded (RFC 9449 §4.3); a bad one is an OAuth error. */
  async function dpopProof(request: FastifyRequest, path: string, accessToken?: string) {
    try {
      return await oauth.dpop.check(request.headers.dpop, {
        method: request.method,
        path,
        ...(accessToken === undefined ? {} : { accessToken }),
      });
    } catch (error) {
      if (error instanceof DpopProofError) throw new OAuthError("invalid_dpop_proof", error.message);
      throw error;
    }
  }

  function errorPage(reply: FastifyReply, message: string, status = 400) {
    return web.sendPage(
      reply,
      messagePage({ title: "This sign-in request cannot continue", message, status }),
      status,
    );
  }

  function answerError(error: unknown, reply: FastifyReply) {
    if (error instanceof AuthorizationPageError) return errorPage(reply, error.message);
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

  function redirectError(stored: StoredRequest, error: string, description: string, reply: FastifyReply) {
    return reply.redirect(
      redirectWith(
        stored.request.redirectUri,
        { error, error_description: description, state: stored.request.state },
        issuer,
      ),
      303,
    );
  }

  async function proceed(
    stored: StoredRequest,
    client: Client,
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const auth = await web.loadAuth(request, reply);
    const user = signedInUser(auth);
    const step = await oauth.authorization.next(stored, client, user);
    const { request: r } = stored;
    if (step === "login") {
      if (r.prompt.includes("none")) {
        await oauth.authorization.discard(stored.id);
        return redirectError(stored, "login_required", "The user must sign in.", reply);
      }
      const query = new URLSearchParams({ return_to: `/authorize/continue?request=${stored.id}` });
      // prompt=login and unmet acr_values sign in again once: remember over which session it was asked.
      if ((r.prompt.includes("login") || r.acrValues !== undefined) && r.loginRequestedOver === undefined) {
        await oauth.authorization.markLoginRequested(stored, auth?.session.id ?? null);
      }
      if (auth) query.set("prompt", "login");
      if (r.loginHint) query.set("login_hint", r.loginHint);
      return reply.redirect(`/login?${query.toString()}`, 303);
    }
    if (step === "consent") {
      if (r.prompt.includes("none")) {
        await oauth.authorization.discard(stored.id);
        return redirectError(stored, "consent_required", "The user must consent.", reply);
      }
      const source = formActionSource(r.redirectUri);
      return web.sendPage(
        reply,
        consentPage({
          user: auth!.user,
          csrfToken: auth!.csrfToken,
          requestId: stored.id,
          clientName: client.name,
          scopes: r.scopes,
          resources: r.resources,
        }),
        200,
        source ? [source] : [],
      );
    }
    return reply.redirect(await oauth.authorization.issueCode(stored, user!), 303);
  }

  async function start(params: Record<string, unknown>, request: FastifyRequest, reply: FastifyReply) {
    if (params.request_uri !== undefined && params.request !== undefined) {
      return errorPage(reply, "The request carries both request and request_uri.");
    }
    if (params.request_uri !== undefined) {
      // RFC 9126 §4: a pushed request, named by its request_uri; only client_id accompanies it.
      const clientId = typeof params.client_id === "string" ? params.client_id : undefined;
      const client = clientId === undefined ? undefined : await oauth.clients.get(clientId);
      if (!client) return errorPage(reply, "The application that sent you here is not registered.");
      const stored = await oauth.authorization.loadPushed(params.request_uri, client.id);
      if (!stored) {
        return errorPage(
          reply,
          "This sign-in request has expired or is unknown. Go back to the application and try again.",
        );
      }
      try {
        return await proceed(stored, client, request, reply);
      } catch (error) {
        return answerError(error, reply);
      }
    }
    try {
      const { client, request: validated } = await oauth.authorization.validate(params);
      const stored = await oauth.authorization.save(validated);
      return await proceed(stored, client, request, reply);
    } catch (error) {
      return answerError(error, reply);
    }
  }

  return async (app: FastifyInstance) => {
    await app.register(discoveryRoutes(ctx));

    app.get("/authorize", async (request, reply) =>
      start((request.query ?? {}) as Record<string, unknown>, request, reply),
    );
    app.post("/authorize", async (request, reply) => {
      const type = request.headers["content-type"];
      if (typeof type !== "string" || !FORM_TYPE.test(type)) {
        return errorPage(reply, "The authorization request must be a form post or a link.");
      }
      return start((request.body ?? {}) as Record<string, unknown>, request, reply);
    });

    /** The stored request an id names and its client, or an error page already sent (undefined). */
    async function storedRequest(id: unknown, reply: FastifyReply) {
      const stored = await oauth.authorization.load(id);
      if (!stored) {
        await errorPage(reply, "This sign-in request has expired. Go back to the application and try again.");
        return undefined;
      }
      const client = await oauth.clients.get(stored.request.clientId);
      if (!client) {
        await errorPage(reply, "The application that sent you here is no longer registered.");
        return undefined;
      }
      return { stored, client };
    }

    app.get("/authorize/continue", async (request, reply) => {
      const found = await storedRequest((request.query as Record<string, unknown>).request, reply);
      if (!found) return reply;
      const { stored, client } = found;
      try {
        return await proceed(stored, client, request, reply);
      } catch (error) {
        return answerError(error, reply);
      }
    });

    app.post("/authorize/consent", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth)
        return errorPage(reply, "Your session has ended. Go back to the application and try again.", 401);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(reply, "This form expired or came from another site.", 403);
      }
      const found = await storedRequest(formField(request.body, "request"), reply);
      if (!found) return reply;
      const { stored, client } = found;
      const user = signedInUser(auth) as SignedInUser;
      if ((await oauth.authorization.next(stored, client, user)) === "login") {
        return proceed(stored, client, request, reply);
      }
      if (formField(request.body, "decision") !== "allow") {
        await oauth.authorization.discard(stored.id);
        return redirectError(stored, "access_denied", "The user denied the request.", reply);
      }
      await oauth.authorization.grantConsent(
        user.userId,
        client.id,
        stored.request.scopes,
        stored.request.resources,
      );
      await web.auditUserAction(request, auth, "oauth.consent_granted", {
        client_id: client.id,
        scope: stored.request.scopes.join(" "),
      });
      try {
        return reply.redirect(await oauth.authorization.issueCode(stored, user), 303);
      } catch (error) {
        return answerError(error, reply);
      }
    });

    // RFC 7591 / 7592: dynamic client registration and management.
    function bearer(request: FastifyRequest): string | undefined {
      const header = request.headers.authorization;
      const match = typeof header === "string" ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
      return match?.[1];
    }
    function refuseBearer(reply: FastifyReply, withError: boolean) {
      return reply
        .code(401)
        .header(
          "www-authenticate",
          withError ? 'Bearer realm="tessera", error="invalid_token"' : 'Bearer realm="tessera"',
        )
        .send({
          error: withError ? "invalid_token" : "unauthorized",
          error_description: "A valid initial access token is required.",
        });
    }

    app.post("/register", async (request, reply) => {
      const token = bearer(request);
      if (!token) return refuseBearer(reply, false);
      const allowed =
        (await oauth.initialTokens.consume(token)) ||
        (await authenticateAdminToken(
          {
            repository: adminTokensRepository(ctx.storage.db),
            clock: ctx.clock,
            bootstrapToken: ctx.config.adminToken,
            lastUsed: ctx.adminTokenLastUsed,
          },
          token,
        )) !== undefined;
      if (!allowed) return refuseBearer(reply, true);
      const input = metadataToInput(request.body as Record<string, unknown>);
      const { client, secret, registrationToken } = await oauth.clients.create(input, { registration: true });
      reply.code(201).header("cache-control", "no-store");
      return {
        ...clientMetadata(client, issuer),
        ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        registration_access_token: registrationToken,
      };
    });

    async function registered(request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) {
      const token = bearer(request);
      const client = token ? await oauth.clients.byRegistrationToken(request.params.id, token) : undefined;
      if (!client) {
        await refuseBearer(reply, token !== undefined);
        return undefined;
      }
      reply.header("cache-control", "no-store");
      return client;
    }

    app.get<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const client = await registered(request, reply);
      return client ? clientMetadata(client, issuer) : reply;
    });

    app.put<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const client = await registered(request, reply);
      if (!client) return reply;
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (body.client_id !== client.id) {
        throw new OAuthError("invalid_client_metadata", "client_id in the body must be the client's id.");
      }
      const updated = await oauth.clients.replace(client.id, metadataToInput(body));
      return clientMetadata(updated, issuer);
    });

    app.delete<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const client = await registered(request, reply);
      if (!client) return reply;
      await oauth.clients.delete(client.id);
      return reply.code(204).send();
    });

    // RFC 8628: the device authorization endpoint and the user's pages.
    app.post("/device_authorization", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticate(request, reply, body, { allowPublic: true });
      const answer = await oauth.device.start(client, body);
      reply.header("cache-control", "no-store");
      return answer;
    });

    const DEVICE_THROTTLE = (ip: string | null) =>
      ip ? [{ scope: "device_code", id: ip, policy: IP_POLICY }] : [];

    app.get("/device", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const userCode = (request.query as Record<string, unknown>).user_code;
      const shown = typeof userCode === "string" ? userCode.slice(0, 16) : undefined;
      if (!auth) {
        const target = shown ? `/device?user_code=${encodeURIComponent(shown)}` : "/device";
        return reply.redirect(`/login?return_to=${encodeURIComponent(target)}`, 303);
      }
      return web.sendPage(
        reply,
        deviceCodePage({ user: auth.user, csrfToken: auth.csrfToken, ...(shown ? { userCode: shown } : {}) }),
      );
    });

    app.post("/device", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Fdevice", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(reply, "This form expired or came from another site.", 403);
      }
      const typed = (formField(request.body, "user_code") ?? "").slice(0, 16);
      const keys = DEVICE_THROTTLE(web.clientIp(request));
      const page = (error: string, status: number) =>
        web.sendPage(
          reply,
          deviceCodePage({ user: auth.user, csrfToken: auth.csrfToken, userCode: typed, error }),
          status,
        );
      const decision = await ctx.accounts.throttle.check(keys);
      if (!decision.allowed) {
        reply.header("retry-after", String(Math.ceil(decision.retryAfterMs / 1000)));
        return page("Too many wrong codes. Wait a moment and try again.", 429);
      }
      const pending = await oauth.device.findPending(typed);
      const client = pending ? await oauth.clients.get(pending.client_id) : undefined;
      if (!pending || !client) {
        await ctx.accounts.throttle.recordFailure(keys);
        return page("That code is not valid or has expired. Check the code on your device.", 400);
      }
      return web.sendPage(
        reply,
        deviceConfirmPage({
          user: auth.user,
          csrfToken: auth.csrfToken,
          userCode: formatUserCode(normalizeUserCode(typed)),
          clientName: client.name,
          scopes: parseScope(pending.scope),
        }),
      );
    });

    app.post("/device/confirm", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Fdevice", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(reply, "This form expired or came from another site.", 403);
      }
      const userCode = (formField(request.body, "user_code") ?? "").slice(0, 16);
      const approve = formField(request.body, "decision") === "allow";
      // The same throttle as the code form: the confirmation must not be a way around it.
      const keys = DEVICE_THROTTLE(web.clientIp(request));
      if (!(await ctx.accounts.throttle.check(keys)).allowed) {
        return errorPage(reply, "Too many wrong codes. Wait a moment and try again.", 429);
      }
      if (!(await oauth.device.findPending(userCode))) {
        await ctx.accounts.throttle.recordFailure(keys);
        return errorPage(reply, "That code is no longer waiting for an answer. Start again on your device.");
      }
      const done = await oauth.device.decide(userCode, signedInUser(auth) as SignedInUser, approve);
      if (!done)
        return errorPage(reply, "That code is no longer waiting for an answer. Start again on your device.");
      return web.sendPage(
        reply,
        messagePage({
          title: approve ? "Device connected" : "Request denied",
          message: approve
            ? "You can go back to your device: it is signed in."
            : "The device was not given access to your account.",
          user: auth.user,
          csrfToken: auth.csrfToken,
        }),
      );
    });

    // RFC 9126: pushed authorization requests.
    app.post("/par", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticate(request, reply, body, { allowPublic: true });
      if (body.request_uri !== undefined) {
        throw new OAuthError("invalid_request", "request_uri cannot be pushed.");
      }
      const { client_secret: _secret, ...params } = body;
      // RFC 9449 §10.1: a proof sent to PAR binds the code to its key, like dpop_jkt; both must agree.
      const proof = await dpopProof(request, "/par");
      if (proof !== undefined) {
        if (params.dpop_jkt !== undefined && params.dpop_jkt !== proof.jkt) {
          throw new OAuthError("invalid_dpop_proof", "dpop_jkt does not match the key of the DPoP proof.");
        }
        params.dpop_jkt = proof.jkt;
      }
      try {
        const { request: validated } = await oauth.authorization.validate(
          { ...params, client_id: client.id },
          { pushed: true },
        );
        const stored = await oauth.authorization.save(validated);
        reply.code(201).header("cache-control", "no-store");
        return { request_uri: `${REQUEST_URI_PREFIX}${stored.id}`, expires_in: PAR_TTL_SECONDS };
      } catch (error) {
        if (error instanceof AuthorizationPageError) throw new OAuthError("invalid_request", error.message);
        if (error instanceof AuthorizationRedirectError) {
          return reply.code(400).send({ error: error.error, error_description: error.description });
        }
        throw error;
      }
    });

    app.post("/token", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticate(request, reply, body, { allowPublic: true });
      const proof = await dpopProof(request, "/token");
      const answer = await oauth.tokens.grant(
        client,
        body,
        proof === undefined ? {} : { dpopJkt: proof.jkt },
      );
      reply.header("cache-control", "no-store").header("pragma", "no-cache");
      return answer;
    });

    /** The authenticated client and the `token` / `token_type_hint` of an introspection or revocation. */
    async function tokenRequest(request: FastifyRequest, reply: FastifyReply, allowPublic: boolean) {
      const body = formBody(request);
      const client = await authenticate(request, reply, body, { allowPublic });
      const token = body.token;
      if (typeof token !== "string" || token === "") {
        throw new OAuthError("invalid_request", "The token parameter is missing or given more than once.");
      }
      const hint = typeof body.token_type_hint === "string" ? body.token_type_hint : undefined;
      return { client, token, hint };
    }

    app.post("/introspect", async (request, reply) => {
      const { client, token, hint } = await tokenRequest(request, reply, false);
      reply.header("cache-control", "no-store");
      return oauth.introspection.introspect(client, token, hint);
    });

    /**
     * The revocation feed for resource servers that cache verified tokens (the SDK's verifier polls it):
     * confidential clients only, as for introspection. `since` is the cursor of the previous answer. GET for
     * `client_secret_basic`; POST with a form body also serves `client_secret_post` and `private_key_jwt`.
     */
    async function revocations(
      request: FastifyRequest,
      reply: FastifyReply,
      body: Record<string, unknown>,
      since: unknown,
    ) {
      await authenticate(request, reply, body, { allowPublic: false });
      const { events, cursor } = await ctx.revocations.read(typeof since === "string" ? since : undefined);
      reply.header("cache-control", "no-store");
      return { events, cursor, interval_ms: ctx.revocations.intervalMs };
    }
    app.get<{ Querystring: { since?: string } }>("/revocations", (request, reply) =>
      revocations(request, reply, {}, request.query.since),
    );
    app.post("/revocations", (request, reply) => {
      const body = formBody(request);
      return revocations(request, reply, body, body.since);
    });

    app.post("/revoke", async (request, reply) => {
      const { client, token, hint } = await tokenRequest(request, reply, true);
      await oauth.introspection.revoke(client, token, hint);
      return reply.code(200).send();
    });

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
        const url = new URL(target.uri);
        if (state !== undefined) url.searchParams.set("state", state);
        return reply.redirect(url.toString(), 303);
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

    // OpenID Connect RP-Initiated Logout 1.0.
    const endSessionEndpoint = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = ((request.method === "POST" ? request.body : request.query) ?? {}) as Record<
        string,
        unknown
      >;
      const text = (name: string) => {
        const value = params[name];
        if (value === undefined || value === "") return undefined;
        return typeof value === "string" && value.length <= 4096 ? value : null;
      };
      const [hintText, clientIdParam, uri, state] = [
        text("id_token_hint"),
        text("client_id"),
        text("post_logout_redirect_uri"),
        text("state"),
      ];
      if (hintText === null || clientIdParam === null || uri === null || state === null) {
        return errorPage(reply, "The sign-out request repeats a parameter or is too long.");
      }
      const hint = hintText === undefined ? undefined : oauth.logout.readIdTokenHint(hintText);
      if (hintText !== undefined && !hint)
        return errorPage(reply, "The id_token_hint of this sign-out request is not valid.");
      if (hint && clientIdParam !== undefined && hint.clientId !== clientIdParam) {
        return errorPage(reply, "client_id does not match the id_token_hint.");
      }
      const clientId = hint?.clientId ?? clientIdParam;
      const target = await oauth.logout.postLogoutTarget(clientId, uri);
      if (target && "problem" in target) return errorPage(reply, target.problem);
      const auth = await web.loadAuth(request, reply);
      if (!auth) return signedOut(reply, target, state);
      // No confirmation only for an ID token of this very sign-in (its sid is this session).
      if (hint && hint.sub === auth.user.id && hint.sid === auth.session.id) {
        await endSession(request, reply, auth);
        return signedOut(reply, target, state);
      }
      const client = clientId === undefined ? undefined : await oauth.clients.get(clientId);
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
    app.get("/end-session", endSessionEndpoint);
    app.post("/end-session", endSessionEndpoint);

    app.post("/end-session/confirm", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const clientId = formField(request.body, "client_id");
      const uri = formField(request.body, "post_logout_redirect_uri");
      const state = formField(request.body, "state");
      const target = await oauth.logout.postLogoutTarget(clientId, uri);
      if (target && "problem" in target) return errorPage(reply, target.problem);
      if (!auth) return signedOut(reply, target, state);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(reply, "This form expired or came from another site.", 403);
      }
      await endSession(request, reply, auth);
      return signedOut(reply, target, state);
    });

    /**
     * Userinfo (OpenID Connect Core §5.3) with bearer tokens (RFC 6750) and DPoP-bound tokens (RFC 9449 §7):
     * `Authorization: DPoP <token>` with a proof for this request whose key is the token's `cnf.jkt`. A bound
     * token presented as a bearer token is refused; so is an unbound one under the DPoP scheme.
     */
    const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers.authorization;
      let token: string | undefined;
      let scheme: "Bearer" | "DPoP" = "Bearer";
      if (typeof header === "string") {
        const match = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
        if (match) {
          scheme = (match[1] as string).toLowerCase() === "dpop" ? "DPoP" : "Bearer";
          token = match[2];
        }
      }
      const body = request.body as Record<string, unknown> | undefined;
      if (request.method === "POST" && body && typeof body.access_token === "string") {
        if (token !== undefined) throw new OAuthError("invalid_request", "Send the access token once.");
        token = body.access_token;
      }
      const refuse = (status: number, error: string, description: string, challengeScheme = scheme) => {
        const parameters = [
          ...(challengeScheme === "Bearer" ? ['realm="tessera"'] : [`algs="${DPOP_SIGNING_ALGS.join(" ")}"`]),
          ...(error === "unauthorized" ? [] : [`error="${error}"`, `error_description="${description}"`]),
        ];
        return reply
          .code(status)
          .header("www-authenticate", `${challengeScheme} ${parameters.join(", ")}`)
          .send({ error, error_description: description });
      };
      if (!token) return refuse(401, "unauthorized", "An access token is required.");
      let proof: VerifiedDpopProof | undefined;
      if (scheme === "DPoP") {
        try {
          proof = await oauth.dpop.check(request.headers.dpop, {
            method: request.method,
            path: "/userinfo",
            accessToken: token,
          });
        } catch (error) {
          if (error instanceof DpopProofError) return refuse(401, "invalid_dpop_proof", error.message);
          throw error;
        }
        if (proof === undefined) return refuse(401, "invalid_dpop_proof", "A DPoP proof is required.");
      }
      let claims: AccessTokenClaims;
      try {
        ({ claims } = await oauth.issuer.checkAccessToken(token));
      } catch (error) {
        if (error instanceof TokenError) return refuse(401, "invalid_token", "The token is invalid.");
        throw error;
      }
      if (claims.cnf?.jkt !== undefined && proof === undefined) {
        return refuse(
          401,
          "invalid_token",
          "The token is DPoP-bound: present it with the DPoP scheme and a proof.",
          "DPoP",
        );
      }
      if (proof !== undefined && claims.cnf?.jkt !== proof.jkt) {
        return refuse(401, "invalid_token", "The token is not bound to the key of this DPoP proof.");
      }
      if (!claims.scope.split(" ").includes("openid") || claims.auth_time === undefined) {
        return reply
          .code(403)
          .header(
            "www-authenticate",
            `${scheme} ${scheme === "Bearer" ? 'realm="tessera", ' : ""}error="insufficient_scope", scope="openid"`,
          )
          .send({
            error: "insufficient_scope",
            error_description: "The token was not granted the openid scope.",
          });
      }
      const answer = await oauth.issuer.userClaims(claims.sub, claims.scope.split(" "));
      if (!answer) return refuse(401, "invalid_token", "The token is invalid.");
      reply.header("cache-control", "no-store");
      return answer;
    };
    app.get("/userinfo", userinfo);
    app.post("/userinfo", userinfo);
  };
}
