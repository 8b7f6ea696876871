import { Writable } from "node:stream";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RequestLifecycle } from "../../src/http/request-lifecycle.js";
import { createLogger, lazyChildLoggerFactory } from "../../src/observability/log.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTestApp, type TestApp } from "../helpers/app.js";

function logLines(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("request lifecycle in buildApp", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("logs one line per request at info, with method, redacted URL, status and time, and no secret", async () => {
    const before = t.logs().length;
    const res = await t.app.inject({
      url: "/healthz?code=secret-code-value&x=1",
      headers: { cookie: "tessera_session=secret-cookie-value", authorization: "Bearer secret-bearer" },
    });
    expect(res.statusCode).toBe(200);
    const requestId = res.headers["x-request-id"];
    const lines = logLines(t.logs().slice(before)).filter((line) => line.reqId === requestId);
    expect(lines.map((line) => line.msg)).toEqual(["request completed"]);
    const [line] = lines as [Record<string, unknown>];
    expect(line.level).toBe(30);
    expect(line.req).toEqual({
      method: "GET",
      url: "/healthz?code=[REDACTED]&x=1",
      remoteAddress: "127.0.0.1",
    });
    expect(line.res).toEqual({ statusCode: 200 });
    expect(typeof line.responseTime).toBe("number");
    expect(line.responseTime as number).toBeGreaterThanOrEqual(0);
    const text = t.logs().slice(before);
    for (const secret of ["secret-code-value", "secret-cookie-value", "secret-bearer"]) {
      expect(text).not.toContain(secret);
    }
  });

  it("logs a request refused before routing (malformed URL) once, with its 400", async () => {
    const before = t.logs().length;
    const res = await t.app.inject({ url: "/scim/v2/Users/%E0%A4%A" });
    expect(res.statusCode).toBe(400);
    const lines = logLines(t.logs().slice(before)).filter(
      (line) => line.reqId === res.headers["x-request-id"],
    );
    expect(lines.map((line) => line.msg)).toEqual(["request completed"]);
    expect((lines[0] as { res: unknown }).res).toEqual({ statusCode: 400 });
  });

  it("logs refusals and 404s with their status, once each", async () => {
    const before = t.logs().length;
    const missing = await t.app.inject({ url: "/no-such-page" });
    const refused = await t.app.inject({ url: "/session" });
    expect([missing.statusCode, refused.statusCode]).toEqual([404, 401]);
    const lines = logLines(t.logs().slice(before)).filter((line) => line.msg === "request completed");
    const byId = new Map(lines.map((line) => [line.reqId, line]));
    expect(lines).toHaveLength(2);
    expect((byId.get(missing.headers["x-request-id"]) as { res: unknown }).res).toEqual({ statusCode: 404 });
    expect((byId.get(refused.headers["x-request-id"]) as { res: unknown }).res).toEqual({ statusCode: 401 });
  });

  it("counts every response in the metrics by route pattern, 404s and malformed URLs as unmatched", async () => {
    const count = async (pattern: RegExp): Promise<number> => {
      const body = (await t.app.inject({ url: "/metrics" })).body;
      const match = body.match(pattern);
      return match ? Number(match[1]) : 0;
    };
    const healthz = /http_requests_total\{method="GET",route="\/healthz",status_code="200"\} (\d+)/;
    const unmatched404 = /http_requests_total\{method="GET",route="unmatched",status_code="404"\} (\d+)/;
    const unmatched400 = /http_requests_total\{method="GET",route="unmatched",status_code="400"\} (\d+)/;
    const before = [await count(healthz), await count(unmatched404), await count(unmatched400)];
    for (let i = 0; i < 3; i++) await t.app.inject({ url: "/healthz" });
    await t.app.inject({ url: "/nothing-here" });
    await t.app.inject({ url: "/nothing-here-either" });
    // Refused before routing (not UTF-8 in a path parameter).
    expect((await t.app.inject({ url: "/scim/v2/Users/%E0%A4%A" })).statusCode).toBe(400);
    expect([await count(healthz), await count(unmatched404), await count(unmatched400)]).toEqual([
      (before[0] as number) + 3,
      (before[1] as number) + 2,
      (before[2] as number) + 1,
    ]);
  });
});

describe("RequestLifecycle on its own", () => {
  function appWith(level: string) {
    let output = "";
    const destination = new Writable({
      write(chunk, _enc, done) {
        output += chunk.toString();
        done();
      },
    });
    const metrics = createMetrics();
    const app = Fastify({
      loggerInstance: createLogger({ level, destination }),
      childLoggerFactory: lazyChildLoggerFactory,
      logController: new RequestLifecycle({ hsts: true, metrics: metrics.http }),
    });
    app.get("/ok", async () => ({ ok: true }));
    app.get("/own-csp", async (_request, reply) => {
      reply.header("content-security-policy", "default-src 'self'");
      return { ok: true };
    });
    app.get("/broken", async (_request, reply) => {
      // A response that fails while it is sent: the stream errors after the headers.
      reply.raw.destroy(new Error("socket gone"));
      return reply;
    });
    return { app, metrics, logs: () => output };
  }

  it("puts the security headers (HSTS included when asked) and the request id on every response", async () => {
    const { app } = appWith("silent");
    for (const url of ["/ok", "/missing"]) {
      const res = await app.inject({ url });
      expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
      expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["cache-control"]).toBe("no-store");
      // Fastify's own request ids here (buildApp installs Tessera's).
      expect(res.headers["x-request-id"]).toMatch(/^req-\d+$/);
    }
    await app.close();
  });

  it("lets a route replace a default header", async () => {
    const { app } = appWith("silent");
    const res = await app.inject({ url: "/own-csp" });
    expect(res.headers["content-security-policy"]).toBe("default-src 'self'");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    await app.close();
  });

  it("at debug, also logs the start of a request (so one that never finishes leaves a trace)", async () => {
    const { app, logs } = appWith("debug");
    await app.inject({ url: "/ok" });
    expect(logLines(logs()).map((line) => line.msg)).toEqual(["incoming request", "request completed"]);
    await app.close();
  });

  it("writes no request line when info is not enabled, and still counts the request", async () => {
    const { app, metrics, logs } = appWith("warn");
    await app.inject({ url: "/ok" });
    expect(logs()).toBe("");
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/ok",status_code="200"\} 1/);
    await app.close();
  });

  it("logs a response that failed while it was sent at error level, even when info is off", async () => {
    const { app, logs } = appWith("warn");
    await app.inject({ url: "/broken" }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lines = logLines(logs()).filter((line) => line.msg === "request errored");
    expect(lines).toHaveLength(1);
    const [line] = lines as [{ level: number; err: { message: string } }];
    expect(line.level).toBe(50);
    expect(line.err.message).toBe("socket gone");
    await app.close();
  });
});
