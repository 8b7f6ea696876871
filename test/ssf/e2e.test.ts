/**
 * Issue 24's acceptance test for Shared Signals, end to end, on SQLite and PostgreSQL: an administrator ends a
 * user's session through the admin API (a real revocation: the session ends, its `session.ended` event is
 * committed to the outbox with it, the dispatcher hands it to the transmitter, which pushes it), and an SSF
 * receiver started by the test gets the `session-revoked` SET within one second and verifies it with `jose`
 * against the server's JWKS. The same for an account disabled through the admin API (RISC account-disabled).
 */
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import {
  ACCOUNT_DISABLED,
  ALL_EVENTS,
  bodyOf,
  call,
  createReceiverClient,
  createSsfApp,
  ISSUER,
  PUSH,
  type ReceiverClient,
  receiverToken,
  SESSION_REVOKED,
  startSetReceiver,
  verifySet,
} from "./helpers.js";

/** Resolves when `promise` does, or rejects once `ms` milliseconds have passed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe.each(DIALECTS)("SSF end to end (%s)", (dialect) => {
  let t: TestApp;
  let receiverClient: ReceiverClient;
  let receiver: Awaited<ReturnType<typeof startSetReceiver>>;
  let userId: string;

  beforeAll(async () => {
    t = await createSsfApp(dialect);
    receiverClient = await createReceiverClient(t);
    receiver = await startSetReceiver();
    const token = await receiverToken(t, receiverClient);
    const created = await call(t, "POST", "/ssf/stream", token, {
      delivery: { method: PUSH, endpoint_url: receiver.url, authorization_header: "Bearer e2e" },
      events_requested: ALL_EVENTS,
    });
    expect(created.statusCode, created.body).toBe(201);
    const user = await t.ctx.accounts.users.create(
      { userName: `signals-${dialect}` },
      { actor: "test", authority: "admin" },
    );
    userId = user.id;
  });
  afterAll(async () => {
    await receiver.close();
    await t.close();
  });

  it("a receiver gets the session-revoked SET within 1 s of an administrator ending the session", async () => {
    const { session } = await t.ctx.accounts.sessions.create({ userId, amr: ["pwd"], remember: false });
    const before = receiver.received.length;
    const started = performance.now();
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/admin/users/${userId}/sessions/${session.id}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(revoked.statusCode).toBe(204);
    await within(receiver.waitFor(before + 1), 1000 - (performance.now() - started), "the SET's arrival");
    const push = receiver.received[before];
    expect(push?.headers["content-type"]).toBe("application/secevent+jwt");
    expect(push?.headers.authorization).toBe("Bearer e2e");
    const payload = await verifySet(t, bodyOf(receiver, before), receiverClient.id);
    expect(payload).toStrictEqual({
      iss: ISSUER,
      aud: receiverClient.id,
      iat: expect.any(Number),
      jti: expect.any(String),
      txn: expect.any(String),
      sub_id: {
        format: "complex",
        user: { format: "iss_sub", iss: ISSUER, sub: userId },
        session: { format: "opaque", id: session.id },
      },
      events: {
        [SESSION_REVOKED]: {
          event_timestamp: expect.any(Number),
          reason_admin: { en: "sessions_revoked" },
        },
      },
    });
  });

  it("a receiver gets account-disabled within 1 s of an administrator disabling the account", async () => {
    const before = receiver.received.length;
    const started = performance.now();
    const disabled = await t.app.inject({
      method: "PATCH",
      url: `/admin/users/${userId}`,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: JSON.stringify({ active: false }),
    });
    expect(disabled.statusCode, disabled.body).toBe(200);
    await within(receiver.waitFor(before + 1), 1000 - (performance.now() - started), "the SET's arrival");
    const payloads = await Promise.all(
      receiver.received.slice(before).map((p) => verifySet(t, p.body, receiverClient.id)),
    );
    expect(payloads.map((p) => Object.keys(p.events as object)[0])).toContain(ACCOUNT_DISABLED);
    const disabledSet = payloads.find((p) => Object.keys(p.events as object)[0] === ACCOUNT_DISABLED);
    expect(disabledSet?.sub_id).toEqual({ format: "iss_sub", iss: ISSUER, sub: userId });
  });
});
