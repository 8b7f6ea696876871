/**
 * The BFF with DPoP (RFC 9449): Tessera binds the BFF's access tokens to the BFF's key, and the proxy sends
 * each upstream request with the DPoP scheme and a fresh proof. Real Tessera and a recording upstream, both
 * listening on loopback; proofs are checked with jose (an independent implementation) as well as Tessera's.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { calculateJwkThumbprint, decodeJwt, EmbeddedJWK, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BffConfig,
  bffPlugin,
  loadBffConfig,
  openSessionStore,
  type SessionStore,
} from "../../src/bff/index.js";
import { accessTokenHash, verifyDpopProof } from "../../src/lib/dpop.js";
import { ConfigError } from "../../src/lib/errors.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { runAuthorization } from "../helpers/oauth.js";
import { freePort } from "../helpers/tls-server.js";

const PASSWORD = "correct horse battery staple 42";
const MASTER_KEY = "5a".repeat(32);

describe("the BFF with DPoP-bound tokens", () => {
  let t: TestApp;
  let issuer: string;
  let bffOrigin: string;
  let bffPort: number;
  let upstream: FastifyInstance;
  let upstreamUrl: string;
  let store: SessionStore;
  let database: TestDatabase;
  let bff: FastifyInstance | undefined;
  let baseEnv: Record<string, string>;
  const received: { method: string; url: string; authorization?: string; dpop?: string }[] = [];

  async function startBff(env: Record<string, string>): Promise<BffConfig> {
    if (bff) {
      await bff.close();
      // Let fetch's pool see the old server's idle sockets close before the next request.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const config = loadBffConfig({ ...baseEnv, ...env });
    bff = Fastify();
    await bff.register(bffPlugin, { config, store, clock: t.clock });
    await bff.listen({ port: bffPort, host: "127.0.0.1" });
    return config;
  }

  beforeAll(async () => {
    const tesseraPort = await freePort();
    bffPort = await freePort();
    issuer = `http://127.0.0.1:${tesseraPort}`;
    bffOrigin = `http://127.0.0.1:${bffPort}`;
    t = await createTestApp({ env: { TESSERA_ISSUER: issuer } });
    await t.app.listen({ port: tesseraPort, host: "127.0.0.1" });
    const shop = await t.ctx.oauth.clients.create({
      name: "Shop",
      redirectUris: [`${bffOrigin}/bff/callback`],
      postLogoutRedirectUris: [`${bffOrigin}/`],
      scope: "openid profile offline_access",
      firstParty: true,
      dpopBound: true,
    });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    upstream = Fastify();
    upstream.all("/*", async (request) => {
      received.push({
        method: request.method,
        url: request.url,
        ...(typeof request.headers.authorization === "string"
          ? { authorization: request.headers.authorization }
          : {}),
        ...(typeof request.headers.dpop === "string" ? { dpop: request.headers.dpop } : {}),
      });
      return { ok: true };
    });
    await upstream.listen({ port: 0, host: "127.0.0.1" });
    upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
    database = await createTestDatabase("sqlite");
    baseEnv = {
      BFF_ISSUER: issuer,
      BFF_CLIENT_ID: shop.client.id,
      BFF_CLIENT_SECRET: shop.secret as string,
      BFF_PUBLIC_URL: bffOrigin,
      BFF_UPSTREAMS: `/api=${upstreamUrl}/v1`,
      BFF_DATABASE_URL: database.url,
      BFF_MASTER_KEY: MASTER_KEY,
      BFF_ALLOW_INSECURE: "1",
    };
    store = await openSessionStore({
      databaseUrl: database.url,
      idleTimeoutMs: 3_600_000,
      now: () => t.clock.now(),
    });
  });

  afterAll(async () => {
    await bff?.close();
    await store?.close();
    await upstream?.close();
    await t?.close();
    await database?.drop();
  });

  async function signIn(): Promise<string> {
    t.clock.set(Date.now());
    const login = await fetch(`${bffOrigin}/bff/login?returnTo=/`, { redirect: "manual" });
    expect(login.status).toBe(303);
    const loginCookie = (login.headers.getSetCookie()[0] as string).split(";")[0] as string;
    const callback = await runAuthorization(
      new PageClient(t.app, issuer),
      new URL(login.headers.get("location") as string),
      {
        password: PASSWORD,
      },
    );
    const finished = await fetch(callback, { headers: { cookie: loginCookie }, redirect: "manual" });
    expect(finished.status, await finished.clone().text()).toBe(303);
    const session = finished.headers.getSetCookie().find((c) => c.startsWith("bff_session=")) as string;
    return session.split(";")[0] as string;
  }

  /** The upstream request's proof, checked by jose and by Tessera's checker, and the token it came with. */
  async function checkUpstreamProof(seen: (typeof received)[number]) {
    expect(seen.authorization).toMatch(/^DPoP /);
    const token = (seen.authorization as string).slice(5);
    const { payload, protectedHeader } = await jwtVerify(seen.dpop as string, EmbeddedJWK, {
      typ: "dpop+jwt",
    });
    expect(payload).toMatchObject({
      htm: seen.method,
      htu: `${upstreamUrl}${seen.url.split("?")[0]}`,
      ath: accessTokenHash(token),
    });
    const jkt = await calculateJwkThumbprint(protectedHeader.jwk as never, "sha256");
    const ours = verifyDpopProof(seen.dpop as string, {
      method: seen.method,
      url: `${upstreamUrl}${seen.url}`,
      accessToken: token,
      now: t.clock.now(),
    });
    expect(ours.jkt).toBe(jkt);
    return { token, jkt };
  }

  it("refuses an unreadable or unsuitable BFF_DPOP_KEY_FILE at start-up", () => {
    const dir = mkdtempSync(join(tmpdir(), "bff-dpop-"));
    writeFileSync(join(dir, "junk.pem"), "not a key");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    writeFileSync(join(dir, "rsa.pem"), rsa);
    expect(() => loadBffConfig({ ...baseEnv, BFF_DPOP_KEY_FILE: join(dir, "junk.pem") })).toThrow(
      ConfigError,
    );
    expect(() => loadBffConfig({ ...baseEnv, BFF_DPOP_KEY_FILE: join(dir, "rsa.pem") })).toThrow(
      /P-256 or Ed25519/,
    );
    expect(loadBffConfig(baseEnv).dpopKey).toBeUndefined();
  });

  it("signs in with proofs (Tessera requires them of this client), and proxies with DPoP and a fresh proof per request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bff-dpop-"));
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    writeFileSync(join(dir, "dpop.pem"), key);
    await startBff({ BFF_DPOP_KEY_FILE: join(dir, "dpop.pem") });
    const cookie = await signIn();
    received.length = 0;
    for (let i = 0; i < 2; i++) {
      const answer = await fetch(`${bffOrigin}/bff/api/orders?page=${i}`, { headers: { cookie } });
      expect(answer.status).toBe(200);
    }
    const first = await checkUpstreamProof(received[0] as (typeof received)[number]);
    const second = await checkUpstreamProof(received[1] as (typeof received)[number]);
    expect(second.jkt).toBe(first.jkt);
    expect(received[0]?.dpop).not.toBe(received[1]?.dpop);
    // Tessera bound the token to exactly that key.
    expect(decodeJwt(first.token).cnf).toEqual({ jkt: first.jkt });
    // The browser's session still never sees a token, and a Bearer presentation of it fails at Tessera.
    const userinfo = await fetch(`${issuer}/userinfo`, {
      headers: { authorization: `Bearer ${first.token}` },
    });
    expect(userinfo.status).toBe(401);
  });

  it("after a restart with a new key (BFF_DPOP without a key file), refreshes once to get a token bound to the new key", async () => {
    await startBff({ BFF_DPOP: "true" });
    const cookie = await signIn();
    received.length = 0;
    await fetch(`${bffOrigin}/bff/api/a`, { headers: { cookie } });
    const before = await checkUpstreamProof(received[0] as (typeof received)[number]);

    await startBff({ BFF_DPOP: "true" }); // a new process: a new ephemeral key, the same session store
    t.clock.set(Date.now());
    received.length = 0;
    const after = await fetch(`${bffOrigin}/bff/api/b`, { headers: { cookie } });
    expect(after.status).toBe(200);
    const now = await checkUpstreamProof(received[0] as (typeof received)[number]);
    expect(now.jkt).not.toBe(before.jkt);
    expect(decodeJwt(now.token).cnf).toEqual({ jkt: now.jkt });
    expect(now.token).not.toBe(before.token);
  });
});
