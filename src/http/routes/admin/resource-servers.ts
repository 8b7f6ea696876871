/**
 * Resource servers (APIs): list, read, register, delete — through `ctx.oauth.clients`, like the CLI.
 *
 * - A resource server is named by its audience, an absolute URI (RFC 8707); in a path it is percent-encoded
 *   whole: `/admin/resource-servers/https%3A%2F%2Fapi.example.com`.
 * - Its scopes are the ones it accepts; a token for it carries only those.
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../../services.js";
import { resourceServerExists, resourceServerNotFound } from "./errors.js";
import { adminResponses, NO_CONTENT, TEXT } from "./schemas.js";

const TAGS = ["resource-servers"];

const AUDIENCE = {
  ...TEXT,
  minLength: 1,
  maxLength: 512,
  description: "The audience: an absolute URI without a fragment (RFC 8707).",
} as const;

const RESOURCE_SERVER = {
  type: "object",
  required: ["audience", "name", "scopes"],
  properties: {
    audience: { type: "string" },
    name: { type: "string" },
    scopes: { type: "array", items: { type: "string" }, description: "Scopes this API accepts." },
  },
} as const;

const AUDIENCE_PARAMS = {
  type: "object",
  required: ["audience"],
  additionalProperties: false,
  properties: {
    audience: { ...AUDIENCE, description: "The audience, percent-encoded as one path segment." },
  },
} as const;

interface CreateBody {
  audience: string;
  name?: string;
  scopes?: string[];
}

export function adminResourceServerRoutes(ctx: Pick<HttpServices, "oauth">) {
  const { clients } = ctx.oauth;

  return async (app: FastifyInstance) => {
    app.get(
      "/admin/resource-servers",
      {
        schema: {
          tags: TAGS,
          summary: "List resource servers",
          response: adminResponses({
            200: {
              type: "object",
              required: ["resourceServers"],
              properties: { resourceServers: { type: "array", items: RESOURCE_SERVER } },
            },
          }),
        },
      },
      async () => ({ resourceServers: await clients.listResourceServers() }),
    );

    app.post<{ Body: CreateBody }>(
      "/admin/resource-servers",
      {
        schema: {
          tags: TAGS,
          summary: "Register a resource server",
          body: {
            type: "object",
            required: ["audience"],
            additionalProperties: false,
            properties: {
              audience: AUDIENCE,
              name: { ...TEXT, description: "Defaults to the audience." },
              scopes: {
                type: "array",
                maxItems: 100,
                items: { type: "string", pattern: "^\\S+$" },
                description: "Scopes this API accepts.",
              },
            },
          },
          response: adminResponses(
            { 201: { ...RESOURCE_SERVER, description: "The new resource server." } },
            [409],
          ),
        },
      },
      async (request, reply) => {
        const { audience, name, scopes } = request.body;
        if (await clients.getResourceServer(audience)) throw resourceServerExists();
        const server = await clients.createResourceServer({
          audience,
          name: name ?? audience,
          scope: (scopes ?? []).join(" "),
        });
        request.log.info({ audience, admin: request.admin?.tokenId }, "resource server registered");
        return reply
          .code(201)
          .header("location", `/admin/resource-servers/${encodeURIComponent(server.audience)}`)
          .send(server);
      },
    );

    app.get<{ Params: { audience: string } }>(
      "/admin/resource-servers/:audience",
      {
        schema: {
          tags: TAGS,
          summary: "Read a resource server",
          params: AUDIENCE_PARAMS,
          response: adminResponses({ 200: RESOURCE_SERVER }, [404]),
        },
      },
      async (request) => {
        const server = await clients.getResourceServer(request.params.audience);
        if (!server) throw resourceServerNotFound();
        return server;
      },
    );

    app.delete<{ Params: { audience: string } }>(
      "/admin/resource-servers/:audience",
      {
        schema: {
          tags: TAGS,
          summary: "Delete a resource server",
          description:
            "From then on no new token carries its scopes (other than OpenID Connect's); tokens already " +
            "issued for it are not revoked and live until they expire.",
          params: AUDIENCE_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        const { audience } = request.params;
        if (!(await clients.deleteResourceServer(audience))) throw resourceServerNotFound();
        request.log.info({ audience, admin: request.admin?.tokenId }, "resource server deleted");
        return reply.code(204).send();
      },
    );
  };
}
