/**
 * Dynamic client registration (`POST /register`, RFC 7591) and management (`GET`/`PUT`/`DELETE
 * /register/<client_id>`, RFC 7592). src/oauth/registration.ts decides who may register and manage; this file
 * finds the bearer token and answers refusals as RFC 6750 §3.1 challenges. Admin tokens are accepted as
 * initial access tokens.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RegistrationRefusal } from "../../../oauth/registration.js";
import type { HttpServices } from "../../services.js";

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === "string" ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header) : null;
  return match?.[1];
}

function refuse(reply: FastifyReply, refusal: RegistrationRefusal) {
  const withError = refusal.refused === "token_invalid";
  return reply
    .code(401)
    .header(
      "www-authenticate",
      withError ? 'Bearer realm="tessera", error="invalid_token"' : 'Bearer realm="tessera"',
    )
    .send({
      error: withError ? "invalid_token" : "unauthorized",
      error_description: "A valid initial access token is required.",
    });
}

export function registrationRoutes(ctx: Pick<HttpServices, "adminTokens" | "oauth">) {
  const { oauth } = ctx;

  const isAdminToken = async (token: string) => (await ctx.adminTokens.authenticate(token)) !== undefined;

  return async (app: FastifyInstance) => {
    app.post("/register", async (request, reply) => {
      const answer = await oauth.registration.register(
        bearer(request),
        request.body as Record<string, unknown>,
        isAdminToken,
      );
      if ("refused" in answer) return refuse(reply, answer);
      reply.code(201).header("cache-control", "no-store");
      return answer.metadata;
    });

    app.get<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const answer = await oauth.registration.read(request.params.id, bearer(request));
      if ("refused" in answer) return refuse(reply, answer);
      reply.header("cache-control", "no-store");
      return answer.metadata;
    });

    app.put<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const answer = await oauth.registration.update(
        request.params.id,
        bearer(request),
        (request.body ?? {}) as Record<string, unknown>,
      );
      if ("refused" in answer) return refuse(reply, answer);
      reply.header("cache-control", "no-store");
      return answer.metadata;
    });

    app.delete<{ Params: { id: string } }>("/register/:id", async (request, reply) => {
      const answer = await oauth.registration.remove(request.params.id, bearer(request));
      if ("refused" in answer) return refuse(reply, answer);
      return reply.header("cache-control", "no-store").code(204).send();
    });
  };
}
