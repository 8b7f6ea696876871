/**
 * Users: list, read, create, change, set a password, delete — through `ctx.accounts.users`, the same service
 * the CLI, SCIM and the account pages call, so the same rules, password policy and audit events apply.
 *
 * - A password (on create, or `PUT …/password`) goes through the password policy (`password_rejected`);
 *   it is never returned, only whether one is set (`hasPassword`).
 * - `PATCH` changes only the fields sent, conditional on the version read (a concurrent change is a 412
 *   `user_changed`, not a lost update).
 * - `active: false` (and `DELETE`) ends the user's sessions at once (the domain does), refuses their tokens
 *   (token checks read the active flag) and here also revokes what those sessions' sign-ins granted and
 *   notifies the clients' back-channel logout URIs — the same as a sign-out.
 * - List filters are compiled by the SCIM filter compiler (bound values, same results on both databases).
 */
import type { FastifyInstance } from "fastify";
import type { User, UserAttributes, UserEmail } from "../../../accounts/index.js";
import type { FilterNode } from "../../../scim/filter.js";
import { userFilterPredicate } from "../../../scim/filter-sql.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { userNotFound } from "./errors.js";
import {
  adminResponses,
  EPOCH_MS,
  ID_PARAMS,
  NO_CONTENT,
  NULLABLE_EPOCH_MS,
  NULLABLE_TEXT,
  nextStartIndex,
  PAGE_PROPERTIES,
  PAGING_PROPERTIES,
  type PageQuery,
  SEARCH_TEXT,
  TEXT,
} from "./schemas.js";

const TAGS = ["users"];

const EMAIL = {
  type: "object",
  required: ["value"],
  additionalProperties: false,
  properties: {
    value: { ...TEXT, description: "An e-mail address." },
    type: { ...NULLABLE_TEXT, description: 'For example "work" or "home".' },
    primary: { type: "boolean", default: false },
  },
} as const;

export const USER = {
  type: "object",
  required: [
    "id",
    "userName",
    "externalId",
    "displayName",
    "givenName",
    "familyName",
    "active",
    "emails",
    "groups",
    "hasPassword",
    "passwordUpdatedAt",
    "createdAt",
    "updatedAt",
    "version",
  ],
  properties: {
    id: { type: "string" },
    userName: { type: "string", description: "Unique, compared case-insensitively." },
    externalId: { type: ["string", "null"] },
    displayName: { type: ["string", "null"] },
    givenName: { type: ["string", "null"] },
    familyName: { type: ["string", "null"] },
    active: { type: "boolean", description: "An inactive user cannot sign in; their tokens are refused." },
    emails: {
      type: "array",
      items: {
        type: "object",
        required: ["value", "type", "primary"],
        properties: {
          value: { type: "string" },
          type: { type: ["string", "null"] },
          primary: { type: "boolean" },
        },
      },
    },
    groups: {
      type: "array",
      items: {
        type: "object",
        required: ["id", "displayName"],
        properties: { id: { type: "string" }, displayName: { type: "string" } },
      },
    },
    hasPassword: { type: "boolean" },
    passwordUpdatedAt: NULLABLE_EPOCH_MS,
    createdAt: EPOCH_MS,
    updatedAt: EPOCH_MS,
    version: { type: "integer", description: "Grows with every change." },
  },
} as const;

/** Attributes an administrator may set; shared by create and patch. */
const EDITABLE = {
  userName: { ...TEXT, description: "Unique, compared case-insensitively (NFKC, lower case)." },
  externalId: NULLABLE_TEXT,
  displayName: NULLABLE_TEXT,
  givenName: NULLABLE_TEXT,
  familyName: NULLABLE_TEXT,
  active: { type: "boolean" },
  emails: { type: "array", maxItems: 20, items: EMAIL },
} as const;

interface EmailInput {
  value: string;
  type?: string | null;
  primary?: boolean;
}

interface EditableInput {
  userName?: string;
  externalId?: string | null;
  displayName?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  active?: boolean;
  emails?: EmailInput[];
}

type CreateBody = EditableInput & { userName: string; password?: string };

interface ListQuery extends PageQuery {
  userName?: string;
  userNameStartsWith?: string;
}

const toEmails = (emails: EmailInput[]): UserEmail[] =>
  emails.map((e) => ({ value: e.value, type: e.type ?? null, primary: e.primary === true }));

/** The user's editable attributes as they are, for a read-modify-write. */
function attributesOf(user: User): UserAttributes {
  return {
    userName: user.userName,
    externalId: user.externalId,
    displayName: user.displayName,
    givenName: user.givenName,
    familyName: user.familyName,
    active: user.active,
    emails: user.emails,
  };
}

function userNameFilter(query: ListQuery): FilterNode | undefined {
  const compare = (op: "eq" | "sw", value: string): FilterNode => ({
    type: "compare",
    path: { schema: null, attribute: "userName", subAttribute: null },
    op,
    value,
  });
  const parts = [
    ...(query.userName === undefined ? [] : [compare("eq", query.userName)]),
    ...(query.userNameStartsWith === undefined ? [] : [compare("sw", query.userNameStartsWith)]),
  ];
  return parts.reduce<FilterNode | undefined>(
    (left, right) => (left ? { type: "and", left, right } : right),
    undefined,
  );
}

export function adminUserRoutes(ctx: Pick<HttpServices, "accounts">) {
  const { users } = ctx.accounts;

  return async (app: FastifyInstance) => {
    app.get<{ Querystring: ListQuery }>(
      "/admin/users",
      {
        schema: {
          tags: TAGS,
          summary: "List users",
          description: "Users in creation order, a page at a time; optionally filtered by userName.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              ...PAGING_PROPERTIES,
              userName: {
                ...SEARCH_TEXT,
                description: "Only the user with this userName (case-insensitive).",
              },
              userNameStartsWith: {
                ...SEARCH_TEXT,
                description: "Only users whose userName starts with this (case-insensitive).",
              },
            },
          },
          response: adminResponses({
            200: {
              type: "object",
              required: ["total", "startIndex", "nextStartIndex", "users"],
              properties: { ...PAGE_PROPERTIES, users: { type: "array", items: USER } },
            },
          }),
        },
      },
      async (request) => {
        const { startIndex, count } = request.query;
        const filter = userNameFilter(request.query);
        const { total, users: page } = await users.list({
          startIndex,
          count,
          ...(filter ? { where: userFilterPredicate(filter) } : {}),
        });
        return {
          total,
          startIndex,
          nextStartIndex: nextStartIndex(request.query, page.length, total),
          users: page,
        };
      },
    );

    app.post<{ Body: CreateBody }>(
      "/admin/users",
      {
        schema: {
          tags: TAGS,
          summary: "Create a user",
          description:
            "Creates a user, with a password if one is given (checked against the password policy). " +
            "Without a password the user cannot sign in until one is set.",
          body: {
            type: "object",
            required: ["userName"],
            additionalProperties: false,
            properties: {
              ...EDITABLE,
              password: { type: "string", description: "Write-only; checked against the password policy." },
            },
          },
          response: adminResponses({ 201: { ...USER, description: "The new user." } }, [409]),
        },
      },
      async (request, reply) => {
        const { emails, ...rest } = request.body;
        const user = await users.create(
          { ...rest, ...(emails ? { emails: toEmails(emails) } : {}) },
          adminActor(request),
        );
        return reply
          .code(201)
          .header("location", `/admin/users/${encodeURIComponent(user.id)}`)
          .send(user);
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/users/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Read a user",
          params: ID_PARAMS,
          response: adminResponses({ 200: USER }, [404]),
        },
      },
      async (request) => {
        const user = await users.get(request.params.id);
        if (!user) throw userNotFound();
        return user;
      },
    );

    app.patch<{ Params: { id: string }; Body: EditableInput }>(
      "/admin/users/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Change a user",
          description:
            "Changes the fields sent and keeps the others. `emails` replaces the whole list. " +
            "`active: false` disables the user: sign-in is refused, their sessions end at once, the refresh " +
            "tokens of those sessions are revoked, back-channel logout is sent, and Tessera refuses their " +
            "tokens from then on (refresh, introspection, userinfo).",
          params: ID_PARAMS,
          body: { type: "object", additionalProperties: false, minProperties: 1, properties: EDITABLE },
          response: adminResponses({ 200: USER }, [404, 409, 412]),
        },
      },
      async (request) => {
        const existing = await users.get(request.params.id);
        if (!existing) throw userNotFound();
        const { emails, ...rest } = request.body;
        const user = await users.replace(
          existing.id,
          { ...attributesOf(existing), ...rest, ...(emails ? { emails: toEmails(emails) } : {}) },
          // Conditional on the version read: a change in between fails (412) instead of being overwritten.
          { ...adminActor(request), expectedVersion: existing.version },
        );
        return user;
      },
    );

    app.put<{ Params: { id: string }; Body: { password: string } }>(
      "/admin/users/:id/password",
      {
        schema: {
          tags: TAGS,
          summary: "Set a user's password",
          description:
            "Sets a new password after the password-policy check (no current password needed). The user's " +
            "sessions stay; end them with `DELETE /admin/users/{id}/sessions` if the old password may be known.",
          params: ID_PARAMS,
          body: {
            type: "object",
            required: ["password"],
            additionalProperties: false,
            properties: { password: { type: "string", description: "Write-only." } },
          },
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        await users.setPassword(request.params.id, request.body.password, adminActor(request));
        return reply.code(204).send();
      },
    );

    const ADMIN_RIGHT = {
      tags: TAGS,
      params: ID_PARAMS,
      response: adminResponses({ 204: NO_CONTENT }, [404, 409]),
    };
    app.put<{ Params: { id: string } }>(
      "/admin/users/:id/admin",
      {
        schema: {
          ...ADMIN_RIGHT,
          summary: "Grant the administrator right",
          description:
            "Gives the user Tessera's administrator right (audited as `admin.granted`): their sessions may use " +
            "the admin API's scopes on personal tokens. No group confers it. 409 when the user already holds it.",
        },
      },
      async (request, reply) => {
        await ctx.accounts.administrators.grant(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );
    app.delete<{ Params: { id: string } }>(
      "/admin/users/:id/admin",
      {
        schema: {
          ...ADMIN_RIGHT,
          summary: "Remove the administrator right",
          description:
            "Takes the right away (audited as `admin.revoked`); the user's personal tokens lose Tessera's " +
            "scopes at their next use. 409 when the user does not hold it.",
        },
      },
      async (request, reply) => {
        await ctx.accounts.administrators.revoke(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/users/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Delete a user",
          description:
            "Deletes the user, their e-mail addresses, group memberships and sessions; what their sessions " +
            "granted is revoked and back-channel logout is sent.",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        await users.delete(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );
  };
}
