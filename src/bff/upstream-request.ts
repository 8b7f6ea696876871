/**
 * What the proxy sends upstream: the URL and the headers, each decided in one function here.
 *
 * The URL (`upstreamUrl`) is built ONLY from the configured upstream (origin + base path), the path below the
 * BFF's mount point (`/bff<prefix>`) and the query string. Nothing else in the request target is used, and a
 * target that is not plainly a path below the mount point is refused (undefined → 400):
 *
 * - absolute-form (`GET http://host/bff/api/x HTTP/1.1`) is accepted only when its origin is the BFF's public
 *   origin, with no user-info; `http://a@other:1/…`, `http://evil/…` are refused;
 * - the path must start with the mount point followed by `/` or the end (`/bff/apix` is not under `/bff/api`);
 * - below the mount point, a path is plain RFC 3986 path characters (plus `| ^ [ ]`, which browsers send
 *   unencoded): no backslash, space, control or non-ASCII character, `#`, malformed `%` or percent-encoded
 *   bytes that are not UTF-8;
 * - no percent-encoded separator or control character: `%2F`, `%5C`, `%00`-`%1F`, `%7F`;
 * - no dot segment, plain or percent-encoded (`.`, `..`, `%2e%2e`, `.%2E`), also with a `;param` (`..;`,
 *   which some servers read as `..`), and no empty segment (`//`) except a trailing slash. A browser
 *   normalises dot segments away before sending, so refusing them (rather than resolving those that stay
 *   below the mount point) costs a real client nothing;
 * - the query string passes as sent; no control, space, non-ASCII character or `#` anywhere in the target.
 * Last, the URL is parsed and must still have the upstream's origin and exactly `<base path><path>` as path.
 *
 * The headers (`upstreamHeaders`) are the browser's, minus what the BFF owns or the browser must not assert:
 *
 * - removed: `cookie`, `authorization`, `dpop`, `x-bff-csrf`; hop-by-hop headers (`connection` and every
 *   header it names, `keep-alive`, `proxy-*`, `te`, `trailer`, `transfer-encoding`, `upgrade`,
 *   `http2-settings`);
 * - removed: forwarding and client-address headers (`forwarded`, every `x-forwarded-*`, `x-real-ip`,
 *   `x-client-ip`, `true-client-ip`, `cf-connecting-ip`, …), identity headers that authenticating proxies
 *   set (`x-user`, `remote-user`, `x-remote-*`, `remote-*`, `x-authenticated-*`, `x-auth-request-*`,
 *   `x-forwarded-user`, `x-amzn-oidc-*`, `x-ms-client-principal*`, `x-goog-authenticated-user-*`,
 *   `cf-access-*`, `x-pomerium-*`, `x-jwt-assertion`, …), and headers that make some servers use another path
 *   or method than the one the BFF checked (`x-original-url`, `x-rewrite-url`, `x-http-method-override`, …);
 * - set: `authorization` (Bearer, or DPoP with a `dpop` proof), `x-forwarded-for` = the client address as
 *   the BFF sees it (`request.ip`, which follows the server's `trustProxy` setting), `x-forwarded-host` and
 *   `x-forwarded-proto` = the BFF's public URL (`BFF_PUBLIC_URL`), never the browser's `Host`.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { BffUpstream } from "./config.js";

/** Characters a path below the mount point may contain (RFC 3986 pchar and `/`, plus `| ^ [ ]`). */
const PATH_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/|^[\]]*$/;
const MALFORMED_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const ENCODED_SEPARATOR_OR_CONTROL = /%(2f|5c|[01][0-9a-f]|7f)/i;
/** Anywhere in the target: control characters, space, `#`, non-ASCII (a browser percent-encodes all of them). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
const CONTROL_OR_FRAGMENT = /[\u0000-\u0020\u007f-\uffff#]/;

/**
 * The upstream URL (without the query) and the query (without `?`) for a request target, or undefined when
 * the target must be refused.
 */
export function upstreamUrl(
  target: string,
  mount: string,
  upstream: BffUpstream,
  publicOrigin: string,
): { url: string; query: string } | undefined {
  if (CONTROL_OR_FRAGMENT.test(target)) return undefined;
  const originForm = toOriginForm(target, publicOrigin);
  if (originForm === undefined) return undefined;
  const queryAt = originForm.indexOf("?");
  const path = queryAt < 0 ? originForm : originForm.slice(0, queryAt);
  const query = queryAt < 0 ? "" : originForm.slice(queryAt + 1);
  if (path !== mount && !path.startsWith(`${mount}/`)) return undefined;
  const rest = path.slice(mount.length) || "/";
  if (!isPlainPath(rest)) return undefined;

  const base = new URL(upstream.url);
  const basePath = base.pathname === "/" ? "" : base.pathname;
  const url = new URL(`${base.origin}${basePath}${rest}`);
  if (url.origin !== base.origin || url.pathname !== `${basePath}${rest}`) return undefined;
  return { url: url.href, query };
}

/** `/path?query` for an origin-form target, or for an absolute-form one naming the BFF's own origin. */
function toOriginForm(target: string, publicOrigin: string): string | undefined {
  if (target.startsWith("/")) return target;
  const match = /^(https?:\/\/)([^/?]*)(.*)$/i.exec(target);
  if (!match) return undefined;
  const [, scheme = "", authority = "", rest = ""] = match;
  if (authority.includes("@")) return undefined;
  if (`${scheme}${authority}`.toLowerCase() !== publicOrigin.toLowerCase()) return undefined;
  return rest.startsWith("/") ? rest : undefined;
}

function isPlainPath(path: string): boolean {
  if (!path.startsWith("/") || !PATH_CHARACTERS.test(path)) return false;
  if (MALFORMED_PERCENT.test(path) || ENCODED_SEPARATOR_OR_CONTROL.test(path)) return false;
  try {
    decodeURIComponent(path); // percent-encoded bytes must be UTF-8
  } catch {
    return false;
  }
  const segments = path.slice(1).split("/");
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? "";
    if (segment === "" && i < segments.length - 1) return false;
    const name = (segment.split(";")[0] ?? "").replace(/%2e/gi, ".");
    if (name === "." || name === "..") return false;
  }
  return true;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/** Headers from the browser that never reach the upstream (besides hop-by-hop ones). */
const DROPPED = new Set([
  // The BFF's own: the session cookie, the browser's idea of credentials, the CSRF marker.
  "cookie",
  "authorization",
  "dpop",
  "x-bff-csrf",
  // Client address and forwarding (x-forwarded-* is a prefix below).
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "fastly-client-ip",
  "x-cluster-client-ip",
  "client-ip",
  "x-original-forwarded-for",
  "x-original-host",
  "x-host",
  // Identity asserted by authenticating proxies.
  "x-user",
  "x-username",
  "x-user-id",
  "x-email",
  "x-jwt-assertion",
  "x-id-token",
  "x-access-token",
  // Another path or method than the one the BFF checked.
  "x-original-url",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

const DROPPED_PREFIXES = [
  "x-forwarded-",
  "remote-",
  "x-remote-",
  "x-authenticated-",
  "x-auth-request-",
  "x-amzn-oidc-",
  "x-ms-client-principal",
  "x-ms-token-",
  "x-goog-authenticated-user-",
  "x-goog-iap-",
  "cf-access-",
  "x-pomerium-",
];

/** The headers without the hop-by-hop ones (and those the message's `Connection` header names). */
export function withoutHopByHop<T extends Record<string, unknown>>(headers: T): T {
  const named = typeof headers.connection === "string" ? headers.connection.split(",") : [];
  const connection = new Set(named.map((name) => name.trim().toLowerCase()));
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && !connection.has(name)) out[name] = value;
  }
  return out as T;
}

export interface UpstreamHeaderContext {
  /** The access token, and the DPoP proof when the token is DPoP-bound. */
  accessToken: string;
  dpopProof: string | undefined;
  /** The client's address as the BFF sees it (`request.ip`). */
  clientIp: string;
  /** The BFF's public origin (`BFF_PUBLIC_URL`). */
  publicOrigin: string;
}

/** The headers sent upstream: the browser's, filtered (see the module comment), plus the BFF's own. */
export function upstreamHeaders(
  browser: IncomingHttpHeaders,
  context: UpstreamHeaderContext,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(withoutHopByHop(browser))) {
    if (DROPPED.has(name) || DROPPED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    out[name] = value;
  }
  if (context.dpopProof === undefined) {
    out.authorization = `Bearer ${context.accessToken}`;
  } else {
    out.authorization = `DPoP ${context.accessToken}`;
    out.dpop = context.dpopProof;
  }
  const publicUrl = new URL(context.publicOrigin);
  if (context.clientIp) out["x-forwarded-for"] = context.clientIp;
  out["x-forwarded-host"] = publicUrl.host;
  out["x-forwarded-proto"] = publicUrl.protocol.slice(0, -1);
  return out;
}
