/**
 * `GET`/`POST /userinfo` (OpenID Connect Core §5.3). This file finds the access token (the Authorization
 * header, `Bearer` or `DPoP`, or for POST the form body; never the query string, and only one of them, RFC 6750
 * §2) and writes the decision of src/oauth/userinfo.ts: the claims, or the refusal with its RFC 6750 §3 /
 * RFC 9449 §7.1 challenge. A client registered for signed or encrypted userinfo gets `application/jwt`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DPOP_SIGNING_ALGS } from "../../../oauth/dpop.js";
import { OAuthError } from "../../../oauth/errors.js";
import type { TokenScheme, UserinfoRefusal } from "../../../oauth/userinfo.js";
import type { HttpServices } from "../../services.js";

/** The `WWW-Authenticate` challenge of a refusal. */
function challenge(refusal: UserinfoRefusal): string {
  const { scheme, error, description } = refusal;
  if (error === "insufficient_scope") {
    return `${scheme} ${scheme === "Bearer" ? 'realm="tessera", ' : ""}error="insufficient_scope", scope="openid"`;
  }
  const parameters = [
    ...(scheme === "Bearer" ? ['realm="tessera"'] : [`algs="${DPOP_SIGNING_ALGS.join(" ")}"`]),
    ...(error === "unauthorized" ? [] : [`error="${error}"`, `error_description="${description}"`]),
  ];
  return `${scheme} ${parameters.join(", ")}`;
}

/** The access token the request presents, and under which scheme. */
function presentedToken(request: FastifyRequest): { token: string | undefined; scheme: TokenScheme } {
  const header = request.headers.authorization;
  let token: string | undefined;
  let scheme: TokenScheme = "Bearer";
  if (typeof header === "string") {
    const match = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (match) {
      scheme = (match[1] as string).toLowerCase() === "dpop" ? "DPoP" : "Bearer";
      token = match[2];
    }
  }
  const body = request.body as Record<string, unknown> | undefined;
  if (request.method === "POST" && body && typeof body.access_token === "string") {
    if (token !== undefined) throw new OAuthError("invalid_request", "Send the access token once.");
    token = body.access_token;
  }
  return { token, scheme };
}

export function userinfoRoutes(ctx: Pick<HttpServices, "oauth">) {
  const { oauth } = ctx;

  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    const decision = await oauth.userinfo({
      ...presentedToken(request),
      dpop: request.headers.dpop,
      method: request.method,
    });
    if (!decision.ok) {
      const { refuse } = decision;
      return reply
        .code(refuse.status)
        .header("www-authenticate", challenge(refuse))
        .send({ error: refuse.error, error_description: refuse.description });
    }
    reply.header("cache-control", "no-store");
    // OpenID Connect Core §5.3.2: a client registered for signed or encrypted answers gets a JWT.
    if (decision.jwt !== undefined) return reply.type("application/jwt").send(decision.jwt);
    return decision.claims;
  };

  return async (app: FastifyInstance) => {
    app.get("/userinfo", userinfo);
    app.post("/userinfo", userinfo);
  };
}
