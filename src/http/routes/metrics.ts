/**
 * `GET /metrics`: Prometheus text format. With `TESSERA_METRICS_TOKEN` set, only a scraper sending it as a bearer
 * token gets them (401 otherwise, compared in constant time); without it they are open: expose the port to your
 * scraper only.
 */
import type { FastifyInstance } from "fastify";
import { constantTimeEqual } from "../../crypto/index.js";
import type { HttpServices } from "../services.js";

const BEARER = /^Bearer ([\x21-\x7e]+)$/i;

export function metricsRoutes(ctx: Pick<HttpServices, "metrics" | "config">) {
  const token = ctx.config.metricsToken;
  return async (app: FastifyInstance) => {
    app.get("/metrics", async (request, reply) => {
      if (token !== undefined) {
        const presented = BEARER.exec(request.headers.authorization ?? "")?.[1];
        if (presented === undefined || !constantTimeEqual(presented, token)) {
          return reply
            .code(401)
            .header("www-authenticate", 'Bearer realm="tessera-metrics"')
            .send({ error: "unauthorized", error_description: "The metrics token is required." });
        }
      }
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    });
  };
}
