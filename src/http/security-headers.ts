/**
 * Security headers on every response.
 *
 * - A strict CSP (`default-src 'none'`; pages that need more set their own), `frame-ancestors 'none'` and
 *   `X-Frame-Options: DENY` (no framing: clickjacking), `nosniff`, `Referrer-Policy: no-referrer` (codes and
 *   tokens in URLs must not leak through Referer; HTML pages use `same-origin`, because with `no-referrer`
 *   browsers send `Origin: null` on form posts and the CSRF origin check could not work), COOP same-origin.
 * - HSTS only when the issuer is https or Tessera serves TLS itself (RFC 6797 §7.2: never over plain http).
 * - `Cache-Control: no-store` unless a route chose a caching policy (RFC 6749 §5.1 for token responses).
 * - The request id is echoed as `X-Request-Id`.
 */
import type { FastifyInstance } from "fastify";

export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function registerSecurityHeaders(app: FastifyInstance, options: { hsts: boolean }): void {
  // Fixed for the life of the process: set in one call per response.
  const always: Record<string, string> = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    ...(options.hsts ? { "strict-transport-security": "max-age=63072000; includeSubDomains" } : {}),
  };
  // Callback style, not async: a hook on every response should not cost a promise.
  app.addHook("onSend", (request, reply, payload, done) => {
    if (!reply.hasHeader("content-security-policy")) reply.header("content-security-policy", DEFAULT_CSP);
    if (!reply.hasHeader("referrer-policy")) reply.header("referrer-policy", "no-referrer");
    if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    reply.headers(always);
    reply.header("x-request-id", request.id);
    done(null, payload);
  });
}
