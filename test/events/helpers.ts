/**
 * What the event and webhook tests share: an application built like createTestApp's but on the system clock
 * (webhook timestamps and back-off are real time here) with fast retries, a local receiver (a real HTTP
 * server that records what arrives and answers as told), and the independent check of each delivery with the
 * `standardwebhooks` package, the specification's reference implementation.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { Webhook } from "standardwebhooks";
import { loadConfig } from "../../src/config/index.js";
import { createMasterKey } from "../../src/crypto/index.js";
import { buildApp } from "../../src/http/app.js";
import { systemClock } from "../../src/lib/clock.js";
import { createLogger } from "../../src/observability/log.js";
import { type CreateServicesOptions, createServices, type Services } from "../../src/server/services.js";
import type { DialectName } from "../../src/storage/index.js";
import { TEST_ADMIN_TOKEN } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

export { TEST_ADMIN_TOKEN };
export const ADMIN = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

/** Settings every events test starts from: loopback receivers allowed, short timeouts and back-off. */
export const FAST_WEBHOOKS: Record<string, string> = {
  TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1",
  TESSERA_WEBHOOK_TIMEOUT: "2000",
  TESSERA_WEBHOOK_RETRY_BASE: "200",
  TESSERA_WEBHOOK_MAX_ATTEMPTS: "4",
};

export interface EventsApp {
  app: FastifyInstance;
  ctx: Services;
  database: TestDatabase;
  logs(): string;
  close(): Promise<void>;
}

/**
 * A full application on `dialect` (or on `database`, shared with another instance: then `close` leaves it for
 * the caller to drop).
 */
export async function createEventsApp(
  options: {
    dialect?: DialectName;
    database?: TestDatabase;
    env?: Record<string, string>;
    services?: Partial<CreateServicesOptions>;
  } = {},
): Promise<EventsApp> {
  const shared = options.database !== undefined;
  const database = options.database ?? (await createTestDatabase(options.dialect ?? "sqlite"));
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: database.url,
      TESSERA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOG_LEVEL: "info",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      ...FAST_WEBHOOKS,
      ...options.env,
    },
  });
  let output = "";
  const destination = new Writable({
    write(chunk, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: config.logLevel, destination });
  const ctx = await createServices(config, {
    log,
    clock: systemClock,
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
    ...options.services,
  });
  const app = await buildApp(ctx);
  await app.ready();
  return {
    app,
    ctx,
    database,
    logs: () => output,
    async close() {
      await app.close();
      await ctx.close();
      if (!shared) await database.drop();
    },
  };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** Arrival, epoch ms (the receiver's own clock). */
  at: number;
}

/** How the receiver answers: a status, or never (the request hangs until the sender gives up). */
export type Answer = number | "hang";

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** What the next requests get (default 204). */
  answer(answer: Answer | ((request: Received) => Answer)): void;
  /** Resolves once `predicate` holds for what was received; rejects after `timeoutMs`. */
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(options: { port?: number; path?: string } = {}): Promise<Receiver> {
  const received: Received[] = [];
  let answer: Answer | ((request: Received) => Answer) = 204;
  const hanging = new Set<() => void>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry = {
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      received.push(entry);
      const reply = typeof answer === "function" ? answer(entry) : answer;
      if (reply === "hang") {
        const release = () => response.destroy();
        hanging.add(release);
        response.on("close", () => hanging.delete(release));
        return;
      }
      response.writeHead(reply, { "content-type": "text/plain" });
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${options.path ?? "/hook"}`,
    port,
    received,
    answer(next) {
      answer = next;
    },
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) {
          throw new Error(
            `the receiver did not get what was expected within ${timeoutMs} ms; it got ${received.length}: ${JSON.stringify(
              received.map((r) => JSON.parse(r.body)),
            ).slice(0, 2000)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return received;
    },
    async close() {
      for (const release of hanging) release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface VerifiedWebhook {
  id: string;
  timestamp: number;
  type: string;
  data: Record<string, unknown>;
  /** The payload's `timestamp` (the event's time). */
  eventTime: string;
}

/** Checks a delivery with the `standardwebhooks` reference implementation (throws when it refuses it). */
export function verifyWebhook(secret: string, request: Received): VerifiedWebhook {
  const headers = {
    "webhook-id": String(request.headers["webhook-id"]),
    "webhook-timestamp": String(request.headers["webhook-timestamp"]),
    "webhook-signature": String(request.headers["webhook-signature"]),
  };
  const payload = new Webhook(secret).verify(request.body, headers) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };
  return {
    id: headers["webhook-id"],
    timestamp: Number(headers["webhook-timestamp"]),
    type: payload.type,
    data: payload.data,
    eventTime: payload.timestamp,
  };
}

/** The parsed bodies of what was received, as type and data (no verification). */
export function bodies(received: readonly Received[]): { type: string; data: Record<string, unknown> }[] {
  return received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
}

/** Registers an endpoint through the admin API; its id and secret. */
export async function registerWebhook(
  app: FastifyInstance,
  url: string,
  events: string[] = ["*"],
): Promise<{ id: string; secret: string }> {
  const response = await app.inject({
    method: "POST",
    url: "/admin/webhooks",
    headers: ADMIN,
    payload: { url, events },
  });
  if (response.statusCode !== 201)
    throw new Error(`registration failed: ${response.statusCode} ${response.body}`);
  const body = response.json() as { id: string; secret: string };
  return { id: body.id, secret: body.secret };
}

/** Polls `check` until it answers a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
