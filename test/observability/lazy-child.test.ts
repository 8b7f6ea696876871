import { Writable } from "node:stream";
import Fastify from "fastify";
import type { Logger } from "pino";
import { describe, expect, it, vi } from "vitest";
import { createLogger, lazyChildLogger, lazyChildLoggerFactory } from "../../src/observability/log.js";

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _e, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

/** A Fastify app with the per-request logger factory `buildApp` installs. */
function fastifyWithLazyChildren(log: Logger, options: { disableRequestLogging?: boolean } = {}) {
  return Fastify({
    ...options,
    loggerInstance: log,
    childLoggerFactory: lazyChildLoggerFactory,
  });
}

describe("lazy per-request child logger", () => {
  it("writes with the child's bindings and keeps redaction", () => {
    const { log, lines } = capture("info");
    const child = lazyChildLogger(log, { reqId: "r-1" });
    child.info({ req: { headers: { authorization: "Bearer secret-value" } } }, "hello");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reqId: "r-1", msg: "hello", service: "tessera" });
    expect(JSON.stringify(lines[0])).not.toContain("secret-value");
  });

  it("never builds the child when nothing is logged at an enabled level", () => {
    const { log, lines } = capture("warn");
    const spy = vi.spyOn(log, "child");
    const child = lazyChildLogger(log, { reqId: "r-2" });
    child.info("not written");
    child.debug("not written");
    expect(spy).not.toHaveBeenCalled();
    child.warn("written");
    expect(spy).toHaveBeenCalledTimes(1);
    child.error("also written");
    expect(spy).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ["r-2", "written"],
      ["r-2", "also written"],
    ]);
  });

  it("forwards child() and level like a pino logger", () => {
    const { log, lines } = capture("info");
    const child = lazyChildLogger(log, { reqId: "r-3" });
    expect(child.level).toBe("info");
    child.child({ part: "x" }).info("nested");
    expect(lines[0]).toMatchObject({ reqId: "r-3", part: "x", msg: "nested" });
  });

  it("is not built by Fastify's per-request logger check, only when the request logs", async () => {
    const { log, lines } = capture("warn");
    const spy = vi.spyOn(log, "child");
    const app = fastifyWithLazyChildren(log);
    app.get("/quiet", async () => ({ ok: true }));
    app.get("/loud", async (request) => {
      request.log.warn("loud route");
      return { ok: true };
    });
    await app.ready();
    spy.mockClear(); // Fastify's own start-up children are not per request
    const quiet = await app.inject({ url: "/quiet" });
    expect(quiet.statusCode).toBe(200);
    expect(spy).not.toHaveBeenCalled();
    await app.inject({ url: "/loud" });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(lines.filter((l) => l.msg === "loud route")).toHaveLength(1);
    await app.close();
  });

  it("answers level, isLevelEnabled and Fastify's method check without building the child", () => {
    const { log } = capture("warn");
    const spy = vi.spyOn(log, "child");
    const child = lazyChildLogger(log, { reqId: "r-4" });
    expect(child.level).toBe("warn");
    expect(child.isLevelEnabled("info")).toBe(false);
    expect(child.isLevelEnabled("error")).toBe(true);
    for (const method of ["info", "error", "debug", "fatal", "warn", "trace", "child"] as const) {
      expect(typeof child[method]).toBe("function");
    }
    expect(spy).not.toHaveBeenCalled();
  });

  it("honours a route's own logLevel (a real child at that level)", async () => {
    const { log, lines } = capture("info");
    const app = fastifyWithLazyChildren(log, { disableRequestLogging: true });
    app.get("/verbose", { logLevel: "debug" }, async (request) => {
      request.log.debug("debug on this route");
      return { ok: true };
    });
    app.get("/normal", async (request) => {
      request.log.debug("not written");
      request.log.info("info written");
      return { ok: true };
    });
    await app.inject({ url: "/verbose" });
    await app.inject({ url: "/normal" });
    expect(lines.map((l) => l.msg)).toEqual(["debug on this route", "info written"]);
    expect(lines.every((l) => typeof l.reqId === "string")).toBe(true);
    await app.close();
  });
});
