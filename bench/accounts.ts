/**
 * Accounts benchmark: the session check, password sign-in and the event loop under hashing load, measured
 * through the real stack (a real SQLite database in a temporary folder, `createServices` + `buildApp`, a real
 * server listening on 127.0.0.1, NODE_ENV=test, LOG_LEVEL=silent, a fixed master key).
 *
 * Four questions, each answered with fixed-duration interleaved rounds (`load.ts`), because the per-op
 * runner cannot time concurrency; their figures and verdicts go in the report's notes:
 * 1. Session check throughput: `GET /session` with a valid session cookie on Tessera vs one route of a bare
 *    `Fastify()` app answering the same JSON body, same process, same load generator (32 keep-alive
 *    connections from a worker thread). Target: Tessera ≥ 70% of bare Fastify's req/s. A third target, the
 *    "Tessera shell" (another `buildApp` instance with one extra route answering that body as a constant),
 *    splits the gap into Tessera's HTTP layer (logger, request id, security headers, metrics) and the
 *    look-up. A twin bare app in the same rounds is the noise control. The rounds are many and short (15 of
 *    0.6 s): a slow spell of this shared machine then spoils a few rounds of every case, not most of one.
 * 2. Sign-in throughput at the default (OWASP) argon2id parameters: `accounts.signIn.signIn` (throttle
 *    check, user look-up, argon2id verify, audit insert) with 1, 2 and 4 concurrent callers vs raw
 *    `@node-rs/argon2` `verify()` of the same hashes at the same concurrency. Every sign-in must succeed.
 * 3. The event loop stays free while hashing: `GET /healthz` latency (open-loop probes from the worker)
 *    with the server idle vs while 8 sign-in loops run in the server process. Target: p99 under load
 *    ≤ 2× idle p99. Two control phases split the excess: 8 loops of the server's own hasher (`verify()` on
 *    the same low-priority hash pool sign-in uses, without the sign-in's database work on the event loop),
 *    and 8 loops of raw `verify()` on libuv's thread pool at normal priority (what hashing costs the event
 *    loop without the pool). A floor phase runs 8 minimal sign-in loops in the server process: a prepared
 *    better-sqlite3 look-up on its own read-only connection plus the same pooled `verify()`, without the
 *    throttle, the audit insert or Kysely: what any sign-in on this machine costs the event loop. A second
 *    floor adds, written as plainly as possible, the bookkeeping the issue requires of every sign-in (NFKC of
 *    the password, the throttle's two SHA-256 keys looked up and the account's cleared, one audit row queued):
 *    what any sign-in that meets the issue costs the event loop. Each round
 *    also counts the garbage-collection pauses on the server thread (a PerformanceObserver), so GC can be
 *    told apart from the sign-in's own work. The hash threads' scheduling is read back from
 *    `/proc/self/task/<tid>/stat`. After the probe rounds, without probes, the event loop's CPU time per
 *    sign-in is read from `/proc/self/task/<pid>/schedstat` for the sign-in, both floors and the pool control,
 *    beside a machine control: a worker thread that only sleeps 10 ms and answers, so one wake-up of the event
 *    loop per message with nothing hashing (the p99 is a tail statistic and swings from run to run here by a
 *    factor of 3 or more; CPU time per sign-in varies by about 10 % between rounds). `TESSERA_BENCH_ROUNDS=1`
 *    prints every probe round as a line of JSON on stderr.
 *
 * 4. Where the audit log writes (`bench/audit-writes.ts`): the same sign-in load in-process with the audit
 *    batches on the background writer (a worker thread's connection), on the event loop through Kysely, and
 *    dropped, timed by a MessagePort ping every millisecond.
 *
 * The report's table (the per-op runner, after the above) breaks the session look-up down in-process (raw
 * better-sqlite3 with and without the users join and statement reuse, Kysely, `storage.prepare`,
 * `sessions.check` and `checkNow`, the SHA-256 of the cookie), to show where its time goes.
 *
 * Sanity checks before any timing (the run fails otherwise): `/session` answers 200 with the expected user
 * for the valid cookie and 401 for a tampered, a revoked and a missing one; the bare app answers the same
 * body; stored hashes carry the OWASP parameters; every load response has the expected status.
 */
import { randomUUID, hash as sha } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { verify as argon2Verify } from "@node-rs/argon2";
import SQLite from "better-sqlite3";
import Fastify, { type FastifyInstance } from "fastify";
import { OWASP_ARGON2, parseArgon2Parameters, userNameKey } from "../src/accounts/index.js";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey, hashToken } from "../src/crypto/index.js";
import { buildApp } from "../src/http/app.js";
import { cookieNames } from "../src/http/web/cookies.js";
import { createLogger } from "../src/observability/log.js";
import { createServices, type Services } from "../src/server/services.js";
import { measureAuditWrites } from "./audit-writes.js";
import {
  interleave,
  type LatencySummary,
  LoadGenerator,
  type LoadResult,
  type Loops,
  median,
  rawGet,
  runConcurrent,
  type SampleSummary,
  sleep,
  startLoops,
  summarizeSamples,
} from "./load.js";
import type { BenchGroup, Benchmark, BenchSuite } from "./runner.js";

// ---- settings -----------------------------------------------------------------------------------------------

// Many short rounds rather than a few long ones: a slow spell of this shared machine then spoils a few rounds
// of every case, not most of one case (see the twin bare app, the noise control).
const HTTP = { connections: 32, warmupMs: 200, durationMs: 600, rounds: 15 } as const;
const SIGN_IN = { callers: [1, 2, 4], warmupMs: 250, durationMs: 1500, rounds: 5 } as const;
const PROBE = {
  ratePerSecond: 1000,
  connections: 64,
  warmupMs: 300,
  durationMs: 2000,
  rounds: 8,
  signInLoops: 8,
} as const;
const SESSION_TARGET = 0.7;
const LATENCY_TARGET = 2;

const USERS = Math.max(PROBE.signInLoops, ...SIGN_IN.callers);
const PASSWORD = "glacier orbit forty-seven lantern velvet";
const USER_AGENT = "tessera-bench";
const BARE = "bare Fastify";
const TESSERA = "tessera";
const SHELL = "Tessera shell, constant body";
/** A second bare app, identical to the first: how far two equal servers drift apart on this machine. */
const BARE_TWIN = "bare Fastify twin";
const SHELL_PATH = "/bench/constant-session";
const RAW_VERIFY = "raw argon2 verify";
const SIGN_IN_CASE = "tessera signIn";
const IDLE = "idle";
const LOADED = `${PROBE.signInLoops} sign-in loops`;
const HASHING = `${PROBE.signInLoops} raw verify loops`;
const POOL = `${PROBE.signInLoops} hash-pool verify loops`;
const FLOOR = `${PROBE.signInLoops} minimal sign-in loops`;
const BOOKKEPT = `${PROBE.signInLoops} minimal sign-in loops with the required bookkeeping`;

// ---- fixture ------------------------------------------------------------------------------------------------

interface BenchUser {
  id: string;
  userName: string;
  hash: string;
  ip: string;
}

interface Fixture {
  dbPath: string;
  ctx: Services;
  /** The app under load (listening). */
  app: FastifyInstance;
  bare: FastifyInstance;
  /** Another `buildApp` instance with one extra route answering `body` as a constant. */
  shell: FastifyInstance;
  tesseraPort: number;
  barePort: number;
  shellPort: number;
  bareTwin: FastifyInstance;
  bareTwinPort: number;
  cookie: string;
  users: BenchUser[];
  /** The body `/session` answers for the valid cookie (the bare app answers the same). */
  body: unknown;
}

function listeningPort(app: FastifyInstance): number {
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("server has no TCP address");
  return address.port;
}

/** One plain request (no keep-alive), for the sanity checks. */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function createFixture(dir: string): Promise<Fixture> {
  const dbPath = join(dir, "tessera.db");
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: dbPath,
      LOG_LEVEL: "silent",
      HOST: "127.0.0.1",
      PORT: "0",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      ...(process.env.TESSERA_ARGON2_THREADS
        ? { TESSERA_ARGON2_THREADS: process.env.TESSERA_ARGON2_THREADS }
        : {}),
    },
  });
  const log = createLogger({ level: config.logLevel });
  const ctx = await createServices(config, { log, masterKey: createMasterKey(Buffer.alloc(32, 7)) });
  const { accounts } = ctx;

  const users: BenchUser[] = [];
  for (let i = 0; i < USERS; i++) {
    const user = await accounts.users.create(
      { userName: `bench-user-${i}`, displayName: `Bench User ${i}`, password: PASSWORD },
      { actor: "cli", authority: "admin" as const },
    );
    const hash = await accounts.users.passwordHash(user.id);
    if (hash === null) throw new Error(`${user.userName}: no password hash stored`);
    const parameters = parseArgon2Parameters(hash);
    if (JSON.stringify(parameters) !== JSON.stringify(OWASP_ARGON2)) {
      throw new Error(`stored hash parameters ${JSON.stringify(parameters)} are not OWASP's`);
    }
    users.push({ id: user.id, userName: user.userName, hash, ip: `198.51.100.${i + 1}` });
  }
  const owner = users[0]!;
  const { token } = await accounts.sessions.create({
    userId: owner.id,
    amr: ["pwd"],
    remember: false,
    ip: "127.0.0.1",
    userAgent: USER_AGENT,
  });
  const revoked = await accounts.sessions.create({ userId: owner.id, amr: ["pwd"], remember: false });
  if (!(await accounts.sessions.revoke(owner.id, revoked.session.id))) throw new Error("revoke failed");

  const cookieName = cookieNames({ issuer: config.issuer, tls: false }).session;
  if (cookieName !== "tessera_session") throw new Error(`unexpected session cookie name ${cookieName}`);
  const cookie = `${cookieName}=${token}`;

  const app = await buildApp(ctx);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const tesseraPort = listeningPort(app);

  // Sanity: the valid cookie gets the user; a tampered, a revoked and a missing cookie get 401.
  const ok = await get(tesseraPort, "/session", { cookie });
  if (ok.status !== 200) throw new Error(`GET /session answered ${ok.status}: ${ok.body}`);
  const body = JSON.parse(ok.body) as { user?: { id?: string; userName?: string }; session?: unknown };
  if (body.user?.id !== owner.id || body.user.userName !== owner.userName || body.session === undefined) {
    throw new Error(`GET /session answered an unexpected body: ${ok.body}`);
  }
  const last = token.at(-1) === "A" ? "B" : "A";
  const refusals: [string, Record<string, string>][] = [
    ["tampered", { cookie: `${cookieName}=${token.slice(0, -1)}${last}` }],
    ["revoked", { cookie: `${cookieName}=${revoked.token}` }],
    ["missing", {}],
  ];
  for (const [label, headers] of refusals) {
    const refused = await get(tesseraPort, "/session", headers);
    if (refused.status !== 401)
      throw new Error(`GET /session with a ${label} cookie answered ${refused.status}`);
  }

  const bare = Fastify();
  bare.get("/session", async () => body);
  await bare.listen({ host: "127.0.0.1", port: 0 });
  const barePort = listeningPort(bare);
  const bareTwin = Fastify();
  bareTwin.get("/session", async () => body);
  await bareTwin.listen({ host: "127.0.0.1", port: 0 });
  const bareTwinPort = listeningPort(bareTwin);
  const shell = await buildApp(ctx);
  shell.get(SHELL_PATH, async () => body);
  await shell.listen({ host: "127.0.0.1", port: 0 });
  const shellPort = listeningPort(shell);
  for (const [label, port, path] of [
    [BARE, barePort, "/session"],
    [SHELL, shellPort, SHELL_PATH],
  ] as const) {
    const answer = await get(port, path, { cookie });
    if (answer.status !== 200 || answer.body !== ok.body) {
      throw new Error(`${label} answered ${answer.status}: ${answer.body}`);
    }
  }
  return {
    dbPath,
    ctx,
    app,
    bare,
    bareTwin,
    shell,
    tesseraPort,
    barePort,
    bareTwinPort,
    shellPort,
    cookie,
    users,
    body,
  };
}

function signInAs(ctx: Services, user: BenchUser): Promise<void> {
  return ctx.accounts.signIn
    .signIn({ userName: user.userName, password: PASSWORD, ip: user.ip, userAgent: USER_AGENT })
    .then((signedIn) => {
      if (signedIn.id !== user.id) throw new Error(`sign-in as ${user.userName} returned ${signedIn.id}`);
    });
}

/** The server's hasher (its low-priority pool): sign-in's hashing without the rest of the sign-in. */
function poolVerify(ctx: Services, user: BenchUser): Promise<void> {
  return ctx.accounts.hasher.verify(user.hash, PASSWORD).then((ok) => {
    if (!ok) throw new Error(`the hash pool refused ${user.userName}'s password`);
  });
}

/**
 * The least a password sign-in can do on the event loop: read the account's hash with one prepared
 * better-sqlite3 statement (no query builder, no throttle, no audit), then verify on the server's hash pool.
 */
function floorSignIn(ctx: Services, lookup: SQLite.Statement<[string], FloorRow>, user: BenchUser) {
  const row = lookup.get(userNameKey(user.userName));
  if (row?.id !== user.id || row.password_hash === null) throw new Error(`no account for ${user.userName}`);
  return poolVerify(ctx, { ...user, hash: row.password_hash });
}

/** What the bookkept floor keeps between sign-ins: the throttle's counters and the audit queue. */
interface Bookkeeping {
  failures: Map<string, number>;
  audit: unknown[];
}

/**
 * The floor plus the bookkeeping the issue requires of every password sign-in, written as plainly as it can
 * be, with no Tessera module but the hash pool: the password NFKC-normalised (NIST), the throttle's two keys
 * (account and address) hashed with SHA-256 (user names and addresses are not kept in the clear) and looked
 * up, the account's counter cleared after the success, and one audit row built and queued. The queue is
 * emptied every 100 ms without being written: on SQLite the writes run on another thread, and dropping every
 * audit write made no difference to this measurement (docs/accounts.md).
 */
function bookkeptSignIn(
  ctx: Services,
  lookup: SQLite.Statement<[string], FloorRow>,
  user: BenchUser,
  state: Bookkeeping,
): Promise<void> {
  const key = userNameKey(user.userName);
  const accountKey = sha("sha256", JSON.stringify(["account", key]), "base64url");
  const addressKey = sha("sha256", JSON.stringify(["ip", user.ip]), "base64url");
  if (state.failures.has(accountKey) || state.failures.has(addressKey)) throw new Error("throttled");
  const row = lookup.get(key);
  if (row?.id !== user.id || row.password_hash === null) throw new Error(`no account for ${user.userName}`);
  return ctx.accounts.hasher.verify(row.password_hash, PASSWORD.normalize("NFKC")).then((ok) => {
    if (!ok) throw new Error(`the hash pool refused ${user.userName}'s password`);
    state.failures.delete(accountKey);
    const at = Date.now();
    state.audit.push({
      id: `${at.toString(36)}${randomUUID().slice(0, 8)}`,
      at,
      type: "signin.password",
      outcome: "success",
      user_id: row.id,
      actor: `user:${row.id}`,
      ip: user.ip,
      user_agent: USER_AGENT,
    });
  });
}

interface FloorRow {
  id: string;
  user_name: string;
  active: number;
  password_hash: string | null;
}

function rawVerify(user: BenchUser): Promise<void> {
  return argon2Verify(user.hash, PASSWORD).then((ok) => {
    if (!ok) throw new Error(`raw verify refused ${user.userName}'s password`);
  });
}

function expectStatuses(label: string, result: LoadResult, expected: string): void {
  const other = Object.entries(result.statuses).filter(([status]) => status !== expected);
  if (other.length > 0 || result.requests === 0) {
    throw new Error(`${label}: expected only ${expected}, got ${JSON.stringify(result.statuses)}`);
  }
}

// ---- 1. session check throughput ----------------------------------------------------------------------------

interface HttpRound {
  perSecond: number;
  latencyMs: LatencySummary;
  /** Event-loop utilisation of the server thread during the window. */
  utilization: number;
  /** Event-loop busy time per request, µs. */
  busyUs: number;
}

async function measureSessionCheck(fixture: Fixture, load: LoadGenerator): Promise<Map<string, HttpRound[]>> {
  const target = (port: number, path: string) => ({
    port,
    request: rawGet(port, path, { cookie: fixture.cookie }),
  });
  const targets: Record<string, { port: number; request: string }> = {
    [BARE]: target(fixture.barePort, "/session"),
    [BARE_TWIN]: target(fixture.bareTwinPort, "/session"),
    [SHELL]: target(fixture.shellPort, SHELL_PATH),
    [TESSERA]: target(fixture.tesseraPort, "/session"),
  };
  const round = async (name: string, durationMs: number): Promise<HttpRound> => {
    const target = targets[name]!;
    let start = performance.eventLoopUtilization();
    let elu = start;
    const result = await load.run(
      { type: "load", ...target, connections: HTTP.connections, warmupMs: HTTP.warmupMs, durationMs },
      (phase) => {
        if (phase === "open") start = performance.eventLoopUtilization();
        else elu = performance.eventLoopUtilization(start);
      },
    );
    expectStatuses(`GET /session on ${name}`, result, "200");
    return {
      perSecond: (result.requests * 1000) / result.windowMs,
      latencyMs: result.latencyMs,
      utilization: elu.utilization,
      busyUs: (elu.active * 1000) / result.requests,
    };
  };
  // One short unmeasured round each: JIT, connection handling and SQLite caches warm up.
  const names = [BARE, SHELL, TESSERA, BARE_TWIN];
  for (const name of names) await round(name, 1000);
  return interleave(names, HTTP.rounds, (name) => round(name, HTTP.durationMs));
}

// ---- 2. sign-in throughput ----------------------------------------------------------------------------------

async function measureSignIn(fixture: Fixture): Promise<Map<number, Map<string, number[]>>> {
  const { ctx, users } = fixture;
  const operations: Record<string, (caller: number) => Promise<void>> = {
    [RAW_VERIFY]: (caller) => rawVerify(users[caller]!),
    [SIGN_IN_CASE]: (caller) => signInAs(ctx, users[caller]!),
  };
  for (const operation of Object.values(operations)) {
    await runConcurrent(1, operation, { warmupMs: 100, durationMs: 400 });
  }
  const results = new Map<number, Map<string, number[]>>();
  for (const callers of SIGN_IN.callers) {
    const samples = await interleave([RAW_VERIFY, SIGN_IN_CASE], SIGN_IN.rounds, async (name) => {
      const result = await runConcurrent(callers, operations[name]!, SIGN_IN);
      return result.perSecond;
    });
    results.set(callers, samples);
  }
  return results;
}

// ---- 3. event loop under hashing load -----------------------------------------------------------------------

interface ProbeRound {
  latencyMs: LatencySummary;
  probes: number;
  skipped: number;
  /** monitorEventLoopDelay (1 ms resolution) during the window, ms. */
  delayP50: number;
  delayP99: number;
  delayMax: number;
  utilization: number;
  /** Sign-ins (or verifications) per second completed by the background loops in the window (0 when idle). */
  signInsPerSecond: number;
  /** Garbage-collection pauses of the server thread during the window (`PerformanceObserver`, type gc). */
  gcPauses: number;
  gcMs: number;
  gcMaxMs: number;
}

/** The event-loop phases' loads: 8 loops of the phase's kind of sign-in (none when idle), started on demand. */
interface PhaseLoads {
  /** Starts the phase's loops, and for the bookkept floor the 100 ms drain of its audit queue. */
  start(name: string): Loops | undefined;
  close(): void;
}

function phaseLoads(fixture: Fixture): PhaseLoads {
  const { ctx, users } = fixture;
  const floorDb = new SQLite(fixture.dbPath, { readonly: true, fileMustExist: true });
  const lookup = floorDb.prepare<[string], FloorRow>(
    "SELECT id, user_name, active, password_hash FROM users WHERE user_name_key = ?",
  );
  const bookkeeping: Bookkeeping = { failures: new Map(), audit: [] };
  const operation: Record<string, (i: number) => Promise<void>> = {
    [LOADED]: (i) => signInAs(ctx, users[i]!),
    [HASHING]: (i) => rawVerify(users[i]!),
    [POOL]: (i) => poolVerify(ctx, users[i]!),
    [FLOOR]: (i) => floorSignIn(ctx, lookup, users[i]!),
    [BOOKKEPT]: (i) => bookkeptSignIn(ctx, lookup, users[i]!, bookkeeping),
  };
  return {
    start(name) {
      const run = operation[name];
      if (run === undefined) return undefined;
      const loops = startLoops(PROBE.signInLoops, run);
      const drain = name === BOOKKEPT ? setInterval(() => bookkeeping.audit.splice(0), 100) : undefined;
      return {
        get completions() {
          return loops.completions;
        },
        async stop() {
          clearInterval(drain);
          await loops.stop();
        },
      };
    },
    close: () => floorDb.close(),
  };
}

async function measureEventLoop(fixture: Fixture, load: LoadGenerator): Promise<Map<string, ProbeRound[]>> {
  const request = rawGet(fixture.tesseraPort, "/healthz");
  const loads = phaseLoads(fixture);
  const round = async (name: string): Promise<ProbeRound> => {
    const loops = loads.start(name);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const gc: number[] = [];
    let collecting = false;
    const observer = new PerformanceObserver((list) => {
      if (collecting) for (const entry of list.getEntries()) gc.push(entry.duration);
    });
    observer.observe({ entryTypes: ["gc"] });
    let start = performance.eventLoopUtilization();
    let elu = start;
    let completionsAtOpen = 0;
    let completionsAtClose = 0;
    let openedAt = 0;
    let closedAt = 0;
    let result: LoadResult;
    try {
      result = await load.run(
        {
          type: "probe",
          port: fixture.tesseraPort,
          request,
          connections: PROBE.connections,
          ratePerSecond: PROBE.ratePerSecond,
          warmupMs: PROBE.warmupMs,
          durationMs: PROBE.durationMs,
        },
        (phase) => {
          if (phase === "open") {
            delay.enable();
            collecting = true;
            start = performance.eventLoopUtilization();
            completionsAtOpen = loops?.completions ?? 0;
            openedAt = performance.now();
          } else {
            delay.disable();
            collecting = false;
            elu = performance.eventLoopUtilization(start);
            completionsAtClose = loops?.completions ?? 0;
            closedAt = performance.now();
          }
        },
      );
    } finally {
      observer.disconnect();
      await loops?.stop();
    }
    expectStatuses(`GET /healthz (${name})`, result, "200");
    const summary = {
      latencyMs: result.latencyMs,
      probes: result.requests,
      skipped: result.skipped,
      delayP50: delay.percentile(50) / 1e6,
      delayP99: delay.percentile(99) / 1e6,
      delayMax: delay.max / 1e6,
      utilization: elu.utilization,
      signInsPerSecond: ((completionsAtClose - completionsAtOpen) * 1000) / (closedAt - openedAt),
      gcPauses: gc.length,
      gcMs: gc.reduce((sum, d) => sum + d, 0),
      gcMaxMs: gc.reduce((max, d) => Math.max(max, d), 0),
    };
    if (process.env.TESSERA_BENCH_ROUNDS) console.error(JSON.stringify({ name, ...summary }));
    return summary;
  };
  try {
    await round(IDLE);
    return await interleave([IDLE, LOADED, FLOOR, BOOKKEPT, POOL, HASHING], PROBE.rounds, round);
  } finally {
    loads.close();
  }
}

// ---- event-loop CPU per sign-in (no probes) --------------------------------------------------------------

const CPU = { warmupMs: 300, durationMs: 2000, rounds: 3, wakeIntervalMs: 10 } as const;
/** A worker thread that answers each message after sleeping `wakeIntervalMs`: no hashing anywhere. */
const WAKE = "worker round trip, nothing hashing";

/** CPU time of this process's main thread (the event loop), ns: `/proc/self/task/<pid>/schedstat` (Linux). */
function eventLoopCpuNs(): number | undefined {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}

/**
 * A stand-in for the hash pool with nothing to hash: a worker that sleeps `wakeIntervalMs` (Atomics.wait, so
 * it takes no core and evicts no cache) and then answers the hash pool's own message shape. What one hash
 * result costs the event loop on this machine before any sign-in code runs.
 */
function startWakeLoop(): Loops {
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.on("message", ({ id }) => {
  Atomics.wait(cell, 0, 0, workerData.ms);
  parentPort.postMessage({ id, result: true });
});`,
    { eval: true, workerData: { ms: CPU.wakeIntervalMs } },
  );
  let completions = 0;
  let stopped = false;
  let id = 0;
  const send = () =>
    worker.postMessage({ id: id++, job: { op: "verify", hash: "$".repeat(97), password: PASSWORD } });
  worker.on("message", () => {
    completions++;
    if (!stopped) send();
  });
  send();
  return {
    get completions() {
      return completions;
    },
    async stop() {
      stopped = true;
      await worker.terminate();
    },
  };
}

interface CpuRound {
  /** Event-loop CPU per completed sign-in (or verification, or round trip), µs. */
  perOpUs: number;
  perSecond: number;
}

/**
 * The event loop's CPU time per sign-in for each way of signing in, without the probe traffic (whose own cost
 * would otherwise be mixed in): `schedstat` of the main thread over a window ÷ completions in it.
 */
async function measureEventLoopCpu(fixture: Fixture): Promise<Map<string, CpuRound[]> | undefined> {
  if (eventLoopCpuNs() === undefined) return undefined;
  const loads = phaseLoads(fixture);
  try {
    return await interleave([LOADED, FLOOR, BOOKKEPT, POOL, WAKE], CPU.rounds, async (name) => {
      const load = name === WAKE ? startWakeLoop() : loads.start(name)!;
      try {
        await sleep(CPU.warmupMs);
        const cpu0 = eventLoopCpuNs()!;
        const done0 = load.completions;
        const t0 = performance.now();
        await sleep(CPU.durationMs);
        const cpu1 = eventLoopCpuNs()!;
        const done1 = load.completions;
        const t1 = performance.now();
        const ops = Math.max(1, done1 - done0);
        return { perOpUs: (cpu1 - cpu0) / 1000 / ops, perSecond: (ops * 1000) / (t1 - t0) };
      } finally {
        await load.stop();
      }
    });
  } finally {
    loads.close();
  }
}

function eventLoopCpuNotes(samples: Map<string, CpuRound[]> | undefined): string[] {
  if (samples === undefined) return [];
  const us = (name: string) => median(samples.get(name)!.map((r) => r.perOpUs));
  const rate = (name: string) => median(samples.get(name)!.map((r) => r.perSecond)).toFixed(0);
  const per = (name: string) =>
    `${us(name).toFixed(0)} µs (${samples
      .get(name)!
      .map((r) => r.perOpUs.toFixed(0))
      .join(", ")}; ${rate(name)}/s)`;
  return [
    `Event-loop CPU per sign-in, without probes (CPU time of the server's main thread from ` +
      "`/proc/self/task/<pid>/schedstat` over a window ÷ completions in it; " +
      `${PROBE.signInLoops} loops, ${CPU.rounds} interleaved rounds of ${CPU.durationMs / 1000} s; median, ` +
      `per round, rate): ${LOADED} ${per(LOADED)}; floor with the required bookkeeping ${per(BOOKKEPT)}; ` +
      `floor ${per(FLOOR)}; pool control ${per(POOL)}. Machine control, ${WAKE} (a worker thread that ` +
      `sleeps ${CPU.wakeIntervalMs} ms, then answers the hash pool's message shape: one wake-up of the event ` +
      `loop per result, as each hash brings, with no hashing and no sign-in code): ${per(WAKE)}.`,
  ];
}

/**
 * This process's threads at a lowered priority, from `/proc/self/task/<tid>/stat` (Linux): `SCHED_IDLE`
 * (policy, field 41, is 5) or a positive nice value (field 19). The hash pool's workers are the only ones.
 */
function lowPriorityThreads(): { idle: number; niced: number } | undefined {
  try {
    let idle = 0;
    let niced = 0;
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[38] === "5") idle++;
      else if (Number(fields[16]) > 0) niced++;
    }
    return { idle, niced };
  } catch {
    return undefined;
  }
}

// ---- in-process breakdown (per-op runner groups) ------------------------------------------------------------

async function breakdownGroups(fixture: Fixture): Promise<{ groups: BenchGroup[]; close: () => void }> {
  const { ctx, cookie, dbPath } = fixture;
  const token = cookie.slice(cookie.indexOf("=") + 1);
  const tokenHash = hashToken(token);

  const query = ctx.storage.db
    .selectFrom("sessions")
    .innerJoin("users", "users.id", "sessions.user_id")
    .selectAll("sessions")
    .select(["users.user_name", "users.display_name", "users.active"]);
  const compiled = query.where("sessions.token_hash", "=", tokenHash).compile();
  const raw = new SQLite(dbPath, { readonly: true, fileMustExist: true });
  // The same query as a prepared query (storage.prepare): compiled once, run on Kysely's connection directly.
  const prepared = ctx.storage.prepare((db, hash: string) =>
    db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .selectAll("sessions")
      .select(["users.user_name", "users.display_name", "users.active"])
      .where("sessions.token_hash", "=", hash),
  );
  const cached = raw.prepare(compiled.sql);
  const parameters = compiled.parameters as unknown[];
  const withoutJoin = ctx.storage.db
    .selectFrom("sessions")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .compile().sql;
  const cachedWithoutJoin = raw.prepare(withoutJoin);
  const expectRow = (row: unknown) => {
    if ((row as { user_id?: string } | undefined)?.user_id !== fixture.users[0]!.id)
      throw new Error("no row");
    return row;
  };
  expectRow(cached.get(...parameters));
  expectRow(cachedWithoutJoin.get(...parameters));
  expectRow(await query.where("sessions.token_hash", "=", tokenHash).executeTakeFirst());
  expectRow(await prepared.first(tokenHash));

  const groups: BenchGroup[] = [
    {
      name: "in-process session look-up",
      baseline: "better-sqlite3, cached statement",
      cases: [
        { name: "better-sqlite3, cached statement", fn: () => expectRow(cached.get(...parameters)) },
        {
          name: "better-sqlite3, cached statement, no users join",
          fn: () => expectRow(cachedWithoutJoin.get(...parameters)),
        },
        {
          name: "better-sqlite3, prepared per call",
          fn: () => expectRow(raw.prepare(compiled.sql).all(...parameters)[0]),
        },
        {
          name: "better-sqlite3, prepared per call, no users join",
          fn: () => expectRow(raw.prepare(withoutJoin).all(...parameters)[0]),
        },
        {
          name: "Kysely, same query",
          fn: async () =>
            expectRow(await query.where("sessions.token_hash", "=", tokenHash).executeTakeFirst()),
        },
        {
          name: "storage.prepare, same query (compiled once)",
          fn: async () => expectRow(await prepared.first(tokenHash)),
        },
        {
          name: "sessions.check()",
          fn: async () => {
            if ((await ctx.accounts.sessions.check(token)) === undefined)
              throw new Error("session not found");
          },
        },
        {
          // Cached but for one reload per cache TTL; the async wrapper (so a reload can be awaited) costs
          // every call a promise.
          name: "sessions.checkNow() (what GET /session calls)",
          fn: async () => {
            const now = ctx.accounts.sessions.checkNow(token);
            if ((now instanceof Promise ? await now : now) === undefined)
              throw new Error("session not found");
          },
        },
        { name: "hashToken (SHA-256 of the cookie)", fn: () => hashToken(token) },
      ],
    },
  ];
  return {
    groups,
    close: () => raw.close(),
  };
}

// ---- report -------------------------------------------------------------------------------------------------

const int = (value: number) => Math.round(value).toLocaleString("en-US");
const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const verdict = (met: boolean) => (met ? "met" : "**NOT MET**");
const range = (s: SampleSummary, format: (v: number) => string) => `${format(s.min)} – ${format(s.max)}`;

function medianLatency(rounds: readonly { latencyMs: LatencySummary }[]): LatencySummary {
  const of = (key: keyof LatencySummary) => median(rounds.map((r) => r.latencyMs[key]));
  return { p50: of("p50"), p90: of("p90"), p99: of("p99"), p999: of("p999"), max: of("max") };
}

function latencyText(l: LatencySummary): string {
  return `p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, p99.9 ${ms(l.p999)} ms`;
}

function sessionNotes(samples: Map<string, HttpRound[]>): string[] {
  const bare = samples.get(BARE)!;
  const shell = samples.get(SHELL)!;
  const tessera = samples.get(TESSERA)!;
  const rps = (rounds: HttpRound[]) => rounds.map((r) => r.perSecond);
  const b = summarizeSamples(rps(bare), rps(bare));
  const h = summarizeSamples(rps(shell), rps(bare));
  const t = summarizeSamples(rps(tessera), rps(bare));
  const w = summarizeSamples(rps(samples.get(BARE_TWIN)!), rps(bare));
  const ratio = t.median / b.median;
  const busy = (rounds: HttpRound[]) => median(rounds.map((r) => r.busyUs));
  const elu = (rounds: HttpRound[]) => median(rounds.map((r) => r.utilization)).toFixed(2);
  const us = (rounds: HttpRound[]) => `${busy(rounds).toFixed(1)} µs`;
  return [
    "**1. Session check** (`GET /session` with a valid cookie, " +
      `${HTTP.connections} keep-alive connections from a worker thread, ${HTTP.rounds} interleaved rounds ` +
      `of ${HTTP.durationMs / 1000} s after ${HTTP.warmupMs} ms of warm-up): ` +
      `${TESSERA} ${int(t.median)} req/s (${range(t, int)}), ${BARE} ${int(b.median)} req/s ` +
      `(${range(b, int)}): **${pct(ratio)}** of bare (median of per-round ratios ${pct(t.pairedRatio)}); ` +
      `target ≥ ${pct(SESSION_TARGET)}: ${verdict(ratio >= SESSION_TARGET)}.`,
    `${SHELL} (a second \`buildApp\` instance, all plugins and hooks, one extra route answering the same ` +
      `body without any look-up): ${int(h.median)} req/s (${range(h, int)}), ${pct(h.median / b.median)} ` +
      `of bare (paired ${pct(h.pairedRatio)}); ${TESSERA} is ${pct(t.median / h.median)} of the shell. ` +
      "Server event-loop busy time per request (event-loop utilisation × window ÷ requests): " +
      `${BARE} ${us(bare)}, shell ${us(shell)}, ${TESSERA} ${us(tessera)}: Tessera's HTTP layer adds ` +
      `${(busy(shell) - busy(bare)).toFixed(1)} µs, the session look-up ` +
      `${(busy(tessera) - busy(shell)).toFixed(1)} µs.`,
    `Noise control: ${BARE_TWIN} (a second app identical to ${BARE}, in the same rounds) ` +
      `${int(w.median)} req/s (${range(w, int)}): ${pct(w.median / b.median)} of ${BARE} (paired ` +
      `${pct(w.pairedRatio)}). Two equal servers differ by this much here, so a ratio within that distance ` +
      "of the target is not a verdict either way.",
    `Session check latency, ms (median over rounds): ${TESSERA} ${latencyText(medianLatency(tessera))}; ` +
      `shell ${latencyText(medianLatency(shell))}; ${BARE} ${latencyText(medianLatency(bare))}. ` +
      `Event-loop utilisation of the server thread in the window: ${TESSERA} ${elu(tessera)}, shell ` +
      `${elu(shell)}, ${BARE} ${elu(bare)} (near 1: the server, not the client, is the limit).`,
  ];
}

function signInNotes(results: Map<number, Map<string, number[]>>, successes: number): string[] {
  const f = (v: number) => v.toFixed(1);
  const lines: string[] = [];
  for (const [callers, samples] of results) {
    const raw = samples.get(RAW_VERIFY)!;
    const r = summarizeSamples(raw, raw);
    const t = summarizeSamples(samples.get(SIGN_IN_CASE)!, raw);
    lines.push(
      `**2. Sign-in, ${callers} concurrent caller${callers === 1 ? "" : "s"}**: ` +
        `${SIGN_IN_CASE} ${f(t.median)}/s (${range(t, f)}), ${RAW_VERIFY} ${f(r.median)}/s ` +
        `(${range(r, f)}): **${pct(t.median / r.median)}** of raw ` +
        `(median of per-round ratios ${pct(t.pairedRatio)}).`,
    );
  }
  const pool = process.env.UV_THREADPOOL_SIZE;
  const { memoryKib, iterations, parallelism } = OWASP_ARGON2;
  lines.push(
    `Sign-in: ${SIGN_IN.rounds} interleaved rounds of ${SIGN_IN.durationMs / 1000} s per concurrency ` +
      `after ${SIGN_IN.warmupMs} ms of warm-up; each caller signs in as its own user from its own ` +
      `address, so the throttle never intervenes. All ${int(successes)} sign-ins so far succeeded (audit ` +
      `log: 0 failures). argon2id m=${memoryKib} KiB, t=${iterations}, p=${parallelism} (the defaults; ` +
      `checked on every stored hash), on ${availableParallelism()} cores. ${SIGN_IN_CASE} hashes on the ` +
      `server's hash pool (${hashThreadsText()}); ${RAW_VERIFY} runs on libuv's thread pool at normal ` +
      `priority: UV_THREADPOOL_SIZE ${pool === undefined ? "unset (libuv default 4)" : `= ${pool}`}. ` +
      "With more callers than cores the hashes compete for the cores, not for threads.",
  );
  return lines;
}

function hashThreadsText(): string {
  const threads = lowPriorityThreads();
  if (threads === undefined) return "thread scheduling not readable here";
  return (
    `read from /proc/self/task/*/stat: ${threads.idle} thread${threads.idle === 1 ? "" : "s"} at ` +
    `SCHED_IDLE, ${threads.niced} at a positive nice value only`
  );
}

function eventLoopNotes(samples: Map<string, ProbeRound[]>): string[] {
  const idle = samples.get(IDLE)!;
  const loaded = samples.get(LOADED)!;
  const pool = samples.get(POOL)!;
  const hashing = samples.get(HASHING)!;
  const floor = samples.get(FLOOR)!;
  const bookkept = samples.get(BOOKKEPT)!;
  const of = (rounds: ProbeRound[], value: (r: ProbeRound) => number) => median(rounds.map(value));
  const p99 = (rounds: ProbeRound[]) => of(rounds, (r) => r.latencyMs.p99);
  const p50 = (rounds: ProbeRound[]) => of(rounds, (r) => r.latencyMs.p50);
  const perRound = (rounds: ProbeRound[]) => rounds.map((r) => ms(r.latencyMs.p99)).join(", ");
  const rate = (rounds: ProbeRound[]) => of(rounds, (r) => r.signInsPerSecond).toFixed(1);
  const skipped = (rounds: ProbeRound[]) => rounds.reduce((sum, r) => sum + r.skipped, 0);
  const fixed2 = (v: number) => v.toFixed(2);
  const phases = (value: (r: ProbeRound) => number, format: (v: number) => string = ms) =>
    `idle ${format(of(idle, value))}, under load ${format(of(loaded, value))}, ` +
    `floor ${format(of(floor, value))}, floor with bookkeeping ${format(of(bookkept, value))}, ` +
    `pool control ${format(of(pool, value))}, libuv control ${format(of(hashing, value))}`;
  const ratio = p99(loaded) / p99(idle);
  return [
    `**3. Event loop while hashing** (\`GET /healthz\` probed open-loop at ${PROBE.ratePerSecond}/s ` +
      `on up to ${PROBE.connections} keep-alive connections, ${PROBE.rounds} interleaved rounds of ` +
      `${PROBE.durationMs / 1000} s per phase; load = ${PROBE.signInLoops} sign-in loops through ` +
      `\`accounts.signIn.signIn\` in the server process, ${rate(loaded)} sign-ins/s): ` +
      `p99 idle ${ms(p99(idle))} ms, under load ${ms(p99(loaded))} ms: **${ratio.toFixed(2)}×** ` +
      `(target ≤ ${LATENCY_TARGET}×): ${verdict(ratio <= LATENCY_TARGET)}. ` +
      `p50 idle ${ms(p50(idle))} ms, under load ${ms(p50(loaded))} ms (medians over rounds; ` +
      `per-round p99 idle ${perRound(idle)}; under load ${perRound(loaded)}).`,
    `Pool control, ${POOL} (\`accounts.hasher.verify()\` of the same hashes: the hash pool sign-in ` +
      `uses, ${hashThreadsText()}, without the sign-in's database work on the event loop; ` +
      `${rate(pool)} verifications/s): /healthz p50 ${ms(p50(pool))} ms, p99 ${ms(p99(pool))} ms ` +
      `(${fixed2(p99(pool) / p99(idle))}× idle; per round ${perRound(pool)}). Under load vs pool ` +
      `control: p99 ${fixed2(p99(loaded) / p99(pool))}×. The pool control is what the hashing threads ` +
      "cost the event loop by taking the cores; the excess over it is the work the sign-in does on the " +
      "event loop (throttle, one account query, the audit INSERT and the SQLite checkpoints it triggers).",
    `Floor, ${FLOOR} (the least a password sign-in can do on the event loop: one prepared ` +
      "better-sqlite3 statement reads the account's hash, then the same hash pool verifies it; no query " +
      `builder, throttle or audit; ${rate(floor)} sign-ins/s): /healthz p50 ${ms(p50(floor))} ms, ` +
      `p99 ${ms(p99(floor))} ms (**${fixed2(p99(floor) / p99(idle))}× idle**; per round ${perRound(floor)}). ` +
      `Under load vs floor: p99 ${fixed2(p99(loaded) / p99(floor))}×.`,
    `Floor with the required bookkeeping, ${BOOKKEPT} (the floor plus what the issue requires of every ` +
      "sign-in, written as plainly as possible: the password NFKC-normalised, the throttle's two keys hashed " +
      "(SHA-256) and looked up, the account's counter cleared, one audit row built and queued; " +
      `${rate(bookkept)} sign-ins/s): /healthz p50 ${ms(p50(bookkept))} ms, p99 ${ms(p99(bookkept))} ms ` +
      `(**${fixed2(p99(bookkept) / p99(idle))}× idle**; per round ${perRound(bookkept)}). Under load vs this: ` +
      `p99 ${fixed2(p99(loaded) / p99(bookkept))}×.`,
    `Libuv control, ${HASHING} (raw \`verify()\` on libuv's thread pool at normal priority: no ` +
      `Tessera code on the event loop and no low-priority pool, ${rate(hashing)} verifications/s): ` +
      `/healthz p50 ${ms(p50(hashing))} ms, p99 ${ms(p99(hashing))} ms ` +
      `(${fixed2(p99(hashing) / p99(idle))}× idle; per round ${perRound(hashing)}).`,
    `Garbage collection on the server thread during the probe window (medians over rounds): pauses ` +
      `${phases((r) => r.gcPauses, String)}; total ms ${phases((r) => r.gcMs)}; longest ms ` +
      `${phases((r) => r.gcMaxMs)}.`,
    "`monitorEventLoopDelay` during the probe window (1 ms resolution: the interval between ticks, " +
      `ideally about 1 ms), ms: p50 ${phases((r) => r.delayP50)}; p99 ${phases((r) => r.delayP99)}; ` +
      `max ${phases((r) => r.delayMax)}. Event-loop utilisation (wall time outside the I/O wait, so ` +
      `time spent waiting for a core counts too): ${phases((r) => r.utilization, fixed2)}. ` +
      `Probe ticks skipped because all ${PROBE.connections} connections were busy (not sent, so not in ` +
      `the percentiles), all rounds: idle ${skipped(idle)}, under load ${skipped(loaded)}, ` +
      `floor ${skipped(floor)}, floor with bookkeeping ${skipped(bookkept)}, ` +
      `pool control ${skipped(pool)}, libuv control ${skipped(hashing)}.`,
  ];
}

const SETUP_NOTES = [
  "Setup: SQLite (better-sqlite3, WAL) in a temporary folder, `createServices` + `buildApp` as in " +
    "production, NODE_ENV=test, LOG_LEVEL=silent, fixed master key, servers on 127.0.0.1 port 0. The load " +
    "generator is a worker thread with a minimal keep-alive HTTP/1.1 client on raw sockets " +
    "(bench/load-worker.ts): `node:http` as a client costs several times what the bare route costs the " +
    "server, and on 2 cores the client shares the CPU with the server; every response's status is " +
    "checked. The bare app answers the exact body Tessera answers, to the same request bytes (cookie " +
    "included).",
  "The table above is the per-op runner on in-process calls made after the load tests: the pieces of " +
    "one session look-up. `sessions.check` and `checkNow` are answered from the session cache here, as in " +
    "production on SQLite (keyed by the token: no SHA-256 on a hit; the hash row shows what a hit would " +
    "cost with it); a miss runs `SELECT sessions.*, users.… FROM sessions JOIN users WHERE token_hash = ?` " +
    "through Kysely (built and compiled on every call; its driver reuses prepared statements through " +
    "Tessera's statement cache); the `storage.prepare` row runs the same query compiled once, directly on " +
    "the connection (what the sign-in's account look-up uses, src/storage/prepared.ts).",
];

async function countSignIns(ctx: Services, outcome: "success" | "failure"): Promise<number> {
  await ctx.accounts.audit.flush();
  const row = await ctx.storage.db
    .selectFrom("audit_events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("type", "=", "signin.password")
    .where("outcome", "=", outcome)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function expectNoFailedSignIn(ctx: Services): Promise<void> {
  const failures = await countSignIns(ctx, "failure");
  if (failures !== 0) throw new Error(`${failures} sign-in attempts failed`);
}

async function setup(): Promise<BenchSuite> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-"));
  // The database must outlive setup (the runner groups use it); remove it when the process ends.
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const fixture = await createFixture(dir);
  const load = await LoadGenerator.start();
  const notes: string[] = [];
  // TESSERA_BENCH_STEPS=session,event (any of session, sign-in, event, audit) runs only those measurements, for
  // iterating on one of them; the report then says which were skipped.
  const only = process.env.TESSERA_BENCH_STEPS?.split(",").map((s) => s.trim().toLowerCase());
  const step = async (label: string, run: () => Promise<string[]>) => {
    if (only && !only.some((s) => label.startsWith(s))) {
      notes.push(`${label}: skipped (TESSERA_BENCH_STEPS=${only.join(",")}).`);
      return;
    }
    const started = Date.now();
    const lines = await run();
    notes.push(...lines);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(`  ${label} (${seconds} s): ${lines[0]?.replace(/\*\*/g, "")}\n`);
  };
  try {
    await step("session check", async () => sessionNotes(await measureSessionCheck(fixture, load)));
    await step("sign-in", async () => {
      const results = await measureSignIn(fixture);
      await expectNoFailedSignIn(fixture.ctx);
      return signInNotes(results, await countSignIns(fixture.ctx, "success"));
    });
    await step("event loop", async () => {
      const results = await measureEventLoop(fixture, load);
      const cpu = await measureEventLoopCpu(fixture);
      await expectNoFailedSignIn(fixture.ctx);
      return [...eventLoopNotes(results), ...eventLoopCpuNotes(cpu)];
    });
    await step("audit writes", measureAuditWrites);
  } finally {
    await load.close();
    await fixture.app.close();
    await fixture.bare.close();
    await fixture.bareTwin.close();
    await fixture.shell.close();
  }
  const breakdown = await breakdownGroups(fixture);
  process.once("exit", breakdown.close);
  return { groups: breakdown.groups, notes: [...notes, ...SETUP_NOTES] };
}

export const accountsBenchmark: Benchmark = {
  name: "accounts",
  title: "Accounts: session check, sign-in throughput and the event loop under argon2id",
  description:
    "Through the real stack (SQLite, createServices, buildApp, a listening server). The four " +
    "measurements this benchmark exists for need concurrency, so they run as fixed-duration interleaved " +
    "rounds (bench/load.ts): their figures, targets and verdicts are in the notes. The table is a per-op " +
    "in-process breakdown of the session look-up.",
  setup,
};
