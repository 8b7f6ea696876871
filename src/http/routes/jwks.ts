/**
 * `GET /.well-known/jwks.json`: the public signing keys (RFC 7517 §5).
 * - Only public members are served (`generate.ts` strips the rest when the key is made).
 * - Cacheable for `jwksMaxAge` seconds; a rotation only activates keys published at least that long.
 * - CORS-readable by any origin: public keys are public, and browser-based verifiers need them.
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../services.js";

export function jwksRoutes(ctx: Pick<HttpServices, "config" | "keys">) {
  return async (app: FastifyInstance) => {
    app.get("/.well-known/jwks.json", async (_request, reply) => {
      const maxAge = ctx.config.jwksMaxAge;
      reply
        .header("cache-control", maxAge > 0 ? `public, max-age=${maxAge}` : "no-cache")
        .header("access-control-allow-origin", "*")
        .type("application/jwk-set+json; charset=utf-8");
      return ctx.keys.jwks();
    });
  };
}
