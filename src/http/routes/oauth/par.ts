/**
 * `POST /par`: pushed authorization requests (RFC 9126). The client authenticates as at the token endpoint;
 * src/oauth/authorize.ts validates and stores the request (and binds it to the key of a DPoP proof, RFC 9449
 * §10.1). Answers `201` with the `request_uri`, or a §2.3 error.
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../../services.js";
import { authenticateClient, formBody } from "./shared.js";

export function parRoutes(ctx: Pick<HttpServices, "oauth">) {
  const { oauth } = ctx;
  return async (app: FastifyInstance) => {
    app.post("/par", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticateClient(oauth, request, reply, body, { confidential: false });
      // The client's authentication is not part of the request it pushes.
      const { client_secret: _secret, ...params } = body;
      const pushed = await oauth.authorization.push(client, params, request.headers.dpop);
      if ("refused" in pushed) {
        return reply
          .code(400)
          .send({ error: pushed.refused.error, error_description: pushed.refused.description });
      }
      reply.code(201).header("cache-control", "no-store");
      return { request_uri: pushed.requestUri, expires_in: pushed.expiresIn };
    });
  };
}
