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
 *
 * How: the defaults are put on the reply as soon as Fastify has built it (request-lifecycle.ts: routed
 * requests, 404s and requests refused before routing alike), and a route that wants another CSP,
 * Referrer-Policy or Cache-Control simply sets its own, which replaces the default. Error answers keep them
 * (Fastify's error path deletes only Content-Type and Content-Length). No hook is involved: an `onSend` hook
 * would put every response through Fastify's hook runner a second time.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** The headers every response starts with (routes may replace CSP, Referrer-Policy and Cache-Control). */
export function securityHeaders(options: { hsts: boolean }): Readonly<Record<string, string>> {
  return Object.freeze({
    "content-security-policy": DEFAULT_CSP,
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    ...(options.hsts ? { "strict-transport-security": "max-age=63072000; includeSubDomains" } : {}),
  });
}

/**
 * Fastify's `frameworkErrors`: a request refused before routing gets Tessera's error format, not Fastify's bare
 * answer: a malformed URL a 400, a path parameter over the length limit a 414. The security headers are on the
 * reply already: Fastify starts these requests through `RequestLifecycle` too.
 */
export function answerFrameworkError(
  error: Error & { code?: string },
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const tooLong = error.code === "FST_ERR_MAX_PARAM_LENGTH";
  reply
    .code(tooLong ? 414 : 400)
    .type("application/json; charset=utf-8")
    .send({
      error: "invalid_request",
      error_description: tooLong ? "A path segment of the URL is too long." : "The request URL is malformed.",
    });
}
