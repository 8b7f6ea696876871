/**
 * What the tamper-evident audit trail and the domain-event outbox cost the sign-in and token paths (issue 24:
 * "less than 5 % against the same run without them").
 *
 * Two Tessera instances per database, built alike by `createServices` + `buildApp`, differing only in the two
 * internal options: `auditChain` and `outbox` on (what Tessera runs) or both off (the audit log unchained, no
 * domain event written). SQLite (a file each) and PostgreSQL (a schema each). Interleaved rounds, medians:
 *
 * - password sign-in with one typo: `accounts.signIn.signIn` with a wrong password, then the right one, on
 *   4 concurrent loops (one user each, a new address per round trip, so the throttle never stops them): two
 *   argon2id verifications at the default parameters, three audit records (failed, succeeded; chained with a
 *   hash each when on) and one `signin.failed` event written to the outbox;
 * - `client_credentials` and `refresh_token` (rotating) at the token endpoint over HTTP, 50 connections.
 *
 * The ratio reported is (on ÷ off) of the medians; ≥ 0.95 meets the target.
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey } from "../src/crypto/index.js";
import { buildApp } from "../src/http/app.js";
import { createLogger } from "../src/observability/log.js";
import { createServices, type Services } from "../src/server/services.js";
import { openStorage } from "../src/storage/index.js";
import {
  ANSWERS,
  interleave,
  LoadGenerator,
  type LoadResult,
  median,
  runConcurrent,
  wrongAnswers,
} from "./load.js";
import type { Benchmark, BenchSuite } from "./runner.js";
import { loadRound } from "./runner.js";

const API = "https://api.bench.test";
const REDIRECT = "https://rp.bench.test/cb";
const CONNECTIONS = 50;
const SIGN_IN_LOOPS = 4;
const PASSWORD = "correct horse battery staple 42";
const ROUND = loadRound({ warmupMs: 300, durationMs: 2000, rounds: 7 });
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ON = "audit chain + outbox";
const OFF = "without them";

interface Instance {
  name: string;
  database: "SQLite" | "PostgreSQL";
  mode: typeof ON | typeof OFF;
  ctx: Services;
  port: number;
  authorization: string;
  users: { userName: string }[];
  refreshTokens(count: number): Promise<string[]>;
  close(): Promise<void>;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}

async function instance(
  database: Instance["database"],
  mode: Instance["mode"],
  databaseUrl: string,
  cleanup: () => Promise<void>,
): Promise<Instance> {
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
  const on = mode === ON;
  const ctx = await createServices(config, {
    log: createLogger({ level: "silent" }),
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
    auditChain: on,
    outbox: on,
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
  const users: Instance["users"] = [];
  for (let i = 0; i < SIGN_IN_LOOPS; i++) {
    const user = await ctx.accounts.users.create(
      { userName: `bench-user-${i}`, password: PASSWORD },
      { actor: "bench", authority: "admin" as const },
    );
    users.push({ userName: user.userName });
  }
  const app = await buildApp(ctx);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const authorization = basic(client.id, secret as string);
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  const subject = users[0] as { userName: string };
  const subjectUser = await ctx.accounts.users.findByUserName(subject.userName);
  if (subjectUser === undefined) throw new Error("bench user missing");

  async function refreshToken(): Promise<string> {
    const stored = await oauth.authorization.save({
      clientId: client.id,
      redirectUri: REDIRECT,
      scopes: ["openid", "offline_access", "orders:read"],
      resources: [API],
      codeChallenge: challenge,
      prompt: [],
    });
    const location = await oauth.authorization.issueCode(stored, {
      userId: (subjectUser as { id: string }).id,
      sessionId: "bench-session",
      authTime: ctx.clock.now(),
      amr: ["pwd"],
    });
    const code = new URL(location).searchParams.get("code") as string;
    const response = await fetch(`http://127.0.0.1:${port}/token`, {
      method: "POST",
      headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    });
    const json = (await response.json()) as { refresh_token?: string };
    if (response.status !== 200 || json.refresh_token === undefined) {
      throw new Error(`${database}/${mode}: code exchange answered ${response.status}`);
    }
    return json.refresh_token;
  }

  return {
    name: `${database}, ${mode}`,
    database,
    mode,
    ctx,
    port,
    authorization,
    users,
    async refreshTokens(count) {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) tokens.push(await refreshToken());
      return tokens;
    },
    async close() {
      await app.close();
      await ctx.close();
      await cleanup();
    },
  };
}

let attempts = 0;

/**
 * One sign-in with a typo: the wrong password (refused), then the right one. Each round trip comes from a new
 * address: the per-address counter is not cleared by a success (docs/accounts.md), so one address would soon be
 * slowed down, while the account's own counter is cleared by the right password.
 */
async function signInWithTypo(target: Instance, caller: number): Promise<void> {
  const user = target.users[caller] as Instance["users"][number];
  const n = ++attempts;
  const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const attempt = { userName: user.userName, ip, userAgent: "bench" };
  const refused = await target.ctx.accounts.signIn
    .signIn({ ...attempt, password: `${PASSWORD}!` })
    .then(() => false)
    .catch((error: { code?: string }) => error.code === "invalid_credentials");
  if (!refused) throw new Error(`${target.name}: a wrong password was not refused as invalid_credentials`);
  await target.ctx.accounts.signIn.signIn({ ...attempt, password: PASSWORD });
}

function tokenRequest(target: Instance, body: string): string {
  return (
    `POST /token HTTP/1.1\r\nhost: 127.0.0.1:${target.port}\r\nauthorization: ${target.authorization}\r\n` +
    `content-type: application/x-www-form-urlencoded\r\naccept: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

async function setup(): Promise<BenchSuite> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-events-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const stamp = Date.now().toString(36);
  const postgres = (mode: string) => {
    const schema = `bench_events_${mode}_${stamp}`;
    const url = new URL(POSTGRES_URL);
    url.searchParams.set("schema", schema);
    const drop = async () => {
      const admin = await openStorage(POSTGRES_URL);
      try {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db);
      } finally {
        await admin.close();
      }
    };
    return [url.href, drop] as const;
  };
  const none = async () => undefined;
  const instances: Instance[] = [];
  const load = await LoadGenerator.start();
  const failures: string[] = [];
  const notes: string[] = [];
  const log = (line: string) => process.stderr.write(`  ${line.replace(/\*\*/g, "")}\n`);
  try {
    instances.push(await instance("SQLite", ON, join(dir, "on.db"), none));
    instances.push(await instance("SQLite", OFF, join(dir, "off.db"), none));
    instances.push(await instance("PostgreSQL", ON, ...postgres("on")));
    instances.push(await instance("PostgreSQL", OFF, ...postgres("off")));

    const checked = (label: string, result: LoadResult, expect: typeof ANSWERS.accessToken) => {
      const other = Object.entries(result.statuses).filter(([status]) => status !== "200");
      if (other.length > 0) failures.push(`${label}: statuses ${JSON.stringify(result.statuses)}`);
      const wrong = wrongAnswers(label, result, expect);
      if (wrong !== undefined) failures.push(wrong);
      return (result.requests * 1000) / result.windowMs;
    };
    const paths: {
      name: string;
      unit: string;
      run(target: Instance, durationMs: number): Promise<number>;
    }[] = [
      {
        name: "password sign-in with one typo",
        unit: "round trips/s",
        async run(target, durationMs) {
          const result = await runConcurrent(SIGN_IN_LOOPS, (caller) => signInWithTypo(target, caller), {
            warmupMs: ROUND.warmupMs,
            durationMs,
          });
          return result.perSecond;
        },
      },
      {
        name: "client_credentials",
        unit: "req/s",
        async run(target, durationMs) {
          const result = await load.run({
            type: "load",
            port: target.port,
            request: tokenRequest(
              target,
              `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(API)}`,
            ),
            connections: CONNECTIONS,
            warmupMs: ROUND.warmupMs,
            durationMs,
            expect: ANSWERS.accessToken,
          });
          return checked(`client_credentials on ${target.name}`, result, ANSWERS.accessToken);
        },
      },
      {
        name: "refresh_token (rotating)",
        unit: "req/s",
        async run(target, durationMs) {
          const result = await load.run({
            type: "chain",
            port: target.port,
            head:
              `POST /token HTTP/1.1\r\nhost: 127.0.0.1:${target.port}\r\nauthorization: ${target.authorization}\r\n` +
              "content-type: application/x-www-form-urlencoded\r\naccept: application/json\r\n",
            body: "grant_type=refresh_token&refresh_token={{token}}",
            tokens: await target.refreshTokens(CONNECTIONS),
            warmupMs: ROUND.warmupMs,
            durationMs,
            expect: ANSWERS.accessToken,
          });
          return checked(`refresh_token on ${target.name}`, result, ANSWERS.accessToken);
        },
      },
    ];

    const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1));
    for (const path of paths) {
      for (const database of ["SQLite", "PostgreSQL"] as const) {
        const pair = instances.filter((i) => i.database === database);
        for (const target of pair) await path.run(target, 500);
        const samples = await interleave(
          pair.map((i) => i.name),
          ROUND.rounds,
          (name) => path.run(pair.find((i) => i.name === name) as Instance, ROUND.durationMs),
        );
        const on = samples.get(`${database}, ${ON}`) as number[];
        const off = samples.get(`${database}, ${OFF}`) as number[];
        const ratio = median(on) / median(off);
        const paired = median(on.map((value, i) => value / (off[i] as number)));
        const line =
          `**${path.name}, ${database}**: ${ON} ${fmt(median(on))} ${path.unit} (${fmt(Math.min(...on))} – ` +
          `${fmt(Math.max(...on))}); ${OFF} ${fmt(median(off))} (${fmt(Math.min(...off))} – ${fmt(Math.max(...off))}): ` +
          `**${ratio.toFixed(3)}×** (paired ${paired.toFixed(3)}×); target ≥ 0.95×: **${ratio >= 0.95 ? "met" : "NOT MET"}**.`;
        notes.push(line);
        log(line);
      }
    }
  } finally {
    await load.close();
    for (const target of instances) await target.close();
  }
  notes.push(
    `Setup: two instances per database in one process, identical but for createServices' internal options auditChain and outbox (both on, as Tessera runs, or both off); ${ROUND.rounds} interleaved rounds of ${ROUND.durationMs / 1000} s after ${ROUND.warmupMs} ms of warm-up; medians over rounds. Sign-in: ${SIGN_IN_LOOPS} concurrent loops calling accounts.signIn.signIn (wrong password, then the right one) at the default argon2id parameters. Token endpoint: ${CONNECTIONS} keep-alive connections from one worker thread, every answer checked for an access_token.`,
  );
  return { groups: [], notes, failures };
}

export const eventsBenchmark: Benchmark = {
  name: "events",
  title: "Events: what the audit hash chain and the outbox cost",
  description:
    "Password sign-in (with one typo), client_credentials and refresh_token with the audit hash chain and the domain-event outbox on, against the same server with both off, in the same run, on SQLite and PostgreSQL. Figures and verdicts are in the notes.",
  setup,
};
