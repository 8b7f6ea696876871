#!/usr/bin/env node
/**
 * Many instances: three `tessera serve` processes on one PostgreSQL (and Redis) behind HAProxy (Debian's
 * package), mixed load through HAProxy, `kill -9` of one instance at about 1/3 of the run and a forced
 * signing-key rotation at about 2/3. Prints a JSON summary on stdout (progress on stderr) and exits 1 when a
 * request was lost beyond those in flight at the kill, an answer meant something else than it should, or a
 * token failed to verify on another instance.
 *
 *   node scripts/build.mjs && node scripts/many-instances.mjs [--duration 20] [--keep-schema]
 *
 * - Builds nothing: runs `dist/src/cli/main.js` (`node scripts/build.mjs` builds it when stale).
 * - Needs PostgreSQL (`DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test; a fresh random schema is
 *   created, migrated once and dropped at the end), Redis (`REDIS_URL`, default redis://127.0.0.1:6379) and
 *   `haproxy` on PATH. All traffic stays on 127.0.0.1.
 * - Load, for the whole duration, each loop waiting for its answer before the next request (bounded
 *   concurrency): password sign-in (GET /login for the anonymous CSRF token, POST /login, then GET /session
 *   with the new cookie), OAuth refresh (every refresh rotates; each loop keeps its chain) followed by
 *   introspection of the new access token, introspection of recent access tokens, and GET /session checks.
 *   Every answer's meaning is checked, not only its status.
 * - Lost: a request that got no answer (reset, timeout) or an answer that is not the service's (HAProxy's 5xx,
 *   a 5xx of Tessera), unless it was in flight when the instance was killed (started before the kill and not
 *   finished by then) or it was a probe addressed directly to the killed instance. Wrong: an answer whose
 *   meaning is not the expected one (a live token introspected as inactive is counted apart, as a verification
 *   failure).
 * - Rotation: `tessera keys rotate --force` against the same database; every access token minted after it is
 *   then introspected directly on every remaining instance (bypassing HAProxy). Instances reload keys every
 *   30 s, so after the load the script waits (up to 35 s) until each remaining instance signs with the new key
 *   and checks those tokens on every remaining instance too.
 * - Revocation latency, measured directly against the instances during the load: sign in on instance A, warm
 *   the other instances' session caches, sign out on A (POST /logout), then poll GET /session on each other
 *   instance until it answers 401; and the same for a JWT access token revoked on A (POST /revoke) and polled
 *   with POST /introspect. Latency counts from A's answer to the first refusal; reported p50 and max.
 * - Everything it started (instances, haproxy, the schema) is stopped or dropped at the end, also on failure.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "dist", "src", "cli", "main.js");
const require = createRequire(import.meta.url);

const { values: opts } = parseArgs({
  options: {
    duration: { type: "string", default: "20" },
    "keep-schema": { type: "boolean", default: false },
    "probe-interval": { type: "string", default: "1.5" },
  },
});
const DURATION_MS = Math.round(Number(opts.duration) * 1000);
if (!(DURATION_MS >= 3000)) {
  process.stderr.write("many-instances: --duration must be at least 3 (seconds)\n");
  process.exit(2);
}
const PROBE_INTERVAL_MS = Math.round(Number(opts["probe-interval"]) * 1000);
const BASE_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PASSWORD = "many instances correct horse 42";
const REQUEST_TIMEOUT_MS = 10_000;
const REVOCATION_POLL_LIMIT_MS = 10_000;

const log = (line) => process.stderr.write(`many-instances: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------------------
// Processes

/** Children still to stop at the end: name → ChildProcess. */
const children = new Map();
let tmp;
let schema;
let schemaCreated = false;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function run(command, args, { env, stdin = "" } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function tessera(env, args, stdin = "") {
  const result = await run(process.execPath, [BIN, ...args], { env, stdin });
  if (result.code !== 0)
    throw new Error(`tessera ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

/** Starts a long-running child; its stderr tail is kept for error messages. */
function startChild(name, command, args, env) {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  child.tail = "";
  const keep = (d) => {
    child.tail = (child.tail + d).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  children.set(name, child);
  return child;
}

async function stopChild(name) {
  const child = children.get(name);
  if (!child) return;
  children.delete(name);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const done = await Promise.race([child.exited, sleep(12_000).then(() => undefined)]);
  if (!done) child.kill("SIGKILL");
}

async function cleanup() {
  await Promise.all([...children.keys()].map((name) => stopChild(name)));
  if (schemaCreated && !opts["keep-schema"]) {
    try {
      const { Client } = require("pg");
      const client = new Client({ connectionString: BASE_DATABASE_URL });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    } catch (error) {
      log(`could not drop schema ${schema}: ${error.message}`);
    }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

async function waitReady(url, child, label) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${label} exited at start: ${child.tail}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${label} did not become ready: ${child?.tail ?? ""}`);
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

/** Every request made through the load balancer or directly, with its outcome. */
const records = [];
/** Instance URL → name, for requests made directly to an instance. */
const instanceNames = new Map();
let killAt;
let killedName;

/**
 * One request. Answers { response, body, text } or { error }. `check(status, body, headers)` answers undefined
 * when the answer means what it should, or a description of what is wrong.
 */
async function request(kind, url, init, check) {
  const record = {
    kind,
    start: now(),
    end: 0,
    outcome: "ok",
    status: 0,
    servedBy: undefined,
    detail: undefined,
    // "lb", or the instance a probe addressed directly.
    target: instanceNames.get(init?.direct) ?? init?.direct ?? "lb",
  };
  records.push(record);
  try {
    const response = await fetch(url, {
      ...init,
      redirect: "manual",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    record.end = now();
    record.status = response.status;
    record.servedBy = response.headers.get("x-served-by") ?? instanceNames.get(init?.direct) ?? init?.direct;
    let body;
    if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (response.status >= 500 || (response.status === 503 && !body)) {
      record.outcome = "no_answer";
      record.detail = `${response.status} ${text.slice(0, 160)}`;
      return { response, body, text, failed: true, record };
    }
    const problem = check?.(response.status, body, response.headers, text);
    if (problem) {
      record.outcome = "wrong";
      record.detail = `${response.status} ${problem}: ${text.slice(0, 160)}`;
      return { response, body, text, failed: true, record };
    }
    return { response, body, text, failed: false, record };
  } catch (error) {
    record.end = now();
    record.outcome = "no_answer";
    record.detail = `${error.name}: ${error.cause?.code ?? error.cause?.message ?? error.message}`;
    return { error, failed: true, record };
  }
}

function setCookies(headers) {
  const out = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(";");
    const index = pair.indexOf("=");
    out[pair.slice(0, index).trim()] = pair.slice(index + 1).trim();
  }
  return out;
}

const cookieHeader = (jar) =>
  Object.entries(jar)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");

const form = (fields) => new URLSearchParams(fields).toString();
const FORM = "application/x-www-form-urlencoded";

function jwtHeader(token) {
  try {
    return JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8"));
  } catch {
    return {};
  }
}
const jwtKid = (token) => jwtHeader(token).kid;

// ---------------------------------------------------------------------------------------------------------
// Flows

/** Signs in with the password form at `base`; answers the session cookie value, or undefined. */
async function signIn(base, origin, userName, kindPrefix = "signin") {
  const jar = {};
  const page = await request(
    `${kindPrefix}:login_page`,
    `${base}/login`,
    { direct: base },
    (status, _b, _h, text) =>
      status === 200 && /name="csrf" value="([^"]+)"/.test(text) ? undefined : "no sign-in form",
  );
  if (page.failed) return undefined;
  Object.assign(jar, setCookies(page.response.headers));
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)[1];
  let sessionCookie;
  const posted = await request(
    `${kindPrefix}:login`,
    `${base}/login`,
    {
      method: "POST",
      direct: base,
      headers: { "content-type": FORM, origin, cookie: cookieHeader(jar) },
      body: form({ csrf, username: userName, password: PASSWORD }),
    },
    (status, _b, headers) => {
      if (status !== 303) return "sign-in not accepted";
      sessionCookie = setCookies(headers).tessera_session;
      return sessionCookie ? undefined : "no session cookie";
    },
  );
  return posted.failed ? undefined : sessionCookie;
}

function sessionCheck(kind, base, cookie, userName, expectLive = true) {
  return request(
    kind,
    `${base}/session`,
    { direct: base, headers: { cookie: `tessera_session=${cookie}` } },
    (status, body) => {
      if (!expectLive) return undefined;
      if (status !== 200) return "session not live";
      return body?.user?.userName === userName ? undefined : "another user's session";
    },
  );
}

const basic = (id, secret) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

// ---------------------------------------------------------------------------------------------------------
// Main

async function main() {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`node scripts/build.mjs\` first`);
  const haproxyVersion = await run("haproxy", ["-v"]).catch(() => undefined);
  if (haproxyVersion?.code !== 0) {
    throw new Error(
      "haproxy is not installed: `apt-get install -y --no-install-recommends haproxy` (Debian)",
    );
  }
  const haproxy = /version (\S+)/.exec(haproxyVersion.stdout)?.[1] ?? "unknown";

  tmp = mkdtempSync(join(tmpdir(), "tessera-many-"));
  schema = `many_${randomBytes(6).toString("hex")}`;
  const databaseUrl = `${BASE_DATABASE_URL}${BASE_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`;
  const [lbPort, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const issuer = `http://127.0.0.1:${lbPort}`;
  const lb = issuer;
  instanceNames.set(lb, "lb");
  const env = {
    PATH: process.env.PATH ?? "",
    NODE_ENV: "test",
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    TESSERA_MASTER_KEY: randomBytes(32).toString("hex"),
    TESSERA_ISSUER: issuer,
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
  };

  // Schema, migration, seed.
  schemaCreated = true;
  log(`schema ${schema}: migrating`);
  await tessera(env, ["migrate"]);
  const users = Array.from({ length: 8 }, (_, i) => `load${i}-${randomBytes(3).toString("hex")}`);
  for (const name of users)
    await tessera(env, ["users", "create", name, "--password-stdin"], `${PASSWORD}\n`);
  const audience = "https://api.many-instances.test";
  await tessera(env, ["resources", "create", audience, "--name", "Load API", "--scope", "load:read"]);
  const redirectUri = "http://127.0.0.1:9/callback";
  const app = JSON.parse(
    await tessera(env, [
      "clients",
      "create",
      "load-app",
      "--redirect-uris",
      redirectUri,
      "--grant-types",
      "authorization_code,refresh_token",
      "--scope",
      "openid offline_access load:read",
      "--resources",
      audience,
      "--first-party",
      "--json",
    ]),
  );
  const rs = JSON.parse(
    await tessera(env, [
      "clients",
      "create",
      "load-api",
      "--grant-types",
      "client_credentials",
      "--resources",
      audience,
      "--json",
    ]),
  );
  const appAuth = basic(app.id, app.secret);
  const rsAuth = basic(rs.id, rs.secret);

  // Instances.
  const instances = ports.map((port, i) => ({ name: "abc"[i], port, url: `http://127.0.0.1:${port}` }));
  for (const i of instances) instanceNames.set(i.url, i.name);
  for (const instance of instances) {
    instance.child = startChild(instance.name, process.execPath, [BIN, "serve"], {
      ...env,
      PORT: String(instance.port),
    });
  }
  await Promise.all(instances.map((i) => waitReady(`${i.url}/readyz`, i.child, `instance ${i.name}`)));
  log(`instances ready on ${ports.join(", ")}`);

  // HAProxy.
  const cfg = join(tmp, "haproxy.cfg");
  writeFileSync(
    cfg,
    `global
  maxconn 2000

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
  # A request sent to the killed instance (refused connection, reset or empty answer) is retried on another one.
  retries 3
  retry-on all-retryable-errors
  option redispatch 1
  option http-buffer-request

frontend tessera
  bind 127.0.0.1:${lbPort}
  default_backend instances

backend instances
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2
  http-response set-header X-Served-By %s
${instances.map((i) => `  server ${i.name} 127.0.0.1:${i.port} check`).join("\n")}
`,
  );
  const check = await run("haproxy", ["-c", "-q", "-f", cfg]);
  if (check.code !== 0) throw new Error(`haproxy.cfg refused: ${check.stderr}`);
  const haproxyChild = startChild("haproxy", "haproxy", ["-db", "-f", cfg], env);
  await waitReady(`${lb}/readyz`, haproxyChild, "haproxy");
  // Every server up in HAProxy's view (rise 2 × inter) before the load starts.
  await sleep(1500);
  log(`haproxy ${haproxy} on ${lbPort}`);

  // Refresh chains: the authorization code flow through HAProxy, one per refresh loop.
  const userIds = new Map();
  async function newChain(userName) {
    const cookie = await signIn(lb, issuer, userName, "setup");
    if (!cookie) throw new Error(`setup sign-in of ${userName} failed`);
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const query = new URLSearchParams({
      response_type: "code",
      client_id: app.id,
      redirect_uri: redirectUri,
      scope: "openid offline_access load:read",
      resource: audience,
      state: randomBytes(8).toString("hex"),
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    let location = `${lb}/authorize?${query}`;
    let code;
    for (let hop = 0; hop < 5 && !code; hop++) {
      const step = await request(
        "setup:authorize",
        location,
        { headers: { cookie: `tessera_session=${cookie}` } },
        (status) => (status === 302 || status === 303 ? undefined : "no redirect"),
      );
      if (step.failed) throw new Error(`authorize failed: ${step.record.detail}`);
      const next = new URL(step.response.headers.get("location"), lb);
      if (next.origin === new URL(redirectUri).origin) {
        code = next.searchParams.get("code");
        if (!code) throw new Error(`authorize answered ${next}`);
      } else location = next.toString();
    }
    const exchanged = await request(
      "setup:code",
      `${lb}/token`,
      {
        method: "POST",
        headers: { "content-type": FORM, authorization: appAuth },
        body: form({
          grant_type: "authorization_code",
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
        }),
      },
      (status, body) =>
        status === 200 && body?.refresh_token && body?.access_token ? undefined : "no token pair",
    );
    if (exchanged.failed) throw new Error(`code exchange failed: ${exchanged.record.detail}`);
    const sub = JSON.parse(Buffer.from(exchanged.body.access_token.split(".")[1], "base64url")).sub;
    userIds.set(userName, sub);
    return { refresh: exchanged.body.refresh_token, userName, sub };
  }

  const REFRESH_LOOPS = 3;
  const chains = [];
  for (let i = 0; i < REFRESH_LOOPS; i++) chains.push(await newChain(users[i]));
  const sessionCookies = [];
  for (let i = 0; i < 2; i++) {
    const userName = users[REFRESH_LOOPS + i];
    const cookie = await signIn(lb, issuer, userName, "setup");
    if (!cookie) throw new Error("setup sign-in failed");
    sessionCookies.push({ cookie, userName });
  }
  log("seeded; load starts");

  // Access tokens minted during the load: { token, sub, kid, mintedAt, servedBy, chain }.
  const minted = [];
  const deadChains = new Set();
  const verificationFailures = [];
  const chainEvents = [];

  const start = now();
  const until = start + DURATION_MS;
  const running = () => now() < until;
  const alive = new Set(instances.map((i) => i.name));
  let rotation;

  async function introspect(kind, base, token, expected, direct) {
    const result = await request(
      kind,
      `${base}/introspect`,
      {
        method: "POST",
        direct,
        headers: { "content-type": FORM, authorization: rsAuth },
        body: form({ token, token_type_hint: "access_token" }),
      },
      (status, body) =>
        status === 200 && typeof body?.active === "boolean" ? undefined : "not an introspection answer",
    );
    if (result.failed) return result;
    if (expected && !deadChains.has(expected.chain)) {
      const ok = result.body.active === true && result.body.sub === expected.sub;
      if (!ok) {
        verificationFailures.push({
          kind,
          signedBy: expected.servedBy,
          kid: expected.kid,
          checkedBy: result.response.headers.get("x-served-by") ?? direct,
          answer: result.body,
        });
      }
    }
    return result;
  }

  async function refreshLoop(index) {
    let chain = chains[index];
    let chainId = `${index}:0`;
    let generation = 0;
    while (running()) {
      const attempt = async () =>
        request(
          "refresh",
          `${lb}/token`,
          {
            method: "POST",
            headers: { "content-type": FORM, authorization: appAuth },
            body: form({ grant_type: "refresh_token", refresh_token: chain.refresh }),
          },
          (status, body) =>
            status === 200 &&
            body?.access_token &&
            body?.refresh_token &&
            body.refresh_token !== chain.refresh
              ? undefined
              : "refresh refused",
        );
      let result = await attempt();
      if (result.failed && result.record.outcome === "no_answer") {
        // The answer may have been lost with the killed instance after the rotation was stored: the same
        // refresh token again gets the same successor inside the grace window.
        result = await attempt();
      }
      if (result.failed) {
        if (result.body?.error === "invalid_grant") {
          chainEvents.push({ chain: chainId, event: "chain ended (invalid_grant)", at: now() - start });
          deadChains.add(chainId);
          generation += 1;
          chainId = `${index}:${generation}`;
          chain = await newChain(chain.userName).catch(() => chain);
        }
        continue;
      }
      chain = { ...chain, refresh: result.body.refresh_token };
      const token = result.body.access_token;
      const entry = {
        token,
        sub: chain.sub,
        kid: jwtKid(token),
        mintedAt: now(),
        servedBy: result.response.headers.get("x-served-by"),
        chain: chainId,
      };
      minted.push(entry);
      await introspect("introspect:fresh", lb, token, entry);
    }
  }

  async function introspectLoop() {
    while (running()) {
      if (minted.length === 0) {
        await sleep(20);
        continue;
      }
      const recent = minted.slice(-50);
      const entry = recent[Math.floor(Math.random() * recent.length)];
      await introspect("introspect", lb, entry.token, entry);
    }
  }

  async function sessionLoop(index) {
    const { cookie, userName } = sessionCookies[index];
    while (running()) await sessionCheck("session", lb, cookie, userName);
  }

  async function signInLoop(index) {
    const userName = users[REFRESH_LOOPS + 2 + index];
    while (running()) {
      const cookie = await signIn(lb, issuer, userName);
      if (cookie) await sessionCheck("signin:session", lb, cookie, userName);
    }
  }

  // Revocation latency probes, directly against the instances.
  const latencies = { session: [], access_token: [] };
  const probeProblems = [];
  async function pollUntilRefused(kind, others, poll) {
    const started = now();
    const results = await Promise.all(
      others.map(async (instance) => {
        while (now() - started < REVOCATION_POLL_LIMIT_MS) {
          const refused = await poll(instance);
          if (refused === true) return now() - started;
          if (refused === undefined && !alive.has(instance.name)) return undefined;
          await sleep(5);
        }
        return Number.POSITIVE_INFINITY;
      }),
    );
    for (const ms of results) if (ms !== undefined) latencies[kind].push(ms);
  }

  async function sessionProbe(a, others) {
    const userName = users[users.length - 1];
    const cookie = await signIn(a.url, issuer, userName, "probe");
    if (!cookie) return;
    // Warm each other instance's session cache: the check must be that the revocation reaches it.
    for (const other of others) {
      const warm = await sessionCheck("probe:session", other.url, cookie, userName);
      if (warm.failed) return;
    }
    const account = await request(
      "probe:account",
      `${a.url}/account`,
      { direct: a.url, headers: { cookie: `tessera_session=${cookie}` } },
      (status, _b, _h, text) =>
        status === 200 && /action="\/logout"[\s\S]*?name="csrf" value="([^"]+)"/.test(text)
          ? undefined
          : "no sign-out form",
    );
    if (account.failed) return;
    const csrf = /action="\/logout"[\s\S]*?name="csrf" value="([^"]+)"/.exec(account.text)[1];
    const out = await request(
      "probe:logout",
      `${a.url}/logout`,
      {
        method: "POST",
        direct: a.url,
        headers: { "content-type": FORM, origin: issuer, cookie: `tessera_session=${cookie}` },
        body: form({ csrf }),
      },
      (status) => (status === 200 ? undefined : "sign-out refused"),
    );
    if (out.failed) return;
    await pollUntilRefused("session", others, async (instance) => {
      const r = await sessionCheck("probe:session_poll", instance.url, cookie, userName, false);
      if (r.failed) return undefined;
      return r.response.status === 401;
    });
  }

  async function accessTokenProbe(a, others, chain) {
    const refreshed = await request(
      "probe:refresh",
      `${a.url}/token`,
      {
        method: "POST",
        direct: a.url,
        headers: { "content-type": FORM, authorization: appAuth },
        body: form({ grant_type: "refresh_token", refresh_token: chain.refresh }),
      },
      (status, body) => (status === 200 && body?.access_token ? undefined : "refresh refused"),
    );
    if (refreshed.failed) return;
    chain.refresh = refreshed.body.refresh_token;
    const token = refreshed.body.access_token;
    const entry = { token, sub: chain.sub, kid: jwtKid(token), servedBy: a.name, chain: "probe" };
    for (const other of others) {
      const warm = await introspect("probe:introspect", other.url, token, entry, other.name);
      if (warm.failed) return;
    }
    const revoked = await request(
      "probe:revoke",
      `${a.url}/revoke`,
      {
        method: "POST",
        direct: a.url,
        headers: { "content-type": FORM, authorization: appAuth },
        body: form({ token, token_type_hint: "access_token" }),
      },
      (status) => (status === 200 ? undefined : "revocation refused"),
    );
    if (revoked.failed) return;
    await pollUntilRefused("access_token", others, async (instance) => {
      const r = await introspect("probe:introspect_poll", instance.url, token, undefined, instance.name);
      if (r.failed) return undefined;
      return r.body.active === false;
    });
  }

  async function probeLoop() {
    const probeChain = await newChain(users[users.length - 2]);
    let round = 0;
    while (running()) {
      const live = instances.filter((i) => alive.has(i.name));
      const a = live[round % live.length];
      const others = live.filter((i) => i !== a);
      round += 1;
      try {
        await sessionProbe(a, others);
        await accessTokenProbe(a, others, probeChain);
      } catch (error) {
        probeProblems.push(String(error));
      }
      await sleep(PROBE_INTERVAL_MS);
    }
  }

  async function chaos() {
    await sleep(DURATION_MS / 3);
    const victim = instances[1];
    killedName = victim.name;
    alive.delete(victim.name);
    killAt = now();
    victim.child.kill("SIGKILL");
    log(
      `kill -9 instance ${victim.name} (pid ${victim.child.pid}) at ${((killAt - start) / 1000).toFixed(1)} s`,
    );
    // Access tokens are signed with one algorithm (the JWT header says which); its key is the one that matters.
    // The keys are listed now, not just before the rotation: a CLI command takes seconds on a loaded machine,
    // and the rotation must land while the load still runs.
    const alg = jwtHeader(minted.at(-1)?.token ?? "").alg;
    const activeKid = (keys) => keys.find((k) => k.status === "active" && k.alg === alg)?.kid;
    const before = JSON.parse(await tessera(env, ["keys", "list", "--json"]));
    await sleep(Math.max(0, start + (2 * DURATION_MS) / 3 - now()));
    const rotatedAt = now();
    const out = await tessera(env, ["keys", "rotate", "--force"]);
    const after = JSON.parse(await tessera(env, ["keys", "list", "--json"]));
    rotation = {
      at: rotatedAt,
      alg,
      output: out.trim(),
      previousKid: activeKid(before),
      newKid: activeKid(after),
    };
    log(`keys rotated at ${((rotatedAt - start) / 1000).toFixed(1)} s: ${out.trim()}`);
  }

  await Promise.all([
    ...chains.map((_, i) => refreshLoop(i)),
    introspectLoop(),
    introspectLoop(),
    sessionLoop(0),
    sessionLoop(1),
    signInLoop(0),
    signInLoop(1),
    probeLoop(),
    chaos(),
  ]);
  const loadEnd = now();
  log(`load done after ${((loadEnd - start) / 1000).toFixed(1)} s; checking tokens after the rotation`);

  // Tokens minted after the rotation, introspected directly on every remaining instance.
  const live = instances.filter((i) => alive.has(i.name));
  const afterRotation = minted.filter(
    (m) => rotation && m.mintedAt > rotation.at && !deadChains.has(m.chain),
  );
  const sample = afterRotation.filter((_, i) => i % Math.max(1, Math.floor(afterRotation.length / 40)) === 0);
  let directChecks = 0;
  for (const entry of sample) {
    for (const instance of live) {
      directChecks += 1;
      await introspect("rotation:direct", instance.url, entry.token, entry, instance.name);
    }
  }

  // Each remaining instance signing with the new key (they reload keys every 30 s), checked on every other.
  const newKeyTokens = [];
  const newKeyDeadline = now() + 35_000;
  const pending = new Set(live.map((i) => i.name));
  const probeChain = await newChain(users[0]);
  while (pending.size > 0 && now() < newKeyDeadline) {
    for (const instance of live.filter((i) => pending.has(i.name))) {
      const refreshed = await request(
        "rotation:refresh",
        `${instance.url}/token`,
        {
          method: "POST",
          direct: instance.name,
          headers: { "content-type": FORM, authorization: appAuth },
          body: form({ grant_type: "refresh_token", refresh_token: probeChain.refresh }),
        },
        (status, body) => (status === 200 && body?.access_token ? undefined : "refresh refused"),
      );
      if (refreshed.failed) continue;
      probeChain.refresh = refreshed.body.refresh_token;
      const token = refreshed.body.access_token;
      const kid = jwtKid(token);
      if (kid !== rotation?.newKid) continue;
      pending.delete(instance.name);
      const entry = { token, sub: probeChain.sub, kid, servedBy: instance.name, chain: "rotation" };
      newKeyTokens.push({ signedBy: instance.name, afterMs: Math.round(now() - rotation.at) });
      for (const other of live) {
        directChecks += 1;
        await introspect("rotation:new_key", other.url, token, entry, other.name);
      }
    }
    if (pending.size > 0) await sleep(500);
  }

  // Outcomes.
  const inFlightAtKill = (r) => killAt !== undefined && r.start <= killAt && (r.end === 0 || r.end >= killAt);
  // A probe that addressed the killed instance directly (it was picked while still alive) is not a lost request.
  const toKilled = (r) => killAt !== undefined && r.target === killedName && (r.end === 0 || r.end >= killAt);
  const byKind = {};
  let lost = 0;
  let excused = 0;
  let toKilledCount = 0;
  let wrong = 0;
  const lostDetails = [];
  const wrongDetails = [];
  for (const r of records) {
    byKind[r.kind] ??= { ok: 0, no_answer: 0, wrong: 0 };
    byKind[r.kind][r.outcome] += 1;
    if (r.outcome === "no_answer") {
      if (toKilled(r)) toKilledCount += 1;
      else if (inFlightAtKill(r)) excused += 1;
      else {
        lost += 1;
        if (lostDetails.length < 10)
          lostDetails.push({ kind: r.kind, at_ms: Math.round(r.start - start), detail: r.detail });
      }
    } else if (r.outcome === "wrong") {
      if (toKilled(r)) toKilledCount += 1;
      else if (inFlightAtKill(r)) excused += 1;
      else {
        wrong += 1;
        if (wrongDetails.length < 10)
          wrongDetails.push({ kind: r.kind, at_ms: Math.round(r.start - start), detail: r.detail });
      }
    }
  }
  const servedBy = {};
  for (const r of records) {
    if (r.target === "lb" && r.servedBy && r.start >= start)
      servedBy[r.servedBy] = (servedBy[r.servedBy] ?? 0) + 1;
  }
  const stats = (values) => {
    const sorted = [...values].sort((x, y) => x - y);
    if (sorted.length === 0) return { n: 0, p50_ms: null, max_ms: null };
    const pick = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    const round = (v) => (Number.isFinite(v) ? Math.round(v) : "never (10 s)");
    return { n: sorted.length, p50_ms: round(pick(0.5)), max_ms: round(sorted.at(-1)) };
  };
  const allLatencies = [...latencies.session, ...latencies.access_token];
  const loadRecords = records.filter((r) => r.start >= start && r.start < loadEnd);
  const summary = {
    command: `node scripts/many-instances.mjs --duration ${DURATION_MS / 1000}`,
    haproxy,
    node: process.version,
    instances: instances.length,
    duration_s: DURATION_MS / 1000,
    requests: loadRecords.length,
    requests_through_haproxy: loadRecords.filter((r) => r.target === "lb").length,
    requests_per_s: Math.round(loadRecords.length / ((loadEnd - start) / 1000)),
    served_by: servedBy,
    killed: {
      instance: killedName,
      at_s: killAt === undefined ? null : +((killAt - start) / 1000).toFixed(1),
    },
    in_flight_at_kill: records.filter((r) => r.target === "lb" && inFlightAtKill(r)).length,
    failed_in_flight_at_kill: excused,
    failed_probes_to_killed_instance: toKilledCount,
    lost,
    wrong_answers: wrong,
    tokens_minted: minted.length,
    verification_failures: verificationFailures.length,
    rotation: rotation && {
      at_s: +((rotation.at - start) / 1000).toFixed(1),
      alg: rotation.alg,
      previous_kid: rotation.previousKid,
      new_kid: rotation.newKid,
      tokens_after_rotation: afterRotation.length,
      direct_checks: directChecks,
      new_key_signed_by: newKeyTokens,
      instances_never_signing_with_new_key: [...pending],
    },
    revocation_latency: {
      target_ms: 1000,
      all: stats(allLatencies),
      session_logout: stats(latencies.session),
      access_token_revoke: stats(latencies.access_token),
    },
    chain_events: chainEvents,
    by_kind: byKind,
    ...(lostDetails.length ? { lost_examples: lostDetails } : {}),
    ...(wrongDetails.length ? { wrong_examples: wrongDetails } : {}),
    ...(verificationFailures.length
      ? { verification_failure_examples: verificationFailures.slice(0, 10) }
      : {}),
    ...(probeProblems.length ? { probe_problems: probeProblems.slice(0, 5) } : {}),
  };
  summary.ok =
    lost === 0 &&
    wrong === 0 &&
    verificationFailures.length === 0 &&
    pending.size === 0 &&
    allLatencies.length > 0 &&
    allLatencies.every(Number.isFinite);
  return summary;
}

let exitCode = 1;
const interrupted = (signal) => {
  log(`${signal}: stopping`);
  cleanup().finally(() => process.exit(130));
};
process.once("SIGINT", interrupted);
process.once("SIGTERM", interrupted);
try {
  const summary = await main();
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  exitCode = summary.ok ? 0 : 1;
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
