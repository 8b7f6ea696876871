/**
 * HTTP request metrics, recorded on every response: `http_requests_total{method,route,status_code}` and the
 * histogram `http_request_duration_seconds` with the same labels.
 *
 * Why not prom-client's `Counter` and `Histogram`: each `inc(labels)` / `observe(labels, v)` hashes the label
 * object (sorted keys, string building) on the request path, and together they cost about as much as the rest
 * of a cheap request (measured with the session check: 16% of its throughput). Here a response costs one Map
 * look-up each for route, method and status (no key string built), a bucket search over 12 bounds and three
 * additions; the Prometheus exposition is built only when `/metrics` is scraped. Both objects register with
 * prom-client's `Registry` as custom metrics (`get()` answers prom-client's metric shape), so the exposition
 * format is prom-client's own.
 */
import type { Registry } from "prom-client";

export const HTTP_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

interface Series {
  labels: { method: string; route: string; status_code: string };
  count: number;
  sum: number;
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  buckets: Float64Array;
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface HttpMetrics {
  record(method: string, route: string, statusCode: number, seconds: number): void;
}

/** Creates the two HTTP metrics and registers them with `registry`. */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  // Every series, in creation order (for the exposition); found per response through `index`.
  const series: Series[] = [];
  // route → method → status code → series. Route patterns and method names are the same string objects on
  // every request (Fastify's route config, Node's parser), so the two look-ups hash nothing new and no key
  // string is built per response.
  const index = new Map<string, Map<string, Map<number, Series>>>();
  const bounds = HTTP_DURATION_BUCKETS;
  const reset = () => {
    series.length = 0;
    index.clear();
  };

  const requests = {
    name: "http_requests_total",
    help: "HTTP requests by route and status.",
    type: "counter",
    aggregator: "sum",
    get: async () => ({
      name: requests.name,
      help: requests.help,
      type: requests.type,
      aggregator: requests.aggregator,
      values: series.map((s): MetricValue => ({ labels: { ...s.labels }, value: s.count })),
    }),
    reset,
  };

  const duration = {
    name: "http_request_duration_seconds",
    help: "HTTP request latency by route and status.",
    type: "histogram",
    aggregator: "sum",
    get: async () => {
      const values: MetricValue[] = [];
      for (const s of series) {
        let cumulative = 0;
        for (let i = 0; i <= bounds.length; i++) {
          cumulative += s.buckets[i] ?? 0;
          values.push({
            labels: { le: i < bounds.length ? (bounds[i] as number) : "+Inf", ...s.labels },
            value: cumulative,
            metricName: `${duration.name}_bucket`,
          });
        }
        values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${duration.name}_sum` });
        values.push({ labels: { ...s.labels }, value: s.count, metricName: `${duration.name}_count` });
      }
      return {
        name: duration.name,
        help: duration.help,
        type: duration.type,
        aggregator: duration.aggregator,
        values,
      };
    },
    reset,
  };

  // prom-client's Registry accepts any object with this shape; its types ask for a full Metric class.
  registry.registerMetric(requests as unknown as Parameters<Registry["registerMetric"]>[0]);
  registry.registerMetric(duration as unknown as Parameters<Registry["registerMetric"]>[0]);

  return {
    record(method, route, statusCode, seconds) {
      let byMethod = index.get(route);
      if (byMethod === undefined) {
        byMethod = new Map();
        index.set(route, byMethod);
      }
      let byStatus = byMethod.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let s = byStatus.get(statusCode);
      if (s === undefined) {
        s = {
          labels: { method, route, status_code: String(statusCode) },
          count: 0,
          sum: 0,
          buckets: new Float64Array(bounds.length + 1),
        };
        series.push(s);
        byStatus.set(statusCode, s);
      }
      let i = 0;
      while (i < bounds.length && seconds > (bounds[i] as number)) i++;
      s.buckets[i] = (s.buckets[i] as number) + 1;
      s.count++;
      s.sum += seconds;
    },
  };
}
