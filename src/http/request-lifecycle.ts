/**
 * What every request gets from the HTTP layer, at the two points Fastify already calls for every request: the
 * security headers and the request id when it starts, the metrics and one log line when its response is done.
 *
 * Why not hooks: Fastify calls its `LogController` (a documented option, meant to be extended) once when it has
 * built a request's `Request` and `Reply` (`incomingRequest`) and once when the response is finished or failed
 * (`requestCompleted`). It does so for routed requests, for 404s and for requests it refuses before routing
 * (`frameworkErrors`). A global `onRequest` and `onResponse` hook would run at the same points, but each puts
 * every request through a hook runner besides; on a cheap request such as the session check that was a
 * measurable part of the HTTP layer's cost (docs/accounts.md, "Performance").
 *
 * - Start (`incomingRequest`): the security headers (security-headers.ts) and `X-Request-Id`. Routes replace the
 *   CSP, Referrer-Policy or Cache-Control by setting their own; Fastify's error path keeps them (it deletes only
 *   Content-Type and Content-Length).
 * - End (`requestCompleted`; for requests refused before routing, which Fastify does not report, the
 *   `frameworkErrors` wrapper): `http_requests_total` and `http_request_duration_seconds`, labelled by the
 *   route's pattern (`unmatched` for 404s, never the raw URL), then one log line: `request completed` at
 *   `info` (method, redacted URL, client address, status, time), or `request errored` at `error` when the
 *   response failed. Fastify's own `incoming request` line is written only at `debug`: one line per request,
 *   not two (a request that never finishes, say its client went away, therefore leaves a trace only at
 *   `debug`).
 * - Fastify reports completions only when it has a logger (or hooks): `buildApp` always passes one, and the
 *   metrics depend on it (test/http/request-lifecycle.test.ts counts responses through `buildApp`).
 */
import { performance } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest } from "fastify";
import { LogController } from "fastify";
import type { HttpMetrics } from "../observability/http-metrics.js";
import type { Logger } from "../observability/log.js";
import { securityHeaders } from "./security-headers.js";

export class RequestLifecycle extends LogController {
  readonly #defaults: Readonly<Record<string, string>>;
  readonly #metrics: HttpMetrics;

  constructor(options: { hsts: boolean; metrics: HttpMetrics }) {
    super();
    this.#defaults = securityHeaders(options);
    this.#metrics = options.metrics;
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    reply.headers(this.#defaults).header("x-request-id", request.id);
    // At debug, a line when the request starts too: a request whose client gave up, or that never got an
    // answer, has no `finish` and so no completion line.
    if ((request.log as Logger).isLevelEnabled("debug"))
      request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    this.#completed(error, request, reply, reply.elapsedTime);
  }

  /**
   * Fastify's `frameworkErrors` handler for requests refused before routing (a malformed URL, a path parameter
   * over the length limit): `answer` sends the refusal; Fastify does not report these responses as completed,
   * so they are counted and logged here when they finish.
   */
  frameworkErrors(
    answer: (error: Error, request: FastifyRequest, reply: FastifyReply) => void,
  ): (error: Error, request: FastifyRequest, reply: FastifyReply) => void {
    return (error, request, reply) => {
      const started = performance.now();
      const finished = (failure?: Error) => {
        reply.raw.off("finish", finished).off("error", finished);
        this.#completed(failure, request, reply, performance.now() - started);
      };
      reply.raw.on("finish", finished).on("error", finished);
      answer(error, request, reply);
    };
  }

  #completed(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    responseTime: number,
  ): void {
    this.#metrics.record(
      request.method,
      request.routeOptions.url ?? "unmatched",
      reply.statusCode,
      responseTime / 1000,
    );
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime }, "request errored");
    } else if ((reply.log as Logger).isLevelEnabled("info")) {
      reply.log.info({ req: request, res: reply, responseTime }, "request completed");
    }
  }
}
