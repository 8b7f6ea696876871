import type { FastifyInstance } from "fastify";

/**
 * Builds the SPA + BFF application (not listening); `env` as described at the top of serve.mjs, `options` passed
 * to the BFF plugin next to its configuration.
 */
export function buildApp(
  env?: Record<string, string | undefined>,
  options?: Record<string, unknown>,
): Promise<FastifyInstance>;
