/**
 * Bearer authentication for the admin API (RFC 6750 §2.1, header only: tokens in query strings leak).
 * - Accepted: the bootstrap `TESSERA_ADMIN_TOKEN`, a stored admin token (`tsr_adm_`), or an API token
 *   (`tsr_pat_`, `tsr_svc_`) carrying the `tessera:admin` scope, presented from an allowed address. SCIM
 *   accepts the same, or an API token with `tessera:scim` (see `authenticateApiCaller`).
 * - An API token without the needed scope: 403 `insufficient_scope` with the scope (RFC 6750 §3.1).
 * - No credentials: 401 with `WWW-Authenticate: Bearer realm="tessera-admin"`.
 * - Wrong or revoked credentials: 401 with `error="invalid_token"` — the same answer for an unknown, a
 *   mistyped and a revoked token.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { type AdminPrincipal, hasApiTokenPrefix } from "../api-tokens/index.js";
import type { HttpServices } from "./services.js";

declare module "fastify" {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

const REALM = 'realm="tessera-admin"';
const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

export type ApiCaller =
  | { ok: true; principal: AdminPrincipal }
  | { ok: false; reason: "missing" | "invalid" | "insufficient_scope" };

/**
 * Who is calling an API with `Authorization: Bearer`: an admin token (always enough), or an API token that
 * must carry `scope` (either of the accepted scopes).
 */
export async function authenticateApiCaller(
  ctx: Pick<HttpServices, "adminTokens" | "apiTokens">,
  request: FastifyRequest,
  scopes: readonly string[],
): Promise<ApiCaller> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : BEARER.exec(header);
  if (match === null) return { ok: false, reason: "missing" };
  const token = match[1]!;
  if (hasApiTokenPrefix(token)) {
    const principal = await ctx.apiTokens.authenticate(token, { ip: request.ip });
    if (!principal) return { ok: false, reason: "invalid" };
    if (!principal.scopes.some((s) => scopes.includes(s))) return { ok: false, reason: "insufficient_scope" };
    return {
      ok: true,
      principal: { tokenId: principal.tokenId, name: `${principal.kind}:${principal.subjectName}` },
    };
  }
  const principal = await ctx.adminTokens.authenticate(token);
  return principal ? { ok: true, principal } : { ok: false, reason: "invalid" };
}

export function requireAdmin(ctx: Pick<HttpServices, "adminTokens" | "apiTokens">) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = await authenticateApiCaller(ctx, request, ["tessera:admin"]);
    if (caller.ok) {
      request.admin = caller.principal;
      return;
    }
    if (caller.reason === "missing") {
      return reply
        .code(401)
        .header("www-authenticate", `Bearer ${REALM}`)
        .send({ error: "unauthorized", error_description: "Admin credentials are required." });
    }
    if (caller.reason === "insufficient_scope") {
      return reply
        .code(403)
        .header("www-authenticate", `Bearer ${REALM}, error="insufficient_scope", scope="tessera:admin"`)
        .send({ error: "insufficient_scope", error_description: "The token lacks the tessera:admin scope." });
    }
    return reply
      .code(401)
      .header("www-authenticate", `Bearer ${REALM}, error="invalid_token"`)
      .send({ error: "invalid_token", error_description: "The admin token is invalid." });
  };
}
