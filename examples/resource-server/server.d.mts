import type { FastifyInstance } from "fastify";

/** Builds the example API (not listening); `env` as described at the top of server.mjs. */
export function buildServer(env?: Record<string, string | undefined>): Promise<FastifyInstance>;
