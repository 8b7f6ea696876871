/**
 * The SDK's Shared Signals receiver (`tessera/verify/ssf`) against a real Tessera, on SQLite and PostgreSQL: a
 * resource server's verifier caches a user's access token; a SET arriving by push (a local RFC 8935 endpoint
 * built on `handlePush`) or by poll (`pollOnce`, `startPolling`) makes it refuse that token at once, while
 * other users' tokens and the user's newer ones pass. SETs that are not genuine, not for this receiver or not
 * well formed are refused with RFC 8935 codes and revoke nothing; polled refusals go back as `setErrs`.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createVerifier, type Verifier, VerifyError } from "../../src/sdk/verify/index.js";
import { createSsfReceiver, type SecurityEvent, type SsfReceiver } from "../../src/sdk/verify/ssf.js";
import { signSet } from "../../src/ssf/index.js";
import { ssfStreamsRepository } from "../../src/storage/repositories/ssf-streams.js";
import type { TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { injectFetch } from "../helpers/oauth.js";
import {
  ACCOUNT_DISABLED,
  ALL_EVENTS,
  call,
  createReceiverClient,
  createSsfApp,
  domainEvent,
  ISSUER,
  PUSH,
  queued,
  type ReceiverClient,
  receiverToken,
  SESSION_REVOKED,
  VERIFICATION,
} from "./helpers.js";

const API = "https://orders.example.test";

/** `injectFetch` does not stop on abort (app.inject has no signal): this one rejects when the signal fires. */
function abortable(inner: typeof fetch): typeof fetch {
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const signal = init?.signal;
    if (!signal) return inner(input, init);
    return new Promise<Response>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      inner(input, init).then(resolve, reject);
    });
  }) as typeof fetch;
}

async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

describe.each(DIALECTS)("SDK Shared Signals receiver (%s)", (dialect) => {
  let t: TestApp;
  let alice: ReceiverClient;
  let token: string;
  let verifier: Verifier;
  const open: SsfReceiver[] = [];
  const servers: Server[] = [];
  let streamId: string | undefined;

  beforeAll(async () => {
    t = await createSsfApp(dialect);
    alice = await createReceiverClient(t);
    token = await receiverToken(t, alice);
  });
  afterEach(async () => {
    for (const r of open.splice(0)) await r.close();
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
    verifier?.close();
    if (streamId !== undefined) await call(t, "DELETE", `/ssf/stream?stream_id=${streamId}`, token);
    streamId = undefined;
    await t.ctx.ssf.idle();
  });
  afterAll(async () => {
    await t.close();
  });

  function newVerifier(): Verifier {
    verifier = createVerifier({
      issuer: ISSUER,
      audience: API,
      fetch: injectFetch(t.app),
      now: () => t.clock.now(),
    });
    return verifier;
  }

  async function accessToken(userId: string): Promise<string> {
    const { token: jwt } = await t.ctx.oauth.issuer.mintAccessToken({
      clientId: alice.id,
      subject: { userId, authTime: t.clock.now(), acr: "urn:tessera:acr:password", amr: ["pwd"] },
      scopes: ["orders:read"],
      audience: [API],
      ttl: 600,
    });
    return jwt;
  }

  function receiverFor(options: Partial<Parameters<typeof createSsfReceiver>[0]> = {}): SsfReceiver {
    const receiver = createSsfReceiver({
      issuer: ISSUER,
      audience: alice.id,
      verifiers: [verifier],
      fetch: abortable(injectFetch(t.app)),
      now: () => t.clock.now(),
      ...options,
    });
    open.push(receiver);
    return receiver;
  }

  /** A local push endpoint that hands each request to `handlePush`. */
  async function serve(receiver: SsfReceiver): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const answer = await receiver.handlePush({
          method: req.method,
          contentType: req.headers["content-type"],
          authorization: req.headers.authorization,
          body: Buffer.concat(chunks),
        });
        res.writeHead(answer.status, answer.headers).end(answer.body);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/ssf`;
  }

  /** A SET signed with Tessera's own key but with claims the test chooses (to reach the claim checks). */
  async function craftedSet(claims: Record<string, unknown>): Promise<string> {
    return signSet(
      {
        iss: ISSUER,
        aud: alice.id,
        iat: Math.floor(t.clock.now() / 1000),
        jti: `crafted-${Math.random().toString(36).slice(2)}`,
        sub_id: { format: "iss_sub", iss: ISSUER, sub: "victim" },
        events: { [SESSION_REVOKED]: {} },
        ...claims,
      } as Parameters<typeof signSet>[0],
      t.ctx.keys.signingKey("EdDSA"),
    );
  }

  it("push: a session-revoked SET makes the verifier refuse the user's cached token at once", async () => {
    newVerifier();
    const events: SecurityEvent[] = [];
    const receiver = receiverFor({
      authorization: "Bearer push-secret",
      onEvent: (e) => void events.push(e),
    });
    const url = await serve(receiver);
    const created = await call(t, "POST", "/ssf/stream", token, {
      delivery: { method: PUSH, endpoint_url: url, authorization_header: "Bearer push-secret" },
      events_requested: ALL_EVENTS,
    });
    streamId = created.json().stream_id;
    const mine = await accessToken("user-a");
    const theirs = await accessToken("user-b");
    await verifier.verify(mine);
    await verifier.verify(mine);
    await verifier.verify(theirs);

    const event = domainEvent(
      "session.ended",
      "user-a",
      { sessionId: "sid-1", reason: "signed_out" },
      t.clock.now(),
    );
    await t.ctx.ssf.deliver([event]);
    await t.ctx.ssf.idle();
    expect(await queued(t, streamId as string)).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: SESSION_REVOKED,
      sub: "user-a",
      sessionId: "sid-1",
      txn: event.id,
      at: Math.floor(event.at / 1000) * 1000,
    });
    expect((await refusal(verifier.verify(mine))).reason).toBe("revoked");
    await expect(verifier.verify(theirs)).resolves.toMatchObject({ sub: "user-b" });
    t.clock.advance(2_000);
    await expect(verifier.verify(await accessToken("user-a"))).resolves.toMatchObject({ sub: "user-a" });
  });

  it("push: the same SET pushed twice is acknowledged twice and applied once", async () => {
    newVerifier();
    const events: SecurityEvent[] = [];
    const receiver = receiverFor({ onEvent: (e) => void events.push(e) });
    const set = await craftedSet({});
    for (let i = 0; i < 2; i++) {
      const answer = await receiver.handlePush({
        method: "POST",
        contentType: "application/secevent+jwt",
        body: set,
      });
      expect(answer.status).toBe(202);
    }
    expect(events).toHaveLength(1);
  });

  it("push: refuses what is not a genuine SET for this receiver, with RFC 8935 codes, and revokes nothing", async () => {
    newVerifier();
    const receiver = receiverFor({ authorization: "Bearer push-secret" });
    const mine = await accessToken("victim");
    await verifier.verify(mine);
    const push = (body: string, overrides: Record<string, unknown> = {}) =>
      receiver.handlePush({
        method: "POST",
        contentType: "application/secevent+jwt",
        authorization: "Bearer push-secret",
        body,
        ...overrides,
      });
    const genuine = await craftedSet({});
    const { privateKey } = generateKeyPairSync("ed25519");
    const foreign = await new SignJWT({
      iss: ISSUER,
      aud: alice.id,
      iat: 1,
      jti: "x",
      sub_id: { format: "iss_sub", iss: ISSUER, sub: "victim" },
      events: { [SESSION_REVOKED]: {} },
    })
      .setProtectedHeader({ alg: "EdDSA", typ: "secevent+jwt", kid: t.ctx.keys.signingKey("EdDSA").kid })
      .sign(privateKey);
    const cases: [string, Promise<{ status: number; body: string }>, string][] = [
      ["no authorization", push(genuine, { authorization: undefined }), "authentication_failed"],
      ["wrong authorization", push(genuine, { authorization: "Bearer guess" }), "authentication_failed"],
      ["wrong media type", push(genuine, { contentType: "application/jwt" }), "invalid_request"],
      ["not a JWT", push("hello"), "invalid_request"],
      ["an access token", push(mine), "invalid_request"],
      ["signed by another key", push(foreign), "invalid_key"],
      ["for another receiver", push(await craftedSet({ aud: "someone-else" })), "invalid_audience"],
      ["from another issuer", push(await craftedSet({ iss: "https://evil.example" })), "invalid_issuer"],
      ["with sub", push(await craftedSet({ sub: "victim" })), "invalid_request"],
      ["with exp", push(await craftedSet({ exp: Math.floor(t.clock.now() / 1000) + 60 })), "invalid_request"],
      [
        "two events",
        push(await craftedSet({ events: { [SESSION_REVOKED]: {}, [ACCOUNT_DISABLED]: {} } })),
        "invalid_request",
      ],
      ["no sub_id", push(await craftedSet({ sub_id: undefined })), "invalid_request"],
    ];
    for (const [what, answer, err] of cases) {
      const { status, body } = await answer;
      expect(status, what).toBe(400);
      expect(JSON.parse(body).err, what).toBe(err);
    }
    expect((await receiver.handlePush({ method: "GET", body: "" })).status).toBe(405);
    await expect(verifier.verify(mine)).resolves.toMatchObject({ sub: "victim" });
  });

  it("fetch handler: answers 202 for a genuine SET and 400 with the error for a bad one", async () => {
    newVerifier();
    const receiver = receiverFor();
    const ok = await receiver.fetchHandler(
      new Request("https://rs.example.test/ssf", {
        method: "POST",
        headers: { "content-type": "application/secevent+jwt" },
        body: await craftedSet({}),
      }),
    );
    expect(ok.status).toBe(202);
    const bad = await receiver.fetchHandler(
      new Request("https://rs.example.test/ssf", {
        method: "POST",
        headers: { "content-type": "application/secevent+jwt" },
        body: await craftedSet({ aud: "nobody" }),
      }),
    );
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      err: "invalid_audience",
      description: "The SET is for another receiver.",
    });
  });

  it("poll: each round applies the SETs received and acknowledges them on the next; bad ones go back as setErrs", async () => {
    newVerifier();
    const created = await call(t, "POST", "/ssf/stream", token, { events_requested: ALL_EVENTS });
    streamId = created.json().stream_id as string;
    const events: SecurityEvent[] = [];
    const receiver = receiverFor({
      poll: { clientId: alice.id, clientSecret: alice.secret, streamId },
      onEvent: (e) => void events.push(e),
    });
    const mine = await accessToken("user-c");
    await verifier.verify(mine);
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-c", {}, t.clock.now())]);
    expect(await receiver.pollOnce()).toBe(1);
    expect((await refusal(verifier.verify(mine))).reason).toBe("revoked");
    expect(events.map((e) => e.type)).toEqual([ACCOUNT_DISABLED]);
    // Received, not yet acknowledged: the next round tells Tessera.
    expect(await queued(t, streamId)).toHaveLength(1);
    expect(await receiver.pollOnce()).toBe(0);
    expect(await queued(t, streamId)).toEqual([]);

    // A SET Tessera signs but for another audience (as if misrouted): refused, reported, removed.
    const now = t.clock.now();
    await ssfStreamsRepository(t.ctx.storage.db).enqueue([
      {
        stream_id: streamId,
        jti: "misrouted",
        event_type: SESSION_REVOKED,
        claims: JSON.stringify({
          iss: ISSUER,
          aud: "someone-else",
          iat: Math.floor(now / 1000),
          jti: "misrouted",
          sub_id: { format: "iss_sub", iss: ISSUER, sub: "user-d" },
          events: { [SESSION_REVOKED]: {} },
        }),
        created_at: now,
        keep_until: now + 60_000,
      },
    ]);
    expect(await receiver.pollOnce()).toBe(1);
    expect(events).toHaveLength(1);
    expect(await receiver.pollOnce()).toBe(0);
    expect(await queued(t, streamId)).toEqual([]);
    expect(t.logs()).toMatch(/"jti":"misrouted","err":"invalid_audience"/);
  });

  it("startPolling: events reach the verifier as they happen; close sends the last acknowledgements", async () => {
    newVerifier();
    const created = await call(t, "POST", "/ssf/stream", token, { events_requested: ALL_EVENTS });
    streamId = created.json().stream_id as string;
    const events: SecurityEvent[] = [];
    const receiver = receiverFor({
      poll: { clientId: alice.id, clientSecret: alice.secret, streamId },
      onEvent: (e) => void events.push(e),
    });
    const mine = await accessToken("user-e");
    await verifier.verify(mine);
    receiver.startPolling();
    await t.ctx.ssf.deliver([domainEvent("session.ended", "user-e", { sessionId: "sid-e" }, t.clock.now())]);
    await vi.waitFor(async () => expect((await refusal(verifier.verify(mine))).reason).toBe("revoked"), {
      timeout: 10_000,
    });
    t.clock.advance(60_000);
    expect(
      (await call(t, "POST", "/ssf/verify", token, { stream_id: streamId, state: "st" })).statusCode,
    ).toBe(204);
    await vi.waitFor(() => expect(events.map((e) => e.type)).toEqual([SESSION_REVOKED, VERIFICATION]), {
      timeout: 10_000,
    });
    expect(events[1]?.event).toEqual({ state: "st" });
    await receiver.close();
    open.splice(open.indexOf(receiver), 1);
    expect(await queued(t, streamId)).toEqual([]);
  });
});
