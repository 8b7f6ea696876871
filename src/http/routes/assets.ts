/** The stylesheet of the pages, served from memory with a long cache (its URL carries a content hash). */
import type { FastifyInstance } from "fastify";
import { STYLESHEET, STYLESHEET_PATH } from "../../ui/styles.js";

export function assetRoutes() {
  return async (app: FastifyInstance) => {
    app.get(STYLESHEET_PATH, async (_request, reply) =>
      reply
        .header("cache-control", "public, max-age=31536000, immutable")
        .type("text/css; charset=utf-8")
        .send(STYLESHEET),
    );
  };
}
