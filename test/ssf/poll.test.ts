/**
 * Poll delivery (RFC 8936), on SQLite and PostgreSQL: queued SETs are answered (verified with `jose` and the
 * JWKS), held until acknowledged and offered again when their lease ends; `ack` and `setErrs` remove them;
 * `maxEvents` bounds an answer and `moreAvailable` says what is left; a long poll is answered as soon as a SET is
 * queued; a paused stream answers nothing; malformed polls and polls of a push stream are refused.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { POLL_LEASE_MS } from "../../src/ssf/index.js";
import type { TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
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
  verifySet,
} from "./helpers.js";

describe.each(DIALECTS)("SSF poll delivery (%s)", (dialect) => {
  let t: TestApp;
  let alice: ReceiverClient;
  let token: string;
  let streamId: string;

  beforeAll(async () => {
    t = await createSsfApp(dialect);
    alice = await createReceiverClient(t);
    token = await receiverToken(t, alice);
  });
  afterEach(async () => {
    await call(t, "DELETE", `/ssf/stream?stream_id=${streamId}`, token);
  });
  afterAll(async () => {
    await t.close();
  });

  async function pollStream(): Promise<string> {
    const response = await call(t, "POST", "/ssf/stream", token, { events_requested: ALL_EVENTS });
    expect(response.statusCode).toBe(201);
    streamId = response.json().stream_id;
    return streamId;
  }

  async function poll(body: unknown, bearer = token) {
    return call(t, "POST", `/ssf/poll/${streamId}`, bearer, body);
  }

  function disabled(user: string) {
    return domainEvent("user.disabled", user, {}, t.clock.now());
  }

  it("answers queued SETs, holds them until acknowledged, and removes what is acknowledged", async () => {
    await pollStream();
    const events = [disabled("p-1"), disabled("p-2"), disabled("p-3")];
    await t.ctx.ssf.deliver(events);
    const first = await poll({ maxEvents: 2, returnImmediately: true });
    expect(first.statusCode).toBe(200);
    expect(first.headers["cache-control"]).toBe("no-store");
    const answer = first.json();
    expect(answer.moreAvailable).toBe(true);
    const jtis = Object.keys(answer.sets);
    expect(jtis).toHaveLength(2);
    for (const [jti, set] of Object.entries(answer.sets as Record<string, string>)) {
      const payload = await verifySet(t, set, alice.id);
      expect(payload.jti).toBe(jti);
      expect(payload.events).toEqual({
        [ACCOUNT_DISABLED]: expect.objectContaining({ event_timestamp: expect.any(Number) }),
      });
    }
    const subjects = await Promise.all(
      Object.values(answer.sets as Record<string, string>).map(
        async (set) => (await verifySet(t, set, alice.id)).sub_id,
      ),
    );
    expect(subjects).toEqual([
      { format: "iss_sub", iss: ISSUER, sub: "p-1" },
      { format: "iss_sub", iss: ISSUER, sub: "p-2" },
    ]);
    // The first two are held for this receiver's acknowledgement: the next poll gets the third.
    const second = (await poll({ returnImmediately: true })).json();
    expect(Object.keys(second.sets)).toHaveLength(1);
    expect(second.moreAvailable).toBe(false);
    expect((await verifySet(t, Object.values(second.sets)[0] as string, alice.id)).txn).toBe(events[2]?.id);
    const acked = await poll({ ack: [...jtis, ...Object.keys(second.sets)], returnImmediately: true });
    expect(acked.json()).toEqual({ sets: {}, moreAvailable: false });
    expect(await queued(t, streamId)).toEqual([]);
  });

  it("offers a SET again when its lease ends without an acknowledgement (at least once)", async () => {
    await pollStream();
    await t.ctx.ssf.deliver([disabled("p-lease")]);
    const first = (await poll({ returnImmediately: true })).json();
    const [jti] = Object.keys(first.sets);
    expect((await poll({ returnImmediately: true })).json()).toEqual({ sets: {}, moreAvailable: false });
    t.clock.advance(POLL_LEASE_MS);
    const again = (await poll({ returnImmediately: true })).json();
    expect(Object.keys(again.sets)).toEqual([jti]);
  });

  it("removes SETs reported in setErrs and logs their error code", async () => {
    await pollStream();
    await t.ctx.ssf.deliver([disabled("p-err")]);
    const [jti] = Object.keys((await poll({ returnImmediately: true })).json().sets);
    const reply = await poll({
      returnImmediately: true,
      setErrs: { [jti as string]: { err: "invalid_audience", description: "not for us" } },
    });
    expect(reply.statusCode).toBe(200);
    expect(await queued(t, streamId)).toEqual([]);
    expect(t.logs()).toMatch(/"err":"invalid_audience".*SET refused by the receiver \(poll setErrs\)/);
    expect(t.logs()).not.toContain("not for us");
  });

  it("with maxEvents 0 only acknowledges, and says whether more is waiting", async () => {
    await pollStream();
    await t.ctx.ssf.deliver([disabled("p-zero")]);
    const reply = (await poll({ maxEvents: 0 })).json();
    expect(reply).toEqual({ sets: {}, moreAvailable: true });
    expect(await queued(t, streamId)).toHaveLength(1);
  });

  it("answers a long poll as soon as a SET is queued for the stream", async () => {
    await pollStream();
    const waiting = poll({});
    // The poll is waiting (nothing queued); an event arrives.
    await t.ctx.ssf.deliver([disabled("p-long")]);
    const reply = await waiting;
    expect(reply.statusCode).toBe(200);
    const sets = reply.json().sets as Record<string, string>;
    expect(Object.keys(sets)).toHaveLength(1);
    expect((await verifySet(t, Object.values(sets)[0] as string, alice.id)).sub_id).toEqual({
      format: "iss_sub",
      iss: ISSUER,
      sub: "p-long",
    });
  });

  it("answers nothing while the stream is paused, then the held SETs", async () => {
    await pollStream();
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "paused" });
    await t.ctx.ssf.deliver([disabled("p-paused")]);
    expect((await poll({ returnImmediately: true })).json()).toEqual({ sets: {}, moreAvailable: false });
    await call(t, "POST", "/ssf/status", token, { stream_id: streamId, status: "enabled" });
    expect(Object.keys((await poll({ returnImmediately: true })).json().sets)).toHaveLength(1);
  });

  it("lets a read-only receiver token poll", async () => {
    await pollStream();
    const reader = await receiverToken(t, alice, { scope: "ssf.read" });
    await t.ctx.ssf.deliver([disabled("p-reader")]);
    expect(Object.keys((await poll({ returnImmediately: true }, reader)).json().sets)).toHaveLength(1);
  });

  it("refuses malformed polls without touching the queue", async () => {
    await pollStream();
    await t.ctx.ssf.deliver([disabled("p-bad")]);
    for (const body of [
      [],
      { maxEvents: -1 },
      { maxEvents: 1.5 },
      { maxEvents: "10" },
      { returnImmediately: "yes" },
      { ack: "all" },
      { ack: [1] },
      { setErrs: [] },
      { setErrs: { abc: { description: "no code" } } },
      { acks: [] },
    ]) {
      const response = await poll(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json().error).toBe("invalid_request");
    }
    expect(await queued(t, streamId)).toHaveLength(1);
  });

  it("refuses to poll a push stream, and a poll without a token", async () => {
    const response = await call(t, "POST", "/ssf/stream", token, {
      delivery: { method: PUSH, endpoint_url: "http://127.0.0.1:9/events" },
    });
    streamId = response.json().stream_id;
    const polled = await poll({ returnImmediately: true });
    expect(polled.statusCode).toBe(400);
    expect(polled.json().error_description).toMatch(/push/);
    const anonymous = await call(t, "POST", `/ssf/poll/${streamId}`, undefined, { returnImmediately: true });
    expect(anonymous.statusCode).toBe(401);
  });
});
