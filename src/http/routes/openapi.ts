/**
 * `GET /openapi.json`: an OpenAPI 3.1 description of the admin API, generated from the routes' own schemas by
 * `@fastify/swagger`, so the document cannot drift from what the server validates.
 *
 * - Registered before every route plugin (`@fastify/swagger` records routes as they are added) and wrapped
 *   with `fastify-plugin`, so its `onRoute` hook sits on the root instance and sees routes in every plugin.
 *   It only records; it changes no route.
 * - Every route under `/admin` is included, whatever plugin registers it, and marked as needing the `bearer`
 *   security scheme (an admin token). Other routes are left out unless their schema has `tags` (their
 *   schemas do not describe them yet); SCIM has its own discovery endpoints (RFC 7644 §4) and OAuth its
 *   metadata document (RFC 8414).
 * - Public and unauthenticated: it describes the API, it holds no data.
 */
import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifySchema } from "fastify";
import fp from "fastify-plugin";
import type { HttpServices } from "../services.js";

const SECURITY = [{ bearer: [] as string[] }];

const TAGS = [
  { name: "users", description: "Accounts: create, change, disable, set passwords, delete." },
  { name: "sessions", description: "A user's sign-in sessions: list and end them." },
  { name: "groups", description: "Groups of users and their members." },
  { name: "clients", description: "OAuth 2.1 / OpenID Connect clients and their secrets." },
  { name: "resource-servers", description: "APIs (audiences) and the scopes they accept." },
  { name: "keys", description: "Token signing keys and their rotation." },
  { name: "api-tokens", description: "Personal and service API tokens." },
  { name: "service-accounts", description: "Non-human accounts that hold service tokens." },
  { name: "invitations", description: "Invitations of e-mail addresses to create an account." },
];

/** Includes every `/admin` route (with the bearer requirement), and other routes only when tagged. */
export function documentRoute({ schema, url }: { schema: FastifySchema | undefined; url: string }): {
  schema: FastifySchema;
  url: string;
} {
  if (url === "/admin" || url.startsWith("/admin/")) {
    return { schema: { ...schema, security: SECURITY }, url };
  }
  const tagged = schema?.tags !== undefined && schema.tags.length > 0;
  return { schema: tagged ? (schema as FastifySchema) : { ...schema, hide: true }, url };
}

export function openapiRoutes(ctx: Pick<HttpServices, "config">) {
  return fp(
    async (app: FastifyInstance) => {
      await app.register(swagger, {
        openapi: {
          openapi: "3.1.0",
          info: {
            title: "Tessera admin API",
            version: "1",
            description:
              "Manage users, groups, sessions, OAuth clients, resource servers and signing keys. Every " +
              "operation needs `Authorization: Bearer <admin token>`. Errors are " +
              '`{ "error": "<stable code>", "error_description": "<text>" }` (see docs/errors.md).',
          },
          servers: [{ url: ctx.config.issuer }],
          components: {
            securitySchemes: {
              bearer: {
                type: "http",
                scheme: "bearer",
                description:
                  "An admin token: the configured TESSERA_ADMIN_TOKEN or a minted `tsr_adm_…` token. Header " +
                  "only; a token in the query string is refused.",
              },
            },
          },
          tags: TAGS,
        },
        // Paths are documented as routed, whatever path the issuer URL has.
        stripBasePath: false,
        transform: documentRoute,
      });

      app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) =>
        reply.header("cache-control", "public, max-age=300").send(app.swagger()),
      );
    },
    { name: "tessera-openapi" },
  );
}
