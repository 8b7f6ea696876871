/**
 * A rolling restart of one of two instances on one PostgreSQL loses no acknowledged request: every write that
 * was answered 201 is in the database afterwards, and every request the stopping instance refused was refused
 * cleanly (503 + Retry-After, or a connection it never accepted), so the client could retry it elsewhere.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/log.js";
import { type RunningServer, startServer } from "../../src/server/serve.js";
import { openStorage } from "../../src/storage/index.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";

const ADMIN = "rolling-restart-admin-token-0123456789abcdef";

describe("rolling restart on PostgreSQL", () => {
  let db: TestDatabase;
  let config: Config;
  const log = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, d) => d() }) });

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    config = loadConfig({
      env: {
        NODE_ENV: "test",
        DATABASE_URL: db.url,
        PORT: "0",
        HOST: "127.0.0.1",
        TESSERA_ADMIN_TOKEN: ADMIN,
        TESSERA_MASTER_KEY: randomBytes(32).toString("hex"),
        TESSERA_KEY_ROTATION_INTERVAL: "0",
      },
    });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("loses no acknowledged request while one instance drains and restarts", async () => {
    const a = await startServer(config, log);
    const b = await startServer(config, log);
    const live: RunningServer[] = [a, b];
    const acknowledged: string[] = [];
    const refused = { draining: 0, connection: 0 };
    let sequence = 0;
    let stop = false;

    /** Creates users through the live instances in turn; a refused attempt is retried on the next one. */
    async function worker(id: number) {
      while (!stop) {
        const userName = `rolling-${id}-${sequence++}`;
        for (let attempt = 0; attempt < 10; attempt++) {
          const server = live[(sequence + attempt) % live.length] as RunningServer;
          try {
            const response = await fetch(`${server.url}/admin/users`, {
              method: "POST",
              headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
              body: JSON.stringify({ userName }),
            });
            const body = await response.text();
            if (response.status === 201) {
              acknowledged.push(userName);
              break;
            }
            expect(response.status, body).toBe(503);
            expect(response.headers.get("retry-after")).not.toBeNull();
            refused.draining++;
          } catch {
            // The stopping instance no longer accepts connections: nothing was acknowledged, retry elsewhere.
            refused.connection++;
          }
        }
      }
    }

    const workers = Array.from({ length: 6 }, (_, i) => worker(i));
    await new Promise((r) => setTimeout(r, 500));
    // Roll instance a: drain and stop it while clients still send to it (a load balancer notices late), then
    // take it out and start its replacement.
    await a.stop();
    live.splice(live.indexOf(a), 1);
    const a2 = await startServer(config, log);
    live.push(a2);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);

    const storage = await openStorage(db.url);
    try {
      const rows = await storage.db.selectFrom("users").select("user_name").execute();
      const stored = new Set(rows.map((r) => r.user_name));
      const lost = acknowledged.filter((name) => !stored.has(name));
      expect(acknowledged.length).toBeGreaterThan(20);
      expect(lost).toEqual([]);
      // The drain was exercised: requests reached the stopping instance and were refused cleanly.
      expect(refused.draining + refused.connection).toBeGreaterThan(0);
    } finally {
      await storage.close();
      for (const server of live) await server.stop();
    }
  }, 90_000);
});
