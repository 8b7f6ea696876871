/**
 * Two service instances on one PostgreSQL database, both dispatching and delivering: every event committed on
 * either reaches the receiver at least once, always under one `webhook-id`, as one delivery row; and what one
 * instance commits is sent without anything nudging the other (it polls).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import {
  ADMIN,
  createEventsApp,
  type EventsApp,
  type Receiver,
  registerWebhook,
  startReceiver,
  verifyWebhook,
} from "./helpers.js";

describe("two instances on one PostgreSQL database", () => {
  let database: TestDatabase;
  let a: EventsApp;
  let b: EventsApp;
  let receiver: Receiver;

  beforeAll(async () => {
    database = await createTestDatabase("postgres");
    a = await createEventsApp({ database });
    b = await createEventsApp({ database });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await receiver?.close();
    await database?.drop();
  });

  it("deliver each event at least once, with one webhook-id per event", async () => {
    const { id, secret } = await registerWebhook(a.app, receiver.url, ["user.created", "user.deleted"]);
    const names = Array.from({ length: 24 }, (_, i) => `user${i}`);
    // Interleaved and concurrent: half the changes on each instance.
    const created = await Promise.all(
      names.map((userName, i) =>
        (i % 2 === 0 ? a : b).app.inject({
          method: "POST",
          url: "/admin/users",
          headers: ADMIN,
          payload: { userName },
        }),
      ),
    );
    for (const response of created) expect(response.statusCode, response.body).toBe(201);
    // Deletions on the instance that did not create the user.
    await Promise.all(
      created.map((response, i) =>
        (i % 2 === 0 ? b : a).app.inject({
          method: "DELETE",
          url: `/admin/users/${response.json().id}`,
          headers: ADMIN,
        }),
      ),
    );

    const expected = names.flatMap((name) => [`user.created:${name}`, `user.deleted:${name}`]);
    await receiver.waitFor((received) => {
      const seen = new Set(
        received.map((r) => JSON.parse(r.body)).map((p) => `${p.type}:${p.data.userName}`),
      );
      return expected.every((key) => seen.has(key));
    }, 30_000);

    const verified = receiver.received.map((request) => verifyWebhook(secret, request));
    const idsByEvent = new Map<string, Set<string>>();
    for (const webhook of verified) {
      const key = `${webhook.type}:${webhook.data.userName}`;
      idsByEvent.set(key, (idsByEvent.get(key) ?? new Set()).add(webhook.id));
    }
    expect([...idsByEvent.keys()].sort()).toEqual([...expected].sort());
    for (const [key, ids] of idsByEvent) expect(ids.size, key).toBe(1);
    // One delivery row per event, all delivered, whichever instance enqueued or sent it.
    const rows = await a.ctx.storage.db
      .selectFrom("webhook_deliveries")
      .select(["event_id", "state"])
      .where("endpoint_id", "=", id)
      .execute();
    expect(rows).toHaveLength(expected.length);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(expected.length);
    const states = await a.app.inject({
      url: `/admin/webhooks/${id}/deliveries?state=delivered&limit=1000`,
      headers: ADMIN,
    });
    expect(states.json().deliveries).toHaveLength(expected.length);
  });

  it("sends what a process that dispatches nothing committed (the CLI's case), by polling", async () => {
    const { secret } = await registerWebhook(b.app, receiver.url, ["api_token.created"]);
    // A third instance built as one-shot CLI commands build theirs: no dispatcher, no delivery worker.
    const cli = await createEventsApp({ database, services: { background: false } });
    try {
      const account = await cli.ctx.serviceAccounts.create({ name: "poller", actor: "cli" });
      const { apiToken } = await cli.ctx.apiTokens.create({
        kind: "service",
        name: "k",
        ownerId: account.id,
        scopes: [],
        createdBy: "cli",
      });
      const received = await receiver.waitFor((all) => all.some((r) => r.body.includes(apiToken.id)));
      const webhook = verifyWebhook(secret, received.find((r) => r.body.includes(apiToken.id))!);
      expect(webhook).toMatchObject({
        type: "api_token.created",
        data: { tokenId: apiToken.id, actor: "cli" },
      });
    } finally {
      await cli.close();
    }
  });
});
