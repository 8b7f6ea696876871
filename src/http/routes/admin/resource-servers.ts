/**
 * Resource servers (APIs): list, read, register, delete — through `ctx.oauth.clients`, like the CLI.
 *
 * - A resource server is named by its audience, an absolute URI (RFC 8707); in a path it is percent-encoded
 *   whole: `/admin/resource-servers/https%3A%2F%2Fapi.example.com`.
 * - Its scopes are the ones it accepts; a token for it carries only those.
 * - It may ask for encrypted access tokens (JWE, docs/oauth.md "Encrypted tokens"): its public keys and the
 *   algorithms, at creation or later (`PUT`/`DELETE …/encryption`). The domain checks the keys.
 */
import type { FastifyInstance } from "fastify";
import { JWE_ALGORITHMS, JWE_ENCRYPTIONS } from "../../../crypto/jwe.js";
import type { ResourceServerEncryptionInput } from "../../../oauth/clients.js";
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

const JWKS = {
  type: "object",
  required: ["keys"],
  additionalProperties: false,
  description: "A JWK Set (RFC 7517 §5) of the API's public encryption keys (use `enc` or no use).",
  properties: {
    keys: {
      type: "array",
      items: { type: "object", additionalProperties: true, description: "A public JWK (RFC 7517)." },
    },
  },
} as const;

/** What makes the API's access tokens encrypted (the request body). */
const ENCRYPTION_INPUT = {
  type: "object",
  required: ["jwks", "alg"],
  additionalProperties: false,
  description: "Access tokens for this API are signed, then encrypted to one of these keys (RFC 7516).",
  properties: {
    jwks: JWKS,
    alg: { type: "string", enum: [...JWE_ALGORITHMS], description: "Key management algorithm." },
    enc: {
      type: "string",
      enum: [...JWE_ENCRYPTIONS],
      description: "Content encryption algorithm (default A128CBC-HS256).",
    },
  },
} as const;

const RESOURCE_SERVER = {
  type: "object",
  required: ["audience", "name", "scopes"],
  properties: {
    audience: { type: "string" },
    name: { type: "string" },
    scopes: { type: "array", items: { type: "string" }, description: "Scopes this API accepts." },
    accessTokenEncryption: {
      type: "object",
      required: ["alg", "enc"],
      properties: {
        alg: { type: "string", enum: [...JWE_ALGORITHMS] },
        enc: { type: "string", enum: [...JWE_ENCRYPTIONS] },
      },
      description: "How its access tokens are encrypted; absent: they are signed JWTs as usual.",
    },
    jwks: { ...JWKS, description: "Its public encryption keys; present with accessTokenEncryption." },
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
  encryption?: ResourceServerEncryptionInput;
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
              encryption: ENCRYPTION_INPUT,
            },
          },
          response: adminResponses(
            { 201: { ...RESOURCE_SERVER, description: "The new resource server." } },
            [409],
          ),
        },
      },
      async (request, reply) => {
        const { audience, name, scopes, encryption } = request.body;
        if (await clients.getResourceServer(audience)) throw resourceServerExists();
        const server = await clients.createResourceServer({
          audience,
          name: name ?? audience,
          scope: (scopes ?? []).join(" "),
          ...(encryption === undefined ? {} : { encryption }),
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

    app.put<{ Params: { audience: string }; Body: ResourceServerEncryptionInput }>(
      "/admin/resource-servers/:audience/encryption",
      {
        schema: {
          tags: TAGS,
          summary: "Encrypt a resource server's access tokens",
          description:
            "From now on, access tokens whose only audience is this API are signed, then encrypted to one of " +
            "these keys (JWE); replaces earlier keys and algorithms (key rotation). Tessera still introspects " +
            "them: it records each one's hash and claims.",
          params: AUDIENCE_PARAMS,
          body: ENCRYPTION_INPUT,
          response: adminResponses({ 200: RESOURCE_SERVER }, [404]),
        },
      },
      async (request) => {
        const { audience } = request.params;
        const server = await clients.setResourceServerEncryption(audience, request.body);
        if (!server) throw resourceServerNotFound();
        request.log.info({ audience, admin: request.admin?.tokenId }, "resource server encryption set");
        return server;
      },
    );

    app.delete<{ Params: { audience: string } }>(
      "/admin/resource-servers/:audience/encryption",
      {
        schema: {
          tags: TAGS,
          summary: "Stop encrypting a resource server's access tokens",
          description:
            "New access tokens for this API are signed JWTs again; tokens already issued stay as they are.",
          params: AUDIENCE_PARAMS,
          response: adminResponses({ 200: RESOURCE_SERVER }, [404]),
        },
      },
      async (request) => {
        const { audience } = request.params;
        const server = await clients.setResourceServerEncryption(audience, null);
        if (!server) throw resourceServerNotFound();
        request.log.info({ audience, admin: request.admin?.tokenId }, "resource server encryption removed");
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
