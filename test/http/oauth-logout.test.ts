/** RP-initiated logout and back-channel logout, with a real HTTP receiver for the logout tokens. */
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { Writable } from "node:stream";
import { createLocalJWKSet, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBackchannelLogout } from "../../src/oauth/index.js";
import { createLogger } from "../../src/observability/log.js";
import { createOutboundFetch, type OutboundLookup, type OutboundPolicy } from "../../src/outbound/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { codeFlowTokens, discover, startFormReceiver } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const CALLBACK = "https://app.example.test/callback";
const BYE = "https://app.example.test/signed-out";

describe("logout", () => {
  let t: TestApp;
  let userId: string;
  let receiver: Awaited<ReturnType<typeof startFormReceiver>>;
  let received: URLSearchParams[];
  let client: { id: string; secret: string };

  beforeAll(async () => {
    receiver = await startFormReceiver();
    received = receiver.received;
    // The receiver is on loopback: allowed explicitly (the default refuses it, see "the outbound guard").
    t = await createTestApp({
      env: { TESSERA_ISSUER: ISSUER, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" },
    });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const created = await t.ctx.oauth.clients.create({
      name: "Web App",
      redirectUris: [CALLBACK],
      postLogoutRedirectUris: [BYE],
      backchannelLogoutUri: `${receiver.url}/backchannel`,
      firstParty: true,
    });
    client = { id: created.client.id, secret: created.secret as string };
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
  });

  async function signInThroughClient(scope = "openid") {
    const page = new PageClient(t.app, ISSUER);
    const config = await discover(t.app, ISSUER, client.id, client.secret);
    const tokens = await codeFlowTokens(config, page, CALLBACK, scope);
    return { page, config, tokens };
  }

  async function sessionAlive(page: PageClient) {
    return (await page.get("/session")).statusCode === 200;
  }

  it("signs out with id_token_hint, redirects to the registered URI with state, and posts a logout token", async () => {
    received.length = 0;
    const { page, config, tokens } = await signInThroughClient();
    const sid = tokens.claims()?.sid as string;
    expect(sid).toBeTruthy();
    const logoutUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: BYE,
      state: "bye-state",
    });
    const response = await page.get(logoutUrl.pathname + logoutUrl.search);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`${BYE}?state=bye-state`);
    expect(await sessionAlive(page)).toBe(false);

    await t.ctx.oauth.logout.idle();
    expect(received).toHaveLength(1);
    const logoutToken = received[0]?.get("logout_token") as string;
    const jwks = (await t.app.inject({ url: "/.well-known/jwks.json" })).json();
    const { payload, protectedHeader } = await jwtVerify(logoutToken, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: client.id,
      typ: "logout+jwt",
    });
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({
      sub: userId,
      sid,
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    expect(payload.nonce).toBeUndefined();
    expect(typeof payload.jti).toBe("string");

    // The sign-in's refresh token (no offline_access) ended with the session.
    const introspection = await oidc.tokenIntrospection(config, tokens.refresh_token as string);
    expect(introspection.active).toBe(false);
  });

  it("keeps offline_access refresh tokens, and signs out from Tessera's own page too", async () => {
    const other = await t.ctx.oauth.clients.create({
      name: "Offline",
      redirectUris: [CALLBACK],
      scope: "openid offline_access",
      firstParty: true,
    });
    expect(other.client.id).toBeTruthy();
    received.length = 0;
    const { page, config, tokens } = await signInThroughClient("openid offline_access");
    await page.get("/account");
    const out = await page.post("/logout", {});
    expect(out.statusCode).toBe(200);
    expect(await sessionAlive(page)).toBe(false);
    await t.ctx.oauth.logout.idle();
    expect(received).toHaveLength(1);
    expect((await oidc.tokenIntrospection(config, tokens.refresh_token as string)).active).toBe(true);
  });

  it("asks for confirmation without a valid hint, so a link elsewhere cannot sign anyone out", async () => {
    const { page } = await signInThroughClient();
    const ask = await page.get(
      `/end-session?client_id=${client.id}&post_logout_redirect_uri=${encodeURIComponent(BYE)}&state=x`,
    );
    expect(ask.statusCode).toBe(200);
    expect(ask.body).toContain('action="/end-session/confirm"');
    expect(ask.headers["content-security-policy"]).toContain("form-action 'self' https://app.example.test");
    expect(await sessionAlive(page)).toBe(true);
    // A cross-site POST of the confirmation is refused (no valid CSRF token).
    const forged = await page.post("/end-session/confirm", { client_id: client.id }, { csrf: false });
    expect(forged.statusCode).toBe(403);
    expect(await sessionAlive(page)).toBe(true);
    const confirmed = await page.post("/end-session/confirm", {
      client_id: client.id,
      post_logout_redirect_uri: BYE,
      state: "x",
    });
    expect(confirmed.statusCode).toBe(303);
    expect(confirmed.headers.location).toBe(`${BYE}?state=x`);
    expect(await sessionAlive(page)).toBe(false);
  });

  it("never redirects to an unregistered post-logout URI or on a bad hint", async () => {
    const { page, tokens } = await signInThroughClient();
    for (const query of [
      `id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent("https://evil.example.test/")}`,
      `post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
      `id_token_hint=${tokens.id_token}x&post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
      `id_token_hint=${tokens.id_token}&client_id=someone-else`,
    ]) {
      const response = await page.get(`/end-session?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.headers.location).toBeUndefined();
    }
    expect(await sessionAlive(page)).toBe(true);
  });

  it("accepts an expired ID token as a hint", async () => {
    const { page, tokens } = await signInThroughClient();
    t.clock.advance(2 * 3600 * 1000);
    // Two hours later the ID token has expired (and the idle session too): the hint still names the client,
    // so the registered post-logout URI is honoured.
    const response = await page.get(
      `/end-session?id_token_hint=${tokens.id_token}&post_logout_redirect_uri=${encodeURIComponent(BYE)}`,
    );
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(BYE);
  });
});

/** A TCP listener that counts every connection (and closes it): a refused destination must see none. */
async function connectionCounter() {
  let connections = 0;
  const server = createNetServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the outbound guard at sign-out (default settings: public destinations only)", () => {
  let t: TestApp;
  let counter: Awaited<ReturnType<typeof connectionCounter>>;

  beforeAll(async () => {
    counter = await connectionCounter();
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    expect(t.config.outboundAllowPrivate).toBe(false);
    await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
  });
  afterAll(async () => {
    await t.close();
    await counter.close();
  });

  async function register(backchannelLogoutUri: string) {
    const response = await t.app.inject({
      method: "POST",
      url: "/register",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      payload: JSON.stringify({
        client_name: "Self-registered",
        redirect_uris: [CALLBACK],
        backchannel_logout_uri: backchannelLogoutUri,
      }),
    });
    expect(response.statusCode, response.body).toBe(201);
    const metadata = response.json() as { client_id: string; client_secret: string };
    return { id: metadata.client_id, secret: metadata.client_secret };
  }

  it("never connects to a registered loopback, link-local or loopback-resolving back-channel URI", async () => {
    const registered = [
      await register(`https://127.0.0.1:${counter.port}/`),
      await register(`https://localhost:${counter.port}/backchannel`),
      await register(`https://[::ffff:7f00:1]:${counter.port}/`),
      await register("https://169.254.169.254/latest/meta-data/iam/security-credentials/"),
    ];
    // One browser signs in through every client (single sign-on), then signs out once.
    const page = new PageClient(t.app, ISSUER);
    for (const client of registered) {
      const config = await discover(t.app, ISSUER, client.id, client.secret);
      await codeFlowTokens(config, page, CALLBACK, "openid");
    }
    await page.get("/account");
    expect((await page.post("/logout", {})).statusCode).toBe(200);
    await t.ctx.oauth.logout.idle();

    expect(counter.count()).toBe(0);
    const refusals = t
      .logs()
      .split("\n")
      .filter((line) => line.includes("back-channel logout not sent: destination refused"))
      .map(
        (line) =>
          JSON.parse(line) as { clientId: string; reason: string; host: string; err: { message: string } },
      );
    expect(refusals.map((r) => r.clientId).sort()).toEqual(registered.map((c) => c.id).sort());
    expect(refusals.every((r) => r.reason === "address")).toBe(true);
    const metadata = refusals.find((r) => r.host === "169.254.169.254");
    expect(metadata?.err.message).toMatch(/is link-local \(169\.254\.0\.0\/16\)/);
    // The URI's path is not logged.
    expect(t.logs()).not.toContain("security-credentials");
  });

  describe("delivery through an injected resolver", () => {
    let receiver: Server;
    let receiverPort: number;
    let hits: { url: string; body: string }[];
    let lines: string;

    beforeAll(async () => {
      hits = [];
      receiver = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          hits.push({ url: req.url ?? "", body });
          if (req.url === "/moved") res.writeHead(307, { location: "http://169.254.169.254/" }).end();
          else res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      receiverPort = (receiver.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => receiver.close(resolve));
    });

    /** Back-channel logout of one client whose URI is `uri`, with this policy and resolver. */
    async function deliver(uri: string, policy: OutboundPolicy, lookup: OutboundLookup) {
      lines = "";
      const log = createLogger({
        level: "info",
        destination: new Writable({
          write(chunk, _enc, done) {
            lines += chunk.toString();
            done();
          },
        }),
      });
      const { client } = await t.ctx.oauth.clients.create({
        name: "Resolved",
        redirectUris: [CALLBACK],
        backchannelLogoutUri: uri,
      });
      const backchannel = createBackchannelLogout({
        clock: t.clock,
        keys: t.ctx.keys,
        clients: t.ctx.oauth.clients,
        issuer: ISSUER,
        log,
        outbound: createOutboundFetch({ policy, lookup, log }),
      });
      await backchannel.notify("user-1", [{ clientId: client.id, sessionId: "session-1" }]);
      await backchannel.idle();
      return client.id;
    }

    const resolvesTo =
      (...addresses: string[]): OutboundLookup =>
      async () =>
        addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    /** For IP literals, which are never resolved. */
    const noDns: OutboundLookup = async (hostname) => {
      throw new Error(`unexpected look-up of ${hostname}`);
    };
    const STRICT: OutboundPolicy = { allowPrivate: false, development: false };

    it("refuses a host name that resolves to a private or loopback address, without connecting", async () => {
      hits.length = 0;
      for (const addresses of [["127.0.0.1"], ["10.20.30.40"], ["93.184.215.14", "127.0.0.1"], ["::1"]]) {
        const clientId = await deliver(
          `https://rp.example.test:${counter.port}/backchannel`,
          STRICT,
          resolvesTo(...addresses),
        );
        expect(lines).toContain("back-channel logout not sent: destination refused");
        expect(lines).toContain(clientId);
      }
      expect(counter.count()).toBe(0);
      expect(hits).toHaveLength(0);
      // The control: allowed, the same URI is connected to (the listener counts; TLS then fails).
      await deliver(
        `https://rp.example.test:${counter.port}/backchannel`,
        { allowPrivate: ["127.0.0.1/32"], development: false },
        resolvesTo("127.0.0.1"),
      );
      expect(lines).toContain("back-channel logout failed");
      expect(counter.count()).toBe(1);
    });

    it("delivers when the setting allows the address", async () => {
      hits.length = 0;
      await deliver(
        `http://127.0.0.1:${receiverPort}/backchannel`,
        { allowPrivate: ["127.0.0.1/32"], development: false },
        noDns,
      );
      expect(lines).not.toContain("back-channel logout");
      expect(hits).toHaveLength(1);
      expect(hits[0]?.url).toBe("/backchannel");
      expect(new URLSearchParams(hits[0]?.body).get("logout_token")).toMatch(/^ey/);
    });

    it("does not follow a redirect (to the metadata service or anywhere else)", async () => {
      hits.length = 0;
      await deliver(
        `http://127.0.0.1:${receiverPort}/moved`,
        { allowPrivate: ["127.0.0.1/32"], development: false },
        noDns,
      );
      expect(hits.map((h) => h.url)).toEqual(["/moved"]);
      expect(lines).toContain("back-channel logout refused by the client");
      expect(lines).toContain('"status":307');
    });
  });
});
