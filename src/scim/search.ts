/**
 * What a SCIM listing asks for, read from either form (RFC 7644 §3.4.2 query string on `GET /Users`,
 * §3.4.3 SearchRequest body on `POST /.search`, `/Users/.search`, `/Groups/.search`), and the
 * `attributes` / `excludedAttributes` projection both forms (and `GET /Users/{id}`) share.
 *
 * - `filter` is parsed here (syntax errors are `400 invalidFilter`); each resource type compiles the AST itself.
 * - `startIndex` is 1-based (below 1 reads as 1); `count` defaults to 100 and is clamped to 0…MAX_RESULTS.
 *   Query-string values must be integers; SearchRequest values must be JSON integers (integer strings are
 *   accepted too, as some clients send them). Anything else is `400 invalidValue`.
 * - `attributes` / `excludedAttributes` apply to top-level attributes (a sub-attribute or URN-prefixed name
 *   selects its top-level attribute); `schemas`, `id` and `meta` are always returned. The query string gives
 *   them comma-separated; a SearchRequest as an array of strings (a comma-separated string is accepted too).
 * - `sortBy` / `sortOrder` are ignored in both forms: sorting is not supported (ServiceProviderConfig says so).
 */
import { ScimError } from "./errors.js";
import { type FilterNode, parseFilter } from "./filter.js";
import { asObject, checkSchemas, getAttr } from "./resources.js";
import { MAX_RESULTS, SCHEMA } from "./schemas.js";

export interface ListParams {
  filter: FilterNode | undefined;
  startIndex: number;
  count: number;
  attributes: string[] | undefined;
  excludedAttributes: string[] | undefined;
}

export type Projection = Pick<ListParams, "attributes" | "excludedAttributes">;

const DEFAULT_COUNT = 100;
const MAX_PAGING_DIGITS = 9;

function invalidValue(message: string): ScimError {
  return new ScimError({ status: 400, scimType: "invalidValue", message });
}

function integer(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === null || value === "") return fallback;
  if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) < 10 ** MAX_PAGING_DIGITS)
    return value;
  if (typeof value === "string" && new RegExp(`^-?\\d{1,${MAX_PAGING_DIGITS}}$`).test(value))
    return Number(value);
  throw invalidValue(`${name} must be an integer.`);
}

function paging(startIndex: unknown, count: unknown): Pick<ListParams, "startIndex" | "count"> {
  return {
    startIndex: Math.max(1, integer(startIndex, "startIndex", 1)),
    count: Math.min(MAX_RESULTS, Math.max(0, integer(count, "count", DEFAULT_COUNT))),
  };
}

/** Lower-cased top-level attribute names: `urn:…:User:name.givenName` → `name`. */
function attributeNames(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list =
    typeof value === "string"
      ? value.split(",")
      : Array.isArray(value) && value.every((v) => typeof v === "string")
        ? (value as string[])
        : undefined;
  if (list === undefined) throw invalidValue(`${name} must be a list of attribute names.`);
  const names = list
    .map((a) => (a.trim().split(":").pop() ?? "").split(".")[0]!.toLowerCase())
    .filter((a) => a !== "");
  return names.length === 0 ? undefined : names;
}

/** `?filter=…&startIndex=…&count=…&attributes=…&excludedAttributes=…` (only single string values count). */
export function listParamsFromQuery(query: Record<string, unknown>): ListParams {
  return {
    filter: typeof query.filter === "string" ? parseFilter(query.filter) : undefined,
    ...paging(query.startIndex, query.count),
    ...projectionFromQuery(query),
  };
}

/** `attributes` / `excludedAttributes` of a query string. */
export function projectionFromQuery(query: Record<string, unknown>): Projection {
  const one = (value: unknown) => (typeof value === "string" ? value : undefined);
  return {
    attributes: attributeNames(one(query.attributes), "attributes"),
    excludedAttributes: attributeNames(one(query.excludedAttributes), "excludedAttributes"),
  };
}

/** A SearchRequest body (RFC 7644 §3.4.3); attribute names are case-insensitive, unknown ones ignored. */
export function listParamsFromSearchRequest(body: unknown): ListParams {
  const object = asObject(body, "The body");
  checkSchemas(object, SCHEMA.searchRequest);
  const filter = getAttr(object, "filter");
  if (filter !== undefined && filter !== null && typeof filter !== "string") {
    throw new ScimError({ status: 400, scimType: "invalidFilter", message: "filter must be a string." });
  }
  return {
    filter: typeof filter === "string" ? parseFilter(filter) : undefined,
    ...paging(getAttr(object, "startIndex"), getAttr(object, "count")),
    attributes: attributeNames(getAttr(object, "attributes"), "attributes"),
    excludedAttributes: attributeNames(getAttr(object, "excludedAttributes"), "excludedAttributes"),
  };
}

/** Applies `attributes` (wins when both are given) or `excludedAttributes` to one resource. */
export function project(resource: Record<string, unknown>, projection: Projection): Record<string, unknown> {
  const { attributes: include, excludedAttributes: exclude } = projection;
  if (include === undefined && exclude === undefined) return resource;
  const always = new Set(["schemas", "id", "meta"]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    const k = key.toLowerCase();
    if (always.has(k) || (include ? include.includes(k) : !exclude?.includes(k))) out[key] = value;
  }
  return out;
}
