/**
 * The SCIM filter language (RFC 7644 §3.4.2.2) as a recursive-descent parser producing an AST.
 *
 * - Grammar: `attrPath op value`, `attrPath pr`, `and` / `or` (`and` binds tighter; both associate to the
 *   left), `not ( … )`, parentheses and value paths `attr[valFilter]`. Operators and `and`/`or`/`not` are
 *   case-insensitive; the JSON literals `true`, `false`, `null` are not (RFC 8259 spells them lower case).
 * - Attribute paths: `[urn:… ":"] ATTRNAME ["." ATTRNAME]` with ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_").
 *   Inside brackets names are bare sub-attributes: no schema prefix, no further sub-attribute (a complex
 *   attribute's sub-attributes are never complex, RFC 7643 §2.3.8), no nested brackets.
 * - Values: JSON strings (escapes checked, no raw control characters), JSON numbers (finite), true/false/null.
 * - Tokens are separated by whitespace (space, tab, CR, LF) where RFC 7644 puts SP: a value or `pr` must be
 *   followed by whitespace, `)`, `]` or the end; `and` / `or` by whitespace or `(`, and they must come after
 *   whitespace, `)` or `]`.
 * - Abuse limits: at most 4096 characters, at most 32 nested `(`/`not (`/`[`, at most 100 attribute
 *   expressions. The parser recurses only on nesting, so the depth limit bounds its stack.
 * - Every refusal is a `ScimError` 400 (`invalidFilter`, or the caller's scimType for PATCH paths) naming
 *   what was wrong and its offset (UTF-16 code units from 0), quoting at most a short excerpt of the input.
 */
import { ScimError, type ScimType } from "./errors.js";

export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 32;
export const MAX_FILTER_COMPARISONS = 100;

export type CompareOperator = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "ge" | "lt" | "le";
export type FilterValue = string | number | boolean | null;

/** `schema:attribute.subAttribute`; names keep the case the client wrote (they match case-insensitively). */
export interface AttributePath {
  /** Schema URN prefix without the trailing colon, e.g. `urn:ietf:params:scim:schemas:core:2.0:User`. */
  schema: string | null;
  attribute: string;
  subAttribute: string | null;
}

export interface CompareNode {
  type: "compare";
  path: AttributePath;
  /** Always lower case. */
  op: CompareOperator;
  value: FilterValue;
}

export interface PresentNode {
  type: "present";
  path: AttributePath;
}

export interface LogicalNode {
  type: "and" | "or";
  left: FilterNode;
  right: FilterNode;
}

export interface NotNode {
  type: "not";
  filter: FilterNode;
}

/** `path[filter]`: `filter` names sub-attributes of `path` (schema and subAttribute are null in it). */
export interface ValuePathNode {
  type: "valuePath";
  path: AttributePath;
  filter: FilterNode;
}

export type FilterNode = CompareNode | PresentNode | LogicalNode | NotNode | ValuePathNode;

const OPERATORS: ReadonlySet<string> = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]);
const ATTRNAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** RFC 8141 NID, then colon-separated segments of the characters SCIM schema URNs use. */
const SCHEMA_URN = /^urn:[a-z0-9][a-z0-9-]{0,31}(?::[a-z0-9._-]+)+$/i;
const PATH_CHAR = /[A-Za-z0-9._:-]/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const EXCERPT = 16;

function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r";
}

function isLetter(c: string | undefined): boolean {
  return c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));
}

/** A short, escaped quotation of `text` from `offset`: never more than EXCERPT characters of input. */
function excerpt(text: string, offset = 0): string {
  const part = text.slice(offset, offset + EXCERPT);
  return JSON.stringify(part) + (text.length > offset + EXCERPT ? "…" : "");
}

function scimError(scimType: ScimType, message: string): ScimError {
  return new ScimError({ status: 400, scimType, message });
}

export function checkFilterLength(text: string, what: string, scimType: ScimType): void {
  if (text.length > MAX_FILTER_LENGTH) {
    throw scimError(scimType, `The ${what} is ${text.length} characters long; at most ${MAX_FILTER_LENGTH}.`);
  }
}

/**
 * The parser's state. Exported for `path.ts`, which parses the attribute path and the bracketed filter of a
 * PATCH path with it; not part of the module's public API.
 */
export class FilterParser {
  pos: number;
  private depth = 0;
  private comparisons = 0;

  constructor(
    readonly text: string,
    /** The scimType of syntax errors (`invalidFilter`, or `invalidPath` outside a PATCH path's brackets). */
    public scimType: ScimType,
    start = 0,
  ) {
    this.pos = start;
  }

  fail(message: string, at = this.pos): never {
    const where =
      at >= this.text.length ? `at the end (offset ${at})` : `at offset ${at} near ${excerpt(this.text, at)}`;
    throw scimError(
      this.scimType,
      `Invalid ${this.scimType === "invalidPath" ? "path" : "filter"}: ${message} ${where}.`,
    );
  }

  /** Whole filter: the text from `pos` to the end. */
  parseWhole(): FilterNode {
    const node = this.parseOr(false);
    this.skipSpace();
    if (this.pos < this.text.length) {
      const c = this.text[this.pos];
      this.fail(c === ")" || c === "]" ? `unbalanced "${c}"` : 'expected "and", "or" or the end');
    }
    return node;
  }

  /** After a `[` at `pos - 1`: the value filter and its `]`; leaves `pos` just past the `]`. */
  parseBracket(open: number): FilterNode {
    this.enter(open);
    const node = this.parseOr(true);
    this.skipSpace();
    if (this.text[this.pos] !== "]") this.fail(`expected "]" closing the "[" at offset ${open}`);
    this.pos++;
    this.depth--;
    return node;
  }

  /**
   * An attribute path at `pos` (no whitespace skipped). Returns it with the offset it started at.
   * `bare`: inside brackets, where only a plain sub-attribute name is allowed.
   */
  readPath(bare: boolean): AttributePath {
    const start = this.pos;
    while (this.pos < this.text.length && PATH_CHAR.test(this.text[this.pos]!)) this.pos++;
    const token = this.text.slice(start, this.pos);
    if (token === "") this.fail("expected an attribute name", start);
    const colon = token.lastIndexOf(":");
    let schema: string | null = null;
    let rest = token;
    if (colon >= 0) {
      schema = token.slice(0, colon);
      rest = token.slice(colon + 1);
      if (bare) this.fail("an attribute inside [ ] is a sub-attribute and takes no schema prefix", start);
      if (!SCHEMA_URN.test(schema)) this.fail("the schema prefix is not a URN", start);
    }
    const names = rest.split(".");
    const nameAt = start + (colon + 1);
    if (names.length > 2) this.fail("an attribute path has at most one sub-attribute", nameAt);
    if (bare && names.length > 1) this.fail("an attribute inside [ ] cannot have a sub-attribute", nameAt);
    const attribute = names[0]!;
    if (!ATTRNAME.test(attribute)) this.fail("invalid attribute name", nameAt);
    const subAttribute = names[1] ?? null;
    if (subAttribute !== null && !ATTRNAME.test(subAttribute)) {
      this.fail("invalid sub-attribute name", nameAt + attribute.length + 1);
    }
    return { schema, attribute, subAttribute };
  }

  private enter(at: number): void {
    this.depth++;
    if (this.depth > MAX_FILTER_DEPTH) this.fail(`nesting deeper than ${MAX_FILTER_DEPTH} levels`, at);
  }

  private skipSpace(): void {
    while (isSpace(this.text[this.pos])) this.pos++;
  }

  /** Consumes `word` (case-insensitively) if it comes next, followed by whitespace, `(` or the end. */
  private keyword(word: string): boolean {
    const end = this.pos + word.length;
    if (this.text.slice(this.pos, end).toLowerCase() !== word) return false;
    const next = this.text[end];
    if (next !== undefined && next !== "(" && !isSpace(next)) return false;
    this.pos = end;
    return true;
  }

  /** After a value or `pr`: whitespace, `)`, `]` or the end must follow. */
  private delimiter(): void {
    const c = this.text[this.pos];
    if (c === undefined || isSpace(c) || c === ")" || c === "]") return;
    this.fail("expected whitespace, a closing bracket or the end");
  }

  private requireSpace(what: string): void {
    const c = this.text[this.pos];
    if (c === undefined || c === ")" || c === "]") this.fail(`expected ${what}`);
    if (!isSpace(this.text[this.pos])) this.fail(`expected whitespace before ${what}`);
    this.skipSpace();
  }

  private parseOr(inBrackets: boolean): FilterNode {
    let left = this.parseAnd(inBrackets);
    while (this.logical("or")) left = { type: "or", left, right: this.parseAnd(inBrackets) };
    return left;
  }

  private parseAnd(inBrackets: boolean): FilterNode {
    let left = this.parseUnary(inBrackets);
    while (this.logical("and")) left = { type: "and", left, right: this.parseUnary(inBrackets) };
    return left;
  }

  /** Consumes `and` / `or` if it comes next, after whitespace or a closing `)` / `]`. */
  private logical(word: "and" | "or"): boolean {
    const save = this.pos;
    this.skipSpace();
    const previous = this.text[save - 1];
    const separated = this.pos > save || previous === ")" || previous === "]";
    if (separated && this.keyword(word)) return true;
    this.pos = save;
    return false;
  }

  private parseUnary(inBrackets: boolean): FilterNode {
    this.skipSpace();
    const start = this.pos;
    if (this.text[start] === "(") {
      this.pos++;
      return this.parseGroup(start, inBrackets);
    }
    if (this.keyword("not")) {
      this.skipSpace();
      if (this.text[this.pos] === "(") {
        const open = this.pos;
        this.pos++;
        return { type: "not", filter: this.parseGroup(open, inBrackets) };
      }
      this.pos = start; // an attribute called "not"
    }
    return this.parseAttributeExpression(inBrackets);
  }

  private parseGroup(open: number, inBrackets: boolean): FilterNode {
    this.enter(open);
    const node = this.parseOr(inBrackets);
    this.skipSpace();
    if (this.text[this.pos] !== ")") this.fail(`expected ")" closing the "(" at offset ${open}`);
    this.pos++;
    this.depth--;
    return node;
  }

  private parseAttributeExpression(inBrackets: boolean): FilterNode {
    const start = this.pos;
    if (!PATH_CHAR.test(this.text[start] ?? " ")) this.fail('expected an attribute name, "not" or "("');
    const path = this.readPath(inBrackets);
    if (this.text[this.pos] === "[") {
      const open = this.pos;
      if (inBrackets) this.fail("value filters cannot be nested", open);
      if (path.subAttribute !== null)
        this.fail("a value filter applies to an attribute, not a sub-attribute", open);
      this.pos++;
      const filter = this.parseBracket(open);
      if (this.text[this.pos] === ".") this.fail('a filter cannot select a sub-attribute after "]"');
      return { type: "valuePath", path, filter };
    }
    this.requireSpace("the operator");
    const opAt = this.pos;
    while (isLetter(this.text[this.pos])) this.pos++;
    const word = this.text.slice(opAt, this.pos);
    const op = word.toLowerCase();
    if (word === "") this.fail("expected an operator (eq ne co sw ew gt ge lt le pr)", opAt);
    if (!OPERATORS.has(op)) this.fail("unknown operator", opAt);
    this.comparisons++;
    if (this.comparisons > MAX_FILTER_COMPARISONS) {
      this.fail(`more than ${MAX_FILTER_COMPARISONS} attribute expressions`, start);
    }
    if (op === "pr") {
      this.delimiter();
      return { type: "present", path };
    }
    this.requireSpace("the value");
    const value = this.parseValue();
    this.delimiter();
    return { type: "compare", path, op: op as CompareOperator, value };
  }

  private parseValue(): FilterValue {
    const c = this.text[this.pos];
    if (c === '"') return this.parseString();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.parseNumber();
    for (const [word, value] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.pos) && !PATH_CHAR.test(this.text[this.pos + word.length] ?? " ")) {
        this.pos += word.length;
        return value;
      }
    }
    this.fail("expected a value: a JSON string, a number, true, false or null");
  }

  private parseString(): string {
    const start = this.pos;
    let i = start + 1;
    for (;;) {
      const c = this.text[i];
      if (c === undefined) this.fail("unterminated string", start);
      if (c === '"') break;
      if (c === "\\") {
        const e = this.text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(i + 2, i + 6))) this.fail("invalid \\u escape", i);
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail("invalid escape in string", i);
        i += 2;
        continue;
      }
      if (c.charCodeAt(0) < 0x20) this.fail("control character in string (escape it)", i);
      i++;
    }
    this.pos = i + 1;
    return JSON.parse(this.text.slice(start, i + 1)) as string;
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail("invalid number");
    const value = Number(match[0]);
    if (!Number.isFinite(value)) this.fail("number out of range");
    this.pos += match[0].length;
    return value;
  }
}

/** Parses a SCIM filter; throws `ScimError` 400 `invalidFilter` on anything outside the grammar or limits. */
export function parseFilter(text: string): FilterNode {
  checkFilterLength(text, "filter", "invalidFilter");
  return new FilterParser(text, "invalidFilter").parseWhole();
}

export function formatAttributePath(path: AttributePath): string {
  return (
    (path.schema === null ? "" : `${path.schema}:`) +
    path.attribute +
    (path.subAttribute === null ? "" : `.${path.subAttribute}`)
  );
}

function formatValue(value: FilterValue): string {
  return typeof value === "number" && Object.is(value, -0) ? "-0" : JSON.stringify(value);
}

/**
 * Prints an AST as filter text that `parseFilter` reads back to the same AST (parentheses only where
 * precedence or left associativity needs them).
 */
export function formatFilter(node: FilterNode): string {
  switch (node.type) {
    case "compare":
      return `${formatAttributePath(node.path)} ${node.op} ${formatValue(node.value)}`;
    case "present":
      return `${formatAttributePath(node.path)} pr`;
    case "valuePath":
      return `${formatAttributePath(node.path)}[${formatFilter(node.filter)}]`;
    case "not":
      return `not (${formatFilter(node.filter)})`;
    case "and": {
      const left = node.left.type === "or" ? `(${formatFilter(node.left)})` : formatFilter(node.left);
      const right =
        node.right.type === "or" || node.right.type === "and"
          ? `(${formatFilter(node.right)})`
          : formatFilter(node.right);
      return `${left} and ${right}`;
    }
    case "or": {
      const right = node.right.type === "or" ? `(${formatFilter(node.right)})` : formatFilter(node.right);
      return `${formatFilter(node.left)} or ${right}`;
    }
  }
}
