/**
 * PATCH operation paths (RFC 7644 §3.5.2): `PATH = attrPath / valuePath [subAttr]`.
 *
 * - Accepted shapes: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, each with an optional schema URN
 *   prefix (`urn:…:User:name.givenName`). Attribute names follow the filter grammar (filter.ts).
 * - No whitespace outside the brackets; the bracket holds a value filter read by the filter parser, so its
 *   names are bare sub-attributes and the filter limits (length, depth, count) apply.
 * - Errors are `ScimError` 400: `invalidPath` for the path's own shape, `invalidFilter` for syntax errors
 *   inside the brackets (RFC 7644 §3.12 lists invalidFilter for "PATCH (Path Filter)"). Messages give the
 *   offset and at most a short excerpt.
 */
import {
  checkFilterLength,
  type FilterNode,
  FilterParser,
  formatAttributePath,
  formatFilter,
} from "./filter.js";

const ATTRNAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

export interface PatchPath {
  schema: string | null;
  attribute: string;
  /** `attr.sub`, or the `.sub` after `attr[filter]`. */
  subAttribute: string | null;
  /** The value filter of `attr[filter]`; its attribute names are sub-attributes of `attribute`. */
  filter: FilterNode | null;
}

/** Parses a PATCH `path`; throws `ScimError` 400 (`invalidPath`, or `invalidFilter` inside `[ ]`). */
export function parsePatchPath(text: string): PatchPath {
  checkFilterLength(text, "path", "invalidPath");
  const parser = new FilterParser(text, "invalidPath");
  const path = parser.readPath(false);
  if (parser.pos === text.length) return { ...path, filter: null };
  const open = parser.pos;
  if (text[open] !== "[") parser.fail('expected "[" or the end after the attribute path');
  if (path.subAttribute !== null) parser.fail("a value filter applies to an attribute, not a sub-attribute");
  parser.pos++;
  parser.scimType = "invalidFilter";
  const filter = parser.parseBracket(open);
  parser.scimType = "invalidPath";
  const result: PatchPath = { schema: path.schema, attribute: path.attribute, subAttribute: null, filter };
  if (parser.pos === text.length) return result;
  if (text[parser.pos] !== ".") parser.fail('expected "." and a sub-attribute, or the end after "]"');
  const sub = text.slice(parser.pos + 1);
  if (!ATTRNAME.test(sub)) parser.fail("invalid sub-attribute name", parser.pos + 1);
  return { ...result, subAttribute: sub };
}

/** Prints a PATCH path that `parsePatchPath` reads back to the same value. */
export function formatPatchPath(path: PatchPath): string {
  if (path.filter === null) return formatAttributePath(path);
  const base = formatAttributePath({ schema: path.schema, attribute: path.attribute, subAttribute: null });
  return `${base}[${formatFilter(path.filter)}]${path.subAttribute === null ? "" : `.${path.subAttribute}`}`;
}
