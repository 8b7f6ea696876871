/**
 * Fastify adapter: `requireAuth(verifier, requirements)` is a `preHandler` hook for one route;
 * `tesseraAuth` is a plugin that adds it to every route registered inside it. Either sets `request.auth`, or
 * answers the refusal (RFC 6750 / RFC 9449 status, `WWW-Authenticate`, JSON body).
 *
 * - The caller's address is `request.ip`, so Fastify's `trustProxy` decides whether `X-Forwarded-For`
 *   counts (it matters for API tokens restricted to networks).
 * - For DPoP it passes `request.method`, the `DPoP` header, and the URL `request.protocol://request.host` +
 *   `request.url` (both honour `trustProxy`); the verifier's `publicOrigin`, when set, replaces the origin.
 * - The plugin adds its hook to the scope that registers it, as `fastify-plugin` plugins do: register it in
 *   an encapsulated scope with the routes to protect (the example). Fastify is imported for types only.
 *
 * @example
 * app.get("/orders", { preHandler: requireAuth(verifier, { scopes: ["orders:read"] }) }, async (request) => ({
 *   user: request.auth?.sub,
 * }));
 * await app.register(async (api) => {
 *   await api.register(tesseraAuth, { verifier, scopes: ["orders:read"] });
 *   api.get("/orders", async (request) => request.auth);
 * });
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { type AccessTokenClaims, checkRequirements, type Requirements } from "./claims.js";
import { VerifyError } from "./errors.js";
import { refusalResponse } from "./response.js";
import type { Verifier } from "./verifier.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access token's claims (set by Tessera's `requireAuth` / `tesseraAuth`). */
    auth?: AccessTokenClaims;
  }
}

/**
 * A Fastify `preHandler`: verifies the request's bearer token against `requirements`, sets `request.auth`.
 * @see RFC 6750 §2.1, §3
 */
export function requireAuth(verifier: Verifier, requirements: Requirements = {}) {
  checkRequirements(requirements);
  return async function tesseraRequireAuth(request: FastifyRequest, reply: FastifyReply) {
    try {
      request.auth = await verifier.authenticate(
        {
          authorization: request.headers.authorization,
          ip: request.ip,
          url: request.host ? `${request.protocol}://${request.host}${request.url}` : request.url,
          method: request.method,
          dpop: request.headers.dpop,
        },
        requirements,
      );
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      const { status, headers, body } = refusalResponse(error);
      // An async hook that answers returns the reply, so the route handler does not run.
      return reply.code(status).headers(headers).send(body);
    }
  };
}

export interface TesseraAuthOptions extends Requirements {
  verifier: Verifier;
}

/**
 * A plugin that protects every route of the scope it is registered in (see `requireAuth`).
 * @see RFC 6750 §2.1, §3
 */
export const tesseraAuth: FastifyPluginAsync<TesseraAuthOptions> = async (
  app,
  { verifier, ...requirements },
) => {
  if (!app.hasRequestDecorator("auth")) app.decorateRequest("auth", undefined);
  app.addHook("preHandler", requireAuth(verifier, requirements));
};
// What `fastify-plugin` does, without the runtime dependency: the hook applies to the scope that registers
// the plugin (not to a child scope of its own), so register it inside the scope of the routes to protect.
Object.assign(tesseraAuth, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "tessera-auth",
});

export type { AccessTokenClaims, Requirements } from "./claims.js";
export { VerifyError } from "./errors.js";
