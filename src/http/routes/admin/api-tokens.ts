/**
 * Admin API for API tokens and service accounts.
 *
 * - `/admin/api-tokens`: list (by kind or owner), create (the token value is in the 201 answer and nowhere
 *   else, ever), get, revoke (`DELETE`, effective at once; resource servers learn it from the revocation feed).
 * - `/admin/service-accounts`: list, create, get, disable (revokes its keys), delete.
 * - The rules (scopes, lifetimes, CIDR blocks, admin-group check for personal tokens) are the domain's
 *   (`api-tokens/`), shared with the CLI and the account pages.
 */
import type { FastifyInstance } from "fastify";
import type { ApiTokenKind } from "../../../api-tokens/index.js";
import { ApiTokenError } from "../../../lib/errors.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { adminResponses, EPOCH_MS, ID, ID_PARAMS, NO_CONTENT, NULLABLE_EPOCH_MS, TEXT } from "./schemas.js";

const TOKEN_TAGS = ["api-tokens"];
const ACCOUNT_TAGS = ["service-accounts"];

const API_TOKEN = {
  type: "object",
  required: [
    "id",
    "kind",
    "name",
    "ownerId",
    "scopes",
    "resources",
    "allowedIps",
    "expiresAt",
    "createdAt",
    "createdBy",
    "lastUsedAt",
    "lastUsedIp",
    "revokedAt",
    "revokedReason",
  ],
  properties: {
    id: { type: "string", description: "The token's id (its `jti` in introspection answers)." },
    kind: { type: "string", enum: ["personal", "service"] },
    name: { type: "string" },
    ownerId: { type: "string", description: "User id (personal) or service-account id (service)." },
    scopes: { type: "array", items: { type: "string" } },
    resources: {
      type: "array",
      items: { type: "string" },
      description: "Resource servers it may be used at.",
    },
    allowedIps: {
      type: ["array", "null"],
      items: { type: "string" },
      description: "CIDR blocks; null: any.",
    },
    expiresAt: { ...NULLABLE_EPOCH_MS, description: "Null: never expires." },
    createdAt: EPOCH_MS,
    createdBy: { type: "string" },
    lastUsedAt: { ...NULLABLE_EPOCH_MS, description: "Last use, exact to within a minute." },
    lastUsedIp: { type: ["string", "null"] },
    revokedAt: NULLABLE_EPOCH_MS,
    revokedReason: { type: ["string", "null"] },
  },
} as const;

const SERVICE_ACCOUNT = {
  type: "object",
  required: ["id", "name", "description", "ownerUserId", "ownerGroupId", "createdAt", "disabledAt"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    description: { type: ["string", "null"] },
    ownerUserId: { type: ["string", "null"] },
    ownerGroupId: { type: ["string", "null"] },
    createdAt: EPOCH_MS,
    disabledAt: NULLABLE_EPOCH_MS,
  },
} as const;

interface CreateTokenBody {
  kind: ApiTokenKind;
  name: string;
  ownerId: string;
  scopes: string[];
  resources?: string[];
  expiresIn?: number | null;
  allowedIps?: string[] | null;
}

interface CreateAccountBody {
  name: string;
  description?: string | null;
  ownerUserId?: string | null;
  ownerGroupId?: string | null;
}

const tokenNotFound = () => new ApiTokenError("api_token_not_found", "No such API token.", 404);
const accountNotFound = () => new ApiTokenError("service_account_not_found", "No such service account.", 404);

export function adminApiTokenRoutes(ctx: Pick<HttpServices, "apiTokens" | "serviceAccounts">) {
  const { apiTokens, serviceAccounts } = ctx;
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: { kind?: ApiTokenKind; ownerId?: string } }>(
      "/admin/api-tokens",
      {
        schema: {
          tags: TOKEN_TAGS,
          summary: "List API tokens",
          description:
            "Every personal access token and service-account key (never the secret), newest first.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              kind: { type: "string", enum: ["personal", "service"] },
              ownerId: { ...ID, description: "Only the tokens of this user or service account." },
            },
          },
          response: adminResponses({
            200: {
              type: "object",
              required: ["apiTokens"],
              properties: { apiTokens: { type: "array", items: API_TOKEN } },
            },
          }),
        },
      },
      async (request) => ({
        apiTokens: await apiTokens.list({
          ...(request.query.kind ? { kind: request.query.kind } : {}),
          ...(request.query.ownerId ? { ownerId: request.query.ownerId } : {}),
        }),
      }),
    );

    app.post<{ Body: CreateTokenBody }>(
      "/admin/api-tokens",
      {
        schema: {
          tags: TOKEN_TAGS,
          summary: "Create an API token",
          description:
            "Mints a personal access token (`tsr_pat_…`) for a user or a key (`tsr_svc_…`) for a service account. The `token` in the answer is the only copy of the secret.",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["kind", "name", "ownerId", "scopes"],
            properties: {
              kind: { type: "string", enum: ["personal", "service"] },
              name: { ...TEXT, minLength: 1, maxLength: 200 },
              ownerId: ID,
              scopes: {
                type: "array",
                maxItems: 50,
                items: { ...TEXT, minLength: 1, maxLength: 128 },
                description: "`tessera:admin`, `tessera:scim`, or scopes of the listed resource servers.",
              },
              resources: { type: "array", maxItems: 20, items: { ...TEXT, minLength: 1, maxLength: 512 } },
              expiresIn: {
                type: ["integer", "null"],
                minimum: 60,
                description:
                  "Seconds (default 90 days); null for no expiry where the organisation allows it.",
              },
              allowedIps: { type: ["array", "null"], maxItems: 50, items: { ...TEXT, maxLength: 64 } },
            },
          },
          response: adminResponses(
            {
              201: {
                type: "object",
                required: ["token", "apiToken"],
                properties: {
                  token: { type: "string", description: "The secret, shown this once." },
                  apiToken: API_TOKEN,
                },
              },
            },
            [404],
          ),
        },
      },
      async (request, reply) => {
        const body = request.body;
        const created = await apiTokens.create({
          kind: body.kind,
          name: body.name,
          ownerId: body.ownerId,
          scopes: body.scopes,
          ...(body.resources ? { resources: body.resources } : {}),
          ...(body.expiresIn !== undefined ? { expiresIn: body.expiresIn } : {}),
          ...(body.allowedIps !== undefined ? { allowedIps: body.allowedIps } : {}),
          createdBy: adminActor(request).actor,
        });
        reply.header("cache-control", "no-store");
        return reply.code(201).send(created);
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/api-tokens/:id",
      {
        schema: {
          tags: TOKEN_TAGS,
          summary: "Get an API token",
          params: ID_PARAMS,
          response: adminResponses({ 200: API_TOKEN }, [404]),
        },
      },
      async (request) => {
        const token = await apiTokens.get(request.params.id);
        if (!token) throw tokenNotFound();
        return token;
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/api-tokens/:id",
      {
        schema: {
          tags: TOKEN_TAGS,
          summary: "Revoke an API token",
          description: "Effective at once; revoking a revoked token is a no-op (204).",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        const token = await apiTokens.get(request.params.id);
        if (!token) throw tokenNotFound();
        await apiTokens.revoke(token.id, { actor: adminActor(request).actor });
        return reply.code(204).send();
      },
    );

    app.get(
      "/admin/service-accounts",
      {
        schema: {
          tags: ACCOUNT_TAGS,
          summary: "List service accounts",
          response: adminResponses({
            200: {
              type: "object",
              required: ["serviceAccounts"],
              properties: { serviceAccounts: { type: "array", items: SERVICE_ACCOUNT } },
            },
          }),
        },
      },
      async () => ({ serviceAccounts: await serviceAccounts.list() }),
    );

    app.post<{ Body: CreateAccountBody }>(
      "/admin/service-accounts",
      {
        schema: {
          tags: ACCOUNT_TAGS,
          summary: "Create a service account",
          description: "A non-human principal, owned by a user or a group, that holds its own keys.",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["name"],
            properties: {
              name: { ...TEXT, minLength: 1, maxLength: 200 },
              description: { type: ["string", "null"], maxLength: 1000 },
              ownerUserId: { type: ["string", "null"], pattern: ID.pattern },
              ownerGroupId: { type: ["string", "null"], pattern: ID.pattern },
            },
          },
          response: adminResponses({ 201: SERVICE_ACCOUNT }, [409]),
        },
      },
      async (request, reply) => {
        const account = await serviceAccounts.create({ ...request.body, actor: adminActor(request).actor });
        return reply.code(201).send(account);
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/service-accounts/:id",
      {
        schema: {
          tags: ACCOUNT_TAGS,
          summary: "Get a service account",
          params: ID_PARAMS,
          response: adminResponses({ 200: SERVICE_ACCOUNT }, [404]),
        },
      },
      async (request) => {
        const account = await serviceAccounts.get(request.params.id);
        if (!account || account.id !== request.params.id) throw accountNotFound();
        return account;
      },
    );

    app.post<{ Params: { id: string } }>(
      "/admin/service-accounts/:id/disable",
      {
        schema: {
          tags: ACCOUNT_TAGS,
          summary: "Disable a service account",
          description: "Its keys are revoked at once; disabling twice is a no-op.",
          params: ID_PARAMS,
          response: adminResponses({ 200: SERVICE_ACCOUNT }, [404]),
        },
      },
      async (request) => serviceAccounts.disable(request.params.id, adminActor(request).actor),
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/service-accounts/:id",
      {
        schema: {
          tags: ACCOUNT_TAGS,
          summary: "Delete a service account",
          description: "Its keys are revoked first.",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        await serviceAccounts.delete(request.params.id, adminActor(request).actor);
        return reply.code(204).send();
      },
    );
  };
}
