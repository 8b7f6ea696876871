/**
 * `POST /token` (RFC 6749 §3.2): a form body, the client's authentication, an optional DPoP proof (RFC 9449
 * §4), then the grant in src/oauth/token-endpoint.ts. Answers are never cached (§5.1).
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../../services.js";
import { authenticateClient, formBody } from "./shared.js";

export function tokenRoutes(ctx: Pick<HttpServices, "oauth">) {
  const { oauth } = ctx;
  return async (app: FastifyInstance) => {
    app.post("/token", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticateClient(oauth, request, reply, body, { confidential: false });
      const proof = await oauth.dpop.checkForOAuth(request.headers.dpop, {
        method: request.method,
        path: "/token",
      });
      const answer = await oauth.tokens.grant(
        client,
        body,
        proof === undefined ? {} : { dpopJkt: proof.jkt },
      );
      reply.header("cache-control", "no-store").header("pragma", "no-cache");
      return answer;
    });
  };
}
