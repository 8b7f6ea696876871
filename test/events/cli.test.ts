/**
 * `tessera webhooks add|list|deliveries|redeliver|rotate-secret|remove`, run as the built binary
 * ("dist/src/cli/main.js") against a SQLite file that an in-process server shares: a change made by another CLI
 * command reaches the receiver (the server polls the outbox), the deliveries are listed and redelivered from the
 * command line, and the command's refusals exit with their codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import {
  createEventsApp,
  type EventsApp,
  eventually,
  FAST_WEBHOOKS,
  type Receiver,
  startReceiver,
  verifyWebhook,
} from "./helpers.js";

describe("tessera webhooks (CLI)", () => {
  let database: TestDatabase;
  let server: EventsApp;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase("sqlite");
    receiver = await startReceiver();
    server = await createEventsApp({ database });
    env = { DATABASE_URL: database.url, ...FAST_WEBHOOKS };
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
    await database?.drop();
  });

  it("adds an endpoint (secret printed once), delivers a CLI change, lists, redelivers, rotates, removes", async () => {
    const added = await runTessera(
      ["webhooks", "add", receiver.url, "--events", "user.created,user.deleted", "--json"],
      env,
    );
    expect(added.code, added.stderr).toBe(0);
    const endpoint = JSON.parse(added.stdout) as {
      id: string;
      secret: string;
      events: string[];
      createdBy: string;
    };
    expect(endpoint).toMatchObject({ events: ["user.created", "user.deleted"], createdBy: "cli" });
    expect(endpoint.secret).toMatch(/^whsec_/);

    const listed = await runTessera(["webhooks", "list", "--json"], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: endpoint.id, url: receiver.url }),
    ]);
    expect(listed.stdout).not.toContain(endpoint.secret);

    // A change made by another one-shot command: the server picks it up from the outbox.
    const user = await runTessera(["users", "create", "cli-made"], env);
    expect(user.code, user.stderr).toBe(0);
    const [request] = await receiver.waitFor((received) => received.length >= 1);
    const webhook = verifyWebhook(endpoint.secret, request!);
    expect(webhook).toMatchObject({ type: "user.created", data: { userName: "cli-made", actor: "cli" } });

    const delivered = await eventually(async () => {
      const result = await runTessera(
        ["webhooks", "deliveries", endpoint.id, "--state", "delivered", "--json"],
        env,
      );
      const list = JSON.parse(result.stdout) as { id: string; eventId: string }[];
      return list.length === 1 ? list[0] : undefined;
    }, "the delivery to be listed as delivered");
    expect(delivered.eventId).toBe(webhook.id);

    const again = await runTessera(["webhooks", "redeliver", endpoint.id, delivered.id], env);
    expect(again.code, again.stderr).toBe(0);
    await receiver.waitFor((received) => received.length >= 2);
    expect(verifyWebhook(endpoint.secret, receiver.received[1]!).id).toBe(webhook.id);

    const rotated = await runTessera(["webhooks", "rotate-secret", endpoint.id, "--json"], env);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout).secret).not.toBe(endpoint.secret);

    const removed = await runTessera(["webhooks", "remove", endpoint.id], env);
    expect(removed.code).toBe(0);
    expect(JSON.parse((await runTessera(["webhooks", "list", "--json"], env)).stdout)).toEqual([]);
  });

  it("refuses what it must: bad usage (2), unknown types, refused URLs and unknown ids (1)", async () => {
    const cases: [string[], number, RegExp][] = [
      [["webhooks", "add"], 2, /needs one URL/],
      [["webhooks", "frobnicate"], 2, /unknown command/],
      [["webhooks", "deliveries", "x", "--state", "lost"], 2, /--state must be one of/],
      [["webhooks", "redeliver", "x"], 2, /needs an endpoint id and a delivery id/],
      [["webhooks", "add", receiver.url, "--events", "user.exploded"], 1, /Unknown event type/],
      [["webhooks", "add", "http://93.184.216.34/hook"], 1, /refused/],
      [["webhooks", "remove", "no-such-endpoint"], 1, /no webhook endpoint/],
      [["webhooks", "deliveries", "no-such-endpoint"], 1, /no webhook endpoint/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runTessera(args, env);
      expect(result.code, args.join(" ")).toBe(code);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    expect(JSON.parse((await runTessera(["webhooks", "list", "--json"], env)).stdout)).toEqual([]);
  });
});
