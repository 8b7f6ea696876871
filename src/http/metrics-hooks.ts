/** Records every response in the HTTP metrics, labelled by route pattern (never the raw URL). */
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../observability/metrics.js";

export function registerMetricsHooks(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? "unmatched",
      status_code: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
}
