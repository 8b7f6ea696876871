/**
 * Redirect URIs: what a client may register, and how a requested one is matched (OAuth 2.1 §2.3.1, §4.1.3;
 * RFC 8252 §7 for native apps; RFC 9700 §4.1.3: exact matching).
 *
 * - Registered URIs are absolute, without a fragment, and one of:
 *   - `https:` (web apps, and claimed https URIs of native apps, RFC 8252 §7.2);
 *   - `http:` on a loopback IP literal, `127.0.0.1` or `[::1]` (native apps, RFC 8252 §7.3; `localhost` is
 *     refused as §8.3 advises, since a name can resolve elsewhere);
 *   - a private-use scheme in reverse-domain form containing a dot, such as `com.example.app:/callback`
 *     (RFC 8252 §7.1).
 * - A registered URI contains no whitespace and no control characters (`invalid_redirect_uri`), and is
 *   written in its serialised form (WHATWG URL: what `new URL(uri).href` gives back). That form is what a
 *   browser follows, so the text that is matched is the text that is redirected to: a host in upper case
 *   (`https://App.example/cb`), a default port (`:443`, `http://127.0.0.1:80/`), an empty path
 *   (`https://app.example`), dot segments (`/a/../cb`), characters a browser percent-encodes (`/é`, `/a b`),
 *   an IPv6 literal not in its shortest form or an IDN host not in punycode are refused with the form to
 *   register instead. A trailing dot in a host (`app.example.`) is refused as not naming a host.
 *   Percent-encoding is kept as written (`%7E` and `~` are different URIs, and so are `%7e` and `%7E`).
 * - Matching is exact string comparison, with the one exception RFC 8252 §7.3 requires: for a loopback
 *   `http:` URI the port is ignored (the app picks a free port at run time). Nothing else is normalised:
 *   no case folding, no trailing-slash, path-prefix or query tolerance. A requested (or stored) URI that is
 *   not in its serialised form never matches, so `withQuery` answers exactly the matched text followed by the
 *   response parameters.
 */
export type RedirectUriKind = "web" | "loopback" | "private-use";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]"]);
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$/;
const MAX_URI_LENGTH = 2000;

/** Unicode white space (`\s`: spaces, tabs, line breaks, no-break and other spaces) and control characters. */
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}]/u;

/** Why `uri` cannot be registered, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  if (typeof uri !== "string" || uri.length === 0 || uri.length > MAX_URI_LENGTH) return "must be a URI";
  // Before parsing: the URL parser drops tabs and line breaks and trims spaces, so it would hide them.
  if (WHITESPACE_OR_CONTROL.test(uri)) return "must not contain whitespace or control characters";
  if (!URL.canParse(uri)) return "must be an absolute URI";
  const url = new URL(uri);
  if (url.hash !== "" || uri.includes("#")) return "must not contain a fragment";
  if (url.username !== "" || url.password !== "") return "must not contain user information";
  const problem = schemeProblem(url);
  if (problem) return problem;
  // The form a redirect sends the browser to (see above); the answer names it.
  if (url.href !== uri) return `must be written in its serialised form, ${JSON.stringify(url.href)}`;
  return undefined;
}

function schemeProblem(url: URL): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  if (scheme === "https") {
    return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/.test(
      url.hostname,
    )
      ? undefined
      : "must name a host (a DNS name or an IP literal)";
  }
  if (scheme === "http") {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : "http is allowed only on a loopback IP literal (127.0.0.1 or [::1]); use https";
  }
  if (PRIVATE_USE_SCHEME.test(scheme)) return undefined;
  return "must use https, http on a loopback IP, or a private-use scheme in reverse-domain form (com.example.app:)";
}

/** Whether `uri` is an absolute URL in its serialised form: the text a redirect to it sends the browser to. */
export function isSerialisedUrl(uri: string): boolean {
  return typeof uri === "string" && URL.canParse(uri) && new URL(uri).href === uri;
}

/**
 * `uri` (a matched redirect URI, in its serialised form) with `params` added to its query: the text of `uri`
 * is kept as it is (its own query too, which re-serialising through `searchParams` would rewrite), and the
 * parameters are form-encoded after it.
 */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
  const text = query.toString();
  if (text === "") return uri;
  const separator = !uri.includes("?") ? "?" : uri.endsWith("?") || uri.endsWith("&") ? "" : "&";
  return `${uri}${separator}${text}`;
}

export function redirectUriKind(uri: string): RedirectUriKind {
  const url = new URL(uri);
  if (url.protocol === "https:") return "web";
  if (url.protocol === "http:") return "loopback";
  return "private-use";
}

/** The registered URI that `requested` matches, or undefined. */
export function matchRedirectUri(registered: readonly string[], requested: string): string | undefined {
  if (typeof requested !== "string" || requested.length > MAX_URI_LENGTH) return undefined;
  // What is matched is what is redirected to: text that a redirect would send elsewhere (rows stored before
  // registration required the serialised form) never matches.
  if (!isSerialisedUrl(requested)) return undefined;
  for (const uri of registered) {
    if (uri === requested) return uri;
  }
  // RFC 8252 §7.3: any port on a loopback redirect URI, everything else identical.
  if (!requested.startsWith("http://")) return undefined;
  const wanted = new URL(requested);
  if (!LOOPBACK_HOSTS.has(wanted.hostname)) return undefined;
  for (const uri of registered) {
    if (!uri.startsWith("http://") || !isSerialisedUrl(uri)) continue;
    const candidate = new URL(uri);
    if (withoutPort(candidate, uri) === withoutPort(wanted, requested)) return uri;
  }
  return undefined;
}

/** The URI text with its port removed, or a marker that never matches when the text is not canonical. */
function withoutPort(url: URL, text: string): string {
  // Compare texts, not parsed forms: the parser normalises (case, dot segments, default ports), and exact
  // matching must not. Only the `:port` after the host is cut out of the original text.
  const authority = `http://${url.hostname}`;
  if (!text.startsWith(authority)) return `\u0000${text}`;
  const rest = text.slice(authority.length);
  const port = /^:\d{1,5}/.exec(rest);
  return authority + (port ? rest.slice(port[0].length) : rest);
}
