/**
 * What every page route needs: cookie names, CSRF, the signed-in user (if any) and page rendering.
 *
 * - `loadAuth` reads the session cookie and checks it on the server (idle, absolute, user active) once per
 *   request; a dead cookie is cleared.
 * - Pages get their own CSP: styles from our origin only, no scripts at all, forms post to our origin only.
 * - `safeReturnTo` accepts only same-site paths (`/…`, not `//…` or `/\…`): no open redirect.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { User } from "../../accounts/index.js";
import type { AuditEventInput, AuditEventType } from "../../audit/index.js";
import type { Session } from "../../sessions/index.js";
import type { HttpServices } from "../services.js";
import { type CookieNames, clearSessionCookie, cookieNames, readCookie, setCsrfCookie } from "./cookies.js";
import { type Csrf, createCsrf } from "./csrf.js";

export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The page CSP with more `form-action` sources. A form whose answer redirects to an OAuth client (sign-in or
 * consent inside an authorization request) needs the client's redirect URI allowed: Chrome applies
 * `form-action` to every redirect that follows a form submission.
 */
export function pageCsp(formActions: readonly string[] = [], options: { scripts?: boolean } = {}): string {
  let csp = PAGE_CSP;
  if (formActions.length > 0)
    csp = csp.replace("form-action 'self'", `form-action 'self' ${formActions.join(" ")}`);
  // Pages that run a WebAuthn ceremony: same-origin script files and fetch only (never inline script).
  if (options.scripts)
    csp = csp.replace("default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';");
  return csp;
}

/** The CSP source that allows navigating to `uri`: its origin, or its scheme for a private-use URI. */
export function formActionSource(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const url = new URL(uri);
  // Only plain host names and IP literals reach the CSP: nothing that could widen or break the directive.
  if (url.protocol === "https:" || url.protocol === "http:") {
    return /^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/.test(url.hostname) ? url.origin : undefined;
  }
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
}

export interface WebAuth {
  session: Session;
  user: User;
  csrfToken: string;
}

declare module "fastify" {
  interface FastifyRequest {
    web?: WebAuth;
  }
}

export interface Web {
  names: CookieNames;
  csrf: Csrf;
  loadAuth(request: FastifyRequest, reply: FastifyReply): Promise<WebAuth | undefined>;
  /** The CSRF token for a sign-in form; sets the anonymous CSRF cookie when missing. */
  anonymousCsrf(request: FastifyRequest, reply: FastifyReply): string;
  /** Checks a sign-in form's CSRF token against the anonymous cookie. */
  verifyAnonymousCsrf(request: FastifyRequest, submitted: unknown): boolean;
  /**
   * Sends a page with the page CSP; `formActions` adds `form-action` sources, `scripts` allows same-origin
   * script files and fetch (see `pageCsp`).
   */
  sendPage(
    reply: FastifyReply,
    html: string,
    status?: number,
    formActions?: readonly string[],
    options?: { scripts?: boolean },
  ): FastifyReply;
  /** The extra `form-action` sources a sign-in form needs when `returnTo` continues an OAuth request. */
  formActionsFor(returnTo: string | undefined): Promise<string[]>;
  clientIp(request: FastifyRequest): string | null;
  userAgent(request: FastifyRequest): string | null;
  /** Both: where a request came from, as throttles and the audit log take it. */
  client(request: FastifyRequest): { ip: string | null; userAgent: string | null };
  /** Records a successful action of the signed-in user, with their IP and user agent. */
  auditUserAction(
    request: FastifyRequest,
    auth: WebAuth,
    type: AuditEventType,
    details?: AuditEventInput["details"],
  ): Promise<void>;
}

export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length === 0 || value.length > 2048) return undefined;
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return undefined;
  if (/[\p{Cc}\\]/u.test(value)) return undefined;
  return value;
}

export function formField(body: unknown, name: string): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

export function createWeb(ctx: Pick<HttpServices, "accounts" | "config" | "masterKey" | "oauth">): Web {
  const names = cookieNames({
    issuer: ctx.config.issuer,
    tls: Boolean(ctx.config.tlsCert && ctx.config.tlsKey),
  });
  const csrf = createCsrf({ key: ctx.masterKey.deriveKey("csrf"), issuer: ctx.config.issuer });
  const userAgent = (request: FastifyRequest): string | null => {
    const ua = request.headers["user-agent"];
    return typeof ua === "string" ? ua.slice(0, 512) : null;
  };
  return {
    names,
    csrf,
    async loadAuth(request, reply) {
      if (request.web) return request.web;
      const token = readCookie(request, names.session);
      if (!token) return undefined;
      const found = await ctx.accounts.sessions.check(token);
      const user = found ? await ctx.accounts.users.get(found.user.id) : undefined;
      if (!found || !user) {
        clearSessionCookie(reply, names);
        return undefined;
      }
      request.web = { session: found.session, user, csrfToken: csrf.forSession(found.session.id) };
      return request.web;
    },
    anonymousCsrf(request, reply) {
      let value = readCookie(request, names.csrf);
      if (!value) {
        value = csrf.newAnonymousCookie();
        setCsrfCookie(reply, names, value);
      }
      return csrf.forAnonymous(value);
    },
    verifyAnonymousCsrf(request, submitted) {
      const value = readCookie(request, names.csrf);
      return value !== undefined && csrf.verify(request, csrf.forAnonymous(value), submitted);
    },
    async formActionsFor(returnTo) {
      const match =
        returnTo === undefined ? null : /^\/authorize\/continue\?request=([A-Za-z0-9_-]{32})$/.exec(returnTo);
      if (!match) return [];
      const stored = await ctx.oauth.authorization.load(match[1]);
      const source = stored ? formActionSource(stored.request.redirectUri) : undefined;
      return source ? [source] : [];
    },
    sendPage(reply, html, status = 200, formActions = [], options = {}) {
      return (
        reply
          .code(status)
          .header("content-security-policy", pageCsp(formActions, options))
          // Not no-referrer: with it, browsers send `Origin: null` on same-origin form posts. Cross-origin
          // navigations still carry no Referer (reset tokens in URLs stay here).
          .header("referrer-policy", "same-origin")
          .header("cache-control", "no-store")
          .type("text/html; charset=utf-8")
          .send(html)
      );
    },
    clientIp: (request) => request.ip ?? null,
    auditUserAction(request, auth, type, details) {
      return ctx.accounts.audit.record({
        type,
        outcome: "success",
        userId: auth.user.id,
        actor: `user:${auth.user.id}`,
        ip: request.ip ?? null,
        userAgent: typeof request.headers["user-agent"] === "string" ? request.headers["user-agent"] : null,
        ...(details ? { details } : {}),
      });
    },
    userAgent,
    client: (request) => ({ ip: request.ip ?? null, userAgent: userAgent(request) }),
  };
}
