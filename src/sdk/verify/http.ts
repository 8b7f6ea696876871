/**
 * The verifier's few HTTP calls to Tessera (discovery, JWKS, introspection, the revocation feed).
 *
 * - Every call has a timeout and follows no redirects; anything but a 200 JSON object is a failure.
 * - Failures are `UpstreamError`s whose message names the endpoint and the HTTP status, never a token or a
 *   secret; the verifier turns them into 503s (never a pass).
 * - Endpoints must be `https:`, or `http:` on a loopback host (development), unless `allowHttp` is set.
 * - Client authentication is `client_secret_basic`: id and secret form-urlencoded, then base64
 *   (RFC 6749 §2.3.1).
 */

export interface HttpContext {
  fetch: typeof fetch;
  timeoutMs: number;
  allowHttp: boolean;
}

/** Which of Tessera's endpoints a call went to. */
export type Upstream = "discovery" | "jwks" | "introspection" | "revocations";

/** Tessera or the network failed; the message is safe to log. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  readonly source: Upstream;
  constructor(source: Upstream, problem: string) {
    super(`${source}: ${problem}`);
    this.source = source;
  }
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Parses and checks an endpoint URL (TypeError when it is not acceptable). */
export function checkEndpoint(value: unknown, allowHttp: boolean, what: string): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(`${what} is not a URL`);
  }
  const ok =
    url.protocol === "https:" ||
    (url.protocol === "http:" &&
      (allowHttp || LOOPBACK.has(url.hostname) || url.hostname.endsWith(".localhost")));
  if (!ok || url.username !== "" || url.password !== "" || url.hash !== "") {
    throw new TypeError(`${what} must be an https URL (http only on loopback, or with allowHttp)`);
  }
  return url;
}

/** `Authorization` value for client_secret_basic (RFC 6749 §2.3.1). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString("base64")}`;
}

/** Calls `url` and returns its JSON object body and headers; throws `UpstreamError` on any failure. */
export async function fetchJsonObject(
  http: HttpContext,
  source: Upstream,
  url: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {},
): Promise<{ body: Record<string, unknown>; headers: Headers }> {
  let response: Response;
  try {
    response = await http.fetch(url, {
      method: init.method ?? "GET",
      headers: { accept: "application/json", ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
      redirect: "manual",
      signal: AbortSignal.timeout(http.timeoutMs),
    });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    throw new UpstreamError(source, timedOut ? "timed out" : "network error");
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(source, `HTTP ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new UpstreamError(source, "the answer is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new UpstreamError(source, "the answer is not a JSON object");
  }
  return { body: body as Record<string, unknown>, headers: response.headers };
}
