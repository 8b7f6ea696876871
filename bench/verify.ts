/**
 * Resource-server verification: the SDK's `createVerifier` (tessera/verify) against the ways an API could
 * check a Tessera EdDSA access token, in the same run.
 *
 * - Uncached: every call verifies a token it has not seen (a ring of 4,096 pre-signed tokens, and the SDK's
 *   verified-token cache off): raw `node:crypto` compact JWS (the ceiling and baseline), the SDK, `jose`'s
 *   `jwtVerify`, `fast-jwt` without cache. `jsonwebtoken` 9 has no EdDSA (shown as unsupported).
 * - Cached: the same token again and again: the SDK with its cache (SHA-256 of the token → verified claims,
 *   revocation state checked on every call) vs `fast-jwt` with its cache (baseline), which knows nothing of
 *   revocation.
 * - Revocation: with the cached token hot, the issuer publishes a revocation on its feed; the time until the
 *   SDK refuses the token is measured and reported (target: within a second).
 * - API tokens through the server: `POST /introspect` of a personal access token at a real Tessera (SQLite), 50
 *   connections, next to introspection of a JWT access token, same run (req/s).
 * The issuer here is a small node:http server (discovery, JWKS, revocation feed) so that the micro benchmark
 * measures the verifier, not Tessera; every verifier is checked to accept its token and refuse a tampered one.
 * - DPoP (RFC 9449): `authenticate` of the same cached token presented as a bearer token (baseline) and as a
 *   DPoP-bound token with a fresh ES256 proof per request (proof checked, key matched, replay recorded), next to
 *   raw `node:crypto` checking the proof's signature alone: what sender-constraining costs a resource server.
 * Targets (issue 6): uncached SDK ≥ 85% of raw node:crypto; cached SDK ≥ fast-jwt's cache.
 */
import {
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSigner as fastJwtSigner, createVerifier as fastJwtVerifier } from "fast-jwt";
import type { FastifyInstance } from "fastify";
import { exportJWK, importJWK, jwtVerify } from "jose";
import { loadConfig } from "../src/config/index.js";
import { createMasterKey } from "../src/crypto/index.js";
import { buildApp } from "../src/http/app.js";
import { createDpopSigner } from "../src/lib/dpop.js";
import { createLogger } from "../src/observability/log.js";
import { createVerifier, type Verifier } from "../src/sdk/verify/index.js";
import { createServices, type Services } from "../src/server/services.js";
import { ANSWERS, interleave, LoadGenerator, type LoadResult, median, wrongAnswers } from "./load.js";
import { type BenchCase, type BenchGroup, type Benchmark, type BenchSuite, loadRound } from "./runner.js";

const ISSUER_PATH = "";
const AUDIENCE = "https://api.bench.test";
const TYP = "at+jwt";
const RING = 4096;
const CONNECTIONS = 50;
/** Distinct DPoP proofs made before timing; each is used once. */
const DPOP_PROOFS = 60_000;
const ROUND = loadRound({ warmupMs: 300, durationMs: 2000, rounds: 5 });

const require = createRequire(import.meta.url);
const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

interface Issuer {
  url: string;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Publishes a `jti` revocation on the feed. */
  revoke(jti: string): void;
  /** Stops the server and ends its keep-alive connections (the verifiers' revocation polls hold them). */
  close(): Promise<void>;
}

async function startIssuer(): Promise<Issuer> {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const kid = "bench-key-1";
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  const events: { id: string; type: "jti"; value: string; at: number }[] = [];
  let url = "";
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const json = (body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(200, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    if (path === "/.well-known/openid-configuration") {
      return json({
        issuer: url,
        jwks_uri: `${url}/jwks`,
        introspection_endpoint: `${url}/introspect`,
        tessera_revocations_endpoint: `${url}/revocations`,
      });
    }
    if (path === "/jwks") return json({ keys: [jwk] }, { "cache-control": "max-age=300" });
    if (path === "/revocations") {
      return json({ events, cursor: String(Date.now()), interval_ms: 500 });
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${ISSUER_PATH}`;
  return {
    url,
    kid,
    privateKey,
    publicKey,
    revoke(jti) {
      events.push({ id: randomBytes(8).toString("hex"), type: "jti", value: jti, at: Date.now() });
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function claims(issuer: string, jti: string) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer,
    sub: "usr_01HZX4J9Q2M7K3T8V5N6B1C0DE",
    aud: AUDIENCE,
    client_id: "cli_7f3a9c2e5b814d06",
    scope: "openid profile orders:read orders:write",
    iat: now,
    exp: now + 15 * 60,
    jti,
  };
}

function signRaw(issuer: Issuer, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: issuer.kid, typ: TYP })).toString(
    "base64url",
  );
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), issuer.privateKey).toString("base64url")}`;
}

/** Raw compact-JWS verification with the same checks as the others (typ, iss, aud, exp). */
function rawVerify(issuer: Issuer) {
  return (token: string) => {
    const [h, p, s] = token.split(".") as [string, string, string];
    const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as {
      alg?: string;
      typ?: string;
      kid?: string;
    };
    if (header.alg !== "EdDSA" || header.typ !== TYP || header.kid !== issuer.kid) throw new Error("header");
    if (!cryptoVerify(null, Buffer.from(`${h}.${p}`), issuer.publicKey, Buffer.from(s, "base64url"))) {
      throw new Error("signature");
    }
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
    if (payload.iss !== issuer.url || payload.aud !== AUDIENCE) throw new Error("claims");
    if (typeof payload.exp !== "number" || payload.exp <= Date.now() / 1000) throw new Error("expired");
    return payload;
  };
}

function tamper(token: string): string {
  const [h, p, s] = token.split(".") as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
  return `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: "attacker" })).toString("base64url")}.${s}`;
}

async function check(label: string, verify: (token: string) => unknown, token: string): Promise<void> {
  await verify(token);
  let accepted = false;
  try {
    await verify(tamper(token));
    accepted = true;
  } catch {
    // expected
  }
  if (accepted) throw new Error(`${label} accepted a tampered token`);
}

function ring<T>(items: readonly T[]): () => T {
  let i = 0;
  return () => {
    const item = items[i] as T;
    i = (i + 1) % items.length;
    return item;
  };
}

/** Waits until the SDK refuses a cached token after its revocation is published; answers milliseconds. */
async function revocationDelay(issuer: Issuer, verifier: Verifier): Promise<number> {
  const jti = `revoke-${randomBytes(6).toString("hex")}`;
  const token = signRaw(issuer, claims(issuer.url, jti));
  for (let i = 0; i < 1000; i++) await verifier.verify(token);
  const published = performance.now();
  issuer.revoke(jti);
  for (;;) {
    try {
      await verifier.verify(token);
    } catch {
      return performance.now() - published;
    }
    if (performance.now() - published > 10_000)
      throw new Error("the SDK still accepts a token revoked 10 s ago");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** API tokens through a real Tessera: req/s of introspection of a PAT next to a JWT access token. */
async function apiTokenThroughput(): Promise<{ notes: string[]; failures: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-bench-verify-"));
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: join(dir, "tessera.db"),
      LOG_LEVEL: "silent",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      TESSERA_ISSUER: "https://id.bench.test",
    },
  });
  const ctx: Services = await createServices(config, {
    log: createLogger({ level: "silent" }),
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
  });
  let app: FastifyInstance | undefined;
  let load: LoadGenerator | undefined;
  try {
    app = await buildApp(ctx);
    load = await LoadGenerator.start();
    await ctx.oauth.clients.createResourceServer({
      audience: AUDIENCE,
      name: "Bench API",
      scope: "orders:read",
    });
    const { client, secret } = await ctx.oauth.clients.create({
      name: "bench api",
      grantTypes: ["client_credentials"],
      resources: [AUDIENCE],
      scope: "orders:read",
    });
    const user = await ctx.accounts.users.create(
      { userName: "bench" },
      { actor: "bench", authority: "admin" as const },
    );
    const { token: pat } = await ctx.apiTokens.create({
      kind: "personal",
      name: "bench",
      ownerId: user.id,
      scopes: ["orders:read"],
      resources: [AUDIENCE],
      createdBy: "bench",
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const port = (app.server.address() as AddressInfo).port;
    const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString("base64")}`;
    const post = (path: string, body: string) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
        body,
      }).then(async (r) => (await r.json()) as Record<string, unknown>);
    const jwt = (
      await post(
        "/token",
        `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(AUDIENCE)}`,
      )
    ).access_token as string;
    for (const [kind, token] of [
      ["personal access token", pat],
      ["JWT access token", jwt],
    ] as const) {
      const answer = await post("/introspect", `token=${encodeURIComponent(token)}`);
      if (answer.active !== true) throw new Error(`introspection of the ${kind} is not active`);
    }
    const raw = (token: string) => {
      const body = `token=${encodeURIComponent(token)}`;
      return (
        `POST /introspect HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: ${basic}\r\n` +
        `content-type: application/x-www-form-urlencoded\r\naccept: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      );
    };
    const cases = { "personal access token": raw(pat), "JWT access token": raw(jwt) } as Record<
      string,
      string
    >;
    const generator = load;
    const run = (name: string, durationMs: number) =>
      generator.run({
        type: "load",
        port,
        request: cases[name] as string,
        connections: CONNECTIONS,
        warmupMs: ROUND.warmupMs,
        durationMs,
        expect: ANSWERS.active,
      });
    // Every answer must say `active: true`: wrong ones are not counted as throughput, and flag the phase.
    const failures = new Map<string, string>();
    const statusOk = (name: string, result: LoadResult) => {
      const other = Object.keys(result.statuses).filter((s) => s !== "200");
      if (other.length > 0 || (result.requests === 0 && result.wrong === 0))
        throw new Error(`${name}: ${JSON.stringify(result.statuses)}`);
      const wrong = wrongAnswers(`introspection of a ${name} through Tessera`, result, ANSWERS.active);
      if (wrong !== undefined && !failures.has(name)) failures.set(name, wrong);
    };
    for (const name of Object.keys(cases)) statusOk(name, await run(name, 500));
    const results = await interleave(Object.keys(cases), ROUND.rounds, async (name) => {
      const result = await run(name, ROUND.durationMs);
      statusOk(name, result);
      return { perSecond: (result.requests * 1000) / result.windowMs, p99: result.latencyMs.p99 };
    });
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    const notes = [...results].map(
      ([name, rounds]) =>
        `**Introspection of a ${name} through Tessera (SQLite)**${failures.has(name) ? " (**WRONG ANSWERS**, see above)" : ""}: ${fmt(median(rounds.map((r) => r.perSecond)))} req/s ` +
        `(${fmt(Math.min(...rounds.map((r) => r.perSecond)))} – ${fmt(Math.max(...rounds.map((r) => r.perSecond)))}), ` +
        `p99 ${median(rounds.map((r) => r.p99)).toFixed(1)} ms; ${CONNECTIONS} connections, ${ROUND.rounds} interleaved rounds of ${ROUND.durationMs / 1000} s; every answer checked to say active: true.`,
    );
    return { notes, failures: [...failures.values()] };
  } finally {
    // Also when a step failed half-way: whatever was opened is closed, so the process can exit.
    await load?.close();
    await app?.close();
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function setup(): Promise<BenchSuite> {
  const issuer = await startIssuer();
  const verifiers: Verifier[] = [];
  // Each revocation-aware verifier polls the issuer's feed every 500 ms over a keep-alive connection: until the
  // verifiers are closed and the issuer stopped, those connections keep the process alive.
  const teardown = async () => {
    for (const verifier of verifiers) verifier.close();
    await issuer.close();
  };
  try {
    return await suite(issuer, verifiers, teardown);
  } catch (error) {
    await teardown();
    throw error;
  }
}

async function suite(
  issuer: Issuer,
  verifiers: Verifier[],
  teardown: () => Promise<void>,
): Promise<BenchSuite> {
  const tokens = Array.from({ length: RING }, (_, i) => signRaw(issuer, claims(issuer.url, `jti-${i}`)));
  const hot = signRaw(issuer, claims(issuer.url, "hot"));
  const common = { issuer: issuer.url, audience: AUDIENCE, allowHttp: true } as const;
  const uncachedSdk = createVerifier({ ...common, cacheSize: 0, revocations: false });
  const cachedSdk = createVerifier({ ...common, clientId: "bench-rs", clientSecret: "bench-secret" });
  verifiers.push(uncachedSdk, cachedSdk);
  await uncachedSdk.ready();
  await cachedSdk.ready();

  const raw = rawVerify(issuer);
  const joseKey = await importJWK({ ...(await exportJWK(issuer.publicKey)), alg: "EdDSA" }, "EdDSA");
  const joseOptions = {
    algorithms: ["EdDSA"],
    typ: TYP,
    issuer: issuer.url,
    audience: AUDIENCE,
    requiredClaims: ["exp"],
  };
  const publicPem = issuer.publicKey.export({ type: "spki", format: "pem" }) as string;
  const fastOptions = {
    key: publicPem,
    algorithms: ["EdDSA" as const],
    allowedIss: issuer.url,
    allowedAud: AUDIENCE,
  };
  const fastPlain = fastJwtVerifier(fastOptions);
  const fastCached = fastJwtVerifier({ ...fastOptions, cache: true });
  // fast-jwt has no typ option; the header check is done by hand as in the others.
  const fastTyp = (verify: (t: string) => unknown) => (token: string) => {
    const result = verify(token);
    const header = JSON.parse(
      Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8"),
    ) as { typ?: string };
    if (header.typ !== TYP) throw new Error("typ");
    return result;
  };
  const fastPlainTyp = fastTyp(fastPlain);
  const fastCachedTyp = fastTyp(fastCached);
  // A fast-jwt-signed token must verify too (the baseline is a real implementation, not a stub).
  const fastSigned = fastJwtSigner({
    key: issuer.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    algorithm: "EdDSA",
    kid: issuer.kid,
    header: { alg: "EdDSA", typ: TYP },
  })(claims(issuer.url, "fast"));
  await check("raw", raw, tokens[0] as string);
  await check("SDK (uncached)", (t) => uncachedSdk.verify(t), tokens[0] as string);
  await check("SDK (cached)", (t) => cachedSdk.verify(t), hot);
  await check("jose", (t) => jwtVerify(t, joseKey, joseOptions), tokens[0] as string);
  await check("fast-jwt", fastTyp(fastPlain), tokens[0] as string);
  await check("fast-jwt (cache)", fastTyp(fastCached), hot);
  await uncachedSdk.verify(fastSigned);

  const next = {
    raw: ring(tokens),
    sdk: ring(tokens),
    jose: ring(tokens),
    fast: ring(tokens),
  };
  const jsonwebtoken: BenchCase = {
    name: `jsonwebtoken ${version("jsonwebtoken")}`,
    unsupported: "jsonwebtoken 9 has no EdDSA",
  };
  const groups: BenchGroup[] = [
    {
      name: "EdDSA access token, first sight (uncached)",
      baseline: "raw node:crypto",
      cases: [
        { name: "raw node:crypto", fn: () => raw(next.raw()) },
        { name: "tessera/verify createVerifier (cache off)", fn: () => uncachedSdk.verify(next.sdk()) },
        { name: `jose ${version("jose")} jwtVerify`, fn: () => jwtVerify(next.jose(), joseKey, joseOptions) },
        { name: `fast-jwt ${version("fast-jwt")} (no cache)`, fn: () => fastPlainTyp(next.fast()) },
        jsonwebtoken,
      ],
    },
    {
      name: "EdDSA access token, the same token again (cached)",
      baseline: `fast-jwt ${version("fast-jwt")} (cache)`,
      cases: [
        { name: `fast-jwt ${version("fast-jwt")} (cache)`, fn: () => fastCachedTyp(hot) },
        { name: "tessera/verify createVerifier (cache, revocation-aware)", fn: () => cachedSdk.verify(hot) },
        { name: "raw node:crypto (no cache)", fn: () => raw(hot) },
      ],
    },
  ];

  // DPoP: one client key, a token bound to it, and enough distinct proofs that none repeats (a repeat is a
  // replay and is refused).
  const clientKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const signer = createDpopSigner(clientKey);
  const bound = signRaw(issuer, { ...claims(issuer.url, "bound"), cnf: { jkt: signer.jkt } });
  const resourceUrl = `${AUDIENCE}/orders`;
  // The proofs are made now and used minutes later (after the other groups): this verifier's clock stays at the
  // time they were made, so they are as fresh as a client's would be.
  const proofTime = Date.now();
  const dpopSdk = createVerifier({
    ...common,
    clientId: "bench-rs",
    clientSecret: "bench-secret",
    now: () => proofTime,
  });
  verifiers.push(dpopSdk);
  await dpopSdk.ready();
  const proofs = Array.from({ length: DPOP_PROOFS }, () =>
    signer.proof({ method: "GET", url: resourceUrl, accessToken: bound }),
  );
  let nextProof = 0;
  const takeProof = () => {
    const proof = proofs[nextProof++];
    if (proof === undefined) throw new Error(`bench: more than ${DPOP_PROOFS} DPoP proofs were needed`);
    return proof;
  };
  const proofKey = createPublicKey(clientKey);
  const rawProof = (proof: string) => {
    const dot = proof.lastIndexOf(".");
    const ok = cryptoVerify(
      "sha256",
      Buffer.from(proof.slice(0, dot)),
      { key: proofKey, dsaEncoding: "ieee-p1363" },
      Buffer.from(proof.slice(dot + 1), "base64url"),
    );
    if (!ok) throw new Error("bench: proof signature");
  };
  const bearerRequest = { authorization: `Bearer ${hot}`, method: "GET", url: resourceUrl };
  await check(
    "SDK bearer (authenticate)",
    (token) => cachedSdk.authenticate({ ...bearerRequest, authorization: `Bearer ${token}` }),
    hot,
  );
  const dpopClaims = await dpopSdk.authenticate({
    authorization: `DPoP ${bound}`,
    method: "GET",
    url: resourceUrl,
    dpop: takeProof(),
  });
  if (dpopClaims.cnf?.jkt !== signer.jkt) throw new Error("bench: DPoP-bound token not accepted");
  await dpopSdk.authenticate({ authorization: `Bearer ${bound}`, method: "GET", url: resourceUrl }).then(
    () => {
      throw new Error("bench: a bound token was accepted as a bearer token");
    },
    () => undefined,
  );
  groups.push({
    name: "DPoP: a cached access token with a fresh proof per request (authenticate)",
    baseline: "bearer token (cached)",
    cases: [
      { name: "bearer token (cached)", fn: () => cachedSdk.authenticate(bearerRequest) },
      {
        name: "DPoP-bound token (cached) + ES256 proof: checked, key matched, replay recorded",
        fn: () =>
          dpopSdk.authenticate({
            authorization: `DPoP ${bound}`,
            method: "GET",
            url: resourceUrl,
            dpop: takeProof(),
          }),
      },
      { name: "raw node:crypto: the proof's ES256 signature alone", fn: () => rawProof(proofs[0] as string) },
    ],
  });

  const api = await apiTokenThroughput();
  const apiFailures = api.failures;
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) delays.push(await revocationDelay(issuer, cachedSdk));
  const notes = [
    `Revocation: a hot, cached token published as revoked on the feed was refused by the SDK after ${delays
      .map((d) => `${Math.round(d)}`)
      .join(
        ", ",
      )} ms (5 trials; feed interval 500 ms): **${Math.max(...delays) < 1000 ? "within a second" : "NOT within a second"}**. fast-jwt's cache has no revocation: it keeps accepting such a token until it expires.`,
    "Uncached cases verify a ring of 4,096 distinct tokens (each call a token not seen for 4,095 calls); the SDK runs with `cacheSize: 0`. Every verifier checks signature, typ, iss, aud and exp; before timing, each must accept its token and refuse one with a changed payload.",
    ...api.notes,
  ];
  return { groups, notes, failures: apiFailures, teardown };
}

export const verifyBenchmark: Benchmark = {
  name: "verify",
  title: "Resource-server verification: tessera/verify vs raw node:crypto, jose, fast-jwt",
  description:
    "The SDK's createVerifier on EdDSA access tokens, uncached (vs raw node:crypto, jose, fast-jwt) and cached (vs fast-jwt's cache), the revocation delay of its cache, and API-token introspection through Tessera.",
  target: { case: "tessera/verify createVerifier (cache off)", minRatio: 0.85 },
  setup,
};
