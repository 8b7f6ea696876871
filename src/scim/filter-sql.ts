/**
 * Compiles a SCIM filter AST (filter.ts) into a predicate over `users` or `groups` (storage/predicates.ts), and
 * that into one SQL expression for Kysely's `where`.
 *
 * - This module decides what a filter means; the storage layer decides how each dialect says it. Only
 *   parameters carry client text: every value is bound; identifiers and operators come from the fixed
 *   attribute tables below. The expression references `users.…` / `groups.…`, so the query must select from
 *   the unaliased table.
 * - Attributes are matched case-insensitively, with the core schema URN as optional prefix; anything else is
 *   `invalidFilter` (400), as are operators that do not fit the type (booleans: eq/ne/pr; dateTimes: no
 *   co/sw/ew; complex attributes: pr only) and values of the wrong JSON type.
 * - Every sub-expression is two-valued (NULL columns are guarded), so `not (…)` is the exact complement.
 * - Same results on SQLite and PostgreSQL: case-insensitive attributes compare either a key column the
 *   application lower-cased (userName: NFKC + lower case; emails.value, group displayName) against the value
 *   normalised the same way, or the column ASCII-lower-cased (`fold`) against the value ASCII-lower-cased.
 *   Everything else compares by code point, ordering (gt/ge/lt/le) included, and co/sw/ew are case-exact
 *   (storage/predicates.ts says how on each dialect).
 * - Semantics: `pr` is present and non-empty; `x eq null` is `not (x pr)` and `x ne null` is `x pr`;
 *   `ne v` is the complement of `eq v` (an absent value is "not equal"). A comparison on a multi-valued
 *   attribute (emails, groups, members; bare name = its `value`) matches if any value matches (EXISTS); a
 *   value path `emails[…]` requires one e-mail row to satisfy the whole bracket.
 * - dateTime values must be RFC 3339 with a time zone and compare as instants; digits beyond milliseconds
 *   are honoured exactly against the stored epoch milliseconds.
 * - String values containing U+0000 or unpaired surrogates, or longer than 4096 characters once normalised,
 *   are refused (neither database could store such a value).
 */
import {
  type ColumnRef,
  compilePredicate,
  type DialectName,
  type Predicate,
  type SqlPredicate,
  type TableName,
} from "../storage/index.js";
import { ScimError } from "./errors.js";
import {
  type AttributePath,
  type CompareOperator,
  type FilterNode,
  type FilterValue,
  formatAttributePath,
  MAX_FILTER_LENGTH,
} from "./filter.js";

export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";

/** How a string column compares: as is, through ASCII `lower()`, or as a key column normalised in JS. */
type TextMode = { kind: "exact" } | { kind: "fold" } | { kind: "key"; normalize: (value: string) => string };

interface Scalar {
  kind: "scalar";
  /** Qualified column, e.g. `users.display_name`. */
  column: ColumnRef;
  type: "string" | "boolean" | "dateTime";
  nullable: boolean;
  text: TextMode;
}

interface Complex {
  kind: "complex";
  subs: Readonly<Record<string, Scalar>>;
}

interface MultiValued {
  kind: "multi";
  table: Extract<TableName, "user_emails" | "group_members">;
  /** Column of `table` that points at the resource. */
  link: ColumnRef;
  /** The resource's id column. */
  parent: ColumnRef;
  subs: Readonly<Record<string, Scalar>>;
}

type Attribute = Scalar | Complex | MultiValued;

interface Resource {
  schema: string;
  /** Keys are lower case. */
  attributes: Readonly<Record<string, Attribute>>;
}

const EXACT: TextMode = { kind: "exact" };
const FOLD: TextMode = { kind: "fold" };
/** As `userNameKey` in accounts/users.ts and groups' `display_name_key` (stored names are NFKC already). */
const NFKC_LOWER: TextMode = { kind: "key", normalize: (v) => v.normalize("NFKC").toLowerCase() };
/** As `value_key` in accounts/users.ts. */
const LOWER: TextMode = { kind: "key", normalize: (v) => v.toLowerCase() };

function text(column: ColumnRef, mode: TextMode, nullable: boolean): Scalar {
  return { kind: "scalar", column, type: "string", nullable, text: mode };
}

function boolean(column: ColumnRef): Scalar {
  return { kind: "scalar", column, type: "boolean", nullable: false, text: EXACT };
}

function dateTime(column: ColumnRef): Scalar {
  return { kind: "scalar", column, type: "dateTime", nullable: false, text: EXACT };
}

const USER: Resource = {
  schema: USER_SCHEMA,
  attributes: {
    id: text("users.id", EXACT, false),
    externalid: text("users.external_id", EXACT, true),
    username: text("users.user_name_key", NFKC_LOWER, false),
    displayname: text("users.display_name", FOLD, true),
    name: {
      kind: "complex",
      subs: {
        givenname: text("users.given_name", FOLD, true),
        familyname: text("users.family_name", FOLD, true),
      },
    },
    active: boolean("users.active"),
    emails: {
      kind: "multi",
      table: "user_emails",
      link: "user_emails.user_id",
      parent: "users.id",
      subs: {
        value: text("user_emails.value_key", LOWER, false),
        type: text("user_emails.type", FOLD, true),
        primary: boolean("user_emails.primary"),
      },
    },
    groups: {
      kind: "multi",
      table: "group_members",
      link: "group_members.user_id",
      parent: "users.id",
      subs: { value: text("group_members.group_id", EXACT, false) },
    },
    meta: {
      kind: "complex",
      subs: { created: dateTime("users.created_at"), lastmodified: dateTime("users.updated_at") },
    },
  },
};

const GROUP: Resource = {
  schema: GROUP_SCHEMA,
  attributes: {
    id: text("groups.id", EXACT, false),
    externalid: text("groups.external_id", EXACT, true),
    displayname: text("groups.display_name_key", NFKC_LOWER, false),
    members: {
      kind: "multi",
      table: "group_members",
      link: "group_members.group_id",
      parent: "groups.id",
      subs: { value: text("group_members.user_id", EXACT, false) },
    },
    meta: {
      kind: "complex",
      subs: { created: dateTime("groups.created_at"), lastmodified: dateTime("groups.updated_at") },
    },
  },
};

/** A filter on `users` as a storage predicate; refuses what is not a valid user filter (`invalidFilter`). */
export function userFilterPredicate(node: FilterNode): Predicate {
  return new Compiler(USER).compile(node);
}

/** A filter on `groups` as a storage predicate; refuses what is not a valid group filter (`invalidFilter`). */
export function groupFilterPredicate(node: FilterNode): Predicate {
  return new Compiler(GROUP).compile(node);
}

/** A filter on `users`: `db.selectFrom("users").where(compileUserFilter(ast, storage.dialect))`. */
export function compileUserFilter(node: FilterNode, dialect: DialectName): SqlPredicate {
  return compilePredicate(userFilterPredicate(node), dialect);
}

/** A filter on `groups`: `db.selectFrom("groups").where(compileGroupFilter(ast, storage.dialect))`. */
export function compileGroupFilter(node: FilterNode, dialect: DialectName): SqlPredicate {
  return compilePredicate(groupFilterPredicate(node), dialect);
}

const TRUE: Predicate = { kind: "true" };
const FALSE: Predicate = { kind: "false" };
const ORDER = { gt: ">", ge: ">=", lt: "<", le: "<=" } as const;
const MATCH = { co: "contains", sw: "startsWith", ew: "endsWith" } as const;

function invalid(message: string): never {
  throw new ScimError({ status: 400, scimType: "invalidFilter", message: `Invalid filter: ${message}` });
}

/** The attribute path for a message, shortened: the AST may carry names of any length. */
function label(path: AttributePath | string): string {
  const full = typeof path === "string" ? path : formatAttributePath(path);
  return JSON.stringify(full.length > 48 ? `${full.slice(0, 48)}…` : full);
}

function not(predicate: Predicate): Predicate {
  return { kind: "not", predicate };
}

function and(left: Predicate, right: Predicate): Predicate {
  return { kind: "and", left, right };
}

function or(left: Predicate, right: Predicate): Predicate {
  return { kind: "or", left, right };
}

function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

class Compiler {
  constructor(private readonly resource: Resource) {}

  compile(node: FilterNode): Predicate {
    switch (node.type) {
      case "and":
        return and(this.compile(node.left), this.compile(node.right));
      case "or":
        return or(this.compile(node.left), this.compile(node.right));
      case "not":
        return not(this.compile(node.filter));
      case "valuePath": {
        const attribute = this.resolve(node.path);
        if (attribute.kind !== "multi" || node.path.subAttribute !== null) {
          invalid(`${label(node.path)} is not a multi-valued attribute; [ ] cannot filter it.`);
        }
        return this.exists(attribute, this.compileElement(node.filter, attribute, node.path));
      }
      case "present":
      case "compare":
        return this.attributeExpression(node);
    }
  }

  private resolve(path: AttributePath): Attribute {
    if (path.schema !== null && path.schema.toLowerCase() !== this.resource.schema.toLowerCase()) {
      invalid(`unknown attribute ${label(path)}.`);
    }
    const attribute = this.resource.attributes[path.attribute.toLowerCase()];
    if (attribute === undefined) invalid(`unknown attribute ${label(path)}.`);
    return attribute;
  }

  private attributeExpression(node: Extract<FilterNode, { type: "present" | "compare" }>): Predicate {
    const { path } = node;
    if (node.type === "compare" && node.value === null) return this.compareNull(node.op, node.path);
    const attribute = this.resolve(path);
    if (attribute.kind === "scalar") {
      if (path.subAttribute !== null) invalid(`unknown attribute ${label(path)}.`);
      return this.predicate(attribute, node, path);
    }
    if (attribute.kind === "complex") {
      if (path.subAttribute === null) {
        if (node.type === "compare") invalid(`${label(path)} is complex; compare one of its sub-attributes.`);
        const parts = Object.values(attribute.subs).map((sub) => this.present(sub));
        return parts.reduce(or);
      }
      return this.predicate(this.sub(attribute, path), node, path);
    }
    return this.exists(attribute, this.predicate(this.sub(attribute, path), node, path));
  }

  /** `x eq null` is "x is absent"; `x ne null` is "x is present". Nothing else compares with null. */
  private compareNull(op: CompareOperator, path: AttributePath): Predicate {
    if (op !== "eq" && op !== "ne") invalid(`${label(path)} ${op} null: only eq and ne compare with null.`);
    const present = this.compile({ type: "present", path });
    return op === "eq" ? not(present) : present;
  }

  /** The sub-attribute named by `path` (a multi-valued attribute alone means its `value`). */
  private sub(attribute: Complex | MultiValued, path: AttributePath): Scalar {
    const name = path.subAttribute ?? "value";
    const sub = attribute.subs[name.toLowerCase()];
    if (sub === undefined) invalid(`unknown attribute ${label(path)}.`);
    return sub;
  }

  /** The bracket of `emails[…]`: its names are sub-attributes of one row of the multi-valued attribute. */
  private compileElement(node: FilterNode, attribute: MultiValued, outer: AttributePath): Predicate {
    switch (node.type) {
      case "and":
      case "or":
        return {
          kind: node.type,
          left: this.compileElement(node.left, attribute, outer),
          right: this.compileElement(node.right, attribute, outer),
        };
      case "not":
        return not(this.compileElement(node.filter, attribute, outer));
      case "valuePath":
        return invalid("value filters cannot be nested.");
      case "present":
      case "compare": {
        const { path } = node;
        const full = `${formatAttributePath(outer)}[${formatAttributePath(path)}]`;
        if (path.schema !== null || path.subAttribute !== null) invalid(`unknown attribute ${label(full)}.`);
        const sub = attribute.subs[path.attribute.toLowerCase()];
        if (sub === undefined) invalid(`unknown attribute ${label(full)}.`);
        if (node.type === "compare" && node.value === null) {
          if (node.op !== "eq" && node.op !== "ne")
            invalid(`${label(full)} ${node.op} null: only eq and ne.`);
          return node.op === "eq" ? not(this.present(sub)) : this.present(sub);
        }
        return this.predicate(sub, node, full);
      }
    }
  }

  private exists(attribute: MultiValued, condition: Predicate): Predicate {
    const { table, link, parent } = attribute;
    return { kind: "exists", table, link, parent, where: condition };
  }

  private predicate(
    column: Scalar,
    node: Extract<FilterNode, { type: "present" | "compare" }>,
    path: AttributePath | string,
  ): Predicate {
    if (node.type === "present") return this.present(column);
    const { op, value } = node;
    if (value === null) return invalid(`${label(path)}: null inside a comparison.`);
    switch (column.type) {
      case "boolean":
        return this.compareBoolean(column, op, value, path);
      case "dateTime":
        return this.compareDateTime(column, op, value, path);
      case "string":
        return this.compareString(column, op, value, path);
    }
  }

  /** Present and non-empty. */
  private present(column: Scalar): Predicate {
    if (column.type !== "string") return column.nullable ? { kind: "notNull", column: column.column } : TRUE;
    return this.guard(column, { kind: "compare", column: column.column, op: "<>", value: "" });
  }

  /** `predicate` made two-valued: false when the column is NULL. */
  private guard(column: Scalar, predicate: Predicate): Predicate {
    if (!column.nullable) return predicate;
    return and({ kind: "notNull", column: column.column }, predicate);
  }

  private compareBoolean(
    column: Scalar,
    op: CompareOperator,
    value: FilterValue,
    path: AttributePath | string,
  ) {
    if (op !== "eq" && op !== "ne") invalid(`${label(path)} is a boolean: only eq, ne and pr apply.`);
    if (typeof value !== "boolean") invalid(`${label(path)} is a boolean: compare it with true or false.`);
    const equal = this.guard(column, {
      kind: "compare",
      column: column.column,
      op: "=",
      value: value ? 1 : 0,
    });
    return op === "eq" ? equal : not(equal);
  }

  private compareDateTime(
    column: Scalar,
    op: CompareOperator,
    value: FilterValue,
    path: AttributePath | string,
  ) {
    if (op === "co" || op === "sw" || op === "ew")
      invalid(`${label(path)} is a dateTime: ${op} does not apply.`);
    const instant = typeof value === "string" ? parseInstant(value) : null;
    if (instant === null) {
      invalid(`${label(path)} is a dateTime: the value must be an RFC 3339 date-time with a time zone.`);
    }
    const { ms, exact } = instant;
    const at = (compare: "=" | "<" | "<=" | ">" | ">="): Predicate => ({
      kind: "compare",
      column: column.column,
      op: compare,
      value: ms,
    });
    // A stored instant t (whole milliseconds) against x = ms + fraction, 0 < fraction < 1 when inexact.
    let expression: Predicate;
    switch (op) {
      case "eq":
      case "ne":
        expression = exact ? at("=") : FALSE;
        return op === "eq" ? this.guard(column, expression) : not(this.guard(column, expression));
      case "gt":
        expression = at(">");
        break;
      case "ge":
        expression = exact ? at(">=") : at(">");
        break;
      case "lt":
        expression = exact ? at("<") : at("<=");
        break;
      case "le":
        expression = at("<=");
        break;
    }
    return this.guard(column, expression);
  }

  private compareString(
    column: Scalar,
    op: CompareOperator,
    value: FilterValue,
    path: AttributePath | string,
  ) {
    if (typeof value !== "string") invalid(`${label(path)} is a string: the value must be a JSON string.`);
    if (value.includes("\u0000")) invalid(`${label(path)}: a string value cannot contain U+0000.`);
    if (/[\uD800-\uDFFF]/u.test(value)) invalid(`${label(path)}: a string value has an unpaired surrogate.`);
    const mode = column.text;
    const operand =
      mode.kind === "key" ? mode.normalize(value) : mode.kind === "fold" ? asciiLower(value) : value;
    if (operand.length > MAX_FILTER_LENGTH) invalid(`${label(path)}: the value is too long.`);
    // Key columns hold the normalised form already; `fold` columns are ASCII-lower-cased by the database.
    const target = { column: column.column, fold: mode.kind === "fold" };
    let expression: Predicate;
    switch (op) {
      case "eq":
      case "ne": {
        const equal = this.guard(column, { kind: "compare", ...target, op: "=", value: operand });
        return op === "eq" ? equal : not(equal);
      }
      case "gt":
      case "ge":
      case "lt":
      case "le":
        expression = { kind: "compare", ...target, op: ORDER[op], value: operand };
        break;
      case "co":
      case "sw":
      case "ew":
        if (operand === "") return this.guard(column, TRUE);
        expression = { kind: "match", ...target, op: MATCH[op], value: operand };
        break;
    }
    return this.guard(column, expression);
  }
}

const DATE_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * An RFC 3339 date-time with a time zone, as whole epoch milliseconds `ms` (rounded down) and whether
 * digits beyond the milliseconds were all zero (`exact`). Null when the text is not one.
 */
export function parseInstant(value: string): { ms: number; exact: boolean } | null {
  const m = DATE_TIME.exec(value);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return null;
  const fraction = m[7] ?? "";
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.padEnd(3, "0").slice(0, 3)));
  const offset = (m[8] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return { ms: date.getTime() - offset, exact: !/[1-9]/.test(fraction.slice(3)) };
}
