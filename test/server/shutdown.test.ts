/**
 * Graceful shutdown of a real, listening server: in-flight requests finish; a request arriving on an open
 * keep-alive connection after the stop began gets 503 `temporarily_unavailable` with Retry-After and
 * Connection: close, never a reset; queued audit events are written before the database closes.
 */
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/log.js";
import { startServer } from "../../src/server/serve.js";
import { openStorage } from "../../src/storage/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

/** Sends one HTTP/1.1 request on `socket` and reads one response (status line, headers, body). */
function exchange(
  socket: Socket,
  request: string,
): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    let data = "";
    const onData = (chunk: Buffer) => {
      data += chunk.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const headers = data.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (data.length - end - 4 < length) return;
      socket.off("data", onData);
      socket.off("error", reject);
      resolve({
        status: Number(headers.slice(9, 12)),
        headers: headers.toLowerCase(),
        body: data.slice(end + 4, end + 4 + length),
      });
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`connection closed after: ${JSON.stringify(data)}`)));
    socket.write(request);
  });
}

describe("graceful shutdown", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("sqlite");
  });
  afterAll(async () => {
    await db.drop();
  });

  it("drains: in-flight finishes, keep-alive requests get 503 + Retry-After + close, audit is flushed", async () => {
    const admin = "shutdown-test-admin-token-0123456789abcdef";
    const config = loadConfig({
      env: {
        NODE_ENV: "test",
        DATABASE_URL: db.url,
        PORT: "0",
        HOST: "127.0.0.1",
        TESSERA_ADMIN_TOKEN: admin,
      },
    });
    const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });
    const server = await startServer(config, log, {});
    const { port } = new URL(server.url);
    await server.ctx.accounts.users.create(
      { userName: "drain", password: "correct horse battery staple 42" },
      { actor: "test", authority: "admin" },
    );
    const idle = connect(Number(port), "127.0.0.1");
    await new Promise((r) => idle.once("connect", r));
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const first = await exchange(idle, `GET /healthz HTTP/1.1\r\n${host}\r\n`);
    expect(first.status).toBe(200);
    expect(first.headers).not.toContain("connection: close");

    // A user creation in flight (hashing the password with argon2id takes a while) when the stop begins.
    const body = JSON.stringify({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: "late-joiner",
      password: "another long passphrase 12345",
    });
    const busy = connect(Number(port), "127.0.0.1");
    await new Promise((r) => busy.once("connect", r));
    const inFlight = exchange(
      busy,
      `POST /scim/v2/Users HTTP/1.1\r\n${host}Authorization: Bearer ${admin}\r\nContent-Type: application/scim+json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 5));
    const stopped = server.stop();

    const late = await exchange(idle, `GET /healthz HTTP/1.1\r\n${host}\r\n`);
    expect(late.status).toBe(503);
    expect(late.headers).toContain("retry-after: 1");
    expect(late.headers).toContain("connection: close");
    expect(JSON.parse(late.body).error).toBe("temporarily_unavailable");
    // The in-flight request got its real answer, not a 503 or a reset, and its connection closes after it.
    const answered = await inFlight;
    expect(answered.status, answered.body).toBe(201);
    expect(answered.headers).toContain("connection: close");
    await stopped;

    // The sign-in's audit event (queued, written behind) reached the database before it closed.
    const storage = await openStorage(db.url);
    try {
      const events = await storage.db.selectFrom("audit_events").select("type").execute();
      const types = events.map((e) => e.type);
      expect(types.filter((t) => t === "user.created")).toHaveLength(2);
    } finally {
      await storage.close();
    }
  });
});
