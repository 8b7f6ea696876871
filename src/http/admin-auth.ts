/**
 * Bearer authentication for the admin API (RFC 6750 §2.1, header only: tokens in query strings leak).
 * - No credentials: 401 with `WWW-Authenticate: Bearer realm="tessera-admin"`.
 * - Wrong or revoked credentials: 401 with `error="invalid_token"` — the same answer for an unknown, a
 *   mistyped and a revoked token.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { type AdminPrincipal, authenticateAdminToken } from "../api-tokens/index.js";
import type { AppContext } from "../server/context.js";

declare module "fastify" {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

const REALM = 'realm="tessera-admin"';

export function requireAdmin(ctx: AppContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (match === null) {
      return reply
        .code(401)
        .header("www-authenticate", `Bearer ${REALM}`)
        .send({ error: "unauthorized", error_description: "Admin credentials are required." });
    }
    const principal = await authenticateAdminToken(
      {
        db: ctx.storage.db,
        clock: ctx.clock,
        bootstrapToken: ctx.config.adminToken,
        lastUsed: ctx.adminTokenLastUsed,
      },
      match[1]!,
    );
    if (principal === undefined) {
      return reply
        .code(401)
        .header("www-authenticate", `Bearer ${REALM}, error="invalid_token"`)
        .send({ error: "invalid_token", error_description: "The admin token is invalid." });
    }
    request.admin = principal;
  };
}
