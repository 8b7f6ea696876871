/**
 * Liveness and readiness.
 * - `/healthz`: the process answers (no dependency checked: a restart would not fix a database outage).
 * - `/readyz`: the database answers, and Redis when configured; 503 otherwise, so a load balancer stops
 *   sending traffic. Failure details go to the log, not the response.
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

export function healthRoutes(ctx: Pick<HttpServices, "redis" | "storage">) {
  return async (app: FastifyInstance) => {
    app.get("/healthz", async () => ({ status: "ok" }));

    app.get("/readyz", async (request, reply) => {
      const checks: Record<string, "ok" | "fail"> = {};
      const probe = async (name: string, ping: () => Promise<unknown>) => {
        try {
          await withTimeout(ping());
          checks[name] = "ok";
        } catch (error) {
          checks[name] = "fail";
          request.log.warn({ err: { message: (error as Error).message } }, `readiness: ${name} unreachable`);
        }
      };
      await probe("database", () => ctx.storage.ping());
      const { redis } = ctx;
      if (redis) await probe("redis", () => redis.ping());
      const ready = Object.values(checks).every((c) => c === "ok");
      return reply.code(ready ? 200 : 503).send({ status: ready ? "ok" : "unavailable", checks });
    });
  };
}
