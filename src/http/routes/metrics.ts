/** `GET /metrics`: Prometheus text format. Expose it to your scraper, not to the internet. */
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../server/context.js";

export function metricsRoutes(ctx: AppContext) {
  return async (app: FastifyInstance) => {
    app.get("/metrics", async (_request, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}
