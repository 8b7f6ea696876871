/**
 * `tessera bff`: runs the backend-for-frontend on its own, configured from the environment (`BFF_*`, `PORT`,
 * `HOST`; see docs/bff.md). https when `BFF_TLS_CERT`/`BFF_TLS_KEY` name PEM files; SIGINT/SIGTERM close it
 * gracefully (in-flight requests finish, the session store closes).
 */
import { readFileSync } from "node:fs";
import Fastify, { type FastifyInstance } from "fastify";
import { bffPlugin, loadBffConfig } from "../bff/index.js";
import { createLogger, type Logger, redactUrl } from "../observability/log.js";

export const BFF_HELP = `  bff                            Run the backend-for-frontend gateway (configured by BFF_* variables)
`;

export interface RunningBff {
  app: FastifyInstance;
  url: string;
}

export async function startBff(env: Record<string, string | undefined>, log?: Logger): Promise<RunningBff> {
  const config = loadBffConfig(env);
  const logger = log ?? createLogger({ level: env.LOG_LEVEL?.trim() || "info" });
  const app = Fastify({
    loggerInstance: logger.child({ component: "bff" }),
    ...(config.tlsCert && config.tlsKey
      ? { https: { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
      : {}),
  }) as unknown as FastifyInstance;
  app.addHook("onRequest", async (request) => {
    request.log.debug({ url: redactUrl(request.raw.url ?? "") }, "bff request");
  });
  await app.register(bffPlugin, { config });
  if (config.allowInsecure)
    logger.warn("BFF_ALLOW_INSECURE is on: the issuer may be plain http (development only)");
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `${config.tlsCert ? "https" : "http"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, issuer: config.issuer, publicUrl: config.publicUrl }, "tessera bff is listening");
  return { app, url };
}
