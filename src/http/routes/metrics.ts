/** `GET /metrics`: Prometheus text format. Expose it to your scraper, not to the internet. */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../services.js";

export function metricsRoutes(ctx: Pick<HttpServices, "metrics">) {
  return async (app: FastifyInstance) => {
    app.get("/metrics", async (_request, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}
