/**
 * OAuth token endpoint and introspection throughput: Tessera (on SQLite and on PostgreSQL) side by side with
 * panva's `oidc-provider` (in memory, EdDSA JWT access tokens) in the same run, through real listening servers
 * and the same load generator (a worker thread with a raw keep-alive HTTP/1.1 client, bench/load-worker.ts).
 *
 * - `client_credentials`: the same POST (Basic client authentication, scope, resource) on 50 connections.
 * - `refresh_token`: each of 50 connections carries its own refresh token and presents the successor it got
 *   back (rotation on every request, on both servers).
 * - introspection: the same POST for one live token on 50 connections: a refresh token on both servers, and
 *   Tessera's JWT access token besides.
 * Targets (issue 7): client_credentials ≥ 3× oidc-provider with p99 < 10 ms; refresh_token and introspection
 * ≥ 2× oidc-provider. Figures and verdicts are in the notes; the table is a per-op breakdown of minting.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { FastifyInstance } from "fastify";
import { SignJWT } from "jose";
import { sql } from "kysely";
import Provider from "oidc-provider";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey } from "../src/crypto/index.js";
import { buildApp } from "../src/http/app.js";
import { createLogger } from "../src/observability/log.js";
import { createServices, type Services } from "../src/server/services.js";
import { openStorage } from "../src/storage/index.js";
import {
  ANSWERS,
  type AnswerCheck,
  interleave,
  LoadGenerator,
  type LoadResult,
  median,
  wrongAnswers,
} from "./load.js";
import { type BenchGroup, type Benchmark, type BenchSuite, loadRound } from "./runner.js";

const API = "https://api.bench.test";
const REDIRECT = "https://rp.bench.test/cb";
const CONNECTIONS = 50;
const ROUND = loadRound({ warmupMs: 300, durationMs: 2000, rounds: 5 });
const PROVIDER = "oidc-provider";
const FLOOR = "floor (node:http, necessary work only)";
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

interface Target {
  name: string;
  port: number;
  clientId: string;
  secret: string;
  /** Fresh refresh tokens (one per connection per round). */
  refreshTokens(count: number): Promise<string[]>;
  /** A live token to introspect, and which kind. */
  introspect: { token: string; kind: string }[];
  close(): Promise<void>;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

function rawPost(port: number, path: string, authorization: string, body: string): string {
  return (
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: ${authorization}\r\n` +
    `content-type: application/x-www-form-urlencoded\r\naccept: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

async function post(port: number, path: string, authorization: string, body: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

// ---- Tessera ----------------------------------------------------------------------------------------------

async function tesseraTarget(
  name: string,
  databaseUrl: string,
  cleanup: () => Promise<void>,
): Promise<Target> {
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: "silent",
      HOST: "127.0.0.1",
      PORT: "0",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      TESSERA_ISSUER: "https://id.bench.test",
    },
  });
  const ctx: Services = await createServices(config, {
    log: createLogger({ level: "silent" }),
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
  });
  const { oauth } = ctx;
  await oauth.clients.createResourceServer({ audience: API, name: "Bench API", scope: "orders:read" });
  const { client, secret } = await oauth.clients.create({
    name: "bench",
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    scope: "openid offline_access orders:read",
    resources: [API],
    firstParty: true,
  });
  const user = await ctx.accounts.users.create(
    { userName: "bench-user" },
    { actor: "bench", authority: "admin" as const },
  );
  const app: FastifyInstance = await buildApp(ctx);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const auth = basic(client.id, secret as string);
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

  async function pair(): Promise<{ access: string; refresh: string }> {
    const stored = await oauth.authorization.save({
      clientId: client.id,
      redirectUri: REDIRECT,
      scopes: ["openid", "offline_access", "orders:read"],
      resources: [API],
      codeChallenge: challenge,
      prompt: [],
    });
    const location = await oauth.authorization.issueCode(stored, {
      userId: user.id,
      sessionId: "bench-session",
      authTime: ctx.clock.now(),
      amr: ["pwd"],
    });
    const code = new URL(location).searchParams.get("code") as string;
    const body = new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    });
    const answer = await post(port, "/token", auth, body.toString());
    if (answer.status !== 200) throw new Error(`${name}: code exchange answered ${answer.status}`);
    return { access: answer.json.access_token as string, refresh: answer.json.refresh_token as string };
  }

  const live = await pair();
  return {
    name,
    port,
    clientId: client.id,
    secret: secret as string,
    async refreshTokens(count) {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) tokens.push((await pair()).refresh);
      return tokens;
    },
    introspect: [
      { token: live.refresh, kind: "refresh token" },
      { token: live.access, kind: "JWT access token" },
    ],
    async close() {
      await app.close();
      await ctx.close();
      await cleanup();
    },
  };
}

// ---- oidc-provider ----------------------------------------------------------------------------------------

interface StoredEntry {
  payload: Record<string, unknown>;
  /** Epoch ms; undefined: no expiry. */
  expiresAt: number | undefined;
}

/**
 * oidc-provider's adapter interface over plain Maps, keeping every entry until it expires. Its bundled
 * memory adapter is an LRU of 1,000 entries: the refresh rounds mint far more, so the token introspected later
 * was evicted and introspection answered `active: false` (with a 200 the benchmark used to accept). Entries of
 * all models live in one Map keyed by `<model>:<id>`, with indexes for user codes, uids and grant ids.
 */
function mapAdapter() {
  const entries = new Map<string, StoredEntry>();
  const byUserCode = new Map<string, string>();
  const byUid = new Map<string, string>();
  const byGrant = new Map<string, Set<string>>();
  const live = (key: string | undefined) => {
    if (key === undefined) return undefined;
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return class MapAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
      const key = this.key(id);
      entries.set(key, {
        payload,
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
      });
      if (typeof payload.userCode === "string") byUserCode.set(payload.userCode, key);
      if (typeof payload.uid === "string") byUid.set(payload.uid, key);
      if (typeof payload.grantId === "string") {
        let keys = byGrant.get(payload.grantId);
        if (keys === undefined) {
          keys = new Set();
          byGrant.set(payload.grantId, keys);
        }
        keys.add(key);
      }
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUserCode(userCode: string) {
      return live(byUserCode.get(userCode));
    }
    async findByUid(uid: string) {
      return live(byUid.get(uid));
    }
    async consume(id: string) {
      const payload = live(this.key(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      entries.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
      byGrant.delete(grantId);
    }
  };
}

async function oidcProviderTarget(): Promise<Target> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "bench-ed25519", alg: "EdDSA", use: "sig" };
  const clientId = "bench";
  const secret = "bench-secret-0123456789abcdef0123456789abcdef";
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    adapter: mapAdapter(),
    clients: [
      {
        client_id: clientId,
        client_secret: secret,
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        response_types: ["code"],
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "EdDSA",
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ["openid", "offline_access", "orders:read"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "orders:read",
          audience: API,
          accessTokenTTL: 900,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "EdDSA" } },
        }),
      },
    },
    rotateRefreshToken: true,
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: {
      RefreshToken: 14 * 86400,
      AccessToken: 900,
      ClientCredentials: 900,
      IdToken: 900,
      Grant: 14 * 86400,
    },
  } as never);

  async function refresh(): Promise<string> {
    const client = await provider.Client.find(clientId);
    const grant = new provider.Grant({ accountId: "bench-user", clientId });
    grant.addOIDCScope("openid offline_access");
    grant.addResourceScope(API, "orders:read");
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId: "bench-user",
      client,
      grantId,
      scope: "openid offline_access orders:read",
      resource: API,
      gty: "authorization_code",
      authTime: Math.floor(Date.now() / 1000),
    } as never);
    return token.save();
  }

  const live = await refresh();
  server.on("request", provider.callback());
  return {
    name: PROVIDER,
    port,
    clientId,
    secret,
    async refreshTokens(count) {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) tokens.push(await refresh());
      return tokens;
    },
    introspect: [{ token: live, kind: "refresh token" }],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---- floor ------------------------------------------------------------------------------------------------

/**
 * What the machine allows: the least work each measured request must do, on `node:http` with nothing else.
 * Not an OAuth server (no parsing beyond the form, no errors, no revocation, no audit, no headers but two).
 * - client_credentials: compare the Authorization header, sign one EdDSA at+jwt (Tessera's signer).
 * - refresh_token: one better-sqlite3 transaction (look the presented token up by SHA-256, mark it rotated,
 *   insert its successor), then sign an access token and an ID token: the minimum of a durable rotation.
 * - introspection: SHA-256 of the refresh token and one indexed SELECT.
 * If the floor itself is below a target ratio, no server doing the same necessary work reaches it here.
 */
async function floorTarget(dir: string): Promise<Target> {
  const { signJwt } = await import("../src/crypto/jwt/index.js");
  const { default: Database } = await import("better-sqlite3");
  const { createHash, randomBytes, randomUUID, timingSafeEqual } = await import("node:crypto");
  const { privateKey } = generateKeyPairSync("ed25519");
  const key = { kid: "floor", alg: "EdDSA" as const, privateKey };
  const clientId = "floor";
  const secret = randomBytes(32).toString("base64url");
  const expected = Buffer.from(basic(clientId, secret));
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(
    "create table refresh (hash text primary key, family text not null, rotated integer, expires integer not null)",
  );
  const find = db.prepare("select family, rotated, expires from refresh where hash = ?");
  const rotate = db.prepare("update refresh set rotated = ? where hash = ? and rotated is null");
  const insert = db.prepare("insert into refresh (hash, family, rotated, expires) values (?, ?, null, ?)");
  const digest = (token: string) => createHash("sha256").update(token).digest("base64url");
  const issue = (family: string) => {
    const token = randomBytes(32).toString("base64url");
    insert.run(digest(token), family, Date.now() + 14 * 86400_000);
    return token;
  };
  const rotation = db.transaction((token: string) => {
    const hash = digest(token);
    const row = find.get(hash) as { family: string; rotated: number | null; expires: number } | undefined;
    if (!row || row.rotated !== null || row.expires < Date.now()) return undefined;
    if (rotate.run(Date.now(), hash).changes !== 1) return undefined;
    return issue(row.family);
  });
  const claims = (aud: string) => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: "https://floor.bench.test",
      sub: "bench-user",
      aud,
      client_id: clientId,
      iat,
      exp: iat + 900,
      jti: randomUUID(),
    };
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const auth = Buffer.from(req.headers.authorization ?? "");
      const json = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, {
          "content-type": "application/json",
          "cache-control": "no-store",
          "content-length": Buffer.byteLength(text),
        });
        res.end(text);
      };
      if (auth.length !== expected.length || !timingSafeEqual(auth, expected))
        return json(401, { error: "invalid_client" });
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (req.url === "/introspect") {
        const row = find.get(digest(form.get("token") ?? "")) as { rotated: number | null } | undefined;
        return json(
          200,
          row && row.rotated === null
            ? { active: true, client_id: clientId, token_type: "refresh_token" }
            : { active: false },
        );
      }
      const grant = form.get("grant_type");
      if (grant === "client_credentials") {
        const access = signJwt(
          { ...claims(form.get("resource") ?? API), scope: form.get("scope") ?? "" },
          { key, typ: "at+jwt" },
        );
        return json(200, {
          access_token: access,
          token_type: "Bearer",
          expires_in: 900,
          scope: form.get("scope"),
        });
      }
      if (grant === "refresh_token") {
        const successor = rotation(form.get("refresh_token") ?? "");
        if (successor === undefined) return json(400, { error: "invalid_grant" });
        const access = signJwt(
          { ...claims(API), scope: "openid offline_access orders:read" },
          { key, typ: "at+jwt" },
        );
        const idToken = signJwt(
          { ...claims(clientId), auth_time: Math.floor(Date.now() / 1000) - 60 },
          { key },
        );
        return json(200, {
          access_token: access,
          token_type: "Bearer",
          expires_in: 900,
          refresh_token: successor,
          id_token: idToken,
        });
      }
      json(400, { error: "unsupported_grant_type" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const live = issue(randomUUID());
  return {
    name: FLOOR,
    port,
    clientId,
    secret,
    async refreshTokens(count) {
      return Array.from({ length: count }, () => issue(randomUUID()));
    },
    introspect: [{ token: live, kind: "refresh token" }],
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
    },
  };
}

// ---- measurements -----------------------------------------------------------------------------------------

interface Round {
  perSecond: number;
  p99: number;
}

function checkStatuses(label: string, result: LoadResult): void {
  const other = Object.entries(result.statuses).filter(([status]) => status !== "200");
  if (other.length > 0 || (result.requests === 0 && result.wrong === 0)) {
    throw new Error(`${label}: expected only 200, got ${JSON.stringify(result.statuses)}`);
  }
}

const toRound = (result: LoadResult): Round => ({
  perSecond: (result.requests * 1000) / result.windowMs,
  p99: result.latencyMs.p99,
});

/**
 * Wrong answers (a 200 without the meaning `check` asks for) by `<phase> on <target>`, first one only: each
 * flags its phase in the notes and the report's failures. They were not counted as throughput.
 */
const wrong = new Map<string, string>();

async function measure(
  targets: Target[],
  run: (target: Target, durationMs: number) => Promise<LoadResult>,
  label: string,
  check: AnswerCheck | undefined,
): Promise<Map<string, Round[]>> {
  const checked = (name: string, result: LoadResult) => {
    const key = `${label} on ${name}`;
    checkStatuses(key, result);
    const line = wrongAnswers(key, result, check);
    if (line !== undefined && !wrong.has(key)) wrong.set(key, line);
    return result;
  };
  for (const target of targets) checked(target.name, await run(target, 500));
  return interleave(
    targets.map((t) => t.name),
    ROUND.rounds,
    async (name) => {
      const target = targets.find((t) => t.name === name) as Target;
      return toRound(checked(name, await run(target, ROUND.durationMs)));
    },
  );
}

function describeRounds(
  title: string,
  label: string,
  results: Map<string, Round[]>,
  baseline: string,
  target: { ratio: number; p99?: number },
): string[] {
  const flag = (name: string) => (wrong.has(`${label} on ${name}`) ? " (**WRONG ANSWERS**, see above)" : "");
  const base = results.get(baseline) as Round[];
  const lines: string[] = [];
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  for (const [name, rounds] of results) {
    if (name === baseline) continue;
    const rate = median(rounds.map((r) => r.perSecond));
    const p99 = median(rounds.map((r) => r.p99));
    const ratio = rate / median(base.map((r) => r.perSecond));
    const paired = median(rounds.map((r, i) => r.perSecond / (base[i] as Round).perSecond));
    const metRatio = ratio >= target.ratio;
    const metP99 = target.p99 === undefined || p99 < target.p99;
    lines.push(
      `**${title}, ${name}**${flag(name)}: ${fmt(rate)} req/s (${fmt(Math.min(...rounds.map((r) => r.perSecond)))} – ` +
        `${fmt(Math.max(...rounds.map((r) => r.perSecond)))}), p99 ${p99.toFixed(1)} ms; ${baseline}${flag(baseline)} ` +
        `${fmt(median(base.map((r) => r.perSecond)))} req/s, p99 ${median(base.map((r) => r.p99)).toFixed(1)} ms: ` +
        `**${ratio.toFixed(2)}×** (paired ${paired.toFixed(2)}×); ` +
        (flag(name) !== "" || flag(baseline) !== ""
          ? "**NOT VALID: wrong answers** (ratio meaningless)."
          : name === FLOOR
            ? `the most any server doing this work reaches here: the target (≥ ${target.ratio}×${target.p99 === undefined ? "" : `, p99 < ${target.p99} ms`}) is ${metRatio && metP99 ? "within" : "**beyond**"} what this machine allows.`
            : `target ≥ ${target.ratio}×${target.p99 === undefined ? "" : ` with p99 < ${target.p99} ms`}: **${metRatio && metP99 ? "met" : "NOT MET"}**.`),
    );
  }
  return lines;
}

async function setup(): Promise<BenchSuite> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-oauth-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const schema = `bench_${Date.now().toString(36)}`;
  const pgUrl = new URL(POSTGRES_URL);
  pgUrl.searchParams.set("schema", schema);
  const dropSchema = async () => {
    const admin = await openStorage(POSTGRES_URL);
    try {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db);
    } finally {
      await admin.close();
    }
  };
  const targets = [
    await tesseraTarget("tessera (SQLite)", join(dir, "tessera.db"), async () => undefined),
    await tesseraTarget("tessera (PostgreSQL)", pgUrl.href, dropSchema),
    await oidcProviderTarget(),
    await floorTarget(dir),
  ];
  const load = await LoadGenerator.start();
  const notes: string[] = [];
  const log = (line: string) => process.stderr.write(`  ${line.replace(/\*\*/g, "")}\n`);
  try {
    const cc = await measure(
      targets,
      (t, durationMs) =>
        load.run({
          type: "load",
          port: t.port,
          request: rawPost(
            t.port,
            "/token",
            basic(t.clientId, t.secret),
            `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(API)}`,
          ),
          connections: CONNECTIONS,
          warmupMs: ROUND.warmupMs,
          durationMs,
          expect: ANSWERS.accessToken,
        }),
      "client_credentials",
      ANSWERS.accessToken,
    );
    for (const line of describeRounds("client_credentials", "client_credentials", cc, PROVIDER, {
      ratio: 3,
      p99: 10,
    })) {
      notes.push(line);
      log(line);
    }

    const refresh = await measure(
      targets,
      async (t, durationMs) =>
        load.run({
          type: "chain",
          port: t.port,
          head:
            `POST /token HTTP/1.1\r\nhost: 127.0.0.1:${t.port}\r\nauthorization: ${basic(t.clientId, t.secret)}\r\n` +
            "content-type: application/x-www-form-urlencoded\r\naccept: application/json\r\n",
          body: "grant_type=refresh_token&refresh_token={{token}}",
          tokens: await t.refreshTokens(CONNECTIONS),
          warmupMs: ROUND.warmupMs,
          durationMs,
          expect: ANSWERS.accessToken,
        }),
      "refresh_token",
      ANSWERS.accessToken,
    );
    for (const line of describeRounds("refresh_token", "refresh_token", refresh, PROVIDER, { ratio: 2 })) {
      notes.push(line);
      log(line);
    }

    const kinds = ["refresh token", "JWT access token"];
    for (const kind of kinds) {
      const withKind = targets.filter((t) => t.introspect.some((i) => i.kind === kind));
      const provider = targets.find((t) => t.name === PROVIDER) as Target;
      const candidates = [...withKind.filter((t) => t !== provider), provider];
      const providerToken = provider.introspect[0] as { token: string };
      const results = await measure(
        candidates,
        (t, durationMs) => {
          const token =
            t === provider
              ? providerToken.token
              : (t.introspect.find((i) => i.kind === kind) as { token: string }).token;
          return load.run({
            type: "load",
            port: t.port,
            request: rawPost(
              t.port,
              t === provider ? "/token/introspection" : "/introspect",
              basic(t.clientId, t.secret),
              `token=${encodeURIComponent(token)}`,
            ),
            connections: CONNECTIONS,
            warmupMs: ROUND.warmupMs,
            durationMs,
            expect: ANSWERS.active,
          });
        },
        `introspection of a ${kind}`,
        ANSWERS.active,
      );
      for (const line of describeRounds(
        `introspection of a Tessera ${kind} (oidc-provider: its refresh token)`,
        `introspection of a ${kind}`,
        results,
        PROVIDER,
        { ratio: 2 },
      )) {
        notes.push(line);
        log(line);
      }
    }
  } finally {
    await load.close();
    for (const target of targets) await target.close();
  }
  notes.push(
    "Every answer's meaning is checked, not only its status: client_credentials and refresh_token must carry an access_token (refresh_token also a new refresh token), introspection must say active: true; a wrong answer is not counted as throughput and flags its phase.",
    `Setup: ${CONNECTIONS} keep-alive connections from one worker thread (raw HTTP/1.1 client, every status checked), ${ROUND.rounds} interleaved rounds of ${ROUND.durationMs / 1000} s after ${ROUND.warmupMs} ms of warm-up per target; medians over rounds. Tessera: createServices + buildApp as in production (NODE_ENV=test, LOG_LEVEL=silent, SQLite in a temporary folder or a fresh PostgreSQL schema on 127.0.0.1), EdDSA access tokens (RFC 9068) and, on refresh, an ID token. oidc-provider ${"9.13"}: a Map-backed adapter keeping every entry until it expires (its bundled memory adapter keeps only the last 1,000, so the introspected token was evicted during the refresh rounds), client_secret_basic, resource indicators with EdDSA JWT access tokens, rotateRefreshToken, refresh tokens created through its Grant/RefreshToken models (no interactive flow), introspection at /token/introspection. All three servers and the load generator share the machine's cores.`,
  );
  return { groups: await mintGroups(), notes, failures: [...wrong.values()] };
}

/** Per-op: minting one RFC 9068 access token, Tessera's signer vs jose's SignJWT (same key type). */
async function mintGroups(): Promise<BenchGroup[]> {
  const { privateKey } = generateKeyPairSync("ed25519");
  const { signJwt } = await import("../src/crypto/jwt/index.js");
  const key = { kid: "k1", alg: "EdDSA" as const, privateKey };
  const claims = () => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: "https://id.bench.test",
      sub: "u",
      aud: API,
      client_id: "c",
      scope: "orders:read",
      iat,
      exp: iat + 900,
      jti: `${performance.now()}`,
    };
  };
  return [
    {
      name: "mint an EdDSA at+jwt",
      baseline: "jose SignJWT",
      cases: [
        {
          name: "jose SignJWT",
          fn: () =>
            new SignJWT(claims())
              .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: "k1" })
              .sign(privateKey),
        },
        { name: "tessera signJwt", fn: () => signJwt(claims(), { key, typ: "at+jwt" }) },
      ],
    },
  ];
}

export const oauthBenchmark: Benchmark = {
  name: "oauth",
  title: "OAuth: token endpoint and introspection vs oidc-provider",
  description:
    "Tessera on SQLite and PostgreSQL side by side with panva's oidc-provider in the same run: client_credentials, " +
    "refresh_token (rotating) and introspection requests/s and p99 at 50 connections. Figures and verdicts are in " +
    "the notes; the table is a per-op breakdown of minting one access token.",
  setup,
};
