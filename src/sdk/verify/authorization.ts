/**
 * Reading the bearer token from a request (RFC 6750 §2.1).
 *
 * - Only the `Authorization` header: tokens in query strings end up in logs and `Referer` headers, and form
 *   bodies are not read, so a token anywhere else is refused (`access_token` in the query is a 400, since a
 *   request must not use more than one method, RFC 6750 §2, and this one is not supported).
 * - `credentials = auth-scheme 1*SP token68` (RFC 9110 §11.4), scheme compared case-insensitively. Another
 *   scheme (Basic, DPoP, …) means "no bearer token": 401 without an error code. `Bearer` with a missing,
 *   doubled or malformed token (a comma is how a repeated header arrives once joined) is `invalid_request`.
 * - Several header values (a raw Node header array) are `invalid_request` too.
 */

/** What the `Authorization` header holds. */
export type AuthorizationHeader =
  | { kind: "none" }
  | { kind: "malformed" }
  | { kind: "bearer"; token: string };

const NONE = Object.freeze({ kind: "none" as const });
const MALFORMED = Object.freeze({ kind: "malformed" as const });
// RFC 9110 §11.4: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^[ \t]*bearer +([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const BEARER_SCHEME = /^[ \t]*bearer(?:[ \t]|$)/i;
/** Longer than any token Tessera issues (JWTs are capped at 16 KiB). */
const MAX_HEADER_LENGTH = 16 * 1024 + 7;

/**
 * Parses an `Authorization` header value into a bearer token, "none" or "malformed".
 * @see RFC 6750 §2.1
 */
export function parseAuthorization(
  header: string | readonly string[] | null | undefined,
): AuthorizationHeader {
  if (header === undefined || header === null) return NONE;
  if (typeof header !== "string") {
    if (header.length === 0) return NONE;
    return header.length === 1 ? parseAuthorization(header[0]) : MALFORMED;
  }
  if (header.length > MAX_HEADER_LENGTH) return BEARER_SCHEME.test(header) ? MALFORMED : NONE;
  const match = BEARER.exec(header);
  if (match !== null) return { kind: "bearer", token: match[1] as string };
  return BEARER_SCHEME.test(header) ? MALFORMED : NONE;
}

/** True when a request URL (absolute or path + query) carries an `access_token` query parameter. */
export function hasQueryToken(url: string | undefined): boolean {
  if (url === undefined) return false;
  const hash = url.indexOf("#");
  const end = hash < 0 ? url.length : hash;
  const q = url.indexOf("?");
  if (q < 0 || q > end || !url.slice(q, end).includes("access_token")) return false;
  return new URLSearchParams(url.slice(q + 1, end)).has("access_token");
}
