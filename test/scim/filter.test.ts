import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ScimError } from "../../src/scim/errors.js";
import {
  type AttributePath,
  type CompareOperator,
  type FilterNode,
  type FilterValue,
  formatFilter,
  MAX_FILTER_COMPARISONS,
  MAX_FILTER_DEPTH,
  MAX_FILTER_LENGTH,
  parseFilter,
} from "../../src/scim/filter.js";
import { formatPatchPath, type PatchPath, parsePatchPath } from "../../src/scim/path.js";

const USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User";

// --- AST builders -----------------------------------------------------------------------------------------

function p(text: string): AttributePath {
  const colon = text.lastIndexOf(":");
  const [attribute, subAttribute] = text.slice(colon + 1).split(".");
  return {
    schema: colon < 0 ? null : text.slice(0, colon),
    attribute: attribute!,
    subAttribute: subAttribute ?? null,
  };
}
const cmp = (path: string, op: CompareOperator, value: FilterValue): FilterNode => ({
  type: "compare",
  path: p(path),
  op,
  value,
});
const pr = (path: string): FilterNode => ({ type: "present", path: p(path) });
const and = (left: FilterNode, right: FilterNode): FilterNode => ({ type: "and", left, right });
const or = (left: FilterNode, right: FilterNode): FilterNode => ({ type: "or", left, right });
const not = (filter: FilterNode): FilterNode => ({ type: "not", filter });
const vp = (path: string, filter: FilterNode): FilterNode => ({ type: "valuePath", path: p(path), filter });

/** Runs `fn` and returns the ScimError it throws; fails the test if it throws anything else or nothing. */
function scimErrorOf(fn: () => unknown): ScimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
  throw new Error("expected a ScimError, nothing was thrown");
}

describe("parseFilter: RFC 7644 §3.4.2.2 examples", () => {
  const examples: [string, FilterNode][] = [
    ['userName eq "bjensen"', cmp("userName", "eq", "bjensen")],
    ['name.familyName co "O\'Malley"', cmp("name.familyName", "co", "O'Malley")],
    ['userName sw "J"', cmp("userName", "sw", "J")],
    [`${USER_URN}:userName sw "J"`, cmp(`${USER_URN}:userName`, "sw", "J")],
    ["title pr", pr("title")],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', cmp("meta.lastModified", "gt", "2011-05-13T04:42:34Z")],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', cmp("meta.lastModified", "ge", "2011-05-13T04:42:34Z")],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', cmp("meta.lastModified", "lt", "2011-05-13T04:42:34Z")],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', cmp("meta.lastModified", "le", "2011-05-13T04:42:34Z")],
    ['title pr and userType eq "Employee"', and(pr("title"), cmp("userType", "eq", "Employee"))],
    ['title pr or userType eq "Intern"', or(pr("title"), cmp("userType", "eq", "Intern"))],
    [
      'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
      cmp("schemas", "eq", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
    ],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp("userType", "eq", "Employee"),
        or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org")),
      ),
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp("userType", "ne", "Employee"),
        not(or(cmp("emails", "co", "example.com"), cmp("emails.value", "co", "example.org"))),
      ),
    ],
    [
      'userType eq "Employee" and (emails.type eq "work")',
      and(cmp("userType", "eq", "Employee"), cmp("emails.type", "eq", "work")),
    ],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      and(
        cmp("userType", "eq", "Employee"),
        vp("emails", and(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
      ),
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      or(
        vp("emails", and(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
        vp("ims", and(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))),
      ),
    ],
  ];
  it.each(examples)("%s", (text, expected) => {
    expect(parseFilter(text)).toStrictEqual(expected);
  });
});

describe("parseFilter: grammar details", () => {
  it("and binds tighter than or; both associate to the left", () => {
    expect(parseFilter("a pr or b pr and c pr")).toStrictEqual(or(pr("a"), and(pr("b"), pr("c"))));
    expect(parseFilter("a pr and b pr or c pr")).toStrictEqual(or(and(pr("a"), pr("b")), pr("c")));
    expect(parseFilter("a pr and b pr and c pr")).toStrictEqual(and(and(pr("a"), pr("b")), pr("c")));
    expect(parseFilter("a pr or b pr or c pr")).toStrictEqual(or(or(pr("a"), pr("b")), pr("c")));
    expect(parseFilter("a pr and (b pr or c pr)")).toStrictEqual(and(pr("a"), or(pr("b"), pr("c"))));
    expect(parseFilter("not (a pr) and b pr")).toStrictEqual(and(not(pr("a")), pr("b")));
    expect(parseFilter("a pr or not (b pr) and c pr")).toStrictEqual(or(pr("a"), and(not(pr("b")), pr("c"))));
    expect(parseFilter("((a pr))")).toStrictEqual(pr("a"));
  });

  it("operators and logical keywords are case-insensitive; attribute names keep their spelling", () => {
    expect(parseFilter('UserName EQ "x" AnD NOT (title PR) oR emails[Type Eq "w"]')).toStrictEqual(
      or(and(cmp("UserName", "eq", "x"), not(pr("title"))), vp("emails", cmp("Type", "eq", "w"))),
    );
  });

  it("reads every operator", () => {
    for (const op of ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"] as const) {
      expect(parseFilter(`a ${op} 1`)).toStrictEqual(cmp("a", op, 1));
    }
  });

  it("reads JSON values: escapes, numbers, literals", () => {
    expect(parseFilter(String.raw`a eq "q\"b\\s\/\b\f\n\r\t\u00e9\uD83D\uDE00"`)).toStrictEqual(
      cmp("a", "eq", 'q"b\\s/\b\f\n\r\té😀'),
    );
    expect(parseFilter('a eq "é😀 raw"')).toStrictEqual(cmp("a", "eq", "é😀 raw"));
    expect(parseFilter('a eq ""')).toStrictEqual(cmp("a", "eq", ""));
    const numbers: [string, number][] = [
      ["0", 0],
      ["-0", -0],
      ["12", 12],
      ["-1.5e3", -1500],
      ["1E+2", 100],
      ["2.5e-1", 0.25],
    ];
    for (const [text, value] of numbers)
      expect(parseFilter(`a gt ${text}`)).toStrictEqual(cmp("a", "gt", value));
    expect(parseFilter("a eq true or b eq false or c eq null")).toStrictEqual(
      or(or(cmp("a", "eq", true), cmp("b", "eq", false)), cmp("c", "eq", null)),
    );
  });

  it("accepts any run of spaces, tabs and line breaks between tokens and around brackets", () => {
    expect(parseFilter(' \t( a\teq  "x"\n\r)   and\tnot(b pr)  or c[ d pr ] ')).toStrictEqual(
      or(and(cmp("a", "eq", "x"), not(pr("b"))), vp("c", pr("d"))),
    );
    expect(parseFilter("(a pr)and(b pr)")).toStrictEqual(and(pr("a"), pr("b")));
  });

  it("words that are keywords elsewhere can be attribute names", () => {
    expect(parseFilter('not eq "x"')).toStrictEqual(cmp("not", "eq", "x"));
    expect(parseFilter("and pr or or pr")).toStrictEqual(or(pr("and"), pr("or")));
    expect(parseFilter("pr pr and not[eq pr]")).toStrictEqual(and(pr("pr"), vp("not", pr("eq"))));
    expect(parseFilter("order pr and notes pr")).toStrictEqual(and(pr("order"), pr("notes")));
  });

  it("splits a schema URN from the attribute at the last colon", () => {
    expect(parseFilter(`${USER_URN}:name.givenName pr`)).toStrictEqual({
      type: "present",
      path: { schema: USER_URN, attribute: "name", subAttribute: "givenName" },
    });
    expect(parseFilter(`${USER_URN}:emails[type eq "work"]`)).toStrictEqual(
      vp(`${USER_URN}:emails`, cmp("type", "eq", "work")),
    );
  });
});

describe("parseFilter: refusals", () => {
  const bad: [string, number | "end"][] = [
    ["", "end"],
    ["   ", "end"],
    ["userName", "end"],
    ["userName eq", "end"],
    ["userName eq ", "end"],
    ['userName xx "a"', 9],
    ['userName eq "unterminated', 12],
    ["userName eq bjensen", 12],
    ["userName eq 'single'", 12],
    ['userName eq "a" and', "end"],
    ['userName eq "a" or or b pr', 22],
    ["(userName pr", "end"],
    ["userName pr)", 11],
    ["not userName pr", 4],
    ["not", "end"],
    ["not (a pr", "end"],
    ["()", 1],
    ["not ()", 5],
    ['emails[type eq "work"', "end"],
    ['emails[type eq "work"]]', 22],
    ['emails[value[type eq "x"] pr]', 12],
    [`emails[${USER_URN}:type eq "w"]`, 7],
    ['emails[type.sub eq "w"]', 7],
    ['emails.value[type eq "w"]', 12],
    ['emails[type eq "w"].value eq "x"', 19],
    ["a.b.c pr", 0],
    ["1abc pr", 0],
    ["a..b pr", 0],
    ["a. pr", 2],
    ["foo:bar pr", 0],
    ["urn:x: pr", 0],
    ["urn::x:a pr", 0],
    ['[type eq "x"]', 0],
    ["a eq True", 5],
    ["a eq TRUE", 5],
    ["a eq nul", 5],
    ["a eq truex", 5],
    ["a eq 01", 6],
    ["a eq 1.", 6],
    ["a eq .5", 5],
    ["a eq +1", 5],
    ["a eq -", 5],
    ["a eq 1e999", 5],
    ["a eq 1e", 6],
    [String.raw`a eq "a\x"`, 7],
    [String.raw`a eq "\u12g4"`, 6],
    ['a eq "tab\there"', 9],
    ['a eq"a"', 4],
    ['a pr"a"', 4],
    ['a eq "a"and b pr', 8],
    ['a eq "a" andb pr', 9],
    ["a pr and", "end"],
    ["a pr and and", "end"],
    ["a pr or (b pr", "end"],
    ["a eq [1]", 5],
    ["a eq {}", 5],
    ['a = "x"', 2],
    ["a pr ! b pr", 5],
  ];
  it.each(bad)("%j is refused with invalidFilter at the right offset", (text, offset) => {
    const error = scimErrorOf(() => parseFilter(text));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe("invalidFilter");
    const at = offset === "end" ? text.length : offset;
    expect(error.message).toContain(`offset ${at}`);
    if (offset === "end") expect(error.message).toContain("at the end");
  });

  it("quotes at most a short excerpt of the input", () => {
    const secret = "s3cr3t".repeat(500);
    const error = scimErrorOf(() => parseFilter(`userName eq ${secret}`));
    expect(error.message).toContain("offset 12");
    expect(error.message).not.toContain("s3cr3t".repeat(4));
    expect(error.message.length).toBeLessThan(200);
    const long = scimErrorOf(() => parseFilter(`${"x".repeat(3000)}[a pr] eq 1`));
    expect(long.message.length).toBeLessThan(200);
  });

  it("says what was expected", () => {
    expect(scimErrorOf(() => parseFilter('a xx "b"')).message).toMatch(/unknown operator/);
    expect(scimErrorOf(() => parseFilter("a eq")).message).toMatch(/expected the value/);
    expect(scimErrorOf(() => parseFilter("(a pr")).message).toMatch(
      /expected "\)" closing the "\(" at offset 0/,
    );
    expect(scimErrorOf(() => parseFilter('a eq "x')).message).toMatch(/unterminated string/);
  });
});

describe("parseFilter: limits", () => {
  it(`accepts ${MAX_FILTER_LENGTH} characters and refuses one more, before parsing`, () => {
    const fits = `a eq "${"x".repeat(MAX_FILTER_LENGTH - 7)}"`;
    expect(fits).toHaveLength(MAX_FILTER_LENGTH);
    expect(parseFilter(fits)).toStrictEqual(cmp("a", "eq", "x".repeat(MAX_FILTER_LENGTH - 7)));
    const error = scimErrorOf(() => parseFilter(`${fits} `));
    expect(error.scimType).toBe("invalidFilter");
    expect(error.message).toMatch(/4097 characters long; at most 4096/);
    expect(scimErrorOf(() => parseFilter("(".repeat(1_000_000))).message).toMatch(/characters long/);
  });

  it(`accepts ${MAX_FILTER_DEPTH} levels of nesting of any kind and refuses ${MAX_FILTER_DEPTH + 1}`, () => {
    const parens = (n: number) => `${"(".repeat(n)}a pr${")".repeat(n)}`;
    expect(parseFilter(parens(MAX_FILTER_DEPTH))).toStrictEqual(pr("a"));
    expect(scimErrorOf(() => parseFilter(parens(MAX_FILTER_DEPTH + 1))).message).toMatch(
      /nesting deeper than 32 levels at offset 32/,
    );
    const nots = (n: number) => `${"not (".repeat(n)}a pr${")".repeat(n)}`;
    let expected = pr("a");
    for (let i = 0; i < MAX_FILTER_DEPTH; i++) expected = not(expected);
    expect(parseFilter(nots(MAX_FILTER_DEPTH))).toStrictEqual(expected);
    expect(scimErrorOf(() => parseFilter(nots(MAX_FILTER_DEPTH + 1))).message).toMatch(/nesting deeper/);
    // The bracket counts as a level too.
    const mixed = (outer: number, inner: number) =>
      `${"(".repeat(outer)}e[${"(".repeat(inner)}a pr${")".repeat(inner)}]${")".repeat(outer)}`;
    expect(parseFilter(mixed(16, 15))).toStrictEqual(vp("e", pr("a")));
    expect(scimErrorOf(() => parseFilter(mixed(16, 16))).message).toMatch(
      /nesting deeper than 32 levels at offset 33/,
    );
  });

  it("refuses deep nesting at every size up to the length limit without overflowing the stack", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_FILTER_DEPTH + 1, max: 2040 }),
        fc.constantFrom("(", "not (", "not(", "( "),
        fc.boolean(),
        (n, open, closed) => {
          const text = `${open.repeat(n)}a pr${closed ? ")".repeat(n) : ""}`;
          fc.pre(text.length <= MAX_FILTER_LENGTH);
          const error = scimErrorOf(() => parseFilter(text));
          expect(error.message).toMatch(/nesting deeper than 32 levels/);
        },
      ),
    );
  });

  it(`accepts ${MAX_FILTER_COMPARISONS} attribute expressions and refuses one more, brackets included`, () => {
    const chain = (n: number) => Array.from({ length: n }, (_, i) => `a${i} pr`).join(" and ");
    expect(() => parseFilter(chain(MAX_FILTER_COMPARISONS))).not.toThrow();
    expect(scimErrorOf(() => parseFilter(chain(MAX_FILTER_COMPARISONS + 1))).message).toMatch(
      /more than 100 attribute expressions/,
    );
    const inner = Array.from({ length: 60 }, (_, i) => `v${i} pr`).join(" or ");
    expect(() =>
      parseFilter(`e[${inner}] and f[${inner.split(" or ").slice(0, 40).join(" or ")}]`),
    ).not.toThrow();
    expect(scimErrorOf(() => parseFilter(`e[${inner}] and f[${inner}]`)).message).toMatch(/more than 100/);
  });
});

describe("parsePatchPath", () => {
  const good: [string, PatchPath][] = [
    ["userName", { schema: null, attribute: "userName", subAttribute: null, filter: null }],
    ["name.familyName", { schema: null, attribute: "name", subAttribute: "familyName", filter: null }],
    [
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
      {
        schema: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        attribute: "manager",
        subAttribute: null,
        filter: null,
      },
    ],
    [
      'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
      {
        schema: null,
        attribute: "members",
        subAttribute: null,
        filter: cmp("value", "eq", "2819c223-7f76-453a-919d-413861904646"),
      },
    ],
    [
      'emails[type eq "work" and value ew "example.com"]',
      {
        schema: null,
        attribute: "emails",
        subAttribute: null,
        filter: and(cmp("type", "eq", "work"), cmp("value", "ew", "example.com")),
      },
    ],
    [
      'addresses[type eq "work"].streetAddress',
      {
        schema: null,
        attribute: "addresses",
        subAttribute: "streetAddress",
        filter: cmp("type", "eq", "work"),
      },
    ],
    [
      `${USER_URN}:emails[not (primary eq true)].value`,
      {
        schema: USER_URN,
        attribute: "emails",
        subAttribute: "value",
        filter: not(cmp("primary", "eq", true)),
      },
    ],
  ];
  it.each(good)("%s", (text, expected) => {
    expect(parsePatchPath(text)).toStrictEqual(expected);
    expect(parsePatchPath(formatPatchPath(expected))).toStrictEqual(expected);
  });

  const bad: [string, "invalidPath" | "invalidFilter", number | "end"][] = [
    ["", "invalidPath", "end"],
    [" userName", "invalidPath", 0],
    ["userName ", "invalidPath", 8],
    ["name.givenName.x", "invalidPath", 0],
    ["1name", "invalidPath", 0],
    ["name.", "invalidPath", "end"],
    ['emails [type eq "work"]', "invalidPath", 6],
    ['emails.value[type eq "work"]', "invalidPath", 12],
    ['emails[type eq "work"]value', "invalidPath", 22],
    ['emails[type eq "work"].', "invalidPath", 23],
    ['emails[type eq "work"].1x', "invalidPath", 23],
    ['emails[type eq "work"].value.x', "invalidPath", 23],
    ['emails[type eq "work"][value pr]', "invalidPath", 22],
    ["foo:bar", "invalidPath", 0],
    ["emails[type eq]", "invalidFilter", 14],
    ['emails[type eq "work"', "invalidFilter", "end"],
    ["emails[]", "invalidFilter", 7],
    ["emails[value[type pr]]", "invalidFilter", 12],
    ['emails[name.x eq "a"]', "invalidFilter", 7],
  ];
  it.each(bad)("%j is refused with %s", (text, scimType, offset) => {
    const error = scimErrorOf(() => parsePatchPath(text));
    expect(error.status).toBe(400);
    expect(error.scimType).toBe(scimType);
    expect(error.message).toContain(`offset ${offset === "end" ? text.length : offset}`);
  });

  it("has the filter limits", () => {
    expect(scimErrorOf(() => parsePatchPath(`a${"b".repeat(MAX_FILTER_LENGTH)}`)).scimType).toBe(
      "invalidPath",
    );
    const deep = `e[${"(".repeat(MAX_FILTER_DEPTH)}a pr${")".repeat(MAX_FILTER_DEPTH)}]`;
    expect(scimErrorOf(() => parsePatchPath(deep)).message).toMatch(/nesting deeper/);
  });
});

// --- properties -----------------------------------------------------------------------------------------

const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,6}$/);
const schema = fc.oneof(
  { weight: 4, arbitrary: fc.constant(null) },
  fc.constantFrom(USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
  fc.stringMatching(/^urn:[a-z0-9][a-z0-9-]{0,4}(:[A-Za-z0-9._-]{1,5}){1,3}$/),
);
const path: fc.Arbitrary<AttributePath> = fc.record({
  schema,
  attribute: name,
  subAttribute: fc.option(name, { freq: 3 }),
});
const barePath: fc.Arbitrary<AttributePath> = fc.record({
  schema: fc.constant(null),
  attribute: name,
  subAttribute: fc.constant(null),
});
const value: fc.Arbitrary<FilterValue> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ maxLength: 8 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const op = fc.constantFrom<CompareOperator>("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le");

function leaf(paths: fc.Arbitrary<AttributePath>): fc.Arbitrary<FilterNode> {
  return fc.oneof(
    fc.record({ type: fc.constant("compare" as const), path: paths, op, value }),
    fc.record({ type: fc.constant("present" as const), path: paths }),
  );
}

function tree(atom: fc.Arbitrary<FilterNode>, maxDepth: number): fc.Arbitrary<FilterNode> {
  return fc.letrec<{ node: FilterNode }>((tie) => ({
    node: fc.oneof(
      { maxDepth, depthIdentifier: `tree-${maxDepth}` },
      atom,
      fc.record({
        type: fc.constantFrom("and" as const, "or" as const),
        left: tie("node"),
        right: tie("node"),
      }),
      fc.record({ type: fc.constant("not" as const), filter: tie("node") }),
    ),
  })).node;
}

const valuePath: fc.Arbitrary<FilterNode> = fc.record({
  type: fc.constant("valuePath" as const),
  path: fc.record({ schema, attribute: name, subAttribute: fc.constant(null) }),
  filter: tree(leaf(barePath), 2),
});
const filterAst = tree(fc.oneof({ weight: 3, arbitrary: leaf(path) }, valuePath), 4);

/** A small deterministic PRNG so the noisy printer's choices replay with fast-check's seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A second, independent printer: random keyword case, random whitespace, redundant parentheses, strings
 * with random escapes, numbers in exponent form. Whatever it prints must parse to the same AST.
 */
function noisyPrint(root: FilterNode, seed: number): string {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ws = () => pick([" ", "  ", "\t", "\n", " \r\n "]);
  const opt = () => (random() < 0.5 ? "" : ws());
  const cased = (word: string) =>
    [...word].map((c) => (random() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join("");
  const pathText = (path: AttributePath) =>
    (path.schema === null ? "" : `${path.schema}:`) +
    path.attribute +
    (path.subAttribute === null ? "" : `.${path.subAttribute}`);
  const str = (text: string) => {
    let out = '"';
    for (const c of text) {
      const code = c.codePointAt(0)!;
      const short: Record<string, string> = {
        '"': '\\"',
        "\\": "\\\\",
        "\n": "\\n",
        "\t": "\\t",
        "/": "\\/",
      };
      if (short[c] !== undefined && random() < 0.7) out += short[c];
      else if (code < 0x20 || c === '"' || c === "\\" || random() < 0.2) {
        const units = code > 0xffff ? [c.charCodeAt(0), c.charCodeAt(1)] : [code];
        for (const unit of units) {
          out += `\\u${pick([(x: string) => x, (x: string) => x.toUpperCase()])(unit.toString(16).padStart(4, "0"))}`;
        }
      } else out += c;
    }
    return `${out}"`;
  };
  const val = (v: FilterValue) => {
    if (typeof v === "string") return str(v);
    if (typeof v === "number") {
      if (Object.is(v, -0)) return pick(["-0", "-0.0", "-0e5"]);
      return random() < 0.5 ? String(v) : v.toExponential().replace("e", pick(["e", "E"]));
    }
    return String(v);
  };
  let depth = 0;
  const wrap = (text: string) => {
    if (depth < 8 && random() < 0.2) return `(${opt()}${text}${opt()})`;
    return text;
  };
  const print = (node: FilterNode): string => {
    depth++;
    try {
      switch (node.type) {
        case "compare":
          return wrap(`${pathText(node.path)}${ws()}${cased(node.op)}${ws()}${val(node.value)}`);
        case "present":
          return wrap(`${pathText(node.path)}${ws()}${cased("pr")}`);
        case "valuePath":
          return wrap(`${pathText(node.path)}[${opt()}${print(node.filter)}${opt()}]`);
        case "not":
          return wrap(`${cased("not")}${opt()}(${opt()}${print(node.filter)}${opt()})`);
        case "and":
        case "or": {
          const group = (child: FilterNode, needed: boolean) =>
            needed ? `(${opt()}${print(child)}${opt()})` : print(child);
          const left = group(node.left, node.type === "and" && node.left.type === "or");
          const right = group(
            node.right,
            node.right.type === "or" || (node.type === "and" && node.right.type === "and"),
          );
          return wrap(`${left}${ws()}${cased(node.type)}${ws()}${right}`);
        }
      }
    } finally {
      depth--;
    }
  };
  return print(root);
}

describe("parseFilter: properties", () => {
  it("formatFilter prints any AST so that it parses back to the same AST", () => {
    fc.assert(
      fc.property(filterAst, (ast) => {
        expect(parseFilter(formatFilter(ast))).toStrictEqual(structuredClone(ast));
      }),
      { numRuns: 500 },
    );
  });

  it("an independent noisy printer (case, whitespace, parentheses, escapes) parses back to the same AST", () => {
    fc.assert(
      fc.property(filterAst, fc.integer(), (ast, seed) => {
        const text = noisyPrint(ast, seed);
        fc.pre(text.length <= MAX_FILTER_LENGTH);
        expect(parseFilter(text)).toStrictEqual(structuredClone(ast));
      }),
      { numRuns: 500 },
    );
  });

  it("PATCH paths round-trip through formatPatchPath", () => {
    const patchPath = fc.oneof(
      fc.record({ schema, attribute: name, subAttribute: fc.option(name), filter: fc.constant(null) }),
      fc.record({ schema, attribute: name, subAttribute: fc.option(name), filter: tree(leaf(barePath), 3) }),
    );
    fc.assert(
      fc.property(patchPath, (path) => {
        expect(parsePatchPath(formatPatchPath(path))).toStrictEqual(structuredClone(path));
      }),
      { numRuns: 300 },
    );
  });

  const accepted = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ScimError);
      const scim = error as ScimError;
      expect(scim.status).toBe(400);
      expect(["invalidFilter", "invalidPath"]).toContain(scim.scimType);
      expect(scim.message.length).toBeLessThan(220);
    }
  };

  it("random text never throws anything but a 400 ScimError", () => {
    const alphabet = fc.constantFrom(
      ..."aeEnqoOrtp[](). \t\"\\:-_u0123456789+,/{}'!=".split(""),
      "and ",
      " or ",
      "not",
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: alphabet, maxLength: 60 }), fc.string()),
        (text) => {
          accepted(() => parseFilter(text));
          accepted(() => parsePatchPath(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("mutations of valid filters never throw anything but a 400 ScimError", () => {
    const mutation = fc.record({
      at: fc.nat(),
      remove: fc.nat({ max: 3 }),
      insert: fc.string({ unit: fc.constantFrom(...'()[]" \\.:aZ0-e'.split("")), maxLength: 3 }),
    });
    fc.assert(
      fc.property(filterAst, fc.array(mutation, { minLength: 1, maxLength: 4 }), (ast, mutations) => {
        let text = formatFilter(ast);
        for (const m of mutations) {
          const at = m.at % (text.length + 1);
          text = text.slice(0, at) + m.insert + text.slice(at + m.remove);
        }
        accepted(() => parseFilter(text));
        accepted(() => parsePatchPath(`emails[${text}].value`));
      }),
      { numRuns: 1000 },
    );
  });
});
