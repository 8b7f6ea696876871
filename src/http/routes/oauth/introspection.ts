/**
 * Token introspection (`POST /introspect`, RFC 7662), revocation (`POST /revoke`, RFC 7009) and the revocation
 * feed (`/revocations`) for resource servers that cache verified tokens (the SDK's verifier polls it).
 * Introspection and the feed serve confidential clients only; revocation any client, for its own tokens.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { OAuthError } from "../../../oauth/errors.js";
import type { HttpServices } from "../../services.js";
import { authenticateClient, formBody } from "./shared.js";

export function introspectionRoutes(ctx: Pick<HttpServices, "oauth" | "revocations">) {
  const { oauth } = ctx;

  /** The authenticated client and the `token` / `token_type_hint` of an introspection or revocation. */
  async function tokenRequest(request: FastifyRequest, reply: FastifyReply, confidential: boolean) {
    const body = formBody(request);
    const client = await authenticateClient(oauth, request, reply, body, { confidential });
    const token = body.token;
    if (typeof token !== "string" || token === "") {
      throw new OAuthError("invalid_request", "The token parameter is missing or given more than once.");
    }
    const hint = typeof body.token_type_hint === "string" ? body.token_type_hint : undefined;
    return { client, token, hint };
  }

  /**
   * The feed: `since` is the cursor of the previous answer. GET for `client_secret_basic`; POST with a form
   * body also serves `client_secret_post` and `private_key_jwt`.
   */
  async function revocations(
    request: FastifyRequest,
    reply: FastifyReply,
    body: Record<string, unknown>,
    since: unknown,
  ) {
    await authenticateClient(oauth, request, reply, body, { confidential: true });
    const { events, cursor } = await ctx.revocations.read(typeof since === "string" ? since : undefined);
    reply.header("cache-control", "no-store");
    return { events, cursor, interval_ms: ctx.revocations.intervalMs };
  }

  return async (app: FastifyInstance) => {
    app.post("/introspect", async (request, reply) => {
      const { client, token, hint } = await tokenRequest(request, reply, true);
      reply.header("cache-control", "no-store");
      return oauth.introspection.introspect(client, token, hint);
    });

    app.post("/revoke", async (request, reply) => {
      const { client, token, hint } = await tokenRequest(request, reply, false);
      await oauth.introspection.revoke(client, token, hint);
      return reply.code(200).send();
    });

    app.get<{ Querystring: { since?: string } }>("/revocations", (request, reply) =>
      revocations(request, reply, {}, request.query.since),
    );
    app.post("/revocations", (request, reply) => {
      const body = formBody(request);
      return revocations(request, reply, body, body.since);
    });
  };
}
