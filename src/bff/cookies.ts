/**
 * The BFF's two cookies, written by hand (no cookie plugin, so the BFF can be mounted in an app that has one).
 *
 * - The session cookie holds a random 256-bit id only: `HttpOnly; SameSite=Strict; Path=/`, `Secure` on https
 *   (where its name has the `__Host-` prefix, which binds it to the exact origin).
 * - The login cookie carries the pending authorization request (state, nonce, PKCE verifier, returnTo),
 *   sealed with the master key, for 10 minutes. `SameSite=Lax`: it must come back on the top-level redirect
 *   from Tessera to `/bff/callback`, which `Strict` would drop.
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
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
