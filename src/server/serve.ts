/**
 * Runs the server: context, HTTP app, background jobs, graceful shutdown.
 *
 * - Every 30 s the key store reloads (another instance may have rotated) and scheduled rotation runs; an
 *   error there is logged, never fatal.
 * - SIGINT/SIGTERM (`stop`): drain, then close. Draining stops accepting connections; requests already being
 *   handled finish; a request that arrives on an open keep-alive connection is answered 503
 *   `temporarily_unavailable` with `Retry-After` and `Connection: close` (never a reset), which also closes that
 *   connection; in-flight responses go out with `Connection: close`. Idle connections are closed after
 *   `IDLE_GRACE_MS`, anything left after `DRAIN_MS`; then the background writers flush (audit events, last-use
 *   times) and the databases close.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Server } from "node:net";
import type { FastifyInstance } from "fastify";
import { blocklistSize } from "../accounts/passwords/blocklist.js";
import type { Config } from "../config/index.js";
import { buildApp } from "../http/app.js";
import type { Logger } from "../observability/log.js";
import { createServices, type Services } from "./services.js";

const KEY_REFRESH_MS = 30_000;
/** How long a stopping server waits for in-flight requests. */
const DRAIN_MS = 10_000;
/** How long idle keep-alive connections get to send one more request (answered 503) before they are closed. */
const IDLE_GRACE_MS = 1_000;
const DRAINING_BODY = JSON.stringify({
  error: "temporarily_unavailable",
  error_description: "This instance is shutting down; retry the request.",
});
const PURGE_MS = 10 * 60_000;

export interface RunningServer {
  ctx: Services;
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** The line a person sees at start-up: where to open Tessera, and in development how to get an administrator. */
export function startupLine(config: Config, url: string): string {
  const open = `Tessera is running: open ${config.issuer}/login (listening on ${url}).`;
  if (config.nodeEnv !== "development") return open;
  return `${open} First administrator: npm run --silent tessera -- users create NAME --password-stdin, then users grant-admin NAME.`;
}

export async function startServer(
  config: Config,
  log: Logger,
  options: { announce?: (line: string) => void } = {},
): Promise<RunningServer> {
  const ctx = await createServices(config, { log });
  // Load the password blocklist now (about 85 ms) rather than during the first sign-up or reset.
  blocklistSize();
  let app: FastifyInstance;
  try {
    app = await buildApp(ctx);
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await ctx.close();
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `port ${config.port} on ${config.host} is already in use: set PORT (or --port) to a free one`,
      );
    }
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `${config.tlsCert ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, issuer: config.issuer, database: ctx.storage.description }, "tessera is listening");
  // One line for a person (the log above is JSON for machines), on stderr so stdout stays JSON.
  options.announce?.(startupLine(config, url));

  const timer = setInterval(async () => {
    try {
      const rotated = await ctx.keys.rotateDue();
      if (rotated.length > 0) log.info({ rotated }, "scheduled signing-key rotation");
      else await ctx.keys.reload();
    } catch (error) {
      log.error({ err: error }, "signing-key refresh failed");
    }
  }, KEY_REFRESH_MS);
  timer.unref();

  // Expired sessions and reset links are refused at use anyway; this only keeps the tables small.
  const purge = setInterval(async () => {
    try {
      const sessions = await ctx.accounts.sessions.purgeExpired();
      const resetLinks = await ctx.accounts.passwordReset.purgeExpired();
      const oauth =
        (await ctx.oauth.purgeExpired()) +
        (await ctx.revocations.purgeExpired()) +
        (await ctx.mfa.purgeExpired()) +
        (await ctx.federation.purgeExpired()) +
        (await ctx.onboarding.purgeExpired());
      if (sessions + resetLinks + oauth > 0)
        log.debug({ sessions, resetLinks, oauth }, "expired sessions, reset links and OAuth rows deleted");
    } catch (error) {
      log.error({ err: error }, "session purge failed");
    }
  }, PURGE_MS);
  purge.unref();
  // A rotated refresh token's successor pair is kept (sealed) only for the grace window.
  const successors = setInterval(async () => {
    try {
      await ctx.oauth.tokens.clearSealedSuccessors();
    } catch (error) {
      log.error({ err: error }, "clearing refresh successors failed");
    }
  }, 10_000);
  successors.unref();

  // Responses being written, so that a drain can send them with `Connection: close`.
  const inFlight = new Set<ServerResponse>();
  app.server.prependListener("request", (_request: IncomingMessage, response: ServerResponse) => {
    inFlight.add(response);
    response.once("close", () => inFlight.delete(response));
  });

  /** Answers every new request 503 and closes its connection; requests already handled are untouched. */
  function drain(): Promise<void> {
    const server = app.server;
    for (const response of inFlight) {
      if (!response.headersSent) response.shouldKeepAlive = false;
    }
    server.removeAllListeners("request");
    server.on("request", (_request, response) => {
      response.writeHead(503, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(DRAINING_BODY),
        "retry-after": "1",
        connection: "close",
        "cache-control": "no-store",
      });
      response.end(DRAINING_BODY);
    });
    return new Promise((resolve) => {
      const idle = setTimeout(() => server.closeIdleConnections(), IDLE_GRACE_MS);
      idle.unref();
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, DRAIN_MS);
      deadline.unref();
      // Stops accepting; calls back once every connection has ended. net.Server's close, not http.Server's:
      // since Node 19 the latter also closes idle keep-alive connections at once, so a request a client sends on
      // one at that moment would meet a reset instead of the 503 above.
      Server.prototype.close.call(server, () => {
        clearTimeout(deadline);
        clearTimeout(idle);
        resolve();
      });
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(timer);
      clearInterval(purge);
      clearInterval(successors);
      await drain();
      await app.close();
      await ctx.close();
    })();
    return stopping;
  };
  return { ctx, app, url, stop };
}
