/**
 * Where the browser may be sent after sign-in (`/bff/login?returnTo=…`).
 *
 * - Only a same-origin path: it starts with exactly one `/` and has no scheme, no host, no backslash, no
 *   control character, no `//` anywhere (browsers read `/\evil` and `//evil` as another host).
 * - Resolved against the BFF's origin it must stay on that origin, and its path must start with one of the
 *   configured prefixes (`BFF_RETURN_TO`, default `/`).
 * - Percent-encoded slashes and backslashes (`%2F`, `%5C`) are refused outright: some servers decode them.
 * - Answers the normalised path + query + fragment, or undefined when refused.
 */
export function checkReturnTo(
  value: unknown,
  options: { publicUrl: string; prefixes: readonly string[] },
): string | undefined {
  if (value === undefined) return "/";
  if (typeof value !== "string" || value.length === 0 || value.length > 2048) return undefined;
  if (!value.startsWith("/") || value.includes("//") || value.includes("\\")) return undefined;
  if (hasControlCharacter(value) || /%(2f|5c|00)/i.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, options.publicUrl);
  } catch {
    return undefined;
  }
  if (url.origin !== new URL(options.publicUrl).origin) return undefined;
  const path = url.pathname;
  const allowed = options.prefixes.some(
    (prefix) =>
      prefix === "/" || path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`),
  );
  if (!allowed) return undefined;
  return `${path}${url.search}${url.hash}`;
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
