/**
 * Static assets, served from memory.
 *
 * - The stylesheet, with a long cache (its URL carries a content hash).
 * - The pages' scripts (src/ui/assets/page-scripts.ts): `no-cache` with a strong ETag, answered 304 when the
 *   browser already holds the same bytes.
 */
import type { FastifyInstance } from "fastify";
import { pageScripts } from "../../ui/assets/page-scripts.js";
import { STYLESHEET, STYLESHEET_PATH } from "../../ui/styles.js";

export function assetRoutes() {
  return async (app: FastifyInstance) => {
    app.get(STYLESHEET_PATH, async (_request, reply) =>
      reply
        .header("cache-control", "public, max-age=31536000, immutable")
        .type("text/css; charset=utf-8")
        .send(STYLESHEET),
    );

    for (const script of pageScripts()) {
      app.get(script.path, async (request, reply) => {
        reply.header("cache-control", "no-cache").header("etag", script.etag);
        if (request.headers["if-none-match"] === script.etag) return reply.code(304).send();
        return reply.type("text/javascript; charset=utf-8").send(script.body);
      });
    }
  };
}
