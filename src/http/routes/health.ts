/**
 * Liveness and readiness.
 * - `/healthz`: the process answers (no dependency checked: a restart would not fix a database outage).
 * - `/readyz` says what the instance can still do. Not ready (503) only when it cannot serve correctly: the
 *   database does not answer or cannot take a write (`storage.probeWrite()`: on SQLite one tiny write, since a
 *   full disk fails every write while reads go on answering; on PostgreSQL a ping). Redis is optional: without it sign-in throttling, rate limits and the session
 *   cache's fan-out fall back to per-instance memory, so a Redis outage answers 200 with `status: "degraded"`
 *   (taking every instance out of rotation at once would turn a degraded service into no service). Each probe
 *   sets `tessera_dependency_up{dependency}` in `/metrics`. Failure details go to the log, not the response.
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../services.js";

const TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What a dependency's outage means: `required`, not ready; `optional`, degraded. */
const REQUIRED = { database: true, redis: false } as const;

export function healthRoutes(ctx: Pick<HttpServices, "redis" | "metrics" | "storage">) {
  return async (app: FastifyInstance) => {
    app.get("/healthz", async () => ({ status: "ok" }));

    app.get("/readyz", async (request, reply) => {
      const checks: Record<string, "ok" | "fail"> = {};
      const probe = async (name: keyof typeof REQUIRED, ping: () => Promise<unknown>) => {
        try {
          await withTimeout(ping());
          checks[name] = "ok";
        } catch (error) {
          checks[name] = "fail";
          request.log.warn({ err: { message: (error as Error).message } }, `readiness: ${name} unreachable`);
        }
        ctx.metrics.dependencyUp.set({ dependency: name }, checks[name] === "ok" ? 1 : 0);
      };
      const { storage } = ctx;
      await probe("database", () => storage.probeWrite());
      const { redis } = ctx;
      if (redis) await probe("redis", () => redis.ping());
      const failed = Object.entries(checks).filter(([, c]) => c === "fail");
      const ready = failed.every(([name]) => !REQUIRED[name as keyof typeof REQUIRED]);
      const status = !ready ? "unavailable" : failed.length > 0 ? "degraded" : "ok";
      if (!ready) reply.header("retry-after", "5");
      return reply.code(ready ? 200 : 503).send({ status, checks });
    });
  };
}
