/**
 * Signing keys.
 * - `GET /admin/keys`: every key with its status and dates (never key material).
 * - `POST /admin/keys/rotate` `{ "alg"?: "EdDSA"|"ES256"|"RS256", "force"?: boolean }`: rotate now.
 *   A too-early rotation answers 409 `key_rotation_too_soon`.
 */
import type { FastifyInstance } from "fastify";
import { JWS_ALGORITHMS, type JwsAlgorithm } from "../../../crypto/index.js";
import type { HttpServices } from "../../services.js";
import { adminResponses, EPOCH_MS, NULLABLE_EPOCH_MS } from "./schemas.js";

const TAGS = ["keys"];
const ALG = { type: "string", enum: [...JWS_ALGORITHMS] } as const;

const KEY = {
  type: "object",
  required: ["kid", "alg", "status", "createdAt", "activatedAt", "retiredAt", "expiresAt"],
  properties: {
    kid: { type: "string" },
    alg: ALG,
    status: { type: "string", enum: ["next", "active", "retired"] },
    createdAt: EPOCH_MS,
    activatedAt: NULLABLE_EPOCH_MS,
    retiredAt: NULLABLE_EPOCH_MS,
    expiresAt: NULLABLE_EPOCH_MS,
  },
} as const;

const ROTATION = {
  type: "object",
  required: ["alg", "rotated", "retired"],
  properties: {
    alg: ALG,
    rotated: { type: "boolean" },
    activated: { type: "string", description: "kid of the key that became active." },
    retired: { type: "array", items: { type: "string" }, description: "kids retired by this rotation." },
    published: { type: "string", description: "kid of the new next key." },
  },
} as const;

export function adminKeyRoutes(ctx: Pick<HttpServices, "keys">) {
  return async (app: FastifyInstance) => {
    app.get(
      "/admin/keys",
      {
        schema: {
          tags: TAGS,
          summary: "List signing keys",
          description:
            "Every signing key with its status (next, active, retired) and dates; no key material.",
          response: adminResponses({
            200: {
              type: "object",
              required: ["keys"],
              properties: { keys: { type: "array", items: KEY } },
            },
          }),
        },
      },
      async () => {
        await ctx.keys.reload();
        return { keys: ctx.keys.list() };
      },
    );

    app.post<{ Body: { alg?: JwsAlgorithm; force?: boolean } | undefined }>(
      "/admin/keys/rotate",
      {
        schema: {
          tags: TAGS,
          summary: "Rotate signing keys",
          description:
            "Activates the next key of one algorithm (or of all), retires the active one and publishes a new " +
            "next key. Refused with 409 `key_rotation_too_soon` while the next key has been published for " +
            "less than the JWKS max-age, unless `force` is true.",
          body: {
            type: "object",
            additionalProperties: false,
            properties: {
              alg: ALG,
              force: {
                type: "boolean",
                description: "Rotate even if verifiers may not have the next key yet.",
              },
            },
          },
          response: adminResponses(
            {
              200: {
                type: "object",
                required: ["results"],
                properties: { results: { type: "array", items: ROTATION } },
              },
            },
            [409],
          ),
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
