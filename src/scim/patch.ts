/**
 * SCIM PATCH (RFC 7644 §3.5.2) for users and groups, applied in memory to the resource's editable attributes;
 * the result is stored through the accounts domain like a PUT (one validation path, one audit path).
 *
 * - Body: `schemas` names the PatchOp message; `Operations` is a non-empty list (at most 100) of
 *   `{ op: add | replace | remove, path?, value? }`; `op` is case-insensitive (some clients send "Replace").
 * - Without `path`, `value` is an object of attributes (keys may themselves be paths such as `name.givenName`).
 * - With `path`: simple attributes, `name.*`, multi-valued `emails` / `members` with value filters
 *   (`emails[type eq "work"].value`, `members[value eq "…"]`). A filter that matches nothing is `noTarget`
 *   for replace, a no-op for remove (idempotent). Read-only attributes are `mutability`; unknown ones
 *   `invalidPath`.
 * - `remove` needs a path; removing a required attribute (`userName`, `displayName`) is refused
 *   (`invalidValue`). `remove` of `members`/`emails` with a `value` list removes just those values.
 * - Users: `password` can be replaced (write-only). `remove` of `active` (or `replace` with null) sets it to
 *   false — the fail-closed reading of "not set", and what GET then shows; only an explicit true enables.
 */
import type { Group, GroupAttributes, User, UserAttributes, UserEmail } from "../accounts/index.js";
import { ScimError } from "./errors.js";
import type { FilterNode, FilterValue } from "./filter.js";
import { parsePatchPath } from "./path.js";
import {
  asObject,
  getAttr,
  groupAttributesOf,
  optionalString,
  parseEmails,
  parseMembers,
  requiredString,
  toBoolean,
  userAttributesOf,
} from "./resources.js";
import { SCHEMA } from "./schemas.js";

export type PatchOperation = { op: "add" | "replace" | "remove"; path: string | null; value: unknown };

const MAX_OPERATIONS = 100;

function bad(
  scimType: "invalidSyntax" | "invalidValue" | "invalidPath" | "noTarget" | "mutability",
  message: string,
) {
  return new ScimError({ status: 400, scimType, message });
}

export function parsePatchRequest(body: unknown): PatchOperation[] {
  const object = asObject(body, "The body");
  const list = getAttr(object, "schemas");
  if (!Array.isArray(list) || !list.includes(SCHEMA.patchOp)) {
    throw bad("invalidSyntax", `schemas must include ${SCHEMA.patchOp}.`);
  }
  const operations = getAttr(object, "Operations");
  if (!Array.isArray(operations) || operations.length === 0)
    throw bad("invalidSyntax", "Operations must be a non-empty array.");
  if (operations.length > MAX_OPERATIONS) throw bad("invalidSyntax", `At most ${MAX_OPERATIONS} operations.`);
  return operations.map((raw) => {
    const operation = asObject(raw, "Each operation");
    const op = getAttr(operation, "op");
    if (typeof op !== "string" || !/^(add|replace|remove)$/i.test(op)) {
      throw bad("invalidSyntax", 'op must be "add", "replace" or "remove".');
    }
    const path = getAttr(operation, "path");
    if (path !== undefined && typeof path !== "string") throw bad("invalidPath", "path must be a string.");
    const value = getAttr(operation, "value");
    const kind = op.toLowerCase() as PatchOperation["op"];
    if (kind !== "remove" && value === undefined) throw bad("invalidSyntax", `${kind} needs a value.`);
    if (kind === "remove" && (path === undefined || path === ""))
      throw bad("noTarget", "remove needs a path.");
    return { op: kind, path: path === undefined || path === "" ? null : path, value };
  });
}

/** Evaluates a value filter against one element of a multi-valued attribute (sub-attribute names). */
export function matchesElement(filter: FilterNode, element: Record<string, unknown>): boolean {
  switch (filter.type) {
    case "and":
      return matchesElement(filter.left, element) && matchesElement(filter.right, element);
    case "or":
      return matchesElement(filter.left, element) || matchesElement(filter.right, element);
    case "not":
      return !matchesElement(filter.filter, element);
    case "valuePath":
      throw bad("invalidPath", "Nested value filters are not supported.");
    case "present": {
      const v = getAttr(element, filter.path.subAttribute ?? filter.path.attribute);
      return v !== undefined && v !== null && v !== "";
    }
    case "compare": {
      const actual = getAttr(element, filter.path.subAttribute ?? filter.path.attribute);
      return compare(actual, filter.op, filter.value);
    }
  }
}

function compare(actual: unknown, op: string, expected: FilterValue): boolean {
  if (typeof actual === "string" && typeof expected === "string") {
    const a = actual.toLowerCase();
    const e = expected.toLowerCase();
    switch (op) {
      case "eq":
        return a === e;
      case "ne":
        return a !== e;
      case "co":
        return a.includes(e);
      case "sw":
        return a.startsWith(e);
      case "ew":
        return a.endsWith(e);
      case "gt":
        return a > e;
      case "ge":
        return a >= e;
      case "lt":
        return a < e;
      case "le":
        return a <= e;
    }
  }
  if (op === "eq") return (actual ?? null) === expected;
  if (op === "ne") return (actual ?? null) !== expected;
  return false;
}

type Editable = {
  simple: Record<string, { get: () => unknown; set: (value: unknown) => void; required?: boolean }>;
  multi: {
    name: string;
    get: () => Record<string, unknown>[];
    set: (list: Record<string, unknown>[]) => void;
    parse: (value: unknown) => Record<string, unknown>[];
    key: (element: Record<string, unknown>) => string;
  };
  readOnly: string[];
};

function applyOperations(editable: Editable, operations: PatchOperation[]): void {
  for (const operation of operations) {
    if (operation.path === null) {
      const value = asObject(operation.value, "value");
      for (const [key, item] of Object.entries(value)) {
        if (key.toLowerCase() === "schemas") continue;
        applyAt(editable, operation.op, key, item);
      }
    } else {
      applyAt(editable, operation.op, operation.path, operation.value);
    }
  }
}

function applyAt(editable: Editable, op: PatchOperation["op"], pathText: string, value: unknown): void {
  const path = parsePatchPath(pathText);
  const attribute = path.attribute.toLowerCase();
  const full = path.subAttribute ? `${attribute}.${path.subAttribute.toLowerCase()}` : attribute;
  if (editable.readOnly.includes(attribute)) throw bad("mutability", `${path.attribute} is read-only.`);

  if (attribute === editable.multi.name) {
    const multi = editable.multi;
    const current = multi.get();
    if (path.filter === null) {
      if (path.subAttribute !== null)
        throw bad("invalidPath", `Use ${multi.name}[filter].${path.subAttribute}.`);
      if (op === "remove") {
        // Without a filter RFC 7644 removes every value; clients such as Microsoft Entra ID instead send the
        // values to remove (`value: [{ value: id }]`), which is honoured: only those go.
        if (value === undefined || value === null) {
          multi.set([]);
          return;
        }
        const gone = new Set(multi.parse(value).map(multi.key));
        multi.set(current.filter((e) => !gone.has(multi.key(e))));
        return;
      }
      const incoming = multi.parse(value);
      if (op === "replace") {
        multi.set(incoming);
        return;
      }
      const keys = new Set(current.map(multi.key));
      multi.set([...current, ...incoming.filter((e) => !keys.has(multi.key(e)))]);
      return;
    }
    const filter = path.filter;
    const matched = current.filter((e) => matchesElement(filter, e));
    if (op === "remove") {
      if (path.subAttribute === null) {
        multi.set(current.filter((e) => !matched.includes(e)));
        return;
      }
      for (const e of matched) delete e[path.subAttribute];
      multi.set(current);
      return;
    }
    if (matched.length === 0) {
      if (op === "replace") throw bad("noTarget", `No ${multi.name} value matches the filter.`);
      throw bad("noTarget", `No ${multi.name} value matches the filter; add needs a target here.`);
    }
    if (path.subAttribute !== null) {
      for (const e of matched) e[path.subAttribute] = value;
      multi.set(multi.parse(current));
      return;
    }
    const replacement = asObject(value, "value");
    multi.set(multi.parse(current.map((e) => (matched.includes(e) ? { ...e, ...replacement } : e))));
    return;
  }

  if (path.filter !== null) throw bad("invalidPath", `${path.attribute} is not multi-valued.`);
  if (attribute === "name" && path.subAttribute === null) {
    if (op === "remove") {
      editable.simple["name.givenname"]!.set(null);
      editable.simple["name.familyname"]!.set(null);
      return;
    }
    const object = asObject(value, "name");
    for (const [key, item] of Object.entries(object)) {
      const target = editable.simple[`name.${key.toLowerCase()}`];
      if (!target) throw bad("invalidPath", `name.${key} is not supported.`);
      target.set(item);
    }
    return;
  }
  const target = editable.simple[full];
  if (!target) throw bad("invalidPath", `${pathText.slice(0, 64)} is not a supported attribute.`);
  if (op === "remove") {
    if (target.required) throw bad("invalidValue", `${path.attribute} is required and cannot be removed.`);
    target.set(null);
    return;
  }
  target.set(value);
}

export function applyUserPatch(user: User, operations: PatchOperation[]): UserAttributes {
  const attributes = userAttributesOf(user);
  const editable: Editable = {
    simple: {
      username: {
        get: () => attributes.userName,
        set: (v) => (attributes.userName = requiredString(v, "userName")),
        required: true,
      },
      displayname: {
        get: () => attributes.displayName,
        set: (v) => (attributes.displayName = optionalString(v, "displayName") ?? null),
      },
      externalid: {
        get: () => attributes.externalId,
        set: (v) => (attributes.externalId = optionalString(v, "externalId") ?? null),
      },
      active: {
        get: () => attributes.active,
        set: (v) => (attributes.active = v === null ? false : toBoolean(v, "active")),
      },
      password: {
        get: () => undefined,
        set: (v) => {
          attributes.password = requiredString(v, "password");
        },
      },
      "name.givenname": {
        get: () => attributes.givenName,
        set: (v) => (attributes.givenName = optionalString(v, "name.givenName") ?? null),
      },
      "name.familyname": {
        get: () => attributes.familyName,
        set: (v) => (attributes.familyName = optionalString(v, "name.familyName") ?? null),
      },
      "name.formatted": {
        get: () => undefined,
        set: () => {
          throw bad("mutability", "name.formatted is read-only.");
        },
      },
    },
    multi: {
      name: "emails",
      get: () => (attributes.emails ?? []).map((e) => ({ ...e }) as Record<string, unknown>),
      set: (list) => {
        attributes.emails = parseEmails(list) as UserEmail[];
      },
      parse: (value) => parseEmails(value) as unknown as Record<string, unknown>[],
      key: (e) => String(e.value).toLowerCase(),
    },
    readOnly: ["id", "meta", "groups"],
  };
  applyOperations(editable, operations);
  return attributes;
}

export function applyGroupPatch(group: Group, operations: PatchOperation[]): GroupAttributes {
  const attributes = groupAttributesOf(group);
  const display = new Map(group.members.map((m) => [m.id, m.userName]));
  const editable: Editable = {
    simple: {
      displayname: {
        get: () => attributes.displayName,
        set: (v) => (attributes.displayName = requiredString(v, "displayName")),
        required: true,
      },
      externalid: {
        get: () => attributes.externalId,
        set: (v) => (attributes.externalId = optionalString(v, "externalId") ?? null),
      },
    },
    multi: {
      name: "members",
      get: () =>
        (attributes.members ?? []).map((id) => ({ value: id, display: display.get(id), type: "User" })),
      set: (list) => {
        attributes.members = list.map((e) => String(e.value));
      },
      parse: (value) => parseMembers(value).map((id) => ({ value: id, type: "User" })),
      key: (e) => String(e.value),
    },
    readOnly: ["id", "meta"],
  };
  applyOperations(editable, operations);
  return attributes;
}
