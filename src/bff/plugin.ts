/**
 * The backend-for-frontend as one encapsulated Fastify plugin: the browser holds a session cookie, never a
 * token. Routes (all under `/bff`):
 *
 * - `GET /bff/login?returnTo=/path` → Tessera's authorization endpoint (code + PKCE + state + nonce, PAR when
 *   advertised); `returnTo` must pass the allow-list (else 400).
 * - `GET /bff/callback` → finishes the flow, creates the session, sets the cookie, 303 to `returnTo`.
 * - `GET /bff/user` → the user's claims (never a token); 401 `login_required` without a session.
 * - `POST /bff/logout` → revokes the tokens at Tessera, ends the session, clears the cookie, answers
 *   `{ logoutUrl }` (Tessera's end-session endpoint) for the browser to visit.
 * - `POST /bff/backchannel-logout` → Tessera's logout token ends every session of that `sid` (or `sub`).
 * - `ALL /bff<prefix>/*` → the configured upstream, with the access token (see proxy.ts).
 *
 * Cookies (written by hand, `lib/cookies.ts`, so the BFF can be mounted in an app with a cookie plugin):
 * - the session cookie holds a random 256-bit id only: `HttpOnly; SameSite=Strict; Path=/`, `Secure` on https
 *   (where its name has the `__Host-` prefix, which binds it to the exact origin);
 * - the login cookie carries the pending authorization request (state, nonce, PKCE verifier, returnTo), sealed
 *   with the master key, for 10 minutes. `SameSite=Lax`: it must come back on the top-level redirect from
 *   Tessera to `/bff/callback`, which `Strict` would drop.
 *
 * Rules: every state-changing request passes the CSRF check (csrf.ts) except the back-channel logout, which
 * comes from Tessera's server and is authenticated by its signed logout token. The BFF's own answers are
 * `Cache-Control: no-store`. Refusals are JSON `{ error }` with stable codes: `csrf`, `login_required`,
 * `invalid_return_to`, `login_failed`, `invalid_request`, `bad_gateway`, `server_error`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { createMasterKey, type MasterKey } from "../crypto/index.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { clearCookie, readCookie, serializeCookie } from "../lib/cookies.js";
import { createDpopSigner } from "../lib/dpop.js";
import { createLogoutTokenVerifier, type LogoutTokenVerifier } from "./backchannel.js";
import type { BffConfig } from "./config.js";
import { isStateChanging, passesCsrfCheck } from "./csrf.js";
import { createOidcClient, isDeadGrant, type PendingLogin } from "./oidc.js";
import { proxyRoutes } from "./proxy.js";
import { checkReturnTo } from "./return-to.js";
import { type BffSession, createBffSessions, LoginRequiredError } from "./sessions.js";
import { openSessionStore } from "./stores/open-store.js";
import type { SessionStore } from "./stores/session-store.js";

export interface BffOptions {
  config: BffConfig;
  /** The session store; opened from `config.databaseUrl` (and closed with the plugin) when absent. */
  store?: SessionStore;
  /** The BFF's clock (session expiry, idle timeout, when to refresh). */
  clock?: Clock;
  /** The `fetch` used to talk to Tessera (discovery, token, revocation, JWKS). */
  fetch?: typeof fetch;
}

const LOGIN_COOKIE_TTL_S = 600;
const PURGE_INTERVAL_MS = 10 * 60_000;

function sealLogin(masterKey: MasterKey, pending: PendingLogin & { createdAt: number }): string {
  return masterKey.seal(Buffer.from(JSON.stringify(pending), "utf8"), "bff-login");
}

function openLogin(masterKey: MasterKey, value: string | undefined, now: number): PendingLogin | undefined {
  if (!value) return undefined;
  try {
    const pending = JSON.parse(masterKey.open(value, "bff-login").toString("utf8")) as PendingLogin & {
      createdAt: number;
    };
    if (now - pending.createdAt > LOGIN_COOKIE_TTL_S * 1000) return undefined;
    return pending;
  } catch {
    return undefined;
  }
}

const bffRoutes = async (fastify: FastifyInstance, options: BffOptions) => {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const masterKey = createMasterKey(config.masterKey);
  const store =
    options.store ??
    (await openSessionStore({
      databaseUrl: config.databaseUrl,
      idleTimeoutMs: config.sessionIdleTimeout * 1000,
      now: () => clock.now(),
    }));
  const client = createOidcClient(config, options.fetch ? { fetch: options.fetch } : {});
  const dpop = config.dpopKey ? createDpopSigner(config.dpopKey, () => clock.now()) : undefined;
  const sessions = createBffSessions({
    store,
    masterKey,
    clock,
    idleTimeoutMs: config.sessionIdleTimeout * 1000,
    lifetimeMs: config.sessionLifetime * 1000,
    refreshLeewayMs: config.refreshLeeway * 1000,
    refresh: (token) => client.refresh(token),
    isDeadGrant,
  });
  let logoutTokens: Promise<LogoutTokenVerifier> | undefined;
  const verifyLogoutToken = async (token: string) => {
    logoutTokens ??= client.configuration().then((c) =>
      createLogoutTokenVerifier({
        issuer: c.serverMetadata().issuer,
        clientId: config.clientId,
        jwksUri: String(c.serverMetadata().jwks_uri),
        now: () => clock.now(),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    );
    logoutTokens.catch(() => {
      logoutTokens = undefined;
    });
    return (await logoutTokens)(token);
  };

  const cookieFlags = { secure: config.secureCookies, sameSite: "Strict" as const };
  const loginCookie = `${config.cookieName}_login`;
  const loginFlags = { secure: config.secureCookies, sameSite: "Lax" as const };

  const purge = setInterval(() => {
    sessions.purgeExpired().catch((error: unknown) => fastify.log.warn({ err: error }, "bff: purge failed"));
  }, PURGE_INTERVAL_MS);
  purge.unref();
  fastify.addHook("onClose", async () => {
    clearInterval(purge);
    if (!options.store) await store.close();
  });

  fastify.addHook("onRequest", async (request, reply) => {
    reply.header("cache-control", "no-store");
    const path = (request.raw.url ?? "").split("?")[0];
    if (!isStateChanging(request.method) || path === "/bff/backchannel-logout") return;
    if (!passesCsrfCheck(request.headers, config.allowedOrigins)) {
      return reply.code(403).send({ error: "csrf" });
    }
  });

  fastify.setErrorHandler((error: { statusCode?: number }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, "bff: request failed");
    reply
      .code(status >= 500 ? (status === 500 ? 500 : 502) : status)
      .send({ error: status >= 500 ? (status === 500 ? "server_error" : "bad_gateway") : "invalid_request" });
  });

  const sessionOf = (request: FastifyRequest): Promise<BffSession | undefined> =>
    sessions.load(readCookie(request.headers.cookie, config.cookieName));

  const loginRequired = (reply: FastifyReply) =>
    reply
      .code(401)
      .header("set-cookie", clearCookie(config.cookieName, cookieFlags))
      .send({ error: "login_required" });

  fastify.get("/bff/login", async (request, reply) => {
    const returnTo = checkReturnTo((request.query as Record<string, unknown>).returnTo, {
      publicUrl: config.publicUrl,
      prefixes: config.returnToPrefixes,
    });
    if (returnTo === undefined) return reply.code(400).send({ error: "invalid_return_to" });
    const { url, pending } = await client.startLogin(returnTo);
    return reply
      .header(
        "set-cookie",
        serializeCookie(loginCookie, sealLogin(masterKey, { ...pending, createdAt: clock.now() }), {
          ...loginFlags,
          maxAge: LOGIN_COOKIE_TTL_S,
        }),
      )
      .redirect(url.href, 303);
  });

  fastify.get("/bff/callback", async (request, reply) => {
    const pending = openLogin(masterKey, readCookie(request.headers.cookie, loginCookie), clock.now());
    reply.header("set-cookie", clearCookie(loginCookie, loginFlags));
    if (!pending) return reply.code(400).send({ error: "login_failed" });
    let result: Awaited<ReturnType<typeof client.finishLogin>>;
    try {
      result = await client.finishLogin(new URL(request.raw.url ?? "/", config.publicUrl), pending);
    } catch (error) {
      request.log.warn({ err: error }, "bff: sign-in did not complete");
      return reply.code(400).send({ error: "login_failed" });
    }
    // A new sign-in replaces whatever session the browser had (no session fixation).
    const previous = readCookie(request.headers.cookie, config.cookieName);
    if (previous) await sessions.end(previous);
    const { id, session } = await sessions.create(result.tokens, result.claims);
    const maxAge = Math.max(1, Math.floor((session.expiresAt - clock.now()) / 1000));
    reply.header("set-cookie", [
      clearCookie(loginCookie, loginFlags),
      serializeCookie(config.cookieName, id, { ...cookieFlags, maxAge }),
    ]);
    return reply.redirect(pending.returnTo, 303);
  });

  fastify.get("/bff/user", async (request, reply) => {
    const session = await sessionOf(request);
    if (!session) return loginRequired(reply);
    return reply.send(session.claims);
  });

  fastify.post("/bff/logout", async (request, reply) => {
    const id = readCookie(request.headers.cookie, config.cookieName);
    const session = id ? await sessions.end(id) : undefined;
    if (session) {
      const revocations: Promise<void>[] = [client.revoke(session.accessToken, "access_token")];
      if (session.refreshToken) revocations.push(client.revoke(session.refreshToken, "refresh_token"));
      for (const outcome of await Promise.allSettled(revocations)) {
        if (outcome.status === "rejected")
          request.log.warn({ err: outcome.reason }, "bff: revocation failed");
      }
    }
    const logoutUrl = await client.endSessionUrl(session?.idToken ?? null);
    return reply.header("set-cookie", clearCookie(config.cookieName, cookieFlags)).send({ logoutUrl });
  });

  fastify.register(async (backchannel) => {
    backchannel.removeAllContentTypeParsers();
    backchannel.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 16_384 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    backchannel.post("/bff/backchannel-logout", async (request, reply) => {
      const token = (request.body as Record<string, string> | undefined)?.logout_token;
      if (typeof token !== "string" || token === "")
        return reply.code(400).send({ error: "invalid_request" });
      let target: Awaited<ReturnType<typeof verifyLogoutToken>>;
      try {
        target = await verifyLogoutToken(token);
      } catch (error) {
        request.log.warn({ err: error }, "bff: logout token refused");
        return reply.code(400).send({ error: "invalid_request" });
      }
      const ended = target.sid ? await sessions.endBySid(target.sid) : await sessions.endBySub(target.sub!);
      for (const session of ended) {
        if (!session.refreshToken) continue;
        client.revoke(session.refreshToken, "refresh_token").catch((error: unknown) => {
          request.log.warn({ err: error }, "bff: revocation after back-channel logout failed");
        });
      }
      return reply.code(200).send();
    });
  });

  fastify.register(proxyRoutes, {
    upstreams: config.upstreams,
    publicOrigin: config.publicUrl,
    dpop,
    async accessTokenFor(request, reply) {
      const session = await sessionOf(request);
      if (!session) {
        loginRequired(reply);
        return undefined;
      }
      try {
        let fresh = await sessions.withFreshAccessToken(session);
        // A JWT bound to another key (a DPoP key made by an earlier process, or none: tokens from before DPoP
        // was turned on) cannot be proved for: a refresh gets one bound to the current key.
        const binding = dpop ? jwtBinding(fresh.accessToken) : null;
        if (dpop && binding !== null && binding !== dpop.jkt) {
          fresh = await sessions.withFreshAccessToken(fresh, { force: true });
        }
        return fresh.accessToken;
      } catch (error) {
        if (error instanceof LoginRequiredError) {
          loginRequired(reply);
          return undefined;
        }
        throw error;
      }
    },
  });
};

/** The `cnf.jkt` of a JWT access token (undefined: unbound); null for an opaque token, which cannot be read. */
function jwtBinding(token: string): string | undefined | null {
  if (token.split(".").length !== 3) return null;
  try {
    const jkt = (decodeJwt(token).cnf as { jkt?: unknown } | undefined)?.jkt;
    return typeof jkt === "string" ? jkt : undefined;
  } catch {
    return undefined;
  }
}

/** The BFF as a Fastify plugin. Encapsulated: its hooks, parsers and error handler stay inside. */
export const bffPlugin: FastifyPluginAsync<BffOptions> = bffRoutes;
