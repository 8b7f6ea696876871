/**
 * Predicates: a small, storage-agnostic boolean tree over Tessera's columns, and its compilation to one SQL
 * expression that means the same on SQLite and PostgreSQL. Domain code (scim/filter-sql.ts: SCIM filters)
 * decides *what* to match and builds the tree; how each dialect says it lives here.
 *
 * - Only values carry outside text, and every value is a bound parameter. Column and table names are typed
 *   against `Database`, so a tree cannot name anything else.
 * - Text compares by code point on both dialects: ordering (`<`, `<=`, `>`, `>=`) uses PostgreSQL's
 *   `COLLATE "C"` (SQLite's BINARY already is), equality is exact (deterministic collations), and `match`
 *   (contains / startsWith / endsWith) is case-exact: `LIKE` on PostgreSQL, `instr()`/`substr()` on SQLite,
 *   whose `LIKE` ignores ASCII case. An empty `match` value matches every non-NULL value.
 * - `fold` compares the column ASCII-lower-cased (`lower()` on SQLite, `lower(… COLLATE "C")` on PostgreSQL:
 *   ASCII only on both); the value is taken as given, so the caller lower-cases it the same way.
 * - NULL is not guarded here: a comparison on a NULL column is unknown, as in SQL. Callers that need two-valued
 *   logic (`not` as an exact complement) add `notNull`.
 */
import { type Expression, type RawBuilder, type SqlBool, sql } from "kysely";
import type { DialectName } from "./connect.js";
import type { Database } from "./database.js";

export type TableName = keyof Database & string;

/** A qualified column, `table.column`, of a table in `Database`. */
export type ColumnRef = { [T in TableName]: `${T}.${keyof Database[T] & string}` }[TableName];

export type Predicate =
  | { kind: "true" }
  | { kind: "false" }
  | { kind: "and" | "or"; left: Predicate; right: Predicate }
  | { kind: "not"; predicate: Predicate }
  | { kind: "notNull"; column: ColumnRef }
  /** Some row of `table` whose `link` column equals the outer row's `parent` column satisfies `where`. */
  | { kind: "exists"; table: TableName; link: ColumnRef; parent: ColumnRef; where: Predicate }
  | {
      kind: "compare";
      column: ColumnRef;
      op: "=" | "<>" | "<" | "<=" | ">" | ">=";
      value: string | number;
      fold?: boolean;
    }
  | {
      kind: "match";
      column: ColumnRef;
      op: "contains" | "startsWith" | "endsWith";
      value: string;
      fold?: boolean;
    };

/** A compiled predicate: what Kysely's `where` takes. */
export type SqlPredicate = Expression<SqlBool>;

type Bool = RawBuilder<SqlBool>;

const ORDERING = new Set(["<", "<=", ">", ">="]);
const OPERATORS = new Set(["=", "<>", ...ORDERING]);

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, "\\$&");
}

/** `predicate` as one boolean SQL expression for `dialect`, every value bound. */
export function compilePredicate(predicate: Predicate, dialect: DialectName): SqlPredicate {
  const postgres = dialect === "postgres";

  const column = (ref: ColumnRef, fold: boolean | undefined) => {
    const reference = sql.ref(ref);
    if (!fold) return reference;
    return postgres ? sql`lower(${reference} collate "C")` : sql`lower(${reference})`;
  };

  const compile = (node: Predicate): Bool => {
    switch (node.kind) {
      case "true":
        return sql<SqlBool>`(1 = 1)`;
      case "false":
        return sql<SqlBool>`(1 = 0)`;
      case "and":
        return sql<SqlBool>`(${compile(node.left)} and ${compile(node.right)})`;
      case "or":
        return sql<SqlBool>`(${compile(node.left)} or ${compile(node.right)})`;
      case "not":
        return sql<SqlBool>`(not ${compile(node.predicate)})`;
      case "notNull":
        return sql<SqlBool>`(${sql.ref(node.column)} is not null)`;
      case "exists":
        return sql<SqlBool>`exists (select 1 from ${sql.table(node.table)} where ${sql.ref(node.link)} = ${sql.ref(node.parent)} and ${compile(node.where)})`;
      case "compare": {
        // The operator is spliced into the SQL: only the listed ones, whatever a cast let through.
        if (!OPERATORS.has(node.op)) throw new TypeError(`not a comparison operator: ${String(node.op)}`);
        const target = column(node.column, node.fold);
        const ordered =
          postgres && typeof node.value === "string" && ORDERING.has(node.op)
            ? sql`${target} collate "C"`
            : target;
        return sql<SqlBool>`(${ordered} ${sql.raw(node.op)} ${node.value})`;
      }
      case "match": {
        const { value, op } = node;
        if (value === "") return sql<SqlBool>`(${sql.ref(node.column)} is not null)`;
        if (!node.fold && !postgres) {
          const ref = sql.ref(node.column);
          return op === "contains"
            ? sql<SqlBool>`(instr(${ref}, ${value}) > 0)`
            : op === "startsWith"
              ? sql<SqlBool>`(substr(${ref}, 1, length(${value})) = ${value})`
              : sql<SqlBool>`(substr(${ref}, -length(${value})) = ${value})`;
        }
        const escaped = escapeLike(value);
        const pattern =
          op === "contains" ? `%${escaped}%` : op === "startsWith" ? `${escaped}%` : `%${escaped}`;
        return sql<SqlBool>`(${column(node.column, node.fold)} like ${pattern} escape '\\')`;
      }
    }
  };

  return compile(predicate);
}
