/**
 * A stand-in Tessera for the verifier's tests: a real node:http server on 127.0.0.1 that serves discovery,
 * the JWKS, introspection and the revocation feed, with keys from `jose` and tokens signed by
 * `jose.SignJWT` (independent of Tessera's own signer). Opaque tokens are built here too (CRC32 + base62),
 * not with Tessera's generator. Every request is logged so tests can count network calls.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

export const CLIENT_ID = "orders-api";
export const CLIENT_SECRET = "s3cret with spaces & symbols";
export const AUDIENCE = "https://api.example.test";

type Alg = "EdDSA" | "ES256" | "RS256";

export interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  jwk: JWK;
}

export async function makeKey(alg: Alg, kid = `${alg}-${randomUUID().slice(0, 8)}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function base62(n: bigint, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

/** A token in Tessera's opaque format: prefix + 43 base62 characters + 6-character CRC32 checksum. */
export function opaqueToken(prefix: "tsr_at_" | "tsr_pat_" | "tsr_svc_" | string): string {
  const body = prefix + base62(BigInt(`0x${randomBytes(32).toString("hex")}`), 43);
  return body + base62(BigInt(crc32(body) >>> 0), 6);
}

export interface FeedEvent {
  id: string;
  type: "jti" | "sub";
  value: string;
  at: number;
}

export interface FakeIssuer {
  url: string;
  keys: TestKey[];
  /** Public keys served (default: all of `keys`). */
  served: () => JWK[];
  requests: { method: string; path: string; query: string }[];
  count(path: string): number;
  /** Introspection answers by token; anything else is `{active:false}`. */
  tokens: Map<string, Record<string, unknown>>;
  events: FeedEvent[];
  /** Per-endpoint outage switches. */
  down: { jwks: boolean; introspection: boolean; revocations: boolean; discovery: boolean };
  jwksCacheControl: string | undefined;
  intervalMs: number;
  /** Omits the feed from discovery. */
  noFeed: boolean;
  revoke(type: "jti" | "sub", value: string, at?: number): FeedEvent;
  sign(
    claims?: Record<string, unknown>,
    options?: { key?: TestKey; typ?: string | null; kid?: string },
  ): Promise<string>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function clientAuthenticated(request: IncomingMessage): boolean {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, "+");
  const expected = `Basic ${Buffer.from(`${encode(CLIENT_ID)}:${encode(CLIENT_SECRET)}`).toString("base64")}`;
  return request.headers.authorization === expected;
}

export async function startIssuer(): Promise<FakeIssuer> {
  const keys = await Promise.all([makeKey("EdDSA"), makeKey("ES256"), makeKey("RS256")]);
  let url = "";
  const issuer: FakeIssuer = {
    url,
    keys,
    served: () => issuer.keys.map((k) => k.jwk),
    requests: [],
    count: (path) => issuer.requests.filter((r) => r.path === path).length,
    tokens: new Map(),
    events: [],
    down: { jwks: false, introspection: false, revocations: false, discovery: false },
    jwksCacheControl: "public, max-age=300",
    intervalMs: 50,
    noFeed: false,
    revoke(type, value, at = Date.now()) {
      const event = { id: randomUUID(), type, value, at };
      issuer.events.push(event);
      return event;
    },
    async sign(claims = {}, options = {}) {
      const key = options.key ?? (keys[0] as TestKey);
      const now = Math.floor(Date.now() / 1000);
      const header: Record<string, unknown> = { alg: key.alg, kid: options.kid ?? key.kid };
      if (options.typ !== null) header.typ = options.typ ?? "at+jwt";
      return new SignJWT({
        iss: issuer.url,
        aud: AUDIENCE,
        sub: "user-1",
        client_id: "web-app",
        scope: "orders:read profile",
        iat: now,
        exp: now + 300,
        jti: randomUUID(),
        ...claims,
      })
        .setProtectedHeader(header as { alg: string })
        .sign(key.privateKey);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server: Server = createServer(async (request, response) => {
    const { pathname, searchParams } = new URL(request.url ?? "/", "http://x");
    issuer.requests.push({ method: request.method ?? "", path: pathname, query: searchParams.toString() });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    if (pathname === "/.well-known/openid-configuration") {
      if (issuer.down.discovery) return send(503, { error: "down" });
      return send(200, {
        issuer: issuer.url,
        jwks_uri: `${issuer.url}/jwks`,
        introspection_endpoint: `${issuer.url}/introspect`,
        ...(issuer.noFeed ? {} : { tessera_revocations_endpoint: `${issuer.url}/revocations` }),
      });
    }
    if (pathname === "/jwks") {
      if (issuer.down.jwks) return send(500, { error: "down" });
      return send(
        200,
        { keys: issuer.served() },
        issuer.jwksCacheControl === undefined ? {} : { "cache-control": issuer.jwksCacheControl },
      );
    }
    if (pathname === "/introspect" && request.method === "POST") {
      if (issuer.down.introspection) return send(500, { error: "down" });
      if (!clientAuthenticated(request)) return send(401, { error: "invalid_client" });
      const form = new URLSearchParams(await readBody(request));
      const token = form.get("token") ?? "";
      return send(200, issuer.tokens.get(token) ?? { active: false });
    }
    if (pathname === "/revocations") {
      if (issuer.down.revocations) return send(503, { error: "down" });
      if (!clientAuthenticated(request)) return send(401, { error: "invalid_client" });
      // Cursor = number of events already delivered; every answer repeats the last two (as the real feed
      // re-reads a few seconds behind its cursor), so clients must de-duplicate.
      const since = searchParams.get("since");
      const from = since === null ? 0 : Math.max(0, Number(since) - 2);
      return send(200, {
        events: issuer.events.slice(from),
        cursor: String(issuer.events.length),
        interval_ms: issuer.intervalMs,
      });
    }
    send(404, { error: "not_found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.url = url;
  return issuer;
}
