/**
 * The BFF's proxy: what going through `/bff/<prefix>/*` (session cookie → stored access token → `Authorization:
 * Bearer` → upstream) costs next to calling the upstream directly with the same bearer token, in the same run.
 *
 * - Upstream: a bare Fastify JSON route (`GET /orders`, 401 without a bearer token), so the figures are the
 *   proxy's own cost, not an API's token verification.
 * - The BFF session comes from the real flow once: `/bff/login` → Tessera's authorization endpoint (the sign-in
 *   itself is done in-process with Tessera's domain services) → `/bff/callback`, over real HTTP; the direct case
 *   uses the very access token the BFF forwarded (recorded by the upstream).
 * - Table: one caller, request after request (`fetch`), direct (baseline) vs through the BFF.
 * - Notes: 50 keep-alive connections from the load generator's worker thread, interleaved rounds: req/s ratio
 *   and the p50 / p99 latency the proxy adds. Tessera, the BFF and the upstream share the main thread; the
 *   proxied case runs the upstream's work too, as it would in production (on its own machine there).
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { bffPlugin, loadBffConfig } from "../src/bff/index.js";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey } from "../src/crypto/index.js";
import { buildApp } from "../src/http/app.js";
import { createLogger } from "../src/observability/log.js";
import { createServices, type Services } from "../src/server/services.js";
import {
  type AnswerCheck,
  interleave,
  type LatencySummary,
  LoadGenerator,
  type LoadResult,
  median,
  rawGet,
  wrongAnswers,
} from "./load.js";
import { type Benchmark, type BenchSuite, loadRound } from "./runner.js";

const API = "https://api.bench.test";
const CONNECTIONS = 50;
const ROUND = loadRound({ warmupMs: 300, durationMs: 2000, rounds: 5 });
const ORDERS = {
  orders: [
    { id: 1, item: "tesserae", quantity: 400 },
    { id: 2, item: "smalti", quantity: 12 },
  ],
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portOf(app: FastifyInstance): number {
  return (app.server.address() as AddressInfo).port;
}

/** Cookies set by a response, as `name=value` pairs (attributes dropped), merged into `jar`. */
function keepCookies(response: Response, jar: Map<string, string>): void {
  for (const line of response.headers.getSetCookie()) {
    const pair = line.split(";", 1)[0] ?? "";
    const eq = pair.indexOf("=");
    if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
}

const cookieHeader = (jar: Map<string, string>) => [...jar].map(([n, v]) => `${n}=${v}`).join("; ");

interface Fixture {
  tessera: { ctx: Services; app: FastifyInstance };
  upstream: FastifyInstance;
  bff: FastifyInstance;
  /** The BFF's session cookie header. */
  cookie: string;
  /** The access token the BFF forwards for that session. */
  bearer: string;
  close(): Promise<void>;
}

async function startFixture(dir: string): Promise<Fixture> {
  /** What to close, last started first (also when the set-up fails half-way, so the process can exit). */
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    return await startServers(dir, closers, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function startServers(
  dir: string,
  closers: (() => Promise<unknown>)[],
  close: () => Promise<void>,
): Promise<Fixture> {
  const tesseraPort = await freePort();
  const issuer = `http://127.0.0.1:${tesseraPort}`;
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: join(dir, "tessera.db"),
      LOG_LEVEL: "silent",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      TESSERA_ISSUER: issuer,
    },
  });
  const ctx = await createServices(config, {
    log: createLogger({ level: "silent" }),
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
  });
  closers.push(() => ctx.close());
  const tesseraApp = await buildApp(ctx);
  closers.push(() => tesseraApp.close());
  await tesseraApp.listen({ host: "127.0.0.1", port: tesseraPort });

  const seen: string[] = [];
  const upstream = Fastify({ logger: false });
  closers.push(() => upstream.close());
  upstream.get("/orders", async (request, reply) => {
    const authorization = request.headers.authorization;
    if (!authorization?.startsWith("Bearer ")) return reply.code(401).send({ error: "invalid_token" });
    if (seen.length === 0) seen.push(authorization);
    return ORDERS;
  });
  await upstream.listen({ host: "127.0.0.1", port: 0 });

  const bffPort = await freePort();
  const bffOrigin = `http://127.0.0.1:${bffPort}`;
  await ctx.oauth.clients.createResourceServer({ audience: API, name: "Bench API", scope: "orders:read" });
  const { client, secret } = await ctx.oauth.clients.create({
    name: "bench BFF",
    redirectUris: [`${bffOrigin}/bff/callback`],
    postLogoutRedirectUris: [`${bffOrigin}/`],
    scope: "openid profile offline_access orders:read",
    resources: [API],
    firstParty: true,
  });
  const user = await ctx.accounts.users.create(
    { userName: "bench-user" },
    { actor: "bench", authority: "admin" as const },
  );
  const bffConfig = loadBffConfig({
    BFF_ISSUER: issuer,
    BFF_CLIENT_ID: client.id,
    BFF_CLIENT_SECRET: secret,
    BFF_PUBLIC_URL: bffOrigin,
    BFF_SCOPE: "openid profile offline_access orders:read",
    BFF_RESOURCE: API,
    BFF_UPSTREAMS: `/api=http://127.0.0.1:${portOf(upstream)}`,
    BFF_DATABASE_URL: join(dir, "bff.db"),
    BFF_MASTER_KEY: "5a".repeat(32),
    BFF_ALLOW_INSECURE: "1",
  });
  const bff = Fastify({ logger: false });
  closers.push(() => bff.close());
  await bff.register(bffPlugin, { config: bffConfig });
  await bff.listen({ host: "127.0.0.1", port: bffPort });

  // The real flow, once: the BFF's login redirect, Tessera's authorization (signed in in-process), the callback.
  const jar = new Map<string, string>();
  const login = await fetch(`${bffOrigin}/bff/login?returnTo=/`, { redirect: "manual" });
  keepCookies(login, jar);
  const authorize = new URL(login.headers.get("location") ?? "", issuer);
  if ((login.status !== 302 && login.status !== 303) || authorize.origin !== issuer) {
    throw new Error(`/bff/login answered ${login.status} to ${authorize.href}`);
  }
  const params = Object.fromEntries(authorize.searchParams);
  const { oauth } = ctx;
  const stored =
    params.request_uri !== undefined
      ? await oauth.authorization.loadPushed(params.request_uri, client.id)
      : await oauth.authorization.save((await oauth.authorization.validate(params)).request);
  if (stored === undefined) throw new Error("the BFF's pushed authorization request is unknown");
  const callback = await oauth.authorization.issueCode(stored, {
    userId: user.id,
    sessionId: "bench-session",
    authTime: ctx.clock.now(),
    amr: ["pwd"],
  });
  const landed = await fetch(callback, { redirect: "manual", headers: { cookie: cookieHeader(jar) } });
  keepCookies(landed, jar);
  if (landed.status !== 302 && landed.status !== 303) {
    throw new Error(`/bff/callback answered ${landed.status}: ${await landed.text()}`);
  }
  const sessionValue = jar.get(bffConfig.cookieName);
  if (!sessionValue) throw new Error(`the BFF set no ${bffConfig.cookieName} cookie`);
  const cookie = `${bffConfig.cookieName}=${sessionValue}`;

  const proxied = await fetch(`${bffOrigin}/bff/api/orders`, { headers: { cookie, "x-bff-csrf": "1" } });
  if (proxied.status !== 200)
    throw new Error(`the proxy answered ${proxied.status}: ${await proxied.text()}`);
  const bearer = seen[0];
  if (bearer === undefined) throw new Error("the upstream saw no bearer token");
  return {
    tessera: { ctx, app: tesseraApp },
    upstream,
    bff,
    cookie,
    bearer,
    close,
  };
}

function expectStatusOk(label: string, result: LoadResult): void {
  const other = Object.keys(result.statuses).filter((s) => s !== "200");
  if (other.length > 0 || (result.requests === 0 && result.wrong === 0)) {
    throw new Error(`${label}: statuses ${JSON.stringify(result.statuses)}`);
  }
}

interface Round {
  perSecond: number;
  latencyMs: LatencySummary;
}

/** Both routes must answer the orders JSON (the upstream's, as the BFF streams it back). */
const ORDERS_ANSWER: AnswerCheck = {
  description: "the upstream's orders JSON",
  pattern: `^${JSON.stringify(ORDERS).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
};

async function measureUnderLoad(fixture: Fixture): Promise<{ notes: string[]; failures: string[] }> {
  const load = await LoadGenerator.start();
  try {
    const bffPort = portOf(fixture.bff);
    const upstreamPort = portOf(fixture.upstream);
    const requests: Record<string, { port: number; request: string }> = {
      direct: {
        port: upstreamPort,
        request: rawGet(upstreamPort, "/orders", { authorization: fixture.bearer }),
      },
      "through the BFF": {
        port: bffPort,
        request: rawGet(bffPort, "/bff/api/orders", { cookie: fixture.cookie, "x-bff-csrf": "1" }),
      },
    };
    const run = (name: string, durationMs: number) => {
      const { port, request } = requests[name]!;
      return load.run({
        type: "load",
        port,
        request,
        connections: CONNECTIONS,
        warmupMs: ROUND.warmupMs,
        durationMs,
        expect: ORDERS_ANSWER,
      });
    };
    const failures = new Map<string, string>();
    const expectOk = (label: string, result: LoadResult) => {
      expectStatusOk(label, result);
      const wrong = wrongAnswers(`GET orders ${label}`, result, ORDERS_ANSWER);
      if (wrong !== undefined && !failures.has(label)) failures.set(label, wrong);
    };
    for (const name of Object.keys(requests)) expectOk(name, await run(name, 500));
    const rounds = await interleave(Object.keys(requests), ROUND.rounds, async (name): Promise<Round> => {
      const result = await run(name, ROUND.durationMs);
      expectOk(name, result);
      return { perSecond: (result.requests * 1000) / result.windowMs, latencyMs: result.latencyMs };
    });
    const direct = rounds.get("direct")!;
    const viaBff = rounds.get("through the BFF")!;
    const rate = (r: readonly Round[]) => median(r.map((x) => x.perSecond));
    const latency = (r: readonly Round[], key: keyof LatencySummary) =>
      median(r.map((x) => x.latencyMs[key]));
    const paired = median(viaBff.map((r, i) => r.perSecond / direct[i]!.perSecond));
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    const ms = (n: number) => `${n.toFixed(2)} ms`;
    const range = (r: readonly Round[]) =>
      `${fmt(Math.min(...r.map((x) => x.perSecond)))} – ${fmt(Math.max(...r.map((x) => x.perSecond)))}`;
    const flag = failures.size > 0 ? " (**WRONG ANSWERS**, see above)" : "";
    const notes = [
      `**Under load${flag} (${CONNECTIONS} keep-alive connections, ${ROUND.rounds} interleaved rounds of ${ROUND.durationMs / 1000} s, load generator on a worker thread)**: ` +
        `direct ${fmt(rate(direct))} req/s (${range(direct)}); through the BFF ${fmt(rate(viaBff))} req/s (${range(viaBff)}): ` +
        `**${(paired * 100).toFixed(1)}% of direct** (median of per-round ratios).`,
      `**Latency under that load**: p50 direct ${ms(latency(direct, "p50"))}, through the BFF ${ms(latency(viaBff, "p50"))} ` +
        `(**+${ms(latency(viaBff, "p50") - latency(direct, "p50"))}**); p99 direct ${ms(latency(direct, "p99"))}, ` +
        `through the BFF ${ms(latency(viaBff, "p99"))} (**+${ms(latency(viaBff, "p99") - latency(direct, "p99"))}**). ` +
        "Medians over the rounds. Every answer checked to be the upstream's orders JSON.",
    ];
    return { notes, failures: [...failures.values()] };
  } finally {
    await load.close();
  }
}

async function setup(): Promise<BenchSuite> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-bff-"));
  const fixture = await startFixture(dir);
  const bffUrl = `http://127.0.0.1:${portOf(fixture.bff)}/bff/api/orders`;
  const upstreamUrl = `http://127.0.0.1:${portOf(fixture.upstream)}/orders`;
  // Each answer must be the upstream's JSON, byte for byte, not merely a 200.
  const expected = JSON.stringify(ORDERS);
  const get = async (url: string, headers: Record<string, string>) => {
    const response = await fetch(url, { headers });
    const body = await response.text();
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    if (body !== expected) throw new Error(`${url} answered ${JSON.stringify(body.slice(0, 200))}`);
    return body;
  };
  // The servers stay up for the per-request group, which runs after `setup` returns; the runner's teardown
  // then closes them (their keep-alive connections, Tessera's and the BFF's stores) and the folder goes.
  const teardown = async () => {
    try {
      await fixture.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  let measured: { notes: string[]; failures: string[] };
  try {
    measured = await measureUnderLoad(fixture);
  } catch (error) {
    await teardown();
    throw error;
  }
  return {
    teardown,
    failures: measured.failures,
    groups: [
      {
        name: "GET orders, one caller, request after request",
        baseline: "direct to the upstream (Bearer)",
        cases: [
          {
            name: "direct to the upstream (Bearer)",
            fn: () => get(upstreamUrl, { authorization: fixture.bearer }),
          },
          {
            name: "through the BFF (session cookie)",
            fn: () => get(bffUrl, { cookie: fixture.cookie, "x-bff-csrf": "1" }),
          },
        ],
      },
    ],
    notes: [
      ...measured.notes,
      "Upstream: a bare Fastify JSON route (no token verification), so the difference is the BFF's own work: " +
        "parse the cookie, look the session up (SQLite store), decrypt the stored access token, forward the request " +
        "and stream the answer back. Tessera, the BFF and the upstream run in this one process on the main thread.",
      "The session was created through the real flow once (/bff/login → Tessera's /authorize → /bff/callback); " +
        "the direct case uses the access token the BFF forwards for that session. Both answer the same JSON.",
    ],
  };
}

export const bffBenchmark: Benchmark = {
  name: "bff",
  title: "BFF proxy: through the BFF vs the upstream directly",
  description:
    "Requests/s and latency of GET /bff/api/orders (session cookie, the BFF adds the bearer token) next to GET /orders on the same upstream with the same bearer token, in the same run.",
  setup,
};
