/**
 * The proxy cannot be pointed anywhere but its configured upstreams, tested over raw TCP (node:net), which
 * sends request targets byte for byte as written (fetch and node:http normalise or refuse many of them).
 *
 * - A real, listening BFF with a signed-in session (created in its store, as /bff/callback would) and two
 *   recording upstreams: `/api` → a bare origin, `/based` → `<origin>/base`. A third server stands for "some
 *   other host": it must receive nothing, so the bearer token never reaches it.
 * - Absolute-form targets naming another authority (`http://a@127.0.0.1:<other port>/…`, `http://evil/…`),
 *   user-info, `%2F`, `%2e%2e`, `..`, `..;`, backslashes and control characters are refused with 400, and the
 *   base-path upstream never receives a path outside `/base/` (`/basey/…`, `/other`).
 * - Legitimate paths still proxy: query strings, encoded characters that are not separators, absolute-form
 *   naming the BFF's own origin.
 * - Forwarding and identity headers from the browser are replaced or dropped; `X-Forwarded-For` is the BFF's
 *   view of the client, which follows Fastify's `trustProxy`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bffPlugin, loadBffConfig, openSessionStore, type SessionStore } from "../../src/bff/index.js";
import { isDeadGrant } from "../../src/bff/oidc.js";
import { createBffSessions } from "../../src/bff/sessions.js";
import { createMasterKey } from "../../src/crypto/index.js";
import { systemClock } from "../../src/lib/clock.js";
import { freePort } from "../helpers/tls-server.js";

const MASTER_KEY = "5a".repeat(32);
const ACCESS_TOKEN = "at-proxy-target-test-0123456789";

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A plain HTTP server that records every request it gets. */
async function recordingServer(): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    seen.push({ url: request.url ?? "", headers: request.headers });
    request.resume();
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ url: request.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** One request over a fresh TCP connection, target and headers exactly as given; answers status and body. */
function rawRequest(
  port: number,
  target: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4) });
    });
    const lines = [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    // write, not end: Node's server aborts a request whose client half-closes; `Connection: close` ends it.
    socket.write(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"));
  });
}

describe("the BFF proxy's upstream is only ever the configured one", () => {
  let dir: string;
  let store: SessionStore;
  let bff: FastifyInstance;
  let trustingBff: FastifyInstance;
  let bffPort: number;
  let trustingPort: number;
  let bare: Awaited<ReturnType<typeof recordingServer>>;
  let based: Awaited<ReturnType<typeof recordingServer>>;
  let other: Awaited<ReturnType<typeof recordingServer>>;
  let cookie: string;

  async function startBff(trustProxy: boolean | string): Promise<{ app: FastifyInstance; port: number }> {
    const app = Fastify({ trustProxy });
    const port = await freePort();
    const config = loadBffConfig({
      BFF_ISSUER: "http://127.0.0.1:9", // never contacted: the session's token does not need a refresh
      BFF_CLIENT_ID: "shop",
      BFF_CLIENT_SECRET: "secret",
      BFF_PUBLIC_URL: `http://127.0.0.1:${port}`,
      BFF_UPSTREAMS: `/api=http://127.0.0.1:${bare.port},/based=http://127.0.0.1:${based.port}/base`,
      BFF_DATABASE_URL: join(dir, "unused.db"),
      BFF_MASTER_KEY: MASTER_KEY,
      BFF_ALLOW_INSECURE: "1",
    });
    await app.register(bffPlugin, { config, store });
    await app.listen({ port, host: "127.0.0.1" });
    return { app, port };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bff-proxy-target-"));
    [bare, based, other] = [await recordingServer(), await recordingServer(), await recordingServer()];
    store = await openSessionStore({
      databaseUrl: join(dir, "bff.db"),
      idleTimeoutMs: 3_600_000,
      now: () => systemClock.now(),
    });
    const sessions = createBffSessions({
      store,
      masterKey: createMasterKey(Buffer.from(MASTER_KEY, "hex")),
      clock: systemClock,
      idleTimeoutMs: 3_600_000,
      lifetimeMs: 3_600_000,
      refreshLeewayMs: 30_000,
      refresh: () => Promise.reject(new Error("no refresh in this test")),
      isDeadGrant,
    });
    const { id } = await sessions.create(
      {
        accessToken: ACCESS_TOKEN,
        refreshToken: undefined,
        idToken: undefined,
        expiresIn: 3600,
        claims: undefined,
      },
      { sub: "pat" },
    );
    cookie = `bff_session=${id}`;
    ({ app: bff, port: bffPort } = await startBff(false));
    ({ app: trustingBff, port: trustingPort } = await startBff("127.0.0.1"));
  });

  afterAll(async () => {
    await bff?.close();
    await trustingBff?.close();
    await store?.close();
    for (const s of [bare, based, other]) await new Promise((resolve) => s?.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    bare.seen.length = 0;
    based.seen.length = 0;
    other.seen.length = 0;
  });

  /** `http://<user-info>@<authority><path>`, the user-info as long as the mount point minus `http://`. */
  const withUserInfo = (mount: string, authority: string, path: string) =>
    `http://${"a".repeat(mount.length - "http://".length)}@${authority}${path}`;

  it("refuses absolute-form targets naming another authority, or with user-info, and sends nothing", async () => {
    const targets = [
      withUserInfo("/bff/api", `127.0.0.1:${other.port}`, "/bff/api/x"),
      `http://a@127.0.0.1:${other.port}/bff/api/x`,
      `http://127.0.0.1:${other.port}/bff/api/x`,
      `http://evil/bff/api/x`,
      `http://evil.example:80/bff/based/x`,
      `http://a@127.0.0.1:${bffPort}/bff/api/x`,
      `http://127.0.0.1:${bffPort}@127.0.0.1:${other.port}/bff/api/x`,
      // Cut at the mount point's length (10), this one used to leave the base path: /basey/bff/based/x.
      "http://aaay/bff/based/x",
      withUserInfo("/bff/based", `127.0.0.1:${other.port}`, "/bff/based/x"),
      `https://127.0.0.1:${bffPort}/bff/api/x`,
    ];
    for (const target of targets) {
      const answer = await rawRequest(bffPort, target, { cookie });
      expect(answer.status, target).toBe(400);
      expect(answer.body, target).not.toContain(ACCESS_TOKEN);
    }
    expect(other.seen).toHaveLength(0);
    expect(bare.seen).toHaveLength(0);
    expect(based.seen).toHaveLength(0);
  });

  it("refuses encoded separators, dot segments, backslashes and control characters", async () => {
    const targets = [
      "/bff/based/../other",
      "/bff/based/x/../../other",
      "/bff/based/%2e%2e/other",
      "/bff/based/%2E%2E/%2e%2e/other",
      "/bff/based/.%2e/other",
      "/bff/based/./x",
      "/bff/based/..;/other",
      "/bff/based/..%2Fother",
      "/bff/based/x%2F..%2F..%2Fother",
      "/bff/based/x%5C..%5C..%5Cother",
      "/bff/based/x\\..\\..\\other",
      "/bff/based//127.0.0.1/x",
      "/bff/based/x%00",
      "/bff/based/x%0d%0aX-Injected:%201",
      "/bff/based/x\u0001",
      "/bff/based/x#y",
      "/bff/api/../based/x",
      "/bff/api/%2e%2e/%2e%2e/admin",
      "/bff/api/x\\..\\..\\admin",
    ];
    for (const target of targets) {
      const answer = await rawRequest(bffPort, target, { cookie });
      expect(answer.status, target).toBe(400);
    }
    // Not under a mount point at all: no route.
    for (const target of ["/bff/basedy/x", "/bff/based\\..\\other"]) {
      expect((await rawRequest(bffPort, target, { cookie })).status, target).toBe(404);
    }
    expect(other.seen).toHaveLength(0);
    expect(bare.seen).toHaveLength(0);
    expect(based.seen).toHaveLength(0);
  });

  it("still proxies legitimate paths, query strings and encoded characters that are not separators", async () => {
    const cases: [string, Seen[], string][] = [
      ["/bff/based", based.seen, "/base/"],
      [
        "/bff/based/orders?status=open&next=%2F..%2Fadmin",
        based.seen,
        "/base/orders?status=open&next=%2F..%2Fadmin",
      ],
      ["/bff/based/caf%C3%A9/a%20b/100%25/", based.seen, "/base/caf%C3%A9/a%20b/100%25/"],
      ["/bff/based/a:b@c;v=1/file.txt", based.seen, "/base/a:b@c;v=1/file.txt"],
      [`http://127.0.0.1:${bffPort}/bff/based/own?q=1`, based.seen, "/base/own?q=1"],
      ["/bff/api/orders/42?x=%5C", bare.seen, "/orders/42?x=%5C"],
      ["/bff/api/%40evil/x", bare.seen, "/%40evil/x"],
    ];
    for (const [target, seen, expected] of cases) {
      seen.length = 0;
      const answer = await rawRequest(bffPort, target, { cookie });
      expect(answer.status, target).toBe(200);
      expect(
        seen.map((s) => s.url),
        target,
      ).toEqual([expected]);
      expect(seen[0]?.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
      expect(seen[0]?.headers.host).toBe(
        seen === based.seen ? `127.0.0.1:${based.port}` : `127.0.0.1:${bare.port}`,
      );
    }
    expect(other.seen).toHaveLength(0);
  });

  it("never lets the base-path upstream see a path outside its base path", async () => {
    const probes = [
      "/bff/based",
      "/bff/based/",
      "/bff/based/x",
      "/bff/based/x/..",
      "/bff/based/%2e%2e",
      "/bff/based/..%5Cother",
      "/bff/based/x\\..\\..\\other",
      "http://aaay/bff/based/x",
      "http://aa@y/bff/based/x",
    ];
    for (const target of probes) await rawRequest(bffPort, target, { cookie });
    expect(based.seen.length).toBeGreaterThan(0);
    for (const { url } of based.seen) expect(url, url).toMatch(/^\/base\//);
    expect(other.seen).toHaveLength(0);
  });

  it("replaces the browser's forwarding headers and drops identity headers", async () => {
    const spoofed = {
      cookie,
      forwarded: "for=6.6.6.6;host=evil;proto=https",
      "x-forwarded-for": "6.6.6.6",
      "x-forwarded-host": "evil.example",
      "x-forwarded-proto": "https",
      "x-forwarded-user": "admin",
      "x-real-ip": "6.6.6.6",
      "x-user": "admin",
      "x-remote-user": "admin",
      "remote-user": "admin",
      "x-authenticated-user": "admin",
      "x-auth-request-user": "admin",
      "x-auth-request-email": "admin@example.com",
      "x-original-url": "/admin",
      "x-keep-me": "1",
    };
    const answer = await rawRequest(bffPort, "/bff/api/whoami", spoofed);
    expect(answer.status).toBe(200);
    const headers = bare.seen[0]!.headers;
    expect(headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(headers["x-forwarded-host"]).toBe(`127.0.0.1:${bffPort}`);
    expect(headers["x-forwarded-proto"]).toBe("http");
    expect(headers["x-keep-me"]).toBe("1");
    for (const name of [
      "forwarded",
      "x-forwarded-user",
      "x-real-ip",
      "x-user",
      "x-remote-user",
      "remote-user",
      "x-authenticated-user",
      "x-auth-request-user",
      "x-auth-request-email",
      "x-original-url",
      "cookie",
    ]) {
      expect(headers[name], name).toBeUndefined();
    }
  });

  it("takes the client address from X-Forwarded-For only when Fastify's trustProxy trusts the sender", async () => {
    const answer = await rawRequest(trustingPort, "/bff/api/whoami", {
      cookie,
      "x-forwarded-for": "203.0.113.9",
      "x-forwarded-host": "evil.example",
    });
    expect(answer.status).toBe(200);
    expect(bare.seen[0]?.headers["x-forwarded-for"]).toBe("203.0.113.9");
    expect(bare.seen[0]?.headers["x-forwarded-host"]).toBe(`127.0.0.1:${trustingPort}`);
  });
});
