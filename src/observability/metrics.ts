/**
 * Prometheus metrics: one registry per server instance (tests run several apps in one process).
 *
 * - `http_requests_total{method,route,status_code}` and `http_request_duration_seconds` (route = the route
 *   pattern, never the raw URL, so cardinality stays bounded and no token in a path reaches the metrics).
 * - `tessera_tokens_issued_total{kind}` counts every token Tessera hands out.
 * - `tessera_dependency_up{dependency}`: 1 when the last readiness probe reached it (database, redis), else 0.
 * - Node.js process metrics (event-loop lag, heap, GC).
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { createHttpMetrics, type HttpMetrics } from "./http-metrics.js";

export interface Metrics {
  readonly registry: Registry;
  /** `http_requests_total` and `http_request_duration_seconds` (see http-metrics.ts). */
  readonly http: HttpMetrics;
  readonly tokensIssued: Counter<"kind">;
  readonly dependencyUp: Gauge<"dependency">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    http: createHttpMetrics(registry),
    tokensIssued: new Counter({
      name: "tessera_tokens_issued_total",
      help: "Tokens issued, by kind (JWT typ, or the opaque token kind).",
      labelNames: ["kind"],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: "tessera_dependency_up",
      help: "1 when the last readiness probe reached the dependency, 0 when it did not.",
      labelNames: ["dependency"],
      registers: [registry],
    }),
  };
}
