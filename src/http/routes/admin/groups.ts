/**
 * Groups: list, read, create, change (name, members added or removed), delete — through
 * `ctx.accounts.groups`, the service SCIM uses.
 *
 * - `displayName` is unique case-insensitively (409 `group_exists`); members are user ids, and an unknown id
 *   is refused (400 `invalid_request`), never dropped.
 * - `PATCH` adds and removes members relative to the current list; the same id in both lists is refused
 *   as ambiguous.
 */
import type { FastifyInstance } from "fastify";
import type { Group } from "../../../accounts/index.js";
import { AccountError } from "../../../lib/errors.js";
import type { FilterNode } from "../../../scim/filter.js";
import { groupFilterPredicate } from "../../../scim/filter-sql.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { groupNotFound } from "./errors.js";
import {
  adminResponses,
  EPOCH_MS,
  ID,
  ID_PARAMS,
  NO_CONTENT,
  NULLABLE_TEXT,
  nextStartIndex,
  PAGE_PROPERTIES,
  PAGING_PROPERTIES,
  type PageQuery,
  SEARCH_TEXT,
  TEXT,
} from "./schemas.js";

const TAGS = ["groups"];
const USER_IDS = { type: "array", maxItems: 10_000, items: ID } as const;

const GROUP = {
  type: "object",
  required: ["id", "displayName", "externalId", "members", "createdAt", "updatedAt", "version"],
  properties: {
    id: { type: "string" },
    displayName: { type: "string", description: "Unique, compared case-insensitively." },
    externalId: { type: ["string", "null"] },
    members: {
      type: "array",
      items: {
        type: "object",
        required: ["id", "userName"],
        properties: { id: { type: "string" }, userName: { type: "string" } },
      },
    },
    createdAt: EPOCH_MS,
    updatedAt: EPOCH_MS,
    version: { type: "integer", description: "Grows with every change." },
  },
} as const;

interface CreateBody {
  displayName: string;
  externalId?: string | null;
  members?: string[];
}

interface PatchBody {
  displayName?: string;
  externalId?: string | null;
  addMembers?: string[];
  removeMembers?: string[];
}

interface ListQuery extends PageQuery {
  displayName?: string;
}

function memberIdsAfter(group: Group, patch: PatchBody): string[] {
  const remove = new Set(patch.removeMembers ?? []);
  if ((patch.addMembers ?? []).some((id) => remove.has(id))) {
    throw new AccountError("invalid_request", "A user id is both added and removed.");
  }
  const ids = new Set(group.members.map((m) => m.id));
  for (const id of patch.addMembers ?? []) ids.add(id);
  for (const id of remove) ids.delete(id);
  return [...ids];
}

export function adminGroupRoutes(ctx: Pick<HttpServices, "accounts">) {
  const { groups } = ctx.accounts;

  return async (app: FastifyInstance) => {
    app.get<{ Querystring: ListQuery }>(
      "/admin/groups",
      {
        schema: {
          tags: TAGS,
          summary: "List groups",
          description: "Groups in creation order, a page at a time; optionally the one with a displayName.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              ...PAGING_PROPERTIES,
              displayName: {
                ...SEARCH_TEXT,
                description: "Only the group with this name (case-insensitive).",
              },
            },
          },
          response: adminResponses({
            200: {
              type: "object",
              required: ["total", "startIndex", "nextStartIndex", "groups"],
              properties: { ...PAGE_PROPERTIES, groups: { type: "array", items: GROUP } },
            },
          }),
        },
      },
      async (request) => {
        const { startIndex, count, displayName } = request.query;
        const filter: FilterNode | undefined =
          displayName === undefined
            ? undefined
            : {
                type: "compare",
                path: { schema: null, attribute: "displayName", subAttribute: null },
                op: "eq",
                value: displayName,
              };
        const { total, groups: page } = await groups.list({
          startIndex,
          count,
          ...(filter ? { where: groupFilterPredicate(filter) } : {}),
        });
        return {
          total,
          startIndex,
          nextStartIndex: nextStartIndex(request.query, page.length, total),
          groups: page,
        };
      },
    );

    app.post<{ Body: CreateBody }>(
      "/admin/groups",
      {
        schema: {
          tags: TAGS,
          summary: "Create a group",
          body: {
            type: "object",
            required: ["displayName"],
            additionalProperties: false,
            properties: {
              displayName: TEXT,
              externalId: NULLABLE_TEXT,
              members: { ...USER_IDS, description: "User ids." },
            },
          },
          response: adminResponses({ 201: { ...GROUP, description: "The new group." } }, [409]),
        },
      },
      async (request, reply) => {
        const group = await groups.create(request.body, adminActor(request));
        return reply
          .code(201)
          .header("location", `/admin/groups/${encodeURIComponent(group.id)}`)
          .send(group);
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/groups/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Read a group",
          params: ID_PARAMS,
          response: adminResponses({ 200: GROUP }, [404]),
        },
      },
      async (request) => {
        const group = await groups.get(request.params.id);
        if (!group) throw groupNotFound();
        return group;
      },
    );

    app.patch<{ Params: { id: string }; Body: PatchBody }>(
      "/admin/groups/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Change a group",
          description:
            "Renames the group and adds or removes members (user ids); fields not sent stay as they are. " +
            "Removing a user who is not a member is not an error.",
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            minProperties: 1,
            properties: {
              displayName: TEXT,
              externalId: NULLABLE_TEXT,
              addMembers: { ...USER_IDS, description: "User ids to add." },
              removeMembers: { ...USER_IDS, description: "User ids to remove." },
            },
          },
          response: adminResponses({ 200: GROUP }, [404, 409, 412]),
        },
      },
      async (request) => {
        const existing = await groups.get(request.params.id);
        if (!existing) throw groupNotFound();
        const { body } = request;
        return groups.replace(
          existing.id,
          {
            displayName: body.displayName ?? existing.displayName,
            externalId: body.externalId === undefined ? existing.externalId : body.externalId,
            members: memberIdsAfter(existing, body),
          },
          // The member list was computed from `existing`: a change in between is a 412, not a lost update.
          { ...adminActor(request), expectedVersion: existing.version },
        );
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/groups/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Delete a group",
          description: "Deletes the group; its members stay (only the membership goes).",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        await groups.delete(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );
  };
}
