/**
 * `POST /api-tokens/leaked`: the leaked-token endpoint for secret-scanning services.
 *
 * - Body: `{"tokens": ["tsr_pat_…", …], "source"?: "…"}`, or GitHub secret scanning's list of
 *   `{"token", "type", "url", "source"}` objects. At most 100 values.
 * - Every value that is a live Tessera secret is revoked at once and its owner alerted (audit event); the
 *   answer is only counts: `{"received", "recognised", "revoked"}`. No credentials are needed: whoever holds a
 *   token may report it, and the answer says nothing about tokens the reporter does not hold.
 */
import type { FastifyInstance } from "fastify";
import { MAX_LEAK_REPORT } from "../../api-tokens/index.js";
import type { AppContext } from "../../server/context.js";

const TOKEN = { type: "string", minLength: 1, maxLength: 512 } as const;

type Body =
  | { tokens: string[]; source?: string }
  | { token: string; type?: string; url?: string; source?: string }[];

export function leakedTokenRoutes(ctx: AppContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: Body }>(
      "/api-tokens/leaked",
      {
        schema: {
          tags: ["api-tokens"],
          summary: "Report leaked tokens",
          description:
            "Revokes the reported values that are live Tessera tokens and alerts their owners; answers only counts.",
          body: {
            oneOf: [
              {
                type: "object",
                additionalProperties: false,
                required: ["tokens"],
                properties: {
                  tokens: { type: "array", minItems: 1, maxItems: MAX_LEAK_REPORT, items: TOKEN },
                  source: { type: "string", maxLength: 512 },
                },
              },
              {
                type: "array",
                minItems: 1,
                maxItems: MAX_LEAK_REPORT,
                items: {
                  type: "object",
                  required: ["token"],
                  properties: {
                    token: TOKEN,
                    type: { type: "string", maxLength: 128 },
                    url: { type: "string", maxLength: 2048 },
                    source: { type: "string", maxLength: 128 },
                  },
                },
              },
            ],
          },
          response: {
            200: {
              type: "object",
              required: ["received", "recognised", "revoked"],
              properties: {
                received: { type: "integer", description: "Values in the report." },
                recognised: {
                  type: "integer",
                  description: "Values shaped like Tessera tokens (checksum valid).",
                },
                revoked: { type: "integer", description: "Live tokens this report revoked." },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const values = Array.isArray(body) ? body.map((entry) => entry.token) : body.tokens;
        const source = Array.isArray(body) ? (body[0]?.url ?? body[0]?.source) : body.source;
        const result = await ctx.leakReports.report(values, { ip: request.ip, source: source ?? null });
        if (result.revoked > 0) request.log.warn({ revoked: result.revoked }, "leaked tokens revoked");
        reply.header("cache-control", "no-store");
        return result;
      },
    );
  };
}
