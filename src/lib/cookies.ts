/**
 * Cookies written and read by hand: no cookie plugin, so every request does not pay for parsing a header
 * that few routes read, and the BFF can be mounted in an app that has a plugin of its own.
 *
 * - `serializeCookie` writes `name=value; Path=/; SameSite=…` plus `HttpOnly` (unless turned off), `Secure`
 *   and `Max-Age` when asked. Values are written as given: Tessera's cookie values are base64url or base62
 *   (no character that needs encoding), and names are constants.
 * - `readCookie` finds a name in a `Cookie` header; the first occurrence wins, as in the `cookie` package
 *   (RFC 6265 §5.4 lists the cookies with the longer path first).
 */
export interface CookieOptions {
  secure: boolean;
  sameSite: "Strict" | "Lax";
  maxAge?: number;
  httpOnly?: boolean;
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, "Path=/", `SameSite=${options.sameSite}`];
  if (options.httpOnly !== false) parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  if (options.maxAge !== undefined) parts.push(`Max-Age=${options.maxAge}`);
  return parts.join("; ");
}

export function clearCookie(name: string, options: Omit<CookieOptions, "maxAge">): string {
  return serializeCookie(name, "", { ...options, maxAge: 0 });
}

/** The value of cookie `name` in a `Cookie` header; the first one wins. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  // A scan, not a split: this runs on every session check. Linear: the next "=" is searched for only once the
  // scan has passed the last one found.
  const length = header.length;
  let start = 0;
  let eq = -1;
  while (start < length) {
    let end = header.indexOf(";", start);
    if (end === -1) end = length;
    if (eq < start) {
      eq = header.indexOf("=", start);
      if (eq === -1) return undefined;
    }
    if (eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}
