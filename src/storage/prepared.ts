/**
 * Prepared queries: a SELECT built and compiled by Kysely once, then run many times with new values.
 *
 * Why: on the hot path of a password sign-in the account look-up was the largest piece of the sign-in's work
 * on the event loop, and most of it was Kysely building and compiling the same query again (immutable
 * operation nodes, the compiler walk), not SQLite. While argon2id runs on the other threads it evicts the
 * caches, so every sign-in runs that code cold: measured on 2 cores under 8 concurrent sign-ins, the look-up
 * took a median of ~250 µs of event-loop time through the query builder, ~130 µs as a compiled query run by
 * Kysely, ~60 µs as a prepared better-sqlite3 statement (docs/accounts.md, "Performance").
 *
 * - `build` receives the Kysely instance and one placeholder object per value; each placeholder must be used
 *   as a plain value (`where(column, "=", value)`), never transformed (`toLowerCase`, a template, `sql.raw`:
 *   those throw, the placeholder refuses to become a string) and never left out. `prepare` checks that every
 *   placeholder became a bound parameter, found by identity; it throws otherwise, so a misuse fails where the
 *   query is declared. Transform values before the call (`first(userNameKey(name))`), not in `build`.
 * - Only SELECTs, and no common table expression that writes (`with d as (delete … returning …)` is a SELECT
 *   to Kysely, and PostgreSQL would run the delete): writes keep going through Kysely.
 * - On PostgreSQL the compiled query runs through Kysely (`executeQuery`): the build and compile are saved.
 * - On SQLite it runs directly on the connection Kysely uses, through the same prepared-statement cache, when
 *   nobody holds that connection: not inside a transaction (Kysely holds the connection for a whole
 *   transaction, and a direct read then would see its uncommitted writes), not while Kysely runs a query or
 *   lends the connection out (`db.connection()`, the migrator), not while the cached statement is busy.
 *   Otherwise it goes through Kysely and waits its turn like every other query. The direct path skips Kysely's
 *   plugins; the storage's Kysely instance has none.
 */
import {
  type Compilable,
  CompiledQuery,
  type Kysely,
  type RootOperationNode,
  type SelectQueryNode,
} from "kysely";
import type { Database } from "./database.js";

export interface PreparedQuery<A extends unknown[], R> {
  /** Every row, in the query's order. */
  all(...values: A): Promise<R[]>;
  /** The first row, or undefined. */
  first(...values: A): Promise<R | undefined>;
  /**
   * `first` without a promise when it can: read directly (SQLite, the connection free), the row itself;
   * otherwise (PostgreSQL, or the connection busy) a promise of it. For hot paths where every await counts.
   */
  firstNow(...values: A): R | undefined | Promise<R | undefined>;
}

/** Declares a prepared query; see the module comment for how `build` may use its placeholders. */
export type PrepareQuery = <A extends unknown[], R>(
  build: (db: Kysely<Database>, ...values: A) => Compilable<R>,
) => PreparedQuery<A, R>;

/**
 * Runs a compiled SELECT on the SQLite connection directly: its rows, or undefined when it cannot now (the
 * connection is in a transaction) and the query must go through Kysely.
 */
export type DirectReader = (sql: string, parameters: readonly unknown[]) => unknown[] | undefined;

type Slot = { value: number } | { constant: unknown };

/**
 * A stand-in for one value while the query is built. Bound as an ordinary parameter and found again by
 * identity; turning it into a string or number (`toLowerCase`, a template, `sql.raw`) throws, so a build that
 * transforms its value fails when the query is declared instead of silently binding the untransformed value.
 */
class Placeholder {
  constructor(readonly index: number) {}
  [Symbol.toPrimitive](): never {
    throw new TypeError("prepare: a value placeholder was transformed; use it as a plain value");
  }
  toJSON(): never {
    throw new TypeError("prepare: a value placeholder was transformed; use it as a plain value");
  }
}

/** Whether `node` is a SELECT whose common table expressions, if any, are SELECTs too (no writes by CTE). */
function isPlainSelect(node: RootOperationNode): boolean {
  if (node.kind !== "SelectQueryNode") return false;
  return (node.with?.expressions ?? []).every(
    (cte) => cte.expression.kind === "SelectQueryNode" && isPlainSelect(cte.expression as SelectQueryNode),
  );
}

export function createPrepare(db: Kysely<Database>, direct?: DirectReader): PrepareQuery {
  return <A extends unknown[], R>(build: (db: Kysely<Database>, ...values: A) => Compilable<R>) => {
    // Declared parameters only: a rest or defaulted parameter would not count, so say so rather than guess.
    const arity = build.length - 1;
    if (arity < 0) throw new TypeError("prepare: build must take the database and one parameter per value");
    const placeholders = Array.from({ length: arity }, (_, i) => new Placeholder(i));
    const compiled = build(db, ...(placeholders as unknown as A)).compile();
    if (!isPlainSelect(compiled.query)) throw new TypeError("prepare: only SELECT queries");
    const used = new Set<number>();
    const slots: Slot[] = compiled.parameters.map((parameter) => {
      if (!(parameter instanceof Placeholder) || placeholders[parameter.index] !== parameter) {
        return { constant: parameter };
      }
      used.add(parameter.index);
      return { value: parameter.index };
    });
    if (used.size !== arity) {
      throw new TypeError(`prepare: ${arity - used.size} of ${arity} values are not bound parameters`);
    }
    const { sql } = compiled;
    const bind = (values: readonly unknown[]): unknown[] =>
      slots.map((slot) => ("value" in slot ? values[slot.value] : slot.constant));

    function allNow(values: A): R[] | Promise<R[]> {
      if (values.length !== arity)
        throw new TypeError(`prepare: expected ${arity} values, got ${values.length}`);
      const parameters = bind(values);
      const rows = direct?.(sql, parameters);
      if (rows !== undefined) return rows as R[];
      return db
        .executeQuery<R>(CompiledQuery.raw(sql, parameters) as CompiledQuery<R>)
        .then((result) => result.rows);
    }
    return {
      async all(...values: A) {
        return allNow(values);
      },
      async first(...values: A) {
        return (await allNow(values))[0];
      },
      firstNow(...values: A) {
        const rows = allNow(values);
        return rows instanceof Promise ? rows.then((r) => r[0]) : rows[0];
      },
    };
  };
}
