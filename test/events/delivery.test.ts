/**
 * Webhook delivery against real local receivers: retries back off exponentially (with the jitter fixed near
 * its top, the schedule is visible in the arrival times and in the admin API), a delivery is dead after the
 * last attempt and sent again on demand with the same `webhook-id`; a hanging or failing endpoint does not
 * hold up another. On SQLite and PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { createDeliveryWorker } from "../../src/events/index.js";
import { systemClock } from "../../src/lib/clock.js";
import { DIALECTS } from "../helpers/databases.js";
import {
  ADMIN,
  bodies,
  createEventsApp,
  type EventsApp,
  eventually,
  registerWebhook,
  startReceiver,
  verifyWebhook,
} from "./helpers.js";

const BASE_MS = 200;
const MAX_ATTEMPTS = 4;
/** The jitter's random draw, fixed: each delay is just under its ceiling, BASE · 2^(n−1). */
const NEAR_TOP = 0.999;

interface Delivery {
  id: string;
  eventId: string;
  state: string;
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
}

async function deliveries(t: EventsApp, webhookId: string): Promise<Delivery[]> {
  const response = await t.app.inject({ url: `/admin/webhooks/${webhookId}/deliveries`, headers: ADMIN });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().deliveries as Delivery[];
}

const createUser = async (t: EventsApp, userName: string) => {
  const response = await t.app.inject({
    method: "POST",
    url: "/admin/users",
    headers: ADMIN,
    payload: { userName },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
};

describe.each(DIALECTS)("webhook delivery (%s)", (dialect) => {
  it("backs off on a failing receiver, dead-letters after the last attempt, redelivers on demand", async () => {
    const receiver = await startReceiver();
    receiver.answer(500);
    const t = await createEventsApp({
      dialect,
      env: {
        TESSERA_WEBHOOK_RETRY_BASE: String(BASE_MS),
        TESSERA_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      },
      services: { random: () => NEAR_TOP },
    });
    try {
      const { id, secret } = await registerWebhook(t.app, receiver.url, ["user.created"]);
      await createUser(t, "grace");
      await receiver.waitFor((received) => received.length >= MAX_ATTEMPTS);
      const dead = await eventually(async () => {
        const [delivery] = await deliveries(t, id);
        return delivery?.state === "dead" ? delivery : undefined;
      }, "the delivery to be dead");
      expect(dead).toMatchObject({
        attempts: MAX_ATTEMPTS,
        lastStatus: 500,
        lastError: "HTTP 500",
        nextAttemptAt: null,
      });

      // Every attempt carried the same webhook-id (the event id) and verifies; the gaps between attempts are
      // at least the back-off's delays, which double: BASE, 2·BASE, 4·BASE (times the fixed draw).
      const attempts = receiver.received
        .slice(0, MAX_ATTEMPTS)
        .map((request) => verifyWebhook(secret, request));
      expect(new Set(attempts.map((a) => a.id))).toEqual(new Set([dead.eventId]));
      for (let n = 1; n < MAX_ATTEMPTS; n++) {
        const gap = (receiver.received[n]?.at ?? 0) - (receiver.received[n - 1]?.at ?? 0);
        expect(gap).toBeGreaterThanOrEqual(Math.floor(NEAR_TOP * BASE_MS * 2 ** (n - 1)));
      }
      // Timestamps are each attempt's own (seconds), never going back.
      for (let n = 1; n < attempts.length; n++) {
        expect(attempts[n]!.timestamp).toBeGreaterThanOrEqual(attempts[n - 1]!.timestamp);
      }

      // Dead means no more attempts on its own: the workers keep polling, nothing more is sent.
      await t.ctx.events.dispatcher.dispatchNow();
      await new Promise((resolve) => setTimeout(resolve, 8 * BASE_MS));
      expect(receiver.received).toHaveLength(MAX_ATTEMPTS);

      // Redelivery on demand: pending again with a fresh count, then delivered with the same webhook-id.
      receiver.answer(204);
      const redeliver = await t.app.inject({
        method: "POST",
        url: `/admin/webhooks/${id}/deliveries/${dead.id}/redeliver`,
        headers: ADMIN,
      });
      expect(redeliver.statusCode, redeliver.body).toBe(202);
      expect(redeliver.json()).toMatchObject({ id: dead.id, state: "pending", attempts: 0 });
      await receiver.waitFor((received) => received.length === MAX_ATTEMPTS + 1);
      expect(verifyWebhook(secret, receiver.received[MAX_ATTEMPTS]!).id).toBe(dead.eventId);
      const delivered = await eventually(async () => {
        const [delivery] = await deliveries(t, id);
        return delivery?.state === "delivered" ? delivery : undefined;
      }, "the redelivery to be recorded");
      expect(delivered).toMatchObject({ attempts: 1, lastStatus: 204, lastError: null });
      const audit = await t.ctx.accounts.audit.list({ type: "webhook.redelivered" });
      expect(audit).toEqual([
        expect.objectContaining({
          actor: "admin:bootstrap",
          details: { webhookId: id, deliveryId: dead.id, eventId: dead.eventId },
        }),
      ]);
    } finally {
      await t.close();
      await receiver.close();
    }
  });

  it("a hanging endpoint and a failing one do not delay another", async () => {
    const hanging = await startReceiver();
    hanging.answer("hang");
    const failing = await startReceiver();
    failing.answer(503);
    const healthy = await startReceiver();
    // A long timeout: the hanging endpoint's attempts stay in flight for the whole test.
    const t = await createEventsApp({ dialect, env: { TESSERA_WEBHOOK_TIMEOUT: "20000" } });
    try {
      const slow = await registerWebhook(t.app, hanging.url, ["user.created"]);
      await registerWebhook(t.app, failing.url, ["user.created"]);
      const fast = await registerWebhook(t.app, healthy.url, ["user.created"]);
      const names = Array.from({ length: 8 }, (_, i) => `user${i}`);
      for (const name of names) await createUser(t, name);

      // The healthy endpoint gets all eight...
      await healthy.waitFor((received) => received.length >= names.length);
      expect(
        healthy.received.map((request) => verifyWebhook(fast.secret, request).data.userName).sort(),
      ).toEqual(names);
      // ...while the hanging one has not answered a single request (its attempts are still in flight, none has
      // timed out), and it holds no more than its share: four attempts at once per endpoint.
      const stuck = await deliveries(t, slow.id);
      expect(stuck.every((d) => d.lastError === null && d.state === "pending")).toBe(true);
      expect(hanging.received.length).toBeGreaterThan(0);
      expect(hanging.received.length).toBeLessThanOrEqual(4);
      expect(new Set(bodies(hanging.received).map((b) => b.data.userName)).size).toBe(
        hanging.received.length,
      );
      expect(failing.received.length).toBeGreaterThan(0);
    } finally {
      await hanging.close();
      await t.close();
      await failing.close();
      await healthy.close();
    }
  });
});

describe("the back-off schedule", () => {
  it("draws each delay uniformly below BASE · 2^(n−1), capped (full jitter)", () => {
    const draws = [0, 0.5, 0.999];
    for (const draw of draws) {
      const worker = createDeliveryWorker({
        repository: {} as never,
        clock: systemClock,
        masterKey: {} as never,
        fetch: (() => Promise.reject(new Error("unused"))) as never,
        maxAttempts: 12,
        retryBaseMs: 30_000,
        retryCapMs: 6 * 3_600_000,
        timeoutMs: 10_000,
        random: () => draw,
      });
      expect([1, 2, 3, 10, 11].map((n) => worker.backoff(n))).toEqual([
        Math.floor(draw * 30_000),
        Math.floor(draw * 60_000),
        Math.floor(draw * 120_000),
        Math.floor(draw * Math.min(6 * 3_600_000, 30_000 * 2 ** 9)),
        Math.floor(draw * 6 * 3_600_000),
      ]);
    }
  });
});
