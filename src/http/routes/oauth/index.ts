/**
 * The OAuth 2.1 / OpenID Connect endpoints, one module each; this plugin registers them. Rules live in
 * src/oauth, which returns decisions; these modules translate HTTP requests into calls and decisions into
 * answers (status, headers, body, page or redirect).
 *
 * - discovery.ts: the discovery documents (OpenID Connect Discovery 1.0, RFC 8414).
 * - authorize.ts: `/authorize`, with sign-in and consent (OpenID Connect Core §3.1.2.1).
 * - par.ts: pushed authorization requests (RFC 9126).
 * - token.ts: `/token` (RFC 6749 §3.2).
 * - introspection.ts: `/introspect` (RFC 7662), `/revoke` (RFC 7009) and the revocation feed.
 * - userinfo.ts: `/userinfo` (OpenID Connect Core §5.3; RFC 6750; RFC 9449 §7).
 * - end-session.ts: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
 * - device.ts: the device authorization grant's endpoint and pages (RFC 8628).
 * - registration.ts: dynamic client registration and management (RFC 7591, RFC 7592).
 * - shared.ts: form bodies, client authentication, the error page.
 *
 * `/token`, `/introspect`, `/revoke` take `application/x-www-form-urlencoded` bodies only and authenticate
 * the client (Basic header, form fields or a client assertion; one method per request). A failed client
 * authentication is 401 `invalid_client` (with `WWW-Authenticate: Basic` when the Basic scheme was tried).
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../../services.js";
import type { Web } from "../../web/web-context.js";
import { authorizeRoutes } from "./authorize.js";
import { deviceRoutes } from "./device.js";
import { discoveryRoutes } from "./discovery.js";
import { endSessionRoutes } from "./end-session.js";
import { introspectionRoutes } from "./introspection.js";
import { parRoutes } from "./par.js";
import { registrationRoutes } from "./registration.js";
import { tokenRoutes } from "./token.js";
import { userinfoRoutes } from "./userinfo.js";

export { clientCredentials, formBody } from "./shared.js";

export function oauthRoutes(
  ctx: Pick<HttpServices, "accounts" | "adminTokens" | "config" | "oauth" | "revocations">,
  web: Web,
) {
  return async (app: FastifyInstance) => {
    await app.register(discoveryRoutes(ctx));
    await app.register(authorizeRoutes(ctx, web));
    await app.register(registrationRoutes(ctx));
    await app.register(deviceRoutes(ctx, web));
    await app.register(parRoutes(ctx));
    await app.register(tokenRoutes(ctx));
    await app.register(introspectionRoutes(ctx));
    await app.register(endSessionRoutes(ctx, web));
    await app.register(userinfoRoutes(ctx));
  };
}
