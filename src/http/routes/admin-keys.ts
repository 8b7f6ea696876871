/**
 * Admin API for signing keys.
 * - `GET /admin/keys`: every key with its status and dates (no key material).
 * - `POST /admin/keys/rotate` `{ "alg"?: "EdDSA"|"ES256"|"RS256", "force"?: boolean }`: rotate now.
 *   A too-early rotation answers 409 `key_rotation_too_soon`.
 */
import type { FastifyInstance } from "fastify";
import { JWS_ALGORITHMS, type JwsAlgorithm } from "../../crypto/index.js";
import type { AppContext } from "../../server/context.js";
import { requireAdmin } from "../admin-auth.js";

export function adminKeyRoutes(ctx: AppContext) {
  return async (app: FastifyInstance) => {
    app.addHook("onRequest", requireAdmin(ctx));

    app.get("/admin/keys", async () => {
      await ctx.keys.reload();
      return { keys: ctx.keys.list() };
    });

    app.post<{ Body: { alg?: JwsAlgorithm; force?: boolean } | undefined }>(
      "/admin/keys/rotate",
      {
        schema: {
          body: {
            type: "object",
            additionalProperties: false,
            properties: {
              alg: { type: "string", enum: [...JWS_ALGORITHMS] },
              force: { type: "boolean" },
            },
          },
        },
      },
      async (request) => {
        const body = request.body ?? {};
        const results = await ctx.keys.rotate({
          ...(body.alg ? { alg: body.alg } : {}),
          force: body.force === true,
        });
        request.log.info({ results, admin: request.admin?.tokenId }, "signing keys rotated");
        return { results };
      },
    );
  };
}
