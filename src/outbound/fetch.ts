/**
 * The one way Tessera sends a request to a URL it was given (back-channel logout today; webhooks, shared
 * signals and upstream providers later): a `fetch`-like function that applies the outbound policy
 * (policy.ts) before every connection.
 *
 * - The host is resolved once per hop, every address is checked, and the connection goes to the first vetted
 *   address: the socket's `lookup` answers that address only, so a DNS answer that changes between the check
 *   and the connection (DNS rebinding) cannot move it. TLS still checks the certificate against the host name.
 * - Redirects: `redirect: "manual"` answers the 3xx response as it is, `"error"` refuses it, and `"follow"`
 *   (the default, as in fetch) follows at most `maxRedirects`, checking each new destination the same way.
 * - One timeout covers the whole exchange (resolution, every hop, the response body), besides the caller's
 *   own `signal`.
 * - No connection pooling (`agent: false`): a socket is never shared with a request that was not checked.
 * - A refused destination throws `OutboundRefusedError` before any connection; network failures throw as
 *   usual. The caller logs either.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { Readable } from "node:stream";
import type { Logger } from "pino";
import { formatIp, type IpAddress } from "./addresses.js";
import {
  ALLOW_SETTING,
  addressOf,
  type CompiledPolicy,
  compilePolicy,
  type OutboundPolicy,
} from "./policy.js";

/** Resolves a host name to every address (as `dns.promises.lookup(host, { all: true })` does). */
export type OutboundLookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface OutboundRequestInit {
  method?: string;
  headers?: ConstructorParameters<typeof Headers>[0];
  body?: string | Uint8Array | URLSearchParams | null;
  redirect?: "follow" | "manual" | "error";
  signal?: AbortSignal | null;
}

/** A `fetch` for destinations Tessera did not choose itself. */
export type OutboundFetch = (input: string | URL, init?: OutboundRequestInit) => Promise<Response>;

export type RefusalReason =
  | "scheme"
  | "credentials"
  | "https-required"
  | "address"
  | "no-address"
  | "redirect"
  | "too-many-redirects";

/** A destination the policy refuses: nothing was sent to it. */
export class OutboundRefusedError extends Error {
  override readonly name = "OutboundRefusedError";
  constructor(
    readonly reason: RefusalReason,
    /** The host of the refused URL (never the path or query, which may carry secrets). */
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

export interface OutboundOptions {
  policy: OutboundPolicy;
  /** DNS resolution; default `dns.promises.lookup` with every address, in the resolver's order. */
  lookup?: OutboundLookup;
  log?: Logger;
  /** The whole exchange, redirects and body included. Default 10 s. */
  timeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Extra trusted certificate authorities (PEM) for https, besides Node's. */
  ca?: string | readonly string[];
}

export interface OutboundDestination {
  url: URL;
  /** The host name without brackets. */
  host: string;
  address: IpAddress;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 204, 205, 304]);
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

const systemLookup: OutboundLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

function describe(
  address: IpAddress,
  verdictClass: { kind: string; range?: string; embedded?: string },
): string {
  const carried = verdictClass.embedded ? ` (carrying ${verdictClass.embedded})` : "";
  const range = verdictClass.range ? ` (${verdictClass.range})` : "";
  return `${formatIp(address)}${carried} is ${verdictClass.kind}${range}`;
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Checks a URL against the policy: scheme, credentials, every resolved address, https. Answers the address to
 * connect to; throws `OutboundRefusedError` when refused.
 */
export async function checkDestination(
  url: URL,
  policy: CompiledPolicy,
  lookup: OutboundLookup = systemLookup,
  signal?: AbortSignal,
): Promise<OutboundDestination> {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const refuse = (reason: RefusalReason, why: string): never => {
    throw new OutboundRefusedError(
      reason,
      host,
      `Outbound request to ${host || url.protocol} refused: ${why}.`,
    );
  };
  if (url.protocol !== "https:" && url.protocol !== "http:")
    refuse("scheme", `${url.protocol} is not http(s)`);
  if (url.username || url.password) refuse("credentials", "the URL carries a user name or password");
  const literal = addressOf(host);
  let addresses: IpAddress[];
  if (literal) {
    addresses = [literal];
  } else {
    const answers = await (signal ? raceAbort(lookup(host), signal) : lookup(host));
    addresses = [];
    for (const answer of answers) {
      const parsed = addressOf(answer.address);
      if (!parsed)
        refuse("address", `${host} resolved to ${JSON.stringify(answer.address)}, not a plain address`);
      else addresses.push(parsed);
    }
  }
  if (addresses.length === 0) refuse("no-address", `${host} resolved to no address`);
  let allLoopback = true;
  for (const address of addresses) {
    const verdict = policy.check(address);
    if (!verdict.allowed) {
      refuse("address", `${describe(address, verdict.class)}; ${ALLOW_SETTING} can allow it`);
    }
    if (verdict.class.kind !== "loopback") allLoopback = false;
  }
  if (url.protocol === "http:" && !allLoopback) refuse("https-required", "plain http reaches loopback only");
  return { url, host, address: addresses[0] as IpAddress };
}

function encodeBody(body: OutboundRequestInit["body"]): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof URLSearchParams) return Buffer.from(body.toString());
  return body;
}

function toResponse(res: IncomingMessage, method: string, url: URL, signal: AbortSignal): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
    } catch {
      // A header value fetch would refuse: dropped.
    }
  }
  const noBody = method === "HEAD" || NULL_BODY.has(status);
  if (noBody) res.resume();
  else {
    // A body still streaming when the time is up fails with the signal's reason.
    const onAbort = () => res.destroy(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    res.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  const response = new Response(body, { status, statusText: res.statusMessage ?? "", headers });
  Object.defineProperty(response, "url", { value: url.href });
  return response;
}

export function createOutboundFetch(options: OutboundOptions): OutboundFetch {
  const policy = compilePolicy(options.policy);
  const lookup = options.lookup ?? systemLookup;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxRedirects = options.maxRedirects ?? 5;
  const ca = options.ca === undefined ? undefined : ([] as string[]).concat(options.ca);
  const { log } = options;

  function send(
    destination: OutboundDestination,
    method: string,
    headers: Headers,
    body: Uint8Array | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const { url, host, address } = destination;
    const pinned = formatIp(address);
    const family = address.family;
    // net.connect asks this for the host's address: it answers the vetted one, whatever DNS says now.
    const pinnedLookup: LookupFunction = (_hostname, lookupOptions, callback) => {
      if (lookupOptions.all) callback(null, [{ address: pinned, family }]);
      else callback(null, pinned, family);
    };
    const outgoing: Record<string, string> = {};
    headers.forEach((value, name) => {
      outgoing[name] = value;
    });
    if (body !== undefined) outgoing["content-length"] = String(body.byteLength);
    const https = url.protocol === "https:";
    const requestOptions: RequestOptions & { servername?: string; ca?: string[] } = {
      host,
      port: url.port || (https ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method,
      headers: outgoing,
      agent: false,
      lookup: pinnedLookup,
      signal,
    };
    if (https && !addressOf(host)) requestOptions.servername = host;
    if (https && ca) requestOptions.ca = ca;
    return new Promise<Response>((resolve, reject) => {
      const request = (https ? httpsRequest : httpRequest)(requestOptions, (res) => {
        try {
          resolve(toResponse(res, method, url, signal));
        } catch (error) {
          res.destroy();
          reject(error);
        }
      });
      // As fetch does: an abort rejects with the signal's reason (a TimeoutError for the timeout).
      request.on("error", (error) => reject(signal.aborted ? signal.reason : error));
      log?.debug({ host, address: pinned, method }, "outbound request");
      request.end(body);
    });
  }

  return async function outboundFetch(input, init = {}) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const mode = init.redirect ?? "follow";
    let url = new URL(input);
    let method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    if (init.body instanceof URLSearchParams && !headers.has("content-type")) {
      headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
    }
    let body = encodeBody(init.body);
    for (let hop = 0; ; hop++) {
      const destination = await checkDestination(url, policy, lookup, signal);
      const response = await send(destination, method, headers, body, signal);
      if (!REDIRECTS.has(response.status) || mode === "manual") return response;
      await response.body?.cancel();
      if (mode === "error") {
        throw new OutboundRefusedError(
          "redirect",
          destination.host,
          `Outbound request to ${destination.host} refused: it answered a redirect (${response.status}).`,
        );
      }
      const location = response.headers.get("location");
      if (location === null) return response;
      if (hop >= maxRedirects) {
        throw new OutboundRefusedError(
          "too-many-redirects",
          destination.host,
          `Outbound request to ${destination.host} refused: more than ${maxRedirects} redirects.`,
        );
      }
      const next = new URL(location, url);
      // As fetch does: 303 turns anything but HEAD into a body-less GET, and so do 301/302 after a POST.
      if (
        (response.status === 303 && method !== "HEAD") ||
        ((response.status === 301 || response.status === 302) && method === "POST")
      ) {
        method = method === "HEAD" ? "HEAD" : "GET";
        body = undefined;
        for (const name of ["content-type", "content-length", "content-encoding", "content-language"]) {
          headers.delete(name);
        }
      }
      if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name);
      url = next;
    }
  };
}
