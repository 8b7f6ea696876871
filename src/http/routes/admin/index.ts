/**
 * The admin REST API under `/admin`: users, groups, sessions, OAuth clients, resource servers, signing keys.
 *
 * - One encapsulated plugin: `requireAdmin` runs on every route registered inside it (sub-plugins included)
 *   before anything else; no admin route is reachable without a valid admin credential.
 * - Each resource is one sub-plugin in its own file, registering full paths (`/admin/...`, no prefix), with a
 *   complete schema per route: `tags`, `summary`, params, querystring, body, every response. The OpenAPI
 *   document (`/openapi.json`, see ../openapi.ts) picks up every `/admin` route automatically and marks it as
 *   needing the bearer token; test/http/admin-api.test.ts fails when a route lacks a summary, tags or responses.
 * - Handlers only translate: every rule lives in the domain services (`ctx.accounts`, `ctx.oauth`,
 *   `ctx.keys`), the same ones the CLI and SCIM call. Errors are thrown as `TesseraError`s and written by
 *   http/errors.ts as `{ "error", "error_description" }`.
 */
import type { FastifyInstance } from "fastify";
import { requireAdmin } from "../../admin-auth.js";
import type { HttpServices } from "../../services.js";
import { adminApiTokenRoutes } from "./api-tokens.js";
import { adminClientRoutes } from "./clients.js";
import { adminGroupRoutes } from "./groups.js";
import { adminIdentityProviderRoutes } from "./identity-providers.js";
import { adminInvitationRoutes } from "./invitations.js";
import { adminKeyRoutes } from "./keys.js";
import { adminMfaRoutes } from "./mfa.js";
import { adminResourceServerRoutes } from "./resource-servers.js";
import { adminSessionRoutes } from "./sessions.js";
import { adminUserRoutes } from "./users.js";
import { adminWebhookRoutes } from "./webhooks.js";

export function adminRoutes(
  ctx: Pick<
    HttpServices,
    | "accounts"
    | "adminTokens"
    | "apiTokens"
    | "config"
    | "federation"
    | "keys"
    | "mfa"
    | "oauth"
    | "onboarding"
    | "serviceAccounts"
    | "webhooks"
  >,
) {
  return async (app: FastifyInstance) => {
    app.addHook("onRequest", requireAdmin(ctx));

    await app.register(adminUserRoutes(ctx));
    await app.register(adminSessionRoutes(ctx));
    await app.register(adminGroupRoutes(ctx));
    await app.register(adminIdentityProviderRoutes(ctx));
    await app.register(adminClientRoutes(ctx));
    await app.register(adminResourceServerRoutes(ctx));
    await app.register(adminKeyRoutes(ctx));

    await app.register(adminApiTokenRoutes(ctx));
    await app.register(adminMfaRoutes(ctx));
    await app.register(adminInvitationRoutes(ctx));
    await app.register(adminWebhookRoutes(ctx));
  };
}
