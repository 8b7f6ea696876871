/**
 * CSRF defence for every HTML form, in three layers:
 *
 * 1. SameSite=Lax cookies: a cross-site POST carries no session cookie in current browsers.
 * 2. A per-session token in a hidden `csrf` field: HMAC-SHA256 under a key derived from the master key, over
 *    the session id (signed-in forms) or over a random value in the `__Host-tessera_csrf` cookie (sign-in
 *    forms, before a session exists: the signed double-submit pattern). Nothing is stored; every instance with
 *    the same master key checks the same tokens; compared in constant time.
 * 3. An Origin check: when the browser sends `Origin`, it must be the issuer's origin; without `Origin`,
 *    `Sec-Fetch-Site` (when sent) must be `same-origin` or `none`.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { constantTimeEqual } from "../../crypto/index.js";

export interface Csrf {
  /** Token for forms of a signed-in session. */
  forSession(sessionId: string): string;
  /** Token for sign-in forms, bound to the anonymous CSRF cookie value. */
  forAnonymous(cookieValue: string): string;
  newAnonymousCookie(): string;
  /** True when the token matches and the request's origin is ours. */
  verify(request: FastifyRequest, expected: string, submitted: unknown): boolean;
  originAllowed(request: FastifyRequest): boolean;
}

export function createCsrf(options: { key: Buffer; issuer: string }): Csrf {
  const ourOrigin = new URL(options.issuer).origin;
  const mac = (message: string) => createHmac("sha256", options.key).update(message).digest("base64url");
  const csrf: Csrf = {
    forSession: (sessionId) => mac(`session:${sessionId}`),
    forAnonymous: (cookieValue) => mac(`anonymous:${cookieValue}`),
    newAnonymousCookie: () => randomBytes(32).toString("base64url"),
    originAllowed(request) {
      const origin = request.headers.origin;
      if (typeof origin === "string") return origin === ourOrigin;
      const site = request.headers["sec-fetch-site"];
      if (typeof site === "string") return site === "same-origin" || site === "none";
      return true;
    },
    verify(request, expected, submitted) {
      if (!csrf.originAllowed(request)) return false;
      return (
        typeof submitted === "string" && submitted.length < 200 && constantTimeEqual(submitted, expected)
      );
    },
  };
  return csrf;
}
