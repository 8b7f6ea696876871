/**
 * RFC-derived checks of SCIM response shapes, written from RFC 7643 / RFC 7644 rather than from Tessera's own
 * `/Schemas` documents (which would make the check circular). `checkScimResponse` throws an Error naming the
 * first violation; test/http/scim-compliance.test.ts runs every response it gets through it.
 *
 * - Every answer with a body is `application/scim+json` (RFC 7644 §3.1, §8.1).
 * - Errors (§3.12): `schemas` is exactly the Error URN, `status` the HTTP status as a string, `detail` a string
 *   if present, `scimType` one of the §3.12 keywords and only on 400 (409 for `uniqueness`).
 * - ListResponse (§3.4.2): `totalResults`, `startIndex` ≥ 1, `itemsPerPage` = number of `Resources`, each
 *   resource checked by its `meta.resourceType`.
 * - User / Group (RFC 7643 §3, §4.1, §4.2): `schemas` names the core schema, `id` a non-empty string other than
 *   "bulkId", `meta` with resourceType, location (absolute, ending in `/<endpoint>/<id>`), created ≤
 *   lastModified (RFC 3339), version (an ETag); attribute types per §4.1 / §4.2; `password` never returned
 *   (§4.1.1 returned "never"); at most one `primary` e-mail (§2.4); only attributes the RFC defines.
 * - `ETag` header = `meta.version`, `Location` header = `meta.location` on 201 (§3.1, §3.14).
 * - Discovery (RFC 7643 §5–7): ServiceProviderConfig's required complex attributes, ResourceType, Schema
 *   attribute characteristics from the §7 vocabularies.
 */
import type { LightMyRequestResponse } from "fastify";

export const URN = {
  user: "urn:ietf:params:scim:schemas:core:2.0:User",
  group: "urn:ietf:params:scim:schemas:core:2.0:Group",
  list: "urn:ietf:params:scim:api:messages:2.0:ListResponse",
  error: "urn:ietf:params:scim:api:messages:2.0:Error",
  patch: "urn:ietf:params:scim:api:messages:2.0:PatchOp",
  search: "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
  spc: "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
  resourceType: "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
  schema: "urn:ietf:params:scim:schemas:core:2.0:Schema",
} as const;

/** RFC 7644 §3.12, Table 9. */
const SCIM_TYPES = [
  "invalidFilter",
  "tooMany",
  "uniqueness",
  "mutability",
  "invalidSyntax",
  "invalidPath",
  "noTarget",
  "invalidValue",
  "invalidVers",
  "sensitive",
];

/** RFC 3339 date-time with a time zone (RFC 7643 §2.3.5 dateTime is xsd:dateTime; SCIM uses RFC 3339). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** An entity-tag (RFC 7232 §2.3), weak or strong. */
const ETAG = /^(W\/)?"[\x21\x23-\x7e]*"$/;

type Json = Record<string, unknown>;

export interface CheckOptions {
  /** `attributes` / `excludedAttributes` were asked for: "returned: default" attributes may be missing. */
  projected?: boolean;
}

class Violation extends Error {}

function fail(where: string, message: string): never {
  throw new Violation(`${where}: ${message}`);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function expectType(where: string, value: unknown, type: "string" | "boolean" | "integer"): void {
  const ok = type === "integer" ? Number.isInteger(value) : typeof value === type;
  if (!ok) fail(where, `expected ${type}, got ${JSON.stringify(value)}`);
}

function optional(object: Json, name: string, type: "string" | "boolean" | "integer", where: string) {
  if (object[name] !== undefined) expectType(`${where}.${name}`, object[name], type);
}

function onlyKeys(object: Json, allowed: string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) fail(where, `attribute ${JSON.stringify(key)} is not defined by the RFC`);
  }
}

function absoluteUri(where: string, value: unknown): string {
  expectType(where, value, "string");
  try {
    return new URL(value as string).href;
  } catch {
    return fail(where, `not an absolute URI: ${JSON.stringify(value)}`);
  }
}

function schemasInclude(where: string, resource: Json, urn: string, exactly = false): void {
  const schemas = resource.schemas;
  if (!Array.isArray(schemas) || !schemas.every((s) => typeof s === "string"))
    fail(`${where}.schemas`, "must be an array of strings");
  if (!schemas.includes(urn)) fail(`${where}.schemas`, `must include ${urn}`);
  if (exactly && schemas.length !== 1) fail(`${where}.schemas`, `must be exactly [${urn}]`);
}

function checkMeta(where: string, resource: Json, resourceType: string, endpoint: string): void {
  const meta = resource.meta;
  if (!isObject(meta)) fail(`${where}.meta`, "is required");
  onlyKeys(meta, ["resourceType", "created", "lastModified", "location", "version"], `${where}.meta`);
  if (meta.resourceType !== resourceType) fail(`${where}.meta.resourceType`, `expected ${resourceType}`);
  for (const name of ["created", "lastModified"]) {
    if (typeof meta[name] !== "string" || !DATE_TIME.test(meta[name] as string))
      fail(`${where}.meta.${name}`, `not an RFC 3339 date-time: ${JSON.stringify(meta[name])}`);
  }
  if (Date.parse(meta.created as string) > Date.parse(meta.lastModified as string))
    fail(`${where}.meta`, "created is after lastModified");
  const location = absoluteUri(`${where}.meta.location`, meta.location);
  if (!location.endsWith(`/${endpoint}/${encodeURIComponent(String(resource.id))}`))
    fail(`${where}.meta.location`, `does not name /${endpoint}/${String(resource.id)}`);
  if (typeof meta.version !== "string" || !ETAG.test(meta.version))
    fail(`${where}.meta.version`, `not an entity-tag: ${JSON.stringify(meta.version)}`);
}

function checkCommon(where: string, resource: Json): void {
  if (typeof resource.id !== "string" || resource.id === "" || resource.id === "bulkId")
    fail(`${where}.id`, "must be a non-empty string other than bulkId (RFC 7643 §3.1)");
  optional(resource, "externalId", "string", where);
}

function multiValued(where: string, value: unknown, check: (item: Json, where: string) => void): Json[] {
  if (!Array.isArray(value)) fail(where, "multi-valued attributes are arrays");
  value.forEach((item, i) => {
    if (!isObject(item)) fail(`${where}[${i}]`, "must be an object");
    check(item, `${where}[${i}]`);
  });
  return value as Json[];
}

/** RFC 7643 §4.1 (core User) attributes; those Tessera does not implement must simply never appear. */
const USER_ATTRIBUTES = [
  "schemas",
  "id",
  "externalId",
  "meta",
  "userName",
  "name",
  "displayName",
  "nickName",
  "profileUrl",
  "title",
  "userType",
  "preferredLanguage",
  "locale",
  "timezone",
  "active",
  "emails",
  "phoneNumbers",
  "ims",
  "photos",
  "addresses",
  "groups",
  "entitlements",
  "roles",
  "x509Certificates",
];

export function checkUser(resource: unknown, where = "User", options: CheckOptions = {}): void {
  if (!isObject(resource)) fail(where, "must be an object");
  schemasInclude(where, resource, URN.user);
  if ("password" in resource) fail(`${where}.password`, 'is returned "never" (RFC 7643 §4.1.1)');
  onlyKeys(resource, USER_ATTRIBUTES, where);
  checkCommon(where, resource);
  checkMeta(where, resource, "User", "Users");
  if (!options.projected || resource.userName !== undefined) {
    expectType(`${where}.userName`, resource.userName, "string");
    if ((resource.userName as string) === "") fail(`${where}.userName`, "is required");
  }
  optional(resource, "displayName", "string", where);
  optional(resource, "active", "boolean", where);
  if (resource.name !== undefined) {
    if (!isObject(resource.name)) fail(`${where}.name`, "must be an object");
    const name = resource.name;
    onlyKeys(
      name,
      ["formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"],
      `${where}.name`,
    );
    for (const key of Object.keys(name)) expectType(`${where}.name.${key}`, name[key], "string");
  }
  if (resource.emails !== undefined) {
    const emails = multiValued(`${where}.emails`, resource.emails, (email, at) => {
      onlyKeys(email, ["value", "display", "type", "primary"], at);
      expectType(`${at}.value`, email.value, "string");
      optional(email, "type", "string", at);
      optional(email, "display", "string", at);
      optional(email, "primary", "boolean", at);
    });
    if (emails.filter((e) => e.primary === true).length > 1)
      fail(`${where}.emails`, "at most one primary value (RFC 7643 §2.4)");
  }
  if (resource.groups !== undefined) {
    multiValued(`${where}.groups`, resource.groups, (group, at) => {
      onlyKeys(group, ["value", "$ref", "display", "type"], at);
      expectType(`${at}.value`, group.value, "string");
      if (group.$ref !== undefined) absoluteUri(`${at}.$ref`, group.$ref);
      optional(group, "display", "string", at);
      if (group.type !== undefined && group.type !== "direct" && group.type !== "indirect")
        fail(`${at}.type`, 'must be "direct" or "indirect"');
    });
  }
}

export function checkGroup(resource: unknown, where = "Group", options: CheckOptions = {}): void {
  if (!isObject(resource)) fail(where, "must be an object");
  schemasInclude(where, resource, URN.group);
  onlyKeys(resource, ["schemas", "id", "externalId", "meta", "displayName", "members"], where);
  checkCommon(where, resource);
  checkMeta(where, resource, "Group", "Groups");
  if (!options.projected || resource.displayName !== undefined)
    expectType(`${where}.displayName`, resource.displayName, "string");
  if (resource.members !== undefined) {
    multiValued(`${where}.members`, resource.members, (member, at) => {
      onlyKeys(member, ["value", "$ref", "display", "type"], at);
      expectType(`${at}.value`, member.value, "string");
      if (member.$ref !== undefined) absoluteUri(`${at}.$ref`, member.$ref);
      optional(member, "display", "string", at);
      if (member.type !== undefined && member.type !== "User" && member.type !== "Group")
        fail(`${at}.type`, 'must be "User" or "Group"');
    });
  }
}

export function checkError(body: unknown, status: number): void {
  if (!isObject(body)) fail("Error", "must be an object");
  schemasInclude("Error", body, URN.error, true);
  onlyKeys(body, ["schemas", "status", "scimType", "detail"], "Error");
  if (body.status !== String(status))
    fail(
      "Error.status",
      `must be the HTTP status as a string ("${status}"), got ${JSON.stringify(body.status)}`,
    );
  optional(body, "detail", "string", "Error");
  if (body.scimType !== undefined) {
    if (!SCIM_TYPES.includes(body.scimType as string))
      fail("Error.scimType", `not an RFC 7644 §3.12 keyword: ${JSON.stringify(body.scimType)}`);
    const expected = body.scimType === "uniqueness" ? 409 : body.scimType === "sensitive" ? 403 : 400;
    if (status !== expected) fail("Error.scimType", `${String(body.scimType)} goes with ${expected}`);
  }
}

function checkResource(resource: unknown, where: string, options: CheckOptions): void {
  const type = isObject(resource) && isObject(resource.meta) ? resource.meta.resourceType : undefined;
  if (type === "User") checkUser(resource, where, options);
  else if (type === "Group") checkGroup(resource, where, options);
  else if (type === "ResourceType") checkResourceType(resource, where);
  else if (type === "Schema") checkSchema(resource, where);
  else fail(`${where}.meta.resourceType`, `unexpected ${JSON.stringify(type)}`);
}

export function checkListResponse(body: unknown, options: CheckOptions = {}): void {
  if (!isObject(body)) fail("ListResponse", "must be an object");
  schemasInclude("ListResponse", body, URN.list, true);
  onlyKeys(body, ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"], "ListResponse");
  expectType("ListResponse.totalResults", body.totalResults, "integer");
  const total = body.totalResults as number;
  if (total < 0) fail("ListResponse.totalResults", "must be non-negative");
  const resources = body.Resources;
  if (resources === undefined && total > 0) fail("ListResponse.Resources", "required when totalResults > 0");
  const list = resources === undefined ? [] : resources;
  if (!Array.isArray(list)) fail("ListResponse.Resources", "must be an array");
  if (list.length > total) fail("ListResponse", "more Resources than totalResults");
  if (body.startIndex !== undefined) {
    expectType("ListResponse.startIndex", body.startIndex, "integer");
    if ((body.startIndex as number) < 1) fail("ListResponse.startIndex", "is 1-based");
  }
  if (body.itemsPerPage !== undefined && body.itemsPerPage !== list.length)
    fail("ListResponse.itemsPerPage", "must be the number of Resources returned");
  list.forEach((r, i) => {
    checkResource(r, `ListResponse.Resources[${i}]`, options);
  });
}

export function checkServiceProviderConfig(body: unknown): void {
  const where = "ServiceProviderConfig";
  if (!isObject(body)) fail(where, "must be an object");
  schemasInclude(where, body, URN.spc, true);
  if (body.documentationUri !== undefined) absoluteUri(`${where}.documentationUri`, body.documentationUri);
  const features: Record<string, Record<string, "boolean" | "integer">> = {
    patch: { supported: "boolean" },
    bulk: { supported: "boolean", maxOperations: "integer", maxPayloadSize: "integer" },
    filter: { supported: "boolean", maxResults: "integer" },
    changePassword: { supported: "boolean" },
    sort: { supported: "boolean" },
    etag: { supported: "boolean" },
  };
  for (const [feature, fields] of Object.entries(features)) {
    const value = body[feature];
    if (!isObject(value)) fail(`${where}.${feature}`, "is required");
    for (const [field, type] of Object.entries(fields))
      expectType(`${where}.${feature}.${field}`, value[field], type);
  }
  multiValued(`${where}.authenticationSchemes`, body.authenticationSchemes, (scheme, at) => {
    for (const field of ["type", "name", "description"])
      expectType(`${at}.${field}`, scheme[field], "string");
  });
}

export function checkResourceType(body: unknown, where = "ResourceType"): void {
  if (!isObject(body)) fail(where, "must be an object");
  schemasInclude(where, body, URN.resourceType, true);
  for (const field of ["id", "name", "endpoint", "schema"])
    expectType(`${where}.${field}`, body[field], "string");
  if (!(body.endpoint as string).startsWith("/")) fail(`${where}.endpoint`, "is relative to the base URL");
}

const CHARACTERISTICS = {
  type: ["string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"],
  mutability: ["readOnly", "readWrite", "immutable", "writeOnly"],
  returned: ["always", "never", "default", "request"],
  uniqueness: ["none", "server", "global"],
};

function checkAttributeDefinition(attribute: Json, where: string): void {
  expectType(`${where}.name`, attribute.name, "string");
  expectType(`${where}.multiValued`, attribute.multiValued, "boolean");
  expectType(`${where}.required`, attribute.required, "boolean");
  optional(attribute, "caseExact", "boolean", where);
  optional(attribute, "description", "string", where);
  for (const [name, allowed] of Object.entries(CHARACTERISTICS)) {
    const value = attribute[name];
    if (value === undefined && name !== "type") continue;
    if (!allowed.includes(value as string)) fail(`${where}.${name}`, `not one of ${allowed.join(", ")}`);
  }
  if (attribute.type === "complex") {
    multiValued(`${where}.subAttributes`, attribute.subAttributes, (sub, at) => {
      if (sub.type === "complex")
        fail(at, "a complex attribute has no complex sub-attributes (RFC 7643 §2.3.8)");
      checkAttributeDefinition(sub, at);
    });
  }
  if (attribute.type === "reference" && !Array.isArray(attribute.referenceTypes))
    fail(`${where}.referenceTypes`, "required for references");
}

export function checkSchema(body: unknown, where = "Schema"): void {
  if (!isObject(body)) fail(where, "must be an object");
  schemasInclude(where, body, URN.schema, true);
  expectType(`${where}.id`, body.id, "string");
  if (!(body.id as string).startsWith("urn:")) fail(`${where}.id`, "is a URN");
  multiValued(`${where}.attributes`, body.attributes, (a, at) =>
    checkAttributeDefinition(a, `${at}(${a.name})`),
  );
}

/**
 * Checks one SCIM HTTP answer: content type, error format, ListResponse, resources, headers. `path` is the
 * request path below `/scim/v2` (it decides which document a 2xx body must be).
 */
export function checkScimResponse(
  method: string,
  path: string,
  response: LightMyRequestResponse,
  options: CheckOptions = {},
): void {
  const where = `${method} ${path} → ${response.statusCode}`;
  try {
    if (response.statusCode === 204) {
      if (response.body !== "") fail("204", "has no body");
      return;
    }
    const contentType = String(response.headers["content-type"] ?? "");
    if (!/^application\/scim\+json(;|$)/.test(contentType))
      fail("Content-Type", `expected application/scim+json, got ${contentType}`);
    const body = response.json() as unknown;
    if (response.statusCode >= 400) {
      checkError(body, response.statusCode);
      return;
    }
    const route = path.split("?")[0]!;
    const listing =
      method === "POST" ? route.endsWith("/.search") : /^\/(Users|Groups|ResourceTypes|Schemas)$/.test(route);
    if (listing) {
      checkListResponse(body, options);
      return;
    }
    const discovery =
      route === "/ServiceProviderConfig"
        ? checkServiceProviderConfig
        : route.startsWith("/ResourceTypes/")
          ? checkResourceType
          : route.startsWith("/Schemas/")
            ? checkSchema
            : undefined;
    if (discovery) {
      discovery(body);
      return;
    }
    const resource = body as Json;
    if (route.startsWith("/Users")) checkUser(resource, "User", options);
    else if (route.startsWith("/Groups")) checkGroup(resource, "Group", options);
    else fail("path", "unexpected SCIM endpoint");
    const meta = resource.meta as Json;
    if (response.headers.etag !== undefined && response.headers.etag !== meta.version)
      fail(
        "ETag",
        `header ${String(response.headers.etag)} differs from meta.version ${String(meta.version)}`,
      );
    if (response.statusCode === 201 && response.headers.location !== meta.location)
      fail("Location", "header must equal meta.location on 201 (RFC 7644 §3.3)");
  } catch (error) {
    if (error instanceof Violation)
      throw new Error(`${where}: ${error.message}\n${response.body.slice(0, 500)}`);
    throw error;
  }
}
