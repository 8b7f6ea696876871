import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScimError } from "../../src/scim/errors.js";
import {
  type AttributePath,
  type CompareOperator,
  type FilterNode,
  type FilterValue,
  formatFilter,
  parseFilter,
} from "../../src/scim/filter.js";
import { compileGroupFilter, compileUserFilter } from "../../src/scim/filter-sql.js";
import type { Storage } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

const USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group";

// --- fixture ----------------------------------------------------------------------------------------------

interface FixtureEmail {
  value: string;
  type: string | null;
  primary: boolean;
}

interface FixtureUser {
  id: string;
  userName: string;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  externalId: string | null;
  active: boolean;
  created: string;
  updated: string;
  emails: FixtureEmail[];
}

interface FixtureGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  created: string;
  updated: string;
  members: string[];
}

const USERS: FixtureUser[] = [
  {
    id: "u1",
    userName: "Alice",
    displayName: "Alice Liddell",
    givenName: "Alice",
    familyName: "Liddell",
    externalId: "EXT-1",
    active: true,
    created: "2011-05-13T04:42:34.000Z",
    updated: "2011-05-13T04:42:34.000Z",
    emails: [
      { value: "Alice@Example.com", type: "work", primary: true },
      { value: "alice@home.org", type: "home", primary: false },
    ],
  },
  {
    id: "u2",
    userName: "a_b%c",
    displayName: "A_B%C",
    givenName: null,
    familyName: null,
    externalId: null,
    active: false,
    created: "2012-01-01T00:00:00.000Z",
    updated: "2013-06-01T12:00:00.500Z",
    emails: [],
  },
  {
    id: "u3",
    userName: "bob\\x",
    displayName: null,
    givenName: "Bob",
    familyName: "O'Malley",
    externalId: "ext-1",
    active: true,
    created: "2012-06-15T08:30:00.001Z",
    updated: "2014-02-28T23:59:59.999Z",
    emails: [{ value: "bob@example.org", type: null, primary: false }],
  },
  {
    id: "u4",
    userName: "Élodie",
    displayName: "ÉLODIE Ünal",
    givenName: "élodie",
    familyName: "",
    externalId: "Ext_1%",
    active: true,
    created: "2013-03-03T03:03:03.333Z",
    updated: "2013-03-03T03:03:03.333Z",
    emails: [{ value: "elodie@EXAMPLE.com", type: "Work", primary: false }],
  },
  {
    id: "u5",
    userName: "CAROL",
    displayName: "Carol König",
    givenName: "Carol",
    familyName: "König",
    externalId: "",
    active: true,
    created: "2014-01-01T00:00:00.000Z",
    updated: "2015-01-01T00:00:00.000Z",
    emails: [],
  },
  {
    id: "u6",
    userName: "dave",
    displayName: "😀 smile",
    givenName: null,
    familyName: null,
    externalId: null,
    active: true,
    created: "2015-07-07T07:07:07.070Z",
    updated: "2016-01-01T00:00:00.000Z",
    emails: [
      { value: "Dave_X@x.org", type: "other", primary: true },
      { value: "dave%y@x.org", type: "work", primary: false },
    ],
  },
  {
    id: "u7",
    userName: "erin",
    displayName: "～ tilde",
    givenName: null,
    familyName: null,
    externalId: "u7",
    active: true,
    created: "2016-12-31T23:59:59.999Z",
    updated: "2017-01-01T00:00:00.000Z",
    emails: [],
  },
];

const GROUPS: FixtureGroup[] = [
  {
    id: "g1",
    displayName: "Admins",
    externalId: "G-1",
    created: "2011-01-01T00:00:00.000Z",
    updated: "2012-01-01T00:00:00.000Z",
    members: ["u1", "u2"],
  },
  {
    id: "g2",
    displayName: "a_b%c Team",
    externalId: null,
    created: "2012-01-01T00:00:00.000Z",
    updated: "2012-01-01T00:00:00.000Z",
    members: ["u2", "u3"],
  },
  {
    id: "g3",
    displayName: "Ünicode",
    externalId: "g-1",
    created: "2013-01-01T00:00:00.000Z",
    updated: "2013-01-02T00:00:00.000Z",
    members: [],
  },
];

/** The storage contract of accounts/: keys are NFKC + lower case (userName, group name), lower case (e-mail). */
const nfkcLower = (value: string) => value.normalize("NFKC").toLowerCase();

async function insertFixture(storage: Storage): Promise<void> {
  await storage.db
    .insertInto("users")
    .values(
      USERS.map((u) => ({
        id: u.id,
        user_name: u.userName,
        user_name_key: nfkcLower(u.userName),
        external_id: u.externalId,
        display_name: u.displayName,
        given_name: u.givenName,
        family_name: u.familyName,
        active: u.active ? 1 : 0,
        password_hash: null,
        password_updated_at: null,
        created_at: Date.parse(u.created),
        updated_at: Date.parse(u.updated),
        version: 1,
      })),
    )
    .execute();
  await storage.db
    .insertInto("user_emails")
    .values(
      USERS.flatMap((u) =>
        u.emails.map((e, position) => ({
          user_id: u.id,
          value: e.value,
          value_key: e.value.toLowerCase(),
          type: e.type,
          primary: e.primary ? (1 as const) : (0 as const),
          position,
        })),
      ),
    )
    .execute();
  await storage.db
    .insertInto("groups")
    .values(
      GROUPS.map((g) => ({
        id: g.id,
        display_name: g.displayName,
        display_name_key: nfkcLower(g.displayName),
        external_id: g.externalId,
        created_at: Date.parse(g.created),
        updated_at: Date.parse(g.updated),
        version: 1,
      })),
    )
    .execute();
  await storage.db
    .insertInto("group_members")
    .values(GROUPS.flatMap((g) => g.members.map((user_id) => ({ group_id: g.id, user_id }))))
    .execute();
}

/**
 * The test database's default collation is C.UTF-8, where plain comparisons already follow code points and
 * lower() folds all of Unicode; a production database may use a linguistic collation instead. The text
 * columns the filters read get one here, so the tests prove the results do not depend on it.
 */
async function useLinguisticCollation(storage: Storage): Promise<void> {
  const found = await sql<{ collname: string }>`
    select collname from pg_collation where collname in ('und-x-icu', 'en-x-icu', 'en_US.utf8') order by collname desc
  `.execute(storage.db);
  const collation = found.rows[0]?.collname;
  if (collation === undefined) throw new Error("PostgreSQL has no linguistic collation (ICU or en_US.utf8)");
  const columns: [string, string, number][] = [
    ["users", "user_name_key", 256],
    ["users", "display_name", 256],
    ["users", "given_name", 256],
    ["users", "family_name", 256],
    ["users", "external_id", 256],
    ["user_emails", "value_key", 320],
    ["user_emails", "type", 32],
    ["groups", "display_name_key", 256],
    ["groups", "external_id", 256],
  ];
  for (const [table, column, length] of columns) {
    await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type ${sql.raw(`varchar(${length})`)} collate ${sql.id(collation)}`.execute(
      storage.db,
    );
  }
  const check = await sql<{ linguistic: boolean }>`
    select ('é' collate ${sql.id(collation)}) < ('f' collate ${sql.id(collation)}) as linguistic
  `.execute(storage.db);
  expect(check.rows[0]?.linguistic).toBe(true);
}

// --- an in-memory evaluator of the same semantics, written from the rules, not from the compiler -------------

type Scalar = string | boolean | bigint | null;
type Kind = "text" | "bool" | "time";

/** Instants as BigInt tenths of microseconds (1e-4 ms): exact for every fraction the tests generate. */
const SCALE = 10_000n;
function instant(text: string): bigint {
  const m = /^(.*?:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)$/.exec(text);
  if (m === null) throw new Error(`test bug: not an instant ${text}`);
  const whole = BigInt(Date.parse(`${m[1]}${m[3]!.toUpperCase()}`));
  const digits = (m[2] ?? "").padEnd(7, "0");
  if (digits.length > 7 && /[1-9]/.test(digits.slice(7))) throw new Error("test bug: too many digits");
  return whole * SCALE + BigInt(digits.slice(0, 7));
}

const asciiLower = (value: string) => value.replace(/[A-Z]/g, (c) => c.toLowerCase());
const identity = (value: string) => value;
const lower = (value: string) => value.toLowerCase();

function codePointCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

interface Field<R> {
  kind: Kind;
  normalize?: (value: string) => string;
  /** One value for a single-valued attribute; the values of every element for a multi-valued one. */
  values: (row: R) => Scalar[];
}

const text = <R>(normalize: (v: string) => string, values: (row: R) => (string | null)[]): Field<R> => ({
  kind: "text",
  normalize,
  values,
});

const USER_FIELDS: Record<string, Field<FixtureUser>> = {
  id: text(identity, (u) => [u.id]),
  externalid: text(identity, (u) => [u.externalId]),
  username: text(nfkcLower, (u) => [u.userName]),
  displayname: text(asciiLower, (u) => [u.displayName]),
  "name.givenname": text(asciiLower, (u) => [u.givenName]),
  "name.familyname": text(asciiLower, (u) => [u.familyName]),
  active: { kind: "bool", values: (u) => [u.active] },
  emails: text(lower, (u) => u.emails.map((e) => e.value)),
  "emails.value": text(lower, (u) => u.emails.map((e) => e.value)),
  "emails.type": text(asciiLower, (u) => u.emails.map((e) => e.type)),
  "emails.primary": { kind: "bool", values: (u) => u.emails.map((e) => e.primary) },
  groups: text(identity, (u) => GROUPS.filter((g) => g.members.includes(u.id)).map((g) => g.id)),
  "groups.value": text(identity, (u) => GROUPS.filter((g) => g.members.includes(u.id)).map((g) => g.id)),
  "meta.created": { kind: "time", values: (u) => [instant(u.created)] },
  "meta.lastmodified": { kind: "time", values: (u) => [instant(u.updated)] },
};

const EMAIL_FIELDS: Record<string, Field<FixtureEmail>> = {
  value: text(lower, (e) => [e.value]),
  type: text(asciiLower, (e) => [e.type]),
  primary: { kind: "bool", values: (e) => [e.primary] },
};

const GROUP_FIELDS: Record<string, Field<FixtureGroup>> = {
  id: text(identity, (g) => [g.id]),
  externalid: text(identity, (g) => [g.externalId]),
  displayname: text(nfkcLower, (g) => [g.displayName]),
  members: text(identity, (g) => g.members),
  "members.value": text(identity, (g) => g.members),
  "meta.created": { kind: "time", values: (g) => [instant(g.created)] },
  "meta.lastmodified": { kind: "time", values: (g) => [instant(g.updated)] },
};

const present = (v: Scalar) => v !== null && v !== "";

/** One value against one operand: the comparison rules of RFC 7644 §3.4.2.2 as this server defines them. */
function test(field: Field<unknown>, v: Scalar, op: CompareOperator, operand: FilterValue): boolean {
  if (v === null) return op === "ne";
  if (field.kind === "bool") return op === "eq" ? v === operand : v !== operand;
  if (field.kind === "time") {
    const a = v as bigint;
    const b = instant(operand as string);
    return { eq: a === b, ne: a !== b, gt: a > b, ge: a >= b, lt: a < b, le: a <= b }[op as "eq"]!;
  }
  const a = field.normalize!(v as string);
  const b = field.normalize!(operand as string);
  const order = codePointCompare(a, b);
  return {
    eq: a === b,
    ne: a !== b,
    co: a.includes(b),
    sw: a.startsWith(b),
    ew: a.endsWith(b),
    gt: order > 0,
    ge: order >= 0,
    lt: order < 0,
    le: order <= 0,
  }[op];
}

function evaluate<R>(
  node: FilterNode,
  row: R,
  fields: Record<string, Field<R>>,
  valuePath: (path: AttributePath, filter: FilterNode, row: R) => boolean,
): boolean {
  switch (node.type) {
    case "and":
      return evaluate(node.left, row, fields, valuePath) && evaluate(node.right, row, fields, valuePath);
    case "or":
      return evaluate(node.left, row, fields, valuePath) || evaluate(node.right, row, fields, valuePath);
    case "not":
      return !evaluate(node.filter, row, fields, valuePath);
    case "valuePath":
      return valuePath(node.path, node.filter, row);
    case "present":
    case "compare": {
      const key = `${node.path.attribute}${node.path.subAttribute === null ? "" : `.${node.path.subAttribute}`}`;
      const lowerKey = key.toLowerCase();
      if (lowerKey === "name") {
        const u = row as FixtureUser;
        const has = present(u.givenName) || present(u.familyName);
        return node.type === "present" || (node as { op: string }).op === "ne" ? has : !has;
      }
      if (lowerKey === "meta") return node.type === "present" || (node as { op: string }).op === "ne";
      const field = fields[lowerKey];
      if (field === undefined) throw new Error(`test bug: no field ${key}`);
      const values = field.values(row);
      const has = values.some(present);
      if (node.type === "present") return has;
      if (node.value === null) return node.op === "eq" ? !has : has;
      return values.some((v) => test(field as Field<unknown>, v, node.op, node.value));
    }
  }
}

function evaluateUser(node: FilterNode, user: FixtureUser): boolean {
  return evaluate(node, user, USER_FIELDS, (path, filter, u) => {
    if (path.attribute.toLowerCase() === "emails") {
      return u.emails.some((e) => evaluate(filter, e, EMAIL_FIELDS, () => false));
    }
    const groups = GROUPS.filter((g) => g.members.includes(u.id)).map((g) => ({ value: g.id }));
    return groups.some((g) =>
      evaluate(filter, g, { value: text(identity, (x: { value: string }) => [x.value]) }, () => false),
    );
  });
}

function evaluateGroup(node: FilterNode, group: FixtureGroup): boolean {
  return evaluate(node, group, GROUP_FIELDS, (_path, filter, g) =>
    g.members.some((m) =>
      evaluate(
        filter,
        { value: m },
        { value: text(identity, (x: { value: string }) => [x.value]) },
        () => false,
      ),
    ),
  );
}

// --- generators of well-typed filters -------------------------------------------------------------------

const STRINGS = [
  "",
  "a",
  "A",
  "_",
  "%",
  "\\",
  "a_b",
  "%c",
  "b%",
  "alice",
  "ALICE",
  "ali",
  "ICE",
  "Élodie",
  "élodie",
  "ÉLODIE",
  "ünal",
  "ÜNAL",
  "example.com",
  "EXAMPLE",
  "@",
  "@x.org",
  "work",
  "WORK",
  "Work",
  "home",
  "other",
  "g1",
  "G1",
  "g-1",
  "u1",
  "u7",
  "EXT-1",
  "ext-1",
  "xt",
  "Ext_1%",
  "～",
  "~",
  "😀",
  "😀 smile",
  "ｃａｒｏｌ",
  "carol",
  "könig",
  "KÖNIG",
  "o'm",
  "dave_x",
  "DAVE%Y",
  "bob\\x",
  "liddell",
  "admins",
  "ADMINS",
  "ünicode",
  "ÜNICODE",
  "team",
  "t",
  "z",
  "\u007f",
];
const stringValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...STRINGS) },
  fc.string({ unit: fc.constantFrom(..."aAbBeE_%\\@.-'é É～😀kK ".split(/(?:)/u)), maxLength: 4 }),
);

const TIMES = [
  ...USERS.flatMap((u) => [u.created, u.updated]),
  ...GROUPS.flatMap((g) => [g.created, g.updated]),
];
/** Near every fixture instant: ±1 ms, sub-millisecond digits, other time-zone offsets, "Z" or "z". */
const timeValue = fc
  .record({
    base: fc.constantFrom(...TIMES),
    delta: fc.constantFrom(-1, 0, 0, 1),
    extra: fc.constantFrom("", "", "0", "5", "0001", "9999"),
    offset: fc.constantFrom(0, 120, -330, 840),
    zulu: fc.constantFrom("Z", "z"),
    trimMs: fc.boolean(),
  })
  .map(({ base, delta, extra, offset, zulu, trimMs }) => {
    const ms = Date.parse(base) + delta;
    let local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
    if (trimMs && extra === "" && local.endsWith(".000")) local = local.slice(0, 19);
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    const zone =
      offset === 0
        ? zulu
        : `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
    return local + extra + zone;
  });

const randomCase = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((flags) => [...word].map((c, i) => (flags[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

function pathArbitrary(spelling: string, urn: string): fc.Arbitrary<AttributePath> {
  const [attribute, subAttribute] = spelling.split(".");
  return fc.record({
    schema: fc.constantFrom(null, null, urn, urn.toUpperCase()),
    attribute: randomCase(attribute!),
    subAttribute: subAttribute === undefined ? fc.constant(null) : randomCase(subAttribute),
  });
}

const STRING_OPS: CompareOperator[] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];
const TIME_OPS: CompareOperator[] = ["eq", "ne", "gt", "ge", "lt", "le"];

function leafFor(kind: Kind | "complex", path: fc.Arbitrary<AttributePath>): fc.Arbitrary<FilterNode> {
  const nullCompare = fc.record({
    type: fc.constant("compare" as const),
    path,
    op: fc.constantFrom<CompareOperator>("eq", "ne"),
    value: fc.constant(null),
  });
  const presence = fc.record({ type: fc.constant("present" as const), path });
  if (kind === "complex") return fc.oneof(presence, nullCompare);
  const [ops, value] =
    kind === "text"
      ? [STRING_OPS, stringValue as fc.Arbitrary<FilterValue>]
      : kind === "bool"
        ? [["eq", "ne"] as CompareOperator[], fc.boolean() as fc.Arbitrary<FilterValue>]
        : [TIME_OPS, timeValue as fc.Arbitrary<FilterValue>];
  const comparison = fc.record({
    type: fc.constant("compare" as const),
    path,
    op: fc.constantFrom(...ops),
    value,
  });
  return fc.oneof({ weight: 6, arbitrary: comparison }, presence, nullCompare);
}

function tree(atom: fc.Arbitrary<FilterNode>, maxDepth: number, id: string): fc.Arbitrary<FilterNode> {
  return fc.letrec<{ node: FilterNode }>((tie) => ({
    node: fc.oneof(
      { maxDepth, depthIdentifier: id },
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

function leaves(fields: Record<string, Kind | "complex">, urn: string | null): fc.Arbitrary<FilterNode> {
  return fc.oneof(
    ...Object.entries(fields).map(([spelling, kind]) =>
      leafFor(
        kind,
        urn === null
          ? fc.record({
              schema: fc.constant(null),
              attribute: randomCase(spelling),
              subAttribute: fc.constant(null),
            })
          : pathArbitrary(spelling, urn),
      ),
    ),
  );
}

const userLeaf = leaves(
  {
    id: "text",
    externalId: "text",
    userName: "text",
    displayName: "text",
    "name.givenName": "text",
    "name.familyName": "text",
    name: "complex",
    active: "bool",
    emails: "text",
    "emails.value": "text",
    "emails.type": "text",
    "emails.primary": "bool",
    groups: "text",
    "groups.value": "text",
    "meta.created": "time",
    "meta.lastModified": "time",
    meta: "complex",
  },
  USER_URN,
);
const userValuePath = fc.oneof(
  fc.record({
    type: fc.constant("valuePath" as const),
    path: pathArbitrary("emails", USER_URN),
    filter: tree(leaves({ value: "text", type: "text", primary: "bool" }, null), 2, "emails"),
  }),
  fc.record({
    type: fc.constant("valuePath" as const),
    path: pathArbitrary("groups", USER_URN),
    filter: tree(leaves({ value: "text" }, null), 2, "groups"),
  }),
);
const userFilter = tree(fc.oneof({ weight: 4, arbitrary: userLeaf }, userValuePath), 4, "user");

const groupLeaf = leaves(
  {
    id: "text",
    externalId: "text",
    displayName: "text",
    members: "text",
    "members.value": "text",
    "meta.created": "time",
    "meta.lastModified": "time",
    meta: "complex",
  },
  GROUP_URN,
);
const groupFilter = tree(
  fc.oneof(
    { weight: 4, arbitrary: groupLeaf },
    fc.record({
      type: fc.constant("valuePath" as const),
      path: pathArbitrary("members", GROUP_URN),
      filter: tree(leaves({ value: "text" }, null), 2, "members"),
    }),
  ),
  4,
  "group",
);

/** Any AST over any attribute (known or not), any operator and any value type. */
const anyValue: fc.Arbitrary<FilterValue> = fc.oneof(
  stringValue,
  timeValue,
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.constantFrom(
    "\u0000",
    "\uD800",
    "a\uDC00",
    "2011-02-30T00:00:00Z",
    "2011-05-13T04:42:34",
    "x".repeat(4000),
  ),
  fc.constant("\uFDFA".repeat(300)),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const anyName = fc.constantFrom(
  "id",
  "userName",
  "displayName",
  "name",
  "active",
  "emails",
  "groups",
  "members",
  "meta",
  "externalId",
  "title",
  "value",
  "type",
  "primary",
);
const anySub = fc.option(
  fc.constantFrom("givenName", "familyName", "value", "type", "primary", "created", "x"),
);
const anyPath = fc.record({
  schema: fc.constantFrom(null, USER_URN, GROUP_URN, "urn:x:y"),
  attribute: anyName,
  subAttribute: anySub,
});
const anyLeaf = fc.oneof(
  fc.record({
    type: fc.constant("compare" as const),
    path: anyPath,
    op: fc.constantFrom<CompareOperator>(...STRING_OPS),
    value: anyValue,
  }),
  fc.record({ type: fc.constant("present" as const), path: anyPath }),
);
const anyFilter = tree(
  fc.oneof(
    { weight: 3, arbitrary: anyLeaf },
    fc.record({
      type: fc.constant("valuePath" as const),
      path: anyPath,
      filter: tree(anyLeaf, 2, "anyInner"),
    }),
  ),
  3,
  "any",
);

// --- the tests ------------------------------------------------------------------------------------------

const sorted = (ids: string[]) => [...ids].sort();

describe.each(DIALECTS)("SCIM filters compiled to SQL on %s", (dialect) => {
  let storage: Storage;

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    if (dialect === "postgres") await useLinguisticCollation(storage);
    await insertFixture(storage);
  });
  afterAll(async () => {
    await storage.close();
  });

  async function userIds(filter: string | FilterNode): Promise<string[]> {
    const ast = typeof filter === "string" ? parseFilter(filter) : filter;
    const rows = await storage.db
      .selectFrom("users")
      .select("id")
      .where(compileUserFilter(ast, dialect))
      .execute();
    return sorted(rows.map((r) => r.id));
  }

  async function groupIds(filter: string | FilterNode): Promise<string[]> {
    const ast = typeof filter === "string" ? parseFilter(filter) : filter;
    const rows = await storage.db
      .selectFrom("groups")
      .select("id")
      .where(compileGroupFilter(ast, dialect))
      .execute();
    return sorted(rows.map((r) => r.id));
  }

  const userCases: [string, string[]][] = [
    // userName: NFKC + lower case on both sides.
    ['userName eq "alice"', ["u1"]],
    ['userName eq "ALICE"', ["u1"]],
    ['USERNAME Eq "Alice"', ["u1"]],
    ['userName eq "ｃａｒｏｌ"', ["u5"]],
    ['userName eq "ÉLODIE"', ["u4"]],
    ['userName ne "alice"', ["u2", "u3", "u4", "u5", "u6", "u7"]],
    ['userName sw "A"', ["u1", "u2"]],
    ['userName ew "C"', ["u2"]],
    ['userName co "LOD"', ["u4"]],
    ['userName gt "d"', ["u4", "u6", "u7"]],
    ['userName le "bob\\\\x"', ["u1", "u2", "u3"]],
    // LIKE wildcards and the escape character match only themselves.
    ['userName co "_"', ["u2"]],
    ['userName co "%"', ["u2"]],
    ['userName co "\\\\"', ["u3"]],
    ['userName sw "a_"', ["u2"]],
    ['userName sw "a%"', []],
    ['userName ew "%c"', ["u2"]],
    ['emails.value co "_"', ["u6"]],
    ['emails.value co "%"', ["u6"]],
    ['displayName co "_"', ["u2"]],
    ['displayName co "%"', ["u2"]],
    ['externalId co "_"', ["u4"]],
    ['externalId co "%"', ["u4"]],
    // displayName and name.*: ASCII case folding on both dialects.
    ['displayName co "liddell"', ["u1"]],
    ['displayName eq "a_b%c"', ["u2"]],
    ['displayName co "ÉLODIE"', ["u4"]],
    ['displayName co "élodie"', []],
    ["displayName pr", ["u1", "u2", "u4", "u5", "u6", "u7"]],
    ["not (displayName pr)", ["u3"]],
    ["displayName eq null", ["u3"]],
    ["displayName ne null", ["u1", "u2", "u4", "u5", "u6", "u7"]],
    ['displayName ne "alice liddell"', ["u2", "u3", "u4", "u5", "u6", "u7"]],
    ['displayName lt "b"', ["u1", "u2"]],
    ['displayName gt "～"', ["u6", "u7"]],
    ['displayName ge "😀"', ["u6"]],
    ['name.familyName co "o\'m"', ["u3"]],
    ["name.familyName pr", ["u1", "u3", "u5"]],
    ['name.givenName sw "éL"', ["u4"]],
    ['name.givenName sw "ÉL"', []],
    ["name pr", ["u1", "u3", "u4", "u5"]],
    ["name eq null", ["u2", "u6", "u7"]],
    // externalId and id: case-exact.
    ['externalId eq "EXT-1"', ["u1"]],
    ['externalId co "xt-"', ["u3"]],
    ['externalId co "XT-"', ["u1"]],
    ['externalId sw "ext"', ["u3"]],
    ['externalId sw "Ext"', ["u4"]],
    ['externalId ew "_1%"', ["u4"]],
    ['externalId ew "T-1"', ["u1"]],
    ['externalId ew ""', ["u1", "u3", "u4", "u5", "u7"]],
    ["externalId pr", ["u1", "u3", "u4", "u7"]],
    ['externalId ne "ext-1"', ["u1", "u2", "u4", "u5", "u6", "u7"]],
    ['id eq "u3" or id eq "U4"', ["u3"]],
    ['id gt "u5"', ["u6", "u7"]],
    // active: a boolean.
    ["active eq true", ["u1", "u3", "u4", "u5", "u6", "u7"]],
    ["active eq false", ["u2"]],
    ["active ne true", ["u2"]],
    ["active pr", ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]],
    // emails: multi-valued, any value matches.
    ['emails co "example.com"', ["u1", "u4"]],
    ['emails.value co "EXAMPLE.ORG"', ["u3"]],
    ['emails eq "alice@example.COM"', ["u1"]],
    ['emails.type eq "work"', ["u1", "u4", "u6"]],
    ['emails.type ne "work"', ["u1", "u3", "u6"]],
    ["emails.primary eq true", ["u1", "u6"]],
    ["emails pr", ["u1", "u3", "u4", "u6"]],
    ["not (emails pr)", ["u2", "u5", "u7"]],
    ["emails eq null", ["u2", "u5", "u7"]],
    ["emails.type pr", ["u1", "u4", "u6"]],
    ["emails.type eq null", ["u2", "u3", "u5", "u7"]],
    // value paths: one e-mail row satisfies the whole bracket.
    ['emails[type eq "work" and value co "@example.com"]', ["u1", "u4"]],
    ['emails[type eq "work" and primary eq true]', ["u1"]],
    ['emails.type eq "work" and emails.primary eq true', ["u1", "u6"]],
    ["emails[type eq null]", ["u3"]],
    ['emails[not (type eq "work")]', ["u1", "u3", "u6"]],
    ['emails[value ew "@x.org" and not (primary eq true)]', ["u6"]],
    ['EMAILS[TYPE EQ "OTHER" or value sw "BOB"]', ["u3", "u6"]],
    // groups: membership.
    ['groups eq "g1"', ["u1", "u2"]],
    ['groups.value eq "g2"', ["u2", "u3"]],
    ["groups pr", ["u1", "u2", "u3"]],
    ['groups[value eq "g1"] and groups[value eq "g2"]', ["u2"]],
    ['groups[value eq "g1" and value eq "g2"]', []],
    // meta times: instants, whatever the offset or precision.
    ['meta.created eq "2011-05-13T04:42:34Z"', ["u1"]],
    ['meta.created eq "2011-05-13T06:42:34+02:00"', ["u1"]],
    ['meta.created eq "2011-05-12T23:12:34.000-05:30"', ["u1"]],
    ['meta.created eq "2011-05-13t04:42:34.0000z"', ["u1"]],
    ['meta.created eq "2011-05-13T04:42:34.0001Z"', []],
    ['meta.created ge "2011-05-13T04:42:34.0001Z"', ["u2", "u3", "u4", "u5", "u6", "u7"]],
    ['meta.created gt "2011-05-13T04:42:33.9999Z"', ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]],
    ['meta.created lt "2011-05-13T04:42:34.0001Z"', ["u1"]],
    ['meta.created le "2011-05-13T04:42:34Z"', ["u1"]],
    ['meta.created lt "2011-05-13T04:42:34Z"', []],
    ['meta.created ne "2011-05-13T04:42:34.5Z"', ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]],
    ['meta.lastModified eq "2013-06-01T12:00:00.5Z"', ["u2"]],
    [
      'meta.lastModified gt "2014-02-28T23:59:59.998Z" and meta.lastModified lt "2015-01-01T00:00:00Z"',
      ["u3"],
    ],
    ["meta pr", ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]],
    ["meta.created eq null or meta.lastModified eq null", []],
    // schema prefix, any case.
    [`${USER_URN}:userName eq "dave"`, ["u6"]],
    [`${USER_URN.toUpperCase()}:USERNAME eq "dave"`, ["u6"]],
    [`${USER_URN}:emails[type eq "other"]`, ["u6"]],
    [`${USER_URN}:name.familyName eq "könig"`, ["u5"]],
    // and / or / not.
    ['userName sw "a" and not (active eq false)', ["u1"]],
    ['userName eq "dave" or userName eq "erin" and active eq false', ["u6"]],
    ['(userName eq "dave" or userName eq "erin") and active eq true', ["u6", "u7"]],
    ['not (emails co "example" or groups pr)', ["u5", "u6", "u7"]],
    ['not (not (userName eq "alice"))', ["u1"]],
    ['active eq true and (emails.type eq "work" or displayName co "~") and not (id eq "u4")', ["u1", "u6"]],
  ];

  it.each(userCases)("users: %s", async (filter, expected) => {
    expect(await userIds(filter)).toEqual(expected);
    // The in-memory evaluator agrees with the hand-written expectation.
    expect(sorted(USERS.filter((u) => evaluateUser(parseFilter(filter), u)).map((u) => u.id))).toEqual(
      expected,
    );
  });

  const groupCases: [string, string[]][] = [
    ['displayName eq "ADMINS"', ["g1"]],
    ['displayName co "_"', ["g2"]],
    ['displayName co "%"', ["g2"]],
    ['displayName eq "ünicode"', ["g3"]],
    ['displayName eq "ÜNICODE"', ["g3"]],
    ['displayName sw "A"', ["g1", "g2"]],
    ['members eq "u1"', ["g1"]],
    ['members.value eq "u2"', ["g1", "g2"]],
    ["members pr", ["g1", "g2"]],
    ["not (members pr)", ["g3"]],
    ['members[value eq "u3"]', ["g2"]],
    ['members[value eq "u1" or value eq "u3"]', ["g1", "g2"]],
    ['externalId eq "g-1"', ["g3"]],
    ["externalId pr", ["g1", "g3"]],
    ['meta.created gt "2011-06-01T00:00:00Z"', ["g2", "g3"]],
    ['meta.lastModified eq "2012-01-01T01:00:00+01:00"', ["g1", "g2"]],
    [`${GROUP_URN}:displayName sw "a"`, ["g1", "g2"]],
    ['id ne "g2" and not (displayName co "min")', ["g3"]],
  ];

  it.each(groupCases)("groups: %s", async (filter, expected) => {
    expect(await groupIds(filter)).toEqual(expected);
    expect(sorted(GROUPS.filter((g) => evaluateGroup(parseFilter(filter), g)).map((g) => g.id))).toEqual(
      expected,
    );
  });

  const userRefusals = [
    "title pr",
    "name.middleName pr",
    "emails.display eq 1",
    'userName.x eq "a"',
    `${GROUP_URN}:userName eq "x"`,
    'urn:x:y:userName eq "x"',
    "members pr",
    "active gt true",
    'active eq "true"',
    "active eq 1",
    'active co "t"',
    'meta.created co "2011"',
    'meta.created gt "yesterday"',
    'meta.created gt "2011-05-13T04:42:34"',
    'meta.created gt "2011-02-30T00:00:00Z"',
    'meta.created gt "2011-05-13T24:00:00Z"',
    'meta.created gt "2011-05-13T04:42:34+24:00"',
    "meta.created gt 5",
    "userName eq 5",
    "userName eq true",
    "userName gt null",
    "displayName co null",
    'name eq "x"',
    'meta eq "x"',
    'name[givenName eq "x"]',
    'userName[value eq "x"]',
    'emails[display eq "x"]',
    "emails[primary gt true]",
    "emails[value eq 1]",
    "emails[type sw null]",
    'groups[display eq "x"]',
    'displayName eq "a\\u0000b"',
    'userName co "\\ud800"',
    "emails.value gt 3",
    `userName eq "${"\\uFDFA".repeat(300)}"`,
  ];

  it.each(userRefusals)("users: %s is refused with invalidFilter", (filter) => {
    const ast = parseFilter(filter);
    let error: unknown;
    try {
      compileUserFilter(ast, dialect);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScimError);
    expect((error as ScimError).status).toBe(400);
    expect((error as ScimError).scimType).toBe("invalidFilter");
    expect((error as ScimError).message.length).toBeLessThan(200);
  });

  it("groups: user attributes and unknown names are refused", () => {
    for (const filter of [
      'userName eq "x"',
      "emails pr",
      "groups pr",
      "active eq true",
      `${USER_URN}:id eq "x"`,
    ]) {
      expect(() => compileGroupFilter(parseFilter(filter), dialect)).toThrow(ScimError);
    }
  });

  it("binds values as parameters: quotes and SQL in a value are just text", async () => {
    const hostile = `x' or 1=1 --`;
    const ast = parseFilter(
      `userName eq ${JSON.stringify(hostile)} or displayName co ${JSON.stringify(hostile)}`,
    );
    const query = storage.db.selectFrom("users").select("id").where(compileUserFilter(ast, dialect));
    const compiled = query.compile();
    expect(compiled.sql).not.toContain("1=1");
    expect(compiled.parameters).toContain(hostile);
    expect(await query.execute()).toEqual([]);
  });

  it("bounds the message of an unknown attribute", () => {
    const name = `a${"b".repeat(3000)}`;
    expect(() => compileUserFilter(parseFilter(`${name} pr`), dialect)).toThrow(
      /unknown attribute "ab{47}…"/,
    );
  });

  it("filters at the parser's limits compile and run", async () => {
    const chain = Array.from({ length: 100 }, (_, i) => `userName ne "x${i}"`).join(" and ");
    expect(await userIds(chain)).toEqual(USERS.map((u) => u.id).sort());
    const ors = Array.from({ length: 50 }, (_, i) => `emails[value co "${i}" or type sw "w"]`).join(" or ");
    expect(await userIds(ors)).toEqual(["u1", "u4", "u6"]);
    const nots = `${"not (".repeat(32)}userName eq "alice"${")".repeat(32)}`;
    expect(await userIds(nots)).toEqual(["u1"]);
  });

  it("random well-typed user filters select exactly what the in-memory evaluator selects", async () => {
    await fc.assert(
      fc.asyncProperty(userFilter, async (ast) => {
        const expected = sorted(USERS.filter((u) => evaluateUser(ast, u)).map((u) => u.id));
        expect(await userIds(ast), formatFilter(ast)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });

  it("random well-typed group filters select exactly what the in-memory evaluator selects", async () => {
    await fc.assert(
      fc.asyncProperty(groupFilter, async (ast) => {
        const expected = sorted(GROUPS.filter((g) => evaluateGroup(ast, g)).map((g) => g.id));
        expect(await groupIds(ast), formatFilter(ast)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("any AST either compiles to SQL the database accepts or is refused with invalidFilter", async () => {
    await fc.assert(
      fc.asyncProperty(anyFilter, fc.boolean(), async (ast, onGroups) => {
        let where: ReturnType<typeof compileUserFilter>;
        try {
          where = (onGroups ? compileGroupFilter : compileUserFilter)(ast, dialect);
        } catch (error) {
          expect(error).toBeInstanceOf(ScimError);
          expect((error as ScimError).scimType).toBe("invalidFilter");
          return;
        }
        await storage.db
          .selectFrom(onGroups ? "groups" : "users")
          .select("id")
          .where(where)
          .execute();
      }),
      { numRuns: 300 },
    );
  });
});
