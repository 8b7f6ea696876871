/**
 * Reading the access token from a request (RFC 6750 §2.1, RFC 9449 §7.1).
 *
 * - Only the `Authorization` header: tokens in query strings end up in logs and `Referer` headers, and form
 *   bodies are not read, so a token anywhere else is refused (`access_token` in the query is a 400, since a
 *   request must not use more than one method, RFC 6750 §2, and this one is not supported).
 * - `credentials = auth-scheme 1*SP token68` (RFC 9110 §11.4), scheme compared case-insensitively. `Bearer`
 *   always; `DPoP` (RFC 9449 §7.1) only when the caller asks for it (`{ dpop: true }`, which the verifier does
 *   when it knows the request's method, so it can check the proof). Any other scheme (Basic, …, and `DPoP`
 *   without `{ dpop: true }`) means "no token": 401 without an error code. A recognised scheme with a missing,
 *   doubled or malformed token (a comma is how a repeated header arrives once joined) is `invalid_request`.
 * - Several header values (a raw Node header array) are `invalid_request` too.
 * - The `DPoP` request header (the proof) is read by `readDpopHeader`: exactly one compact JWS, or a reason.
 */

/** What the `Authorization` header holds. */
export type AuthorizationHeader =
  | { kind: "none" }
  /** A recognised scheme without a single token68; `scheme: "dpop"` when that scheme was `DPoP`. */
  | { kind: "malformed"; scheme?: "dpop" }
  | { kind: "bearer"; token: string }
  /** `Authorization: DPoP <token>` (RFC 9449 §7.1), only with `{ dpop: true }`. */
  | { kind: "dpop"; token: string };

export interface ParseAuthorizationOptions {
  /** Recognise the `DPoP` scheme too (default false: `DPoP …` counts as no bearer token). */
  dpop?: boolean;
}

const NONE = Object.freeze({ kind: "none" as const });
const MALFORMED = Object.freeze({ kind: "malformed" as const });
const MALFORMED_DPOP = Object.freeze({ kind: "malformed" as const, scheme: "dpop" as const });
// RFC 9110 §11.4: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const CREDENTIALS = /^[ \t]*(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const BEARER_SCHEME = /^[ \t]*bearer(?:[ \t]|$)/i;
const DPOP_SCHEME = /^[ \t]*dpop(?:[ \t]|$)/i;
/** Longer than any token Tessera issues (JWTs are capped at 16 KiB). */
const MAX_HEADER_LENGTH = 16 * 1024 + 7;

/**
 * Parses an `Authorization` header value into a bearer token (or, with `{ dpop: true }`, a DPoP-scheme
 * token), "none" or "malformed".
 * @see RFC 6750 §2.1, RFC 9449 §7.1
 */
export function parseAuthorization(
  header: string | readonly string[] | null | undefined,
  options: ParseAuthorizationOptions = {},
): AuthorizationHeader {
  if (header === undefined || header === null) return NONE;
  if (typeof header !== "string") {
    if (header.length === 0) return NONE;
    return header.length === 1 ? parseAuthorization(header[0], options) : MALFORMED;
  }
  const dpop = options.dpop === true;
  const malformed = BEARER_SCHEME.test(header)
    ? MALFORMED
    : dpop && DPOP_SCHEME.test(header)
      ? MALFORMED_DPOP
      : NONE;
  if (header.length > MAX_HEADER_LENGTH) return malformed;
  const match = CREDENTIALS.exec(header);
  if (match !== null) {
    const scheme = (match[1] as string).toLowerCase();
    if (scheme === "bearer") return { kind: "bearer", token: match[2] as string };
    if (dpop) return { kind: "dpop", token: match[2] as string };
    return NONE;
  }
  return malformed;
}

/** What the `DPoP` request header holds: one proof, or why there is not exactly one. */
export type DpopHeader = { kind: "proof"; proof: string } | { kind: "missing" } | { kind: "multiple" };

/**
 * Reads the `DPoP` header value(s) (RFC 9449 §4.3 step 1: not more than one). Several values arrive as an array
 * (a raw header list) or joined with commas (Node's `headers`, `Headers.get`); a compact JWS never holds a
 * comma, so a comma means several proofs.
 */
export function readDpopHeader(value: string | readonly string[] | null | undefined): DpopHeader {
  if (value === undefined || value === null) return { kind: "missing" };
  if (typeof value !== "string") {
    if (value.length === 0) return { kind: "missing" };
    if (value.length > 1) return { kind: "multiple" };
    return readDpopHeader(value[0]);
  }
  const proof = value.trim();
  if (proof === "") return { kind: "missing" };
  if (proof.includes(",")) return { kind: "multiple" };
  return { kind: "proof", proof };
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
