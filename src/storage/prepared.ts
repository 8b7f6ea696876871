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
 * - `build` receives the Kysely instance and one placeholder per value; each placeholder must be used as a
 *   plain value (`where(column, "=", value)`), never inside `sql` fragments, `in` lists or anything that
 *   inspects it. `prepare` checks that every placeholder became exactly a bound parameter and none leaked into
 *   the SQL text; it throws otherwise, so a misuse fails where the query is declared.
 * - On PostgreSQL the compiled query runs through Kysely (`executeQuery`): the build and compile are saved.
 * - On SQLite it runs directly on the connection Kysely uses, through the same prepared-statement cache,
 *   unless that connection is inside a transaction: Kysely holds the connection for a whole transaction, and a
 *   direct read then would see its uncommitted writes. Then, and on any other path, it goes through Kysely and
 *   waits its turn like every other query.
 * - Only SELECTs: writes keep going through Kysely, where transactions and plugins see them.
 */
import { type Compilable, CompiledQuery, type Kysely } from "kysely";
import type { Database } from "./database.js";

export interface PreparedQuery<A extends unknown[], R> {
  /** Every row, in the query's order. */
  all(...values: A): Promise<R[]>;
  /** The first row, or undefined. */
  first(...values: A): Promise<R | undefined>;
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

const PLACEHOLDER = "\u0000tessera-prepared-value-";

function placeholder(index: number): string {
  return `${PLACEHOLDER}${index}\u0000`;
}

function placeholderIndex(value: unknown): number | undefined {
  if (typeof value !== "string" || !value.startsWith(PLACEHOLDER)) return undefined;
  const index = Number(value.slice(PLACEHOLDER.length, -1));
  return Number.isSafeInteger(index) ? index : undefined;
}

export function createPrepare(db: Kysely<Database>, direct?: DirectReader): PrepareQuery {
  return <A extends unknown[], R>(build: (db: Kysely<Database>, ...values: A) => Compilable<R>) => {
    // Declared parameters only: a rest or defaulted parameter would not count, so say so rather than guess.
    const arity = build.length - 1;
    if (arity < 0) throw new TypeError("prepare: build must take the database and one parameter per value");
    const placeholders = Array.from({ length: arity }, (_, i) => placeholder(i));
    const compiled = build(db, ...(placeholders as A)).compile();
    if (compiled.query.kind !== "SelectQueryNode") throw new TypeError("prepare: only SELECT queries");
    if (compiled.sql.includes(PLACEHOLDER)) {
      throw new TypeError("prepare: a value placeholder ended up in the SQL text; use it as a plain value");
    }
    const used = new Set<number>();
    const slots: Slot[] = compiled.parameters.map((parameter) => {
      const index = placeholderIndex(parameter);
      if (index === undefined) {
        if (typeof parameter === "string" && parameter.includes(PLACEHOLDER)) {
          throw new TypeError("prepare: a value placeholder was transformed; use it as a plain value");
        }
        return { constant: parameter };
      }
      used.add(index);
      return { value: index };
    });
    if (used.size !== arity) {
      throw new TypeError(`prepare: ${arity - used.size} of ${arity} values are not bound parameters`);
    }
    const { sql } = compiled;
    const bind = (values: readonly unknown[]): unknown[] =>
      slots.map((slot) => ("value" in slot ? values[slot.value] : slot.constant));

    async function all(...values: A): Promise<R[]> {
      if (values.length !== arity)
        throw new TypeError(`prepare: expected ${arity} values, got ${values.length}`);
      const parameters = bind(values);
      const rows = direct?.(sql, parameters);
      if (rows !== undefined) return rows as R[];
      const result = await db.executeQuery<R>(CompiledQuery.raw(sql, parameters) as CompiledQuery<R>);
      return result.rows;
    }
    return {
      all,
      async first(...values: A) {
        return (await all(...values))[0];
      },
    };
  };
}
