/**
 * Push delivery (RFC 8935) to a local receiver, on SQLite and PostgreSQL: each domain event the transmitter
 * hears becomes a SET that `jose` verifies with the server's JWKS, with every claim checked; SETs are sent in
 * order, once per stream however often an event is offered, retried with back-off while the receiver fails,
 * dropped when it refuses them with an RFC 8935 error, held while a stream is paused; removed subjects and
 * unrequested event types are not sent; two transmitters over one database never send a SET twice at once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createOutboundFetch } from "../../src/outbound/index.js";
import { createTransmitter } from "../../src/ssf/index.js";
import { ssfStreamsRepository } from "../../src/storage/repositories/ssf-streams.js";
import type { TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import {
  ACCOUNT_DISABLED,
  ACCOUNT_PURGED,
  ALL_EVENTS,
  bodyOf,
  CREDENTIAL_CHANGE,
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
  startSetReceiver,
  VERIFICATION,
  verifySet,
} from "./helpers.js";

type Receiver = Awaited<ReturnType<typeof startSetReceiver>>;

describe.each(DIALECTS)("SSF push delivery (%s)", (dialect) => {
  let t: TestApp;
  let alice: ReceiverClient;
  let token: string;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await createSsfApp(dialect);
    alice = await createReceiverClient(t);
    token = await receiverToken(t, alice);
  });
  afterEach(async () => {
    await t.ctx.ssf.idle();
    for (const r of receivers.splice(0)) await r.close();
  });
  afterAll(async () => {
    await t.close();
  });

  async function receiver(respond?: Parameters<typeof startSetReceiver>[0]) {
    const r = await startSetReceiver(respond);
    receivers.push(r);
    return r;
  }

  async function pushStream(
    url: string,
    extra: Record<string, unknown> = {},
    bearer = token,
  ): Promise<string> {
    const response = await call(t, "POST", "/ssf/stream", bearer, {
      delivery: { method: PUSH, endpoint_url: url, authorization_header: "Bearer push-secret" },
      events_requested: ALL_EVENTS,
      ...extra,
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json().stream_id as string;
  }

  /** Deletes the stream afterwards, so later tests' events do not reach it. */
  async function done(streamId: string) {
    await call(t, "DELETE", `/ssf/stream?stream_id=${streamId}`, token);
  }

  it("pushes each mapped event as a SET that verifies with jose and the JWKS, every claim as specified", async () => {
    const r = await receiver();
    const streamId = await pushStream(r.url);
    const now = t.clock.now();
    const iat = Math.floor(now / 1000);
    const at = now - 5_000;
    const events = [
      domainEvent("session.ended", "user-1", { sessionId: "sess-1", reason: "sign_out" }, at),
      domainEvent("credential.changed", "user-1", { credential: "password", change: "reset" }, at + 1000),
      domainEvent("user.created", "user-2", {}, at + 1500),
      domainEvent("credential.changed", "user-1", { credential: "telepathy", change: "create" }, at + 1600),
      domainEvent("user.disabled", "user-2", { initiatingEntity: "admin" }, at + 2000),
      domainEvent("user.deleted", "user-3", {}, at + 3000),
      domainEvent("session.ended", "user-4", {}, at + 4000),
    ];
    await t.ctx.ssf.deliver(events);
    await r.waitFor(5);
    await t.ctx.ssf.idle();
    expect(r.received).toHaveLength(5);
    for (const push of r.received) {
      expect(push.headers["content-type"]).toBe("application/secevent+jwt");
      expect(push.headers.accept).toBe("application/json");
      expect(push.headers.authorization).toBe("Bearer push-secret");
    }
    const payloads = await Promise.all(r.received.map((p) => verifySet(t, p.body, alice.id)));
    const user = (sub: string) => ({ format: "iss_sub", iss: ISSUER, sub });
    const jti = expect.stringMatching(/^[A-Za-z0-9_-]{22}$/);
    const seconds = (ms: number) => Math.floor(ms / 1000);
    expect(payloads).toStrictEqual([
      {
        iss: ISSUER,
        aud: alice.id,
        iat,
        jti,
        txn: events[0]?.id,
        sub_id: { format: "complex", user: user("user-1"), session: { format: "opaque", id: "sess-1" } },
        events: { [SESSION_REVOKED]: { event_timestamp: seconds(at), reason_admin: { en: "sign_out" } } },
      },
      {
        iss: ISSUER,
        aud: alice.id,
        iat,
        jti,
        txn: events[1]?.id,
        sub_id: user("user-1"),
        events: {
          [CREDENTIAL_CHANGE]: {
            credential_type: "password",
            change_type: "update",
            event_timestamp: seconds(at + 1000),
          },
        },
      },
      {
        iss: ISSUER,
        aud: alice.id,
        iat,
        jti,
        txn: events[4]?.id,
        sub_id: user("user-2"),
        events: {
          [ACCOUNT_DISABLED]: {
            subject: user("user-2"),
            event_timestamp: seconds(at + 2000),
            initiating_entity: "admin",
          },
        },
      },
      {
        iss: ISSUER,
        aud: alice.id,
        iat,
        jti,
        txn: events[5]?.id,
        sub_id: user("user-3"),
        events: { [ACCOUNT_PURGED]: { subject: user("user-3"), event_timestamp: seconds(at + 3000) } },
      },
      {
        iss: ISSUER,
        aud: alice.id,
        iat,
        jti,
        txn: events[6]?.id,
        sub_id: user("user-4"),
        events: { [SESSION_REVOKED]: { event_timestamp: seconds(at + 4000) } },
      },
    ]);
    expect(new Set(payloads.map((p) => p.jti)).size).toBe(5);
    expect(await queued(t, streamId)).toEqual([]);
    await done(streamId);
  });

  it("signs with the receiver's ID-token algorithm (ES256 here), still verifiable with the JWKS", async () => {
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "ES256 receiver",
      authMethod: "client_secret_basic",
      grantTypes: ["client_credentials"],
      scope: "ssf.manage",
      resources: [`${ISSUER}/ssf`],
      idTokenAlg: "ES256",
    });
    const esToken = await receiverToken(t, { id: client.id, secret: secret as string });
    const r = await receiver();
    const streamId = await pushStream(r.url, {}, esToken);
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-es", {}, t.clock.now())]);
    await r.waitFor(1);
    const [header] = bodyOf(r, 0).split(".");
    expect(JSON.parse(Buffer.from(header as string, "base64url").toString())).toMatchObject({
      alg: "ES256",
      typ: "secevent+jwt",
    });
    expect((await verifySet(t, bodyOf(r, 0), client.id)).sub_id).toEqual({
      format: "iss_sub",
      iss: ISSUER,
      sub: "user-es",
    });
    await call(t, "DELETE", `/ssf/stream?stream_id=${streamId}`, esToken);
  });

  it("queues an event once per stream however often it is offered, with a jti per stream", async () => {
    const r1 = await receiver();
    const r2 = await receiver();
    const s1 = await pushStream(r1.url);
    const s2 = await pushStream(r2.url);
    await t.ctx.ssf.pushNow();
    const event = domainEvent("user.disabled", "user-dup", {}, t.clock.now());
    await t.ctx.ssf.deliver([event]);
    await t.ctx.ssf.deliver([event]);
    await r1.waitFor(1);
    await r2.waitFor(1);
    await t.ctx.ssf.idle();
    await t.ctx.ssf.pushNow();
    expect(r1.received).toHaveLength(1);
    expect(r2.received).toHaveLength(1);
    const [p1, p2] = [
      await verifySet(t, bodyOf(r1, 0), alice.id),
      await verifySet(t, bodyOf(r2, 0), alice.id),
    ];
    expect(p1.txn).toBe(event.id);
    expect(p2.txn).toBe(event.id);
    expect(p1.jti).not.toBe(p2.jti);
    await done(s1);
    await done(s2);
  });

  it("retries a failing receiver with back-off, keeps the order, and drops nothing until accepted", async () => {
    const r = await receiver((_push, index) => ({ status: index < 2 ? 503 : 202 }));
    const streamId = await pushStream(r.url);
    const first = domainEvent("user.disabled", "user-retry", {}, t.clock.now());
    const second = domainEvent("user.deleted", "user-retry", {}, t.clock.now());
    await t.ctx.ssf.deliver([first, second]);
    await r.waitFor(1);
    await t.ctx.ssf.idle();
    expect(r.received).toHaveLength(1);
    let queue = await queued(t, streamId);
    expect(queue.map((s) => [s.attempts, s.last_error])).toEqual([
      [1, "HTTP 503"],
      [0, null],
    ]);
    // Not due yet: nothing is sent again before the back-off (at least 0.5 s after the first attempt).
    await t.ctx.ssf.pushNow();
    expect(r.received).toHaveLength(1);
    t.clock.advance(1_000);
    await t.ctx.ssf.pushNow();
    expect(r.received).toHaveLength(2);
    queue = await queued(t, streamId);
    expect(queue[0]?.attempts).toBe(2);
    // Second failure: the next attempt waits 1 to 2 s.
    t.clock.advance(2_000);
    await t.ctx.ssf.pushNow();
    await r.waitFor(4);
    await t.ctx.ssf.idle();
    expect(r.received).toHaveLength(4);
    const payloads = await Promise.all(r.received.map((p) => verifySet(t, p.body, alice.id)));
    // The first SET three times (same jti), then the second: the failing head held the queue.
    expect(payloads.map((p) => p.txn)).toEqual([first.id, first.id, first.id, second.id]);
    expect(new Set(payloads.slice(0, 3).map((p) => p.jti)).size).toBe(1);
    expect(await queued(t, streamId)).toEqual([]);
    await done(streamId);
  });

  it("retries while the receiver cannot be reached at all", async () => {
    const r = await receiver();
    const url = r.url;
    await r.close();
    receivers.pop();
    const streamId = await pushStream(url);
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-down", {}, t.clock.now())]);
    await t.ctx.ssf.idle();
    const queue = await queued(t, streamId);
    expect(queue).toHaveLength(1);
    expect(queue[0]?.attempts).toBe(1);
    expect(queue[0]?.last_error).toBe("network error");
    expect(queue[0]?.next_attempt_at).toBeGreaterThan(t.clock.now());
    await done(streamId);
  });

  it("drops a SET the receiver refuses with an RFC 8935 error and sends the next", async () => {
    const r = await receiver((_push, index) =>
      index === 0
        ? { status: 400, body: JSON.stringify({ err: "invalid_key", description: "unknown key" }) }
        : { status: 202 },
    );
    const streamId = await pushStream(r.url);
    const events = [
      domainEvent("user.disabled", "user-refused", {}, t.clock.now()),
      domainEvent("user.deleted", "user-refused", {}, t.clock.now()),
    ];
    await t.ctx.ssf.deliver(events);
    await r.waitFor(2);
    await t.ctx.ssf.idle();
    expect(await queued(t, streamId)).toEqual([]);
    expect(t.logs()).toMatch(/"err":"invalid_key".*SET refused by the receiver; dropped/);
    await done(streamId);
  });

  it("holds SETs while a stream is paused and sends them once it is enabled; a disabled stream drops them", async () => {
    const r = await receiver();
    const streamId = await pushStream(r.url);
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "paused" });
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-paused", {}, t.clock.now())]);
    await t.ctx.ssf.idle();
    await t.ctx.ssf.pushNow();
    expect(r.received).toHaveLength(0);
    expect(await queued(t, streamId)).toHaveLength(1);
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "enabled" });
    await r.waitFor(1);
    await t.ctx.ssf.idle();
    expect(await queued(t, streamId)).toEqual([]);

    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "paused" });
    await t.ctx.ssf.deliver([domainEvent("user.deleted", "user-paused", {}, t.clock.now())]);
    expect(await queued(t, streamId)).toHaveLength(1);
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "disabled" });
    expect(await queued(t, streamId)).toEqual([]);
    await t.ctx.ssf.deliver([domainEvent("user.enabled", "user-paused", {}, t.clock.now())]);
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-paused", {}, t.clock.now())]);
    expect(await queued(t, streamId)).toEqual([]);
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "enabled" });
    await t.ctx.ssf.idle();
    expect(r.received).toHaveLength(1);
    await done(streamId);
  });

  it("sends nothing about a removed subject until it is added again, and only the event types requested", async () => {
    const r = await receiver();
    const streamId = await pushStream(r.url, { events_requested: [ACCOUNT_DISABLED] });
    const subject = { format: "iss_sub", iss: ISSUER, sub: "user-removed" };
    expect(
      (await call(t, "POST", "/ssf/subjects/remove", token, { stream_id: streamId, subject })).statusCode,
    ).toBe(204);
    await t.ctx.ssf.deliver([
      domainEvent("user.disabled", "user-removed", {}, t.clock.now()),
      domainEvent("user.deleted", "user-kept", {}, t.clock.now()),
      domainEvent("user.disabled", "user-kept", {}, t.clock.now()),
    ]);
    await r.waitFor(1);
    await t.ctx.ssf.idle();
    expect(r.received).toHaveLength(1);
    expect((await verifySet(t, bodyOf(r, 0), alice.id)).sub_id).toEqual({
      format: "iss_sub",
      iss: ISSUER,
      sub: "user-kept",
    });
    await call(t, "POST", "/ssf/subjects/add", token, { stream_id: streamId, subject });
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-removed", {}, t.clock.now())]);
    await r.waitFor(2);
    expect((await verifySet(t, bodyOf(r, 1), alice.id)).sub_id).toEqual(subject);
    await done(streamId);
  });

  it("sends nothing new to a receiver whose client no longer has the SSF scopes", async () => {
    const bob = await createReceiverClient(t, { name: "Bob" });
    const bobToken = await receiverToken(t, bob);
    const r = await receiver();
    const streamId = await pushStream(r.url, {}, bobToken);
    await t.ctx.oauth.clients.replace(bob.id, {
      name: "Bob",
      authMethod: "client_secret_basic",
      grantTypes: ["client_credentials"],
      scope: "",
      resources: [`${ISSUER}/ssf`],
    });
    await t.ctx.ssf.deliver([domainEvent("user.disabled", "user-unscoped", {}, t.clock.now())]);
    await t.ctx.ssf.idle();
    expect(await queued(t, streamId)).toEqual([]);
    expect(r.received).toEqual([]);
    await call(t, "DELETE", `/ssf/stream?stream_id=${streamId}`, bobToken);
  });

  it("pushes the verification event with the stream as subject and the receiver's state", async () => {
    const r = await receiver();
    const streamId = await pushStream(r.url);
    t.clock.advance(60_000);
    expect(
      (await call(t, "POST", "/ssf/verify", token, { stream_id: streamId, state: "s-42" })).statusCode,
    ).toBe(204);
    await r.waitFor(1);
    expect(await verifySet(t, bodyOf(r, 0), alice.id)).toStrictEqual({
      iss: ISSUER,
      aud: alice.id,
      iat: Math.floor(t.clock.now() / 1000),
      jti: expect.any(String),
      sub_id: { format: "opaque", id: streamId },
      events: { [VERIFICATION]: { state: "s-42" } },
    });
    await done(streamId);
  });

  it("two transmitters over one database never push a SET twice, and keep the order (leases)", async () => {
    const r = await receiver(() => ({ status: 202 }));
    const streamId = await pushStream(r.url);
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "paused" });
    const events = Array.from({ length: 12 }, (_, i) =>
      domainEvent("user.disabled", `user-lease-${i}`, {}, t.clock.now()),
    );
    await t.ctx.ssf.deliver(events);
    const second = createTransmitter({
      repository: ssfStreamsRepository(t.ctx.storage.db),
      clock: t.clock,
      log: t.ctx.log,
      issuer: ISSUER,
      keys: t.ctx.keys,
      masterKey: t.ctx.masterKey,
      oauth: { issuer: t.ctx.oauth.issuer, clients: t.ctx.oauth.clients },
      outbound: createOutboundFetch({ policy: { allowPrivate: ["127.0.0.1/32"], development: false } }),
      checkDestination: async () => {},
    });
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "enabled" });
    await Promise.all([t.ctx.ssf.pushNow(), second.pushNow(), t.ctx.ssf.pushNow(), second.pushNow()]);
    await t.ctx.ssf.idle();
    await second.close();
    await r.waitFor(12);
    const txns = (await Promise.all(r.received.map((p) => verifySet(t, p.body, alice.id)))).map((p) => p.txn);
    expect(txns).toEqual(events.map((e) => e.id));
    expect(await queued(t, streamId)).toEqual([]);
    await done(streamId);
  });
});
