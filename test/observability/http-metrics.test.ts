import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createHttpMetrics, HTTP_DURATION_BUCKETS } from "../../src/observability/http-metrics.js";

/** prom-client's own Counter and Histogram: the independent implementation the exposition must match. */
function reference() {
  const registry = new Registry();
  const labelNames = ["method", "route", "status_code"] as const;
  const counter = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route and status.",
    labelNames,
    registers: [registry],
  });
  const histogram = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by route and status.",
    labelNames,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    record(method: string, route: string, status: number, seconds: number) {
      const labels = { method, route, status_code: String(status) };
      counter.inc(labels);
      histogram.observe(labels, seconds);
    },
  };
}

const observation = fc.record({
  method: fc.constantFrom("GET", "POST", "DELETE"),
  route: fc.constantFrom("/healthz", "/session", "/scim/v2/Users/:id", "unmatched"),
  status: fc.constantFrom(200, 201, 401, 404, 500),
  // Bucket bounds themselves included: `le` is inclusive.
  seconds: fc.oneof(
    fc.constantFrom(...HTTP_DURATION_BUCKETS, 0, 3),
    fc.double({ min: 0, max: 4, noNaN: true }),
  ),
});

describe("HTTP metrics", () => {
  it("expose exactly what prom-client's Counter and Histogram expose for the same observations", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 60 }), async (observations) => {
        const ours = new Registry();
        const metrics = createHttpMetrics(ours);
        const theirs = reference();
        for (const o of observations) {
          metrics.record(o.method, o.route, o.status, o.seconds);
          theirs.record(o.method, o.route, o.status, o.seconds);
        }
        const sortLines = (text: string) => text.split("\n").sort().join("\n");
        expect(sortLines(await ours.metrics())).toBe(sortLines(await theirs.registry.metrics()));
      }),
      { numRuns: 200 },
    );
  });

  it("counts a value equal to a bound in that bound's bucket", async () => {
    const registry = new Registry();
    createHttpMetrics(registry).record("GET", "/x", 200, 0.001);
    const text = await registry.metrics();
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.0005",method="GET",route="/x",status_code="200"} 0',
    );
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.001",method="GET",route="/x",status_code="200"} 1',
    );
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/x",status_code="200"} 1',
    );
    expect(text).toContain('http_requests_total{method="GET",route="/x",status_code="200"} 1');
  });
});
