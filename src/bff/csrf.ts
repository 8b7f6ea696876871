/**
 * Cross-site request forgery defence for the BFF, stateless. A state-changing request (any method but GET,
 * HEAD, OPTIONS) must:
 *
 * - come from an allowed origin: its `Origin` header is in the allow-list, or, when the browser sent no
 *   `Origin`, `Sec-Fetch-Site` is `same-origin`; a request with neither is refused;
 * - carry `x-bff-csrf: 1`. A cross-site form cannot set a header, and a cross-origin `fetch` that sets one
 *   needs a CORS preflight, which the BFF never grants.
 *
 * Both, not either: the header alone trusts that no other origin is allowed by CORS; the origin check alone
 * trusts every browser to send `Origin`.
 */
export const CSRF_HEADER = "x-bff-csrf";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isStateChanging(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

export function passesCsrfCheck(
  headers: Record<string, string | string[] | undefined>,
  allowedOrigins: readonly string[],
): boolean {
  const header = headers[CSRF_HEADER];
  if (header !== "1") return false;
  const origin = headers.origin;
  if (typeof origin === "string") return allowedOrigins.includes(origin);
  if (origin !== undefined) return false;
  return headers["sec-fetch-site"] === "same-origin";
}
