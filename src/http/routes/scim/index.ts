/**
 * SCIM 2.0 service provider at `/scim/v2` (RFC 7644): Users, Groups, ServiceProviderConfig, ResourceTypes,
 * Schemas.
 *
 * - Authorised by `Authorization: Bearer <admin token>` or an API token with the `tessera:scim` (or
 *   `tessera:admin`) scope; a missing or wrong token is a 401 in the SCIM error format with
 *   `WWW-Authenticate: Bearer`, an API token without the scope a 403.
 * - Bodies are `application/scim+json` (or `application/json`); answers are `application/scim+json`.
 * - Every error is a SCIM Error message (`status` as a string, `scimType` for 400/409), never a 500 for bad
 *   input: duplicate userName → 409 `uniqueness`, bad filter → 400 `invalidFilter`.
 * - Filters are parsed into an AST and compiled to bound SQL expressions (`scim/filter-sql.ts`); never
 *   string-built SQL. `count` is capped at 1000; `startIndex` is 1-based.
 * - Listing: `GET /Users`, `GET /Groups`, and the SearchRequest form `POST /.search`, `/Users/.search`,
 *   `/Groups/.search` (RFC 7644 §3.4.3) share one code path (`scim/search.ts` reads either form). The root
 *   `/.search` lists users, then groups; a filter attribute one type lacks just excludes that type (a filter
 *   neither type accepts is `400 invalidFilter`).
 * - All changes go through the accounts domain, like the CLI and the pages.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Actor } from "../../../accounts/index.js";
import type { AdminPrincipal } from "../../../api-tokens/index.js";
import { TesseraError } from "../../../lib/errors.js";
import { ScimError } from "../../../scim/errors.js";
import type { FilterNode } from "../../../scim/filter.js";
import { groupFilterPredicate, userFilterPredicate } from "../../../scim/filter-sql.js";
import {
  applyGroupPatch,
  applyUserPatch,
  type PatchOperation,
  parsePatchRequest,
} from "../../../scim/patch.js";
import {
  groupToScim,
  scimToGroupAttributes,
  scimToUserAttributes,
  userToScim,
} from "../../../scim/resources.js";
import { resourceTypes, SCHEMA, schemas, serviceProviderConfig } from "../../../scim/schemas.js";
import {
  type ListParams,
  listParamsFromQuery,
  listParamsFromSearchRequest,
  project,
  projectionFromQuery,
} from "../../../scim/search.js";
import { isStorageUnavailable, type Predicate } from "../../../storage/index.js";
import { authenticateApiCaller } from "../../admin-auth.js";
import { RETRY_AFTER_SECONDS } from "../../errors.js";
import { strictJsonParser } from "../../json-body.js";
import type { HttpServices } from "../../services.js";

const CONTENT_TYPE = "application/scim+json; charset=utf-8";

declare module "fastify" {
  interface FastifyRequest {
    scimAdmin?: AdminPrincipal;
  }
}

function errorBody(status: number, detail: string, scimType?: string) {
  return { schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

/** Maps domain errors onto SCIM errors. */
function toScimError(error: unknown): ScimError | undefined {
  if (error instanceof ScimError) return error;
  if (isStorageUnavailable(error)) {
    return new ScimError({ status: 503, message: "The service is temporarily unavailable; retry shortly." });
  }
  if (!(error instanceof TesseraError)) return undefined;
  switch (error.code) {
    case "user_exists":
    case "group_exists":
      return new ScimError({ status: 409, scimType: "uniqueness", message: error.message });
    case "user_not_found":
    case "group_not_found":
    case "not_found":
      return new ScimError({ status: 404, message: error.message });
    case "user_changed":
    case "group_changed":
      return new ScimError({ status: 412, message: error.message });
    case "invalid_request":
    case "password_rejected":
      return new ScimError({ status: 400, scimType: "invalidValue", message: error.message });
    case "request_too_large":
      return new ScimError({ status: 413, message: error.message });
    case "forbidden_change":
      return new ScimError({ status: 403, message: error.message });
    default:
      return undefined;
  }
}

type ScimResource = Record<string, unknown> & { meta: { location: string; version: string } };

interface ResourceRoutes {
  path: "/Users" | "/Groups";
  noun: string;
  /** Compiles a parsed filter for this type; `400 invalidFilter` if it names what the type lacks. */
  where(filter: FilterNode): Predicate;
  list(
    where: Predicate | undefined,
    options: { startIndex: number; count: number },
  ): Promise<{ total: number; resources: ScimResource[] }>;
  get(id: string): Promise<ScimResource | undefined>;
  create(body: unknown, by: Actor): Promise<ScimResource>;
  replace(id: string, body: unknown, by: Actor): Promise<ScimResource>;
  patch(id: string, operations: PatchOperation[], by: Actor): Promise<ScimResource | undefined>;
  delete(id: string, by: Actor): Promise<void>;
}

export function scimRoutes(ctx: Pick<HttpServices, "accounts" | "adminTokens" | "apiTokens" | "config">) {
  const { accounts } = ctx;
  return async (app: FastifyInstance) => {
    const base = `${ctx.config.issuer}/scim/v2`;

    app.addContentTypeParser(
      ["application/scim+json"],
      { parseAs: "buffer", bodyLimit: ctx.config.bodyLimit },
      strictJsonParser(app),
    );

    app.setErrorHandler((error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
      let scim = toScimError(error);
      const fastifyError = error as FastifyError;
      if (!scim && fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
        const status = fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? 413 : fastifyError.statusCode;
        scim = new ScimError({
          status,
          scimType: status === 400 ? "invalidSyntax" : undefined,
          message:
            status === 415
              ? "Use Content-Type application/scim+json."
              : "The request body is not valid JSON.",
        });
      }
      if (scim) {
        request.log.info({ status: scim.status, scimType: scim.scimType }, "scim request refused");
        if (scim.status === 503) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
        return reply
          .code(scim.status)
          .type(CONTENT_TYPE)
          .send(errorBody(scim.status, scim.message, scim.scimType));
      }
      request.log.error({ err: error }, "scim request failed");
      return reply.code(500).type(CONTENT_TYPE).send(errorBody(500, "Internal error."));
    });

    app.setNotFoundHandler((_request, reply) =>
      reply.code(404).type(CONTENT_TYPE).send(errorBody(404, "No such SCIM endpoint.")),
    );

    app.addHook("onRequest", async (request, reply) => {
      const caller = await authenticateApiCaller(ctx, request, ["tessera:scim", "tessera:admin"]);
      if (!caller.ok) {
        if (caller.reason === "insufficient_scope") {
          return reply
            .code(403)
            .header(
              "www-authenticate",
              'Bearer realm="tessera-scim", error="insufficient_scope", scope="tessera:scim"',
            )
            .type(CONTENT_TYPE)
            .send(errorBody(403, "The token lacks the tessera:scim scope."));
        }
        const sent = caller.reason === "invalid";
        return reply
          .code(401)
          .header(
            "www-authenticate",
            sent ? 'Bearer realm="tessera-scim", error="invalid_token"' : 'Bearer realm="tessera-scim"',
          )
          .type(CONTENT_TYPE)
          .send(errorBody(401, sent ? "The bearer token is invalid." : "A bearer token is required."));
      }
      const principal = caller.principal;
      request.scimAdmin = principal;
    });

    app.addHook("onSend", async (_request, reply, payload) => {
      if (String(reply.getHeader("content-type") ?? "").startsWith("application/json"))
        reply.type(CONTENT_TYPE);
      return payload;
    });

    const actor = (request: FastifyRequest): Actor => ({
      actor: `scim:${request.scimAdmin?.tokenId ?? "unknown"}`,
      authority: "provisioning",
      ip: request.ip,
      userAgent: typeof request.headers["user-agent"] === "string" ? request.headers["user-agent"] : null,
    });

    const listResponse = (total: number, startIndex: number, resources: Record<string, unknown>[]) => ({
      schemas: [SCHEMA.listResponse],
      totalResults: total,
      startIndex,
      itemsPerPage: resources.length,
      Resources: resources,
    });

    // Discovery (RFC 7644 §4): documents, not access-controlled data, but served to the same clients.
    app.get("/ServiceProviderConfig", async () => serviceProviderConfig(base));
    app.get("/ResourceTypes", async () => {
      const list = resourceTypes(base);
      return listResponse(list.length, 1, list);
    });
    app.get<{ Params: { id: string } }>("/ResourceTypes/:id", async (request) => {
      const found = resourceTypes(base).find((r) => r.id === request.params.id);
      if (!found) throw new ScimError({ status: 404, message: "No such resource type." });
      return found;
    });
    app.get("/Schemas", async () => {
      const list = schemas(base);
      return listResponse(list.length, 1, list);
    });
    app.get<{ Params: { id: string } }>("/Schemas/:id", async (request) => {
      const found = schemas(base).find((s) => s.id === request.params.id);
      if (!found) throw new ScimError({ status: 404, message: "No such schema." });
      return found;
    });

    // Users and Groups share one route shape; only the domain calls and the representation differ.
    const resources: ResourceRoutes[] = [
      {
        path: "/Users",
        noun: "user",
        where: userFilterPredicate,
        async list(where, options) {
          const { total, users } = await accounts.users.list({ ...options, where });
          return { total, resources: users.map((u) => userToScim(u, base)) };
        },
        get: async (id) => {
          const user = await accounts.users.get(id);
          return user && userToScim(user, base);
        },
        create: async (body, by) =>
          userToScim(await accounts.users.create(scimToUserAttributes(body), by), base),
        replace: async (id, body, by) =>
          userToScim(await accounts.users.replace(id, scimToUserAttributes(body), by), base),
        async patch(id, operations, by) {
          const existing = await accounts.users.get(id);
          if (!existing) return undefined;
          const attributes = applyUserPatch(existing, operations);
          // Conditional on the version read: a concurrent change makes this fail (412), not vanish.
          const user = await accounts.users.replace(id, attributes, {
            ...by,
            expectedVersion: existing.version,
          });
          return userToScim(user, base);
        },
        delete: (id, by) => accounts.users.delete(id, by),
      },
      {
        path: "/Groups",
        noun: "group",
        where: groupFilterPredicate,
        async list(where, options) {
          const { total, groups } = await accounts.groups.list({ ...options, where });
          return { total, resources: groups.map((g) => groupToScim(g, base)) };
        },
        get: async (id) => {
          const group = await accounts.groups.get(id);
          return group && groupToScim(group, base);
        },
        create: async (body, by) =>
          groupToScim(await accounts.groups.create(scimToGroupAttributes(body), by), base),
        replace: async (id, body, by) =>
          groupToScim(await accounts.groups.replace(id, scimToGroupAttributes(body), by), base),
        async patch(id, operations, by) {
          const existing = await accounts.groups.get(id);
          if (!existing) return undefined;
          return groupToScim(
            await accounts.groups.replace(id, applyGroupPatch(existing, operations), {
              ...by,
              expectedVersion: existing.version,
            }),
            base,
          );
        },
        delete: (id, by) => accounts.groups.delete(id, by),
      },
    ];

    /**
     * One page over one or more resource types, in that order (RFC 7644 §3.4.2.4 paging over their
     * concatenation). With several types, a filter that does not compile for one type (an attribute it lacks)
     * leaves that type out; one that compiles for none is refused with the first type's error.
     */
    async function search(types: ResourceRoutes[], params: ListParams) {
      const targets: { type: ResourceRoutes; where: Predicate | undefined }[] = [];
      let refusal: unknown;
      for (const type of types) {
        if (params.filter === undefined) {
          targets.push({ type, where: undefined });
          continue;
        }
        try {
          targets.push({ type, where: type.where(params.filter) });
        } catch (error) {
          if (types.length === 1 || !(error instanceof ScimError)) throw error;
          refusal ??= error;
        }
      }
      if (targets.length === 0) throw refusal;
      const offset = params.startIndex - 1;
      let total = 0;
      const found: Record<string, unknown>[] = [];
      for (const { type, where } of targets) {
        const page = await type.list(where, {
          startIndex: Math.max(0, offset - total) + 1,
          count: params.count - found.length,
        });
        for (const r of page.resources) found.push(project(r, params));
        total += page.total;
      }
      return listResponse(total, params.startIndex, found);
    }

    app.post("/.search", async (request) => search(resources, listParamsFromSearchRequest(request.body)));

    for (const resource of resources) {
      const notFound = () => new ScimError({ status: 404, message: `No such ${resource.noun}.` });
      const send = (reply: FastifyReply, body: ScimResource, status = 200) =>
        reply.code(status).header("etag", body.meta.version).send(body);

      app.get(resource.path, async (request) =>
        search([resource], listParamsFromQuery(request.query as Record<string, unknown>)),
      );

      app.post(`${resource.path}/.search`, async (request) =>
        search([resource], listParamsFromSearchRequest(request.body)),
      );

      app.post(resource.path, async (request, reply) => {
        const body = await resource.create(request.body, actor(request));
        return send(reply.header("location", body.meta.location), body, 201);
      });

      app.get<{ Params: { id: string } }>(`${resource.path}/:id`, async (request, reply) => {
        const body = await resource.get(request.params.id);
        if (!body) throw notFound();
        return reply
          .header("etag", body.meta.version)
          .send(project(body, projectionFromQuery(request.query as Record<string, unknown>)));
      });

      app.put<{ Params: { id: string } }>(`${resource.path}/:id`, async (request, reply) =>
        send(reply, await resource.replace(request.params.id, request.body, actor(request))),
      );

      app.patch<{ Params: { id: string } }>(`${resource.path}/:id`, async (request, reply) => {
        const operations = parsePatchRequest(request.body);
        const body = await resource.patch(request.params.id, operations, actor(request));
        if (!body) throw notFound();
        return send(reply, body);
      });

      app.delete<{ Params: { id: string } }>(`${resource.path}/:id`, async (request, reply) => {
        await resource.delete(request.params.id, actor(request));
        return reply.code(204).send();
      });
    }
  };
}
