/**
 * `POST /api-tokens/leaked`: the leaked-token endpoint for secret-scanning services.
 *
 * - Body: `{"tokens": ["tsr_pat_…", …], "source"?: "…"}`, or GitHub secret scanning's list of
 *   `{"token", "type", "url", "source"}` objects. At most 100 values.
 * - Every value that is a live Tessera secret is revoked at once and its owner alerted (audit event); the
 *   answer is only counts: `{"received", "recognised", "revoked"}`. No credentials are needed: whoever holds a
 *   token may report it, and the answer says nothing about tokens the reporter does not hold.
 * - Budget: `LEAK_REPORT_RATE` requests per client address (`request.ip`; an IPv6 client's /64) and minute,
 *   counted per request before the body is read, whatever its outcome. Past it: 429 `too_many_attempts` with
 *   `Retry-After` (seconds). Shared through Redis when `REDIS_URL` is set.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { clientAddressKey, createRateLimiter, type RateLimitPolicy } from "../../accounts/throttle.js";
import { MAX_LEAK_REPORT } from "../../api-tokens/index.js";
import type { HttpServices } from "../services.js";

/**
 * 120 reports (of up to 100 values each) per client address per minute, all at once from a full budget, then
 * one every 500 ms. Secret scanners report in bursts; this lets a burst of 12,000 values through and bounds
 * one address to 200 token look-ups a second on average.
 */
export const LEAK_REPORT_RATE: RateLimitPolicy = Object.freeze({ limit: 120, windowMs: 60_000 });

const TOKEN = { type: "string", minLength: 1, maxLength: 512 } as const;

type Body =
  | { tokens: string[]; source?: string }
  | { token: string; type?: string; url?: string; source?: string }[];

const ERROR_BODY = {
  type: "object",
  required: ["error", "error_description"],
  properties: { error: { type: "string" }, error_description: { type: "string" } },
} as const;

export function leakedTokenRoutes(ctx: Pick<HttpServices, "clock" | "leakReports" | "redis">) {
  const limiter = createRateLimiter({ clock: ctx.clock, redis: ctx.redis });

  /** Spends one request of the caller's budget; past it, answers 429 with `Retry-After`. */
  async function budget(request: FastifyRequest, reply: FastifyReply) {
    const decision = await limiter.take({
      scope: "leak-report:ip",
      id: clientAddressKey(request.ip),
      policy: LEAK_REPORT_RATE,
    });
    if (decision.allowed) return;
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    request.log.info({ code: "too_many_attempts", retryAfter: seconds }, "leak report rate-limited");
    return reply
      .code(429)
      .header("retry-after", String(seconds))
      .header("cache-control", "no-store")
      .send({
        error: "too_many_attempts",
        error_description: `Too many leak reports from this address. Retry in ${seconds} s.`,
      });
  }

  return async (app: FastifyInstance) => {
    app.post<{ Body: Body }>(
      "/api-tokens/leaked",
      {
        onRequest: budget,
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
            429: {
              description: "Too many reports from this address (`too_many_attempts`); see `Retry-After`.",
              ...ERROR_BODY,
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
