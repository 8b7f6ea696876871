/**
 * The account pages: profile, change password, sessions (one row per device, with revoke buttons).
 *
 * - Every page needs a live session; without one the browser is sent to `/login?return_to=…`.
 * - Every POST checks the session's CSRF token and the Origin before doing anything.
 * - Changing the password needs the current one, can end the other sessions (default on), and renews the
 *   current session's token (privilege change).
 * - Revoking a session ends it on the server at once; the device holding it is signed out at its next request.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { changePassword, TooManyAttemptsError } from "../../accounts/index.js";
import { DEFAULT_API_TOKEN_LIFETIME, TESSERA_SCOPES } from "../../api-tokens/index.js";
import { ApiTokenError, TesseraError } from "../../lib/errors.js";
import { describeDevice } from "../../sessions/index.js";
import { accountPage } from "../../ui/pages/account.js";
import { newTokenPage, tokensPage } from "../../ui/pages/api-tokens.js";
import { appsPage } from "../../ui/pages/apps.js";
import { changePasswordPage } from "../../ui/pages/change-password.js";
import { messagePage } from "../../ui/pages/message.js";
import { securityPage } from "../../ui/pages/security.js";
import { securityKeysSection } from "../../ui/pages/security-keys.js";
import { totpSection } from "../../ui/pages/security-totp.js";
import { sessionsPage } from "../../ui/pages/sessions.js";
import type { HttpServices } from "../services.js";
import { setSessionCookie } from "../web/cookies.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formField, type Web, type WebAuth } from "../web/web-context.js";

type Flash = { kind: "success" | "info"; message: string };

const FLASHES: Record<string, Flash> = {
  "password-changed": { kind: "success", message: "Your password was changed." },
  "session-revoked": { kind: "success", message: "That device is signed out." },
  "others-revoked": { kind: "success", message: "All your other devices are signed out." },
  "app-revoked": { kind: "success", message: "The application is disconnected." },
  "token-revoked": { kind: "success", message: "The token is revoked." },
  "totp-removed": { kind: "success", message: "The authenticator app is removed." },
  "totp-enrolled": { kind: "success", message: "Your authenticator app is set up." },
  "key-added": { kind: "success", message: "The security key is registered." },
  "key-removed": { kind: "success", message: "The security key is removed." },
  "key-renamed": { kind: "success", message: "The security key is renamed." },
};

/** Every value of a repeated form field (checkboxes). */
function formValues(body: unknown, name: string): string[] {
  if (typeof body !== "object" || body === null) return [];
  const value = (body as Record<string, unknown>)[name];
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

const TESSERA_SCOPE_TEXT: Record<string, string> = {
  "tessera:admin": "Administer Tessera (admin API)",
  "tessera:scim": "Provision users and groups (SCIM)",
};

function flashOf(request: FastifyRequest): Flash | undefined {
  const key = (request.query as Record<string, unknown>).done;
  return typeof key === "string" ? FLASHES[key] : undefined;
}

export function accountRoutes(
  ctx: Pick<HttpServices, "accounts" | "apiTokens" | "clock" | "config" | "mfa" | "oauth">,
  web: Web,
  flow: MfaFlow,
) {
  const { accounts } = ctx;

  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<WebAuth | undefined> {
    const auth = await web.loadAuth(request, reply);
    if (!auth) {
      const target = request.method === "GET" ? request.url : "/account";
      await reply.redirect(`/login?return_to=${encodeURIComponent(target)}`, 303);
      return undefined;
    }
    return auth;
  }

  function refused(reply: FastifyReply, auth: WebAuth) {
    return web.sendPage(
      reply,
      messagePage({
        title: "Request refused",
        message: "This form expired or came from another site. Go back, reload the page and try again.",
        status: 403,
        user: auth.user,
        csrfToken: auth.csrfToken,
      }),
      403,
    );
  }

  return async (app: FastifyInstance) => {
    app.get("/", async (_request, reply) => reply.redirect("/account", 303));

    app.get("/account", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const { user } = auth;
      return web.sendPage(
        reply,
        accountPage({
          csrfToken: auth.csrfToken,
          user: {
            userName: user.userName,
            displayName: user.displayName,
            emails: user.emails.map((e) => ({ value: e.value, primary: e.primary })),
            groups: user.groups.map((g) => g.displayName),
            createdAt: user.createdAt,
            passwordUpdatedAt: user.passwordUpdatedAt,
          },
          flash: flashOf(request),
        }),
      );
    });

    const passwordPage = (auth: WebAuth, error?: string) =>
      changePasswordPage({
        csrfToken: auth.csrfToken,
        user: auth.user,
        error,
        minLength: accounts.passwordPolicy.minLengthWithoutSecondFactor,
        maxLength: accounts.passwordPolicy.maxLength,
      });

    app.get("/account/password", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!(await flow.requireFresh(request, reply, auth, "/account/password"))) return reply;
      return web.sendPage(reply, passwordPage(auth));
    });

    app.post("/account/password", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const body = request.body;
      if (!web.csrf.verify(request, auth.csrfToken, formField(body, "csrf"))) return refused(reply, auth);
      if (!(await flow.requireFresh(request, reply, auth, "/account/password"))) return reply;
      const current = formField(body, "current_password") ?? "";
      const next = formField(body, "new_password") ?? "";
      if (next !== (formField(body, "confirm_password") ?? "")) {
        return web.sendPage(reply, passwordPage(auth, "The two new passwords do not match."), 400);
      }
      try {
        const { token } = await changePassword(
          {
            users: accounts.users,
            signIn: accounts.signIn,
            sessions: accounts.sessions,
            audit: accounts.audit,
            access: accounts.access,
          },
          {
            user: auth.user,
            sessionId: auth.session.id,
            currentPassword: current,
            newPassword: next,
            signOutOthers: formField(body, "sign_out_others") !== undefined,
            ip: web.clientIp(request),
            userAgent: web.userAgent(request),
          },
        );
        if (token) {
          const maxAge = auth.session.remember
            ? Math.floor((auth.session.absoluteExpiresAt - ctx.clock.now()) / 1000)
            : undefined;
          setSessionCookie(reply, web.names, token, maxAge);
        }
        return reply.redirect("/account?done=password-changed", 303);
      } catch (error) {
        if (error instanceof TooManyAttemptsError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return web.sendPage(reply, passwordPage(auth, error.message), 429);
        }
        if (
          error instanceof TesseraError &&
          ["invalid_credentials", "password_rejected"].includes(error.code)
        ) {
          return web.sendPage(reply, passwordPage(auth, error.message), error.status);
        }
        throw error;
      }
    });

    app.get("/account/sessions", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const sessions = await accounts.sessions.list(auth.user.id);
      return web.sendPage(
        reply,
        sessionsPage({
          csrfToken: auth.csrfToken,
          user: auth.user,
          flash: flashOf(request),
          now: ctx.clock.now(),
          sessions: sessions.map((s) => {
            const device = describeDevice(s.userAgent);
            return {
              id: s.id,
              browser: device.browser,
              os: device.os,
              device: device.device,
              ip: s.ip,
              createdAt: s.createdAt,
              lastSeenAt: s.lastSeenAt,
              current: s.id === auth.session.id,
              remember: s.remember,
            };
          }),
        }),
      );
    });

    app.post<{ Params: { id: string } }>("/account/sessions/:id/revoke", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      const ended = await accounts.access.end(
        { type: "sessions_revoked", userId: auth.user.id, sessionIds: [request.params.id] },
        { actor: `user:${auth.user.id}` },
      );
      if (ended.sessions > 0) {
        await web.auditUserAction(request, auth, "session.revoked", {
          sessionId: request.params.id,
          current: request.params.id === auth.session.id,
        });
      }
      if (request.params.id === auth.session.id) return reply.redirect("/login", 303);
      return reply.redirect("/account/sessions?done=session-revoked", 303);
    });

    app.get("/account/apps", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const apps = [];
      for (const consent of await ctx.oauth.authorization.listConsents(auth.user.id)) {
        const client = await ctx.oauth.clients.get(consent.clientId);
        if (client)
          apps.push({
            clientId: client.id,
            name: client.name,
            scopes: consent.scopes,
            since: consent.updatedAt,
          });
      }
      return web.sendPage(
        reply,
        appsPage({ csrfToken: auth.csrfToken, user: auth.user, apps, flash: flashOf(request) }),
      );
    });

    app.post<{ Params: { clientId: string } }>("/account/apps/:clientId/revoke", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      const { clientId } = request.params;
      await ctx.oauth.authorization.revokeConsent(auth.user.id, clientId);
      await ctx.oauth.tokens.revokeUserClient(auth.user.id, clientId);
      await web.auditUserAction(request, auth, "oauth.consent_revoked", {
        client_id: clientId.slice(0, 128),
      });
      return reply.redirect("/account/apps?done=app-revoked", 303);
    });

    app.get("/account/security", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const userId = auth.user.id;
      const factors = await ctx.mfa.policy.factors(userId);
      const totp = await ctx.mfa.totp.status(userId);
      const keys = await ctx.mfa.webauthn.list(userId);
      return web.sendPage(
        reply,
        securityPage({
          csrfToken: auth.csrfToken,
          user: auth.user,
          required: await ctx.mfa.policy.required(userId),
          hasFactor: factors.totp || factors.webauthn > 0,
          sections: [
            totpSection({
              csrfToken: auth.csrfToken,
              enrolled: totp.enrolled,
              recoveryCodesLeft: factors.recoveryCodes,
            }),
            securityKeysSection({ csrfToken: auth.csrfToken, keys, now: ctx.clock.now() }),
          ],
          flash: flashOf(request),
        }),
      );
    });

    async function tokensModel(auth: WebAuth, error?: string) {
      const tokens = (await ctx.apiTokens.list({ kind: "personal", ownerId: auth.user.id })).filter(
        (t) => t.revokedAt === null && (t.expiresAt === null || t.expiresAt > ctx.clock.now()),
      );
      const admin = await ctx.apiTokens.isAdmin(auth.user.id);
      const servers = await ctx.oauth.clients.listResourceServers();
      const scopeChoices = [
        ...(admin
          ? TESSERA_SCOPES.map((value) => ({ value, text: TESSERA_SCOPE_TEXT[value] ?? value }))
          : []),
        ...[...new Set(servers.flatMap((rs) => rs.scopes))].map((value) => ({ value, text: value })),
      ];
      const max = ctx.config.apiTokenMaxLifetime;
      const expiryChoices = [7, 30, 90, 180, 365].filter((d) => max === 0 || d * 86_400 <= max);
      if (max === 0) expiryChoices.push(0);
      return {
        csrfToken: auth.csrfToken,
        user: auth.user,
        tokens,
        scopeChoices,
        resourceChoices: servers.map((rs) => ({ value: rs.audience, text: `${rs.name} (${rs.audience})` })),
        expiryChoices,
        now: ctx.clock.now(),
        ...(error ? { error } : {}),
      };
    }

    app.get("/account/tokens", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      return web.sendPage(reply, tokensPage({ ...(await tokensModel(auth)), flash: flashOf(request) }));
    });

    app.post("/account/tokens", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      const body = request.body;
      if (!web.csrf.verify(request, auth.csrfToken, formField(body, "csrf"))) return refused(reply, auth);
      // A token outlives the session that made it: a sensitive action, so the sign-in must be fresh (step-up).
      if (!(await flow.requireFresh(request, reply, auth, "/account/tokens"))) return reply;
      try {
        // Whole days, 0 for "never" (the domain refuses it unless the organisation allows it). Anything else is
        // refused, not replaced by the default: "7.5" or "-1" must not become 90 days behind the user's back.
        const daysText = formField(body, "expires_in_days") ?? String(DEFAULT_API_TOKEN_LIFETIME / 86_400);
        if (!/^\d{1,5}$/.test(daysText)) {
          throw new ApiTokenError("invalid_request", "Choose when the token expires.");
        }
        const days = Number(daysText);
        const ips = (formField(body, "allowed_ips") ?? "").split(/[\s,]+/).filter((v) => v !== "");
        const { token, apiToken } = await ctx.apiTokens.create({
          kind: "personal",
          name: formField(body, "name") ?? "",
          ownerId: auth.user.id,
          scopes: formValues(body, "scope"),
          resources: formValues(body, "resource"),
          expiresIn: days === 0 ? null : days * 86_400,
          allowedIps: ips.length > 0 ? ips : null,
          createdBy: `user:${auth.user.id}`,
        });
        reply.header("cache-control", "no-store");
        return web.sendPage(
          reply,
          newTokenPage({ csrfToken: auth.csrfToken, user: auth.user, name: apiToken.name, token }),
          201,
        );
      } catch (error) {
        if (error instanceof ApiTokenError) {
          return web.sendPage(reply, tokensPage(await tokensModel(auth, error.message)), error.status);
        }
        throw error;
      }
    });

    app.post<{ Params: { id: string } }>("/account/tokens/:id/revoke", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      // Only the user's own tokens: another user's id changes nothing (and the answer is the same).
      await ctx.apiTokens.revoke(request.params.id, { actor: `user:${auth.user.id}`, ownerId: auth.user.id });
      return reply.redirect("/account/tokens?done=token-revoked", 303);
    });

    app.post("/account/sessions/revoke-others", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      const { sessions: count } = await accounts.access.end(
        { type: "signed_out_others", userId: auth.user.id, keepSessionId: auth.session.id },
        { actor: `user:${auth.user.id}` },
      );
      await web.auditUserAction(request, auth, "session.revoked_others", { count });
      return reply.redirect("/account/sessions?done=others-revoked", 303);
    });
  };
}
