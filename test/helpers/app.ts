/** Builds a real application (real database, real keys) for in-process HTTP tests with `app.inject()`. */
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { type Config, loadConfig } from "../../src/config/index.js";
import { createMasterKey } from "../../src/crypto/index.js";
import { buildApp } from "../../src/http/app.js";
import { manualClock } from "../../src/lib/clock.js";
import { createLogger } from "../../src/observability/log.js";
import { createServices, type Services } from "../../src/server/services.js";
import type { DialectName } from "../../src/storage/index.js";
import { createTestDatabase } from "./databases.js";

export const TEST_ADMIN_TOKEN = "test-bootstrap-admin-token-0123456789abcdef";

export interface TestApp {
  app: FastifyInstance;
  ctx: Services;
  config: Config;
  clock: ReturnType<typeof manualClock>;
  /** Every log line written so far, as text. */
  logs(): string;
  close(): Promise<void>;
}

export async function createTestApp(
  options: { dialect?: DialectName; env?: Record<string, string> } = {},
): Promise<TestApp> {
  const db = await createTestDatabase(options.dialect ?? "sqlite");
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: db.url,
      TESSERA_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOG_LEVEL: "info",
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      ...options.env,
    },
  });
  let output = "";
  const destination = new Writable({
    write(chunk, _enc, done) {
      output += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: config.logLevel, destination });
  const clock = manualClock(Date.now());
  const ctx = await createServices(config, { log, clock, masterKey: createMasterKey(Buffer.alloc(32, 7)) });
  const app = await buildApp(ctx);
  await app.ready();
  return {
    app,
    ctx,
    config,
    clock,
    logs: () => output,
    async close() {
      await app.close();
      await ctx.close();
      await db.drop();
    },
  };
}
