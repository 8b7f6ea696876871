/** Records every response in the HTTP metrics, labelled by route pattern (never the raw URL). */
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../observability/metrics.js";

export function registerMetricsHooks(app: FastifyInstance, metrics: Metrics): void {
  // Callback style, not async: a hook on every response should not cost a promise.
  app.addHook("onResponse", (request, reply, done) => {
    metrics.http.record(
      request.method,
      request.routeOptions.url ?? "unmatched",
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}
