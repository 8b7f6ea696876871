/**
 * SCIM representations of users and groups (RFC 7643 §4), both ways.
 *
 * - Output: `schemas`, `id`, `meta` (resourceType, created, lastModified, location, version as a weak ETag);
 *   `password` is never returned.
 * - Input: `schemas` must name the core schema; `userName` / `displayName` are required strings; booleans may
 *   also arrive as the strings "true"/"false" (some provisioning clients send them so); read-only attributes
 *   (`id`, `meta`, `groups`) are ignored, as RFC 7644 §3.3 allows; a wrong type is `invalidValue`.
 */
import type { Group, GroupAttributes, User, UserAttributes, UserEmail } from "../accounts/index.js";
import { ScimError } from "./errors.js";
import { SCHEMA } from "./schemas.js";

const iso = (ms: number) => new Date(ms).toISOString();

export function userToScim(user: User, baseUrl: string) {
  const formatted = [user.givenName, user.familyName].filter(Boolean).join(" ");
  return {
    schemas: [SCHEMA.user],
    id: user.id,
    ...(user.externalId === null ? {} : { externalId: user.externalId }),
    userName: user.userName,
    ...(user.givenName || user.familyName
      ? {
          name: {
            ...(user.givenName ? { givenName: user.givenName } : {}),
            ...(user.familyName ? { familyName: user.familyName } : {}),
            formatted,
          },
        }
      : {}),
    ...(user.displayName === null ? {} : { displayName: user.displayName }),
    active: user.active,
    ...(user.emails.length === 0
      ? {}
      : {
          emails: user.emails.map((e) => ({
            value: e.value,
            ...(e.type === null ? {} : { type: e.type }),
            primary: e.primary,
          })),
        }),
    ...(user.groups.length === 0
      ? {}
      : {
          groups: user.groups.map((g) => ({
            value: g.id,
            $ref: `${baseUrl}/Groups/${g.id}`,
            display: g.displayName,
          })),
        }),
    meta: {
      resourceType: "User",
      created: iso(user.createdAt),
      lastModified: iso(user.updatedAt),
      location: `${baseUrl}/Users/${user.id}`,
      version: `W/"${user.version}"`,
    },
  };
}

export function groupToScim(group: Group, baseUrl: string) {
  return {
    schemas: [SCHEMA.group],
    id: group.id,
    ...(group.externalId === null ? {} : { externalId: group.externalId }),
    displayName: group.displayName,
    members: group.members.map((m) => ({
      value: m.id,
      $ref: `${baseUrl}/Users/${m.id}`,
      display: m.userName,
      type: "User",
    })),
    meta: {
      resourceType: "Group",
      created: iso(group.createdAt),
      lastModified: iso(group.updatedAt),
      location: `${baseUrl}/Groups/${group.id}`,
      version: `W/"${group.version}"`,
    },
  };
}

function invalid(detail: string): ScimError {
  return new ScimError({ status: 400, scimType: "invalidValue", message: detail });
}

export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalid(`${what} must be an object.`);
  return value as Record<string, unknown>;
}

/** Attribute names are case-insensitive (RFC 7643 §2.1): read an own property ignoring case. */
export function getAttr(object: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) if (key.toLowerCase() === lower) return object[key];
  return undefined;
}

export function optionalString(value: unknown, name: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string") throw invalid(`${name} must be a string.`);
  return value;
}

export function requiredString(value: unknown, name: string): string {
  if (typeof value !== "string" || value.trim() === "")
    throw invalid(`${name} is required and must be a string.`);
  return value;
}

export function toBoolean(value: unknown, name: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value)) return value.toLowerCase() === "true";
  throw invalid(`${name} must be a boolean.`);
}

export function parseEmails(value: unknown): UserEmail[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    const email = asObject(item, "Each of emails");
    const type = optionalString(getAttr(email, "type"), "emails.type");
    const primary = getAttr(email, "primary");
    return {
      value: requiredString(getAttr(email, "value"), "emails.value"),
      type: type ?? null,
      primary: primary === undefined ? false : toBoolean(primary, "emails.primary"),
    };
  });
}

export function checkSchemas(body: Record<string, unknown>, expected: string): void {
  const list = getAttr(body, "schemas");
  if (
    !Array.isArray(list) ||
    !list.some((s) => typeof s === "string" && s.toLowerCase() === expected.toLowerCase())
  ) {
    throw new ScimError({
      status: 400,
      scimType: "invalidSyntax",
      message: `schemas must include ${expected}.`,
    });
  }
}

/**
 * A full User from a POST or PUT body. Attributes not given are cleared (RFC 7644 §3.5.1), except `active`,
 * which is left out of the result when not given: the domain reads that as true on create and as "keep the
 * current state" on replace.
 */
export function scimToUserAttributes(body: unknown): UserAttributes {
  const object = asObject(body, "The body");
  checkSchemas(object, SCHEMA.user);
  const name = getAttr(object, "name");
  const nameObject = name === undefined || name === null ? {} : asObject(name, "name");
  const active = getAttr(object, "active");
  const password = optionalString(getAttr(object, "password"), "password");
  return {
    userName: requiredString(getAttr(object, "userName"), "userName"),
    externalId: optionalString(getAttr(object, "externalId"), "externalId") ?? null,
    displayName: optionalString(getAttr(object, "displayName"), "displayName") ?? null,
    givenName: optionalString(getAttr(nameObject, "givenName"), "name.givenName") ?? null,
    familyName: optionalString(getAttr(nameObject, "familyName"), "name.familyName") ?? null,
    // Omitted (or null, the same state by RFC 7643 §2.5): true on create, unchanged on replace. A PUT that
    // does not mention `active` must never re-enable a disabled user, nor disable an enabled one.
    ...(active === undefined || active === null ? {} : { active: toBoolean(active, "active") }),
    emails: parseEmails(getAttr(object, "emails")),
    ...(password === undefined || password === null ? {} : { password }),
  };
}

export function parseMembers(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) =>
    requiredString(getAttr(asObject(item, "Each of members"), "value"), "members.value"),
  );
}

/** A full Group from a POST or PUT body. */
export function scimToGroupAttributes(body: unknown): GroupAttributes {
  const object = asObject(body, "The body");
  checkSchemas(object, SCHEMA.group);
  return {
    displayName: requiredString(getAttr(object, "displayName"), "displayName"),
    externalId: optionalString(getAttr(object, "externalId"), "externalId") ?? null,
    members: parseMembers(getAttr(object, "members")),
  };
}

/** The editable view of a user that PATCH operations work on. */
export function userAttributesOf(user: User): UserAttributes {
  return {
    userName: user.userName,
    externalId: user.externalId,
    displayName: user.displayName,
    givenName: user.givenName,
    familyName: user.familyName,
    active: user.active,
    emails: user.emails.map((e) => ({ ...e })),
  };
}

export function groupAttributesOf(group: Group): GroupAttributes {
  return {
    displayName: group.displayName,
    externalId: group.externalId,
    members: group.members.map((m) => m.id),
  };
}
