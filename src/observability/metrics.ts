/**
 * Prometheus metrics: one registry per server instance (tests run several apps in one process).
 *
 * - `http_requests_total{method,route,status_code}` and `http_request_duration_seconds` (route = the route
 *   pattern, never the raw URL, so cardinality stays bounded and no token in a path reaches the metrics).
 * - `tessera_tokens_issued_total{kind}` counts every token Tessera hands out.
 * - Node.js process metrics (event-loop lag, heap, GC).
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<"method" | "route" | "status_code">;
  readonly httpDuration: Histogram<"method" | "route" | "status_code">;
  readonly tokensIssued: Counter<"kind">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by route and status.",
      labelNames: ["method", "route", "status_code"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request latency by route and status.",
      labelNames: ["method", "route", "status_code"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    tokensIssued: new Counter({
      name: "tessera_tokens_issued_total",
      help: "Tokens issued, by kind (JWT typ, or the opaque token kind).",
      labelNames: ["kind"],
      registers: [registry],
    }),
  };
}
