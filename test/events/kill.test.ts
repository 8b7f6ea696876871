/**
 * A crash between commit and delivery loses nothing: the server (the built `tessera serve`, "dist/src/cli/main.js",
 * as a child process) commits a change, is killed with SIGKILL before the webhook is delivered, and after a
 * restart the event arrives with the same `webhook-id`, verified by the `standardwebhooks` package.
 *
 * - Receiver blocked: the attempt is in flight (the receiver holds the request) when the server dies; the
 *   delivery's lease expires and the restarted server sends it again.
 * - Receiver down: nothing can have been delivered when the server dies right after the commit (whether the
 *   event was still in the outbox or already a pending delivery); the restarted server sends it.
 * On SQLite and PostgreSQL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createTestDatabase, DIALECTS } from "../helpers/databases.js";
import { type Receiver, startReceiver, TEST_ADMIN_TOKEN, verifyWebhook } from "./helpers.js";

const BIN = "dist/src/cli/main.js";
const MASTER_KEY = "07".repeat(32);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Server {
  url: string;
  child: ChildProcess;
  output(): string;
}

async function serve(databaseUrl: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      TESSERA_MASTER_KEY: MASTER_KEY,
      TESSERA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1",
      TESSERA_WEBHOOK_TIMEOUT: "2000",
      TESSERA_WEBHOOK_RETRY_BASE: "200",
      TESSERA_WEBHOOK_MAX_ATTEMPTS: "20",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output += d));
  child.stderr?.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tessera serve exited (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`tessera serve did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, child, output: () => output };
}

async function kill9(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGKILL");
  await exited;
  expect(server.child.signalCode).toBe("SIGKILL");
}

async function stop(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function admin(server: Server, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function register(server: Server, url: string): Promise<{ id: string; secret: string }> {
  const response = await admin(server, "POST", "/admin/webhooks", { url, events: ["user.created"] });
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; secret: string };
}

async function createUser(server: Server, userName: string): Promise<void> {
  const response = await admin(server, "POST", "/admin/users", { userName });
  expect(response.status).toBe(201);
}

describe.each(DIALECTS)("kill -9 between commit and delivery (%s)", (dialect) => {
  it("a delivery in flight when the server dies is sent again after the restart, same webhook-id", async () => {
    const database = await createTestDatabase(dialect);
    const receiver = await startReceiver();
    receiver.answer("hang");
    const port = await freePort();
    let first: Server | undefined;
    let second: Server | undefined;
    try {
      first = await serve(database.url, port);
      const { id, secret } = await register(first, receiver.url);
      await createUser(first, "inflight");
      // The first attempt reached the receiver, which holds it: committed, not delivered.
      await receiver.waitFor((received) => received.length === 1);
      await kill9(first);
      receiver.answer(204);

      second = await serve(database.url, port);
      // Sent again once the dead instance's lease on the delivery expires (timeout + margin).
      const received = await receiver.waitFor((all) => all.length >= 2, 30_000);
      const [before, after] = received.map((request) => verifyWebhook(secret, request));
      expect(before?.id).toBe(after?.id);
      expect(after).toMatchObject({ type: "user.created", data: { userName: "inflight" } });
      const deliveries = (await (await admin(second, "GET", `/admin/webhooks/${id}/deliveries`)).json()) as {
        deliveries: { eventId: string; state: string; attempts: number }[];
      };
      await expect
        .poll(async () => {
          const listed = (await (await admin(second!, "GET", `/admin/webhooks/${id}/deliveries`)).json()) as {
            deliveries: { state: string }[];
          };
          return listed.deliveries.map((d) => d.state);
        })
        .toEqual(["delivered"]);
      expect(deliveries.deliveries[0]?.eventId).toBe(after?.id);
    } finally {
      await stop(first);
      await stop(second);
      await receiver.close();
      await database.drop();
    }
  }, 90_000);

  it("an event committed while the receiver is down, the server killed at once, arrives after the restart", async () => {
    const database = await createTestDatabase(dialect);
    const port = await freePort();
    const receiverPort = await freePort();
    let receiver: Receiver | undefined;
    let first: Server | undefined;
    let second: Server | undefined;
    try {
      first = await serve(database.url, port);
      // Nothing listens at the receiver's port yet: every attempt is refused.
      const { secret } = await register(first, `http://127.0.0.1:${receiverPort}/hook`);
      await createUser(first, "committed-then-killed");
      await kill9(first);

      receiver = await startReceiver({ port: receiverPort });
      second = await serve(database.url, port);
      const [delivery] = await receiver.waitFor((all) => all.length >= 1, 30_000);
      const webhook = verifyWebhook(secret, delivery!);
      expect(webhook).toMatchObject({ type: "user.created", data: { userName: "committed-then-killed" } });
      expect(webhook.id).toMatch(/^evt_/);
      // The event is stored once, under the id the receiver saw.
      const events = (await (await admin(second, "GET", "/admin/webhooks")).json()) as {
        webhooks: unknown[];
      };
      expect(events.webhooks).toHaveLength(1);
    } finally {
      await stop(first);
      await stop(second);
      await receiver?.close();
      await database.drop();
    }
  }, 90_000);
});
