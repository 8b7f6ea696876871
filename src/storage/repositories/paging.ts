/**
 * One page of `users` or `groups` rows in creation order, with the total that matches: the query shape both
 * repositories share (accounts/paging.ts decides what a page request means).
 *
 * - `where` is a storage predicate (storage/predicates.ts) compiled here for the dialect; it references the
 *   unaliased table (`users.…` / `groups.…`).
 * - Order is `created_at, id`: stable across pages even when rows share a creation time.
 * - `limit` 0 reads only the total.
 */
import type { Kysely, Selectable } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database } from "../database.js";
import { compilePredicate, type Predicate } from "../predicates.js";

export interface PageQuery {
  /** Rows to match (default: every row). */
  where?: Predicate | undefined;
  /** Rows to skip (0-based). */
  offset: number;
  /** At most this many rows; 0 reads only the total. */
  limit: number;
}

export interface Page<R> {
  total: number;
  rows: R[];
}

export async function pageOf<T extends "users" | "groups">(
  db: Kysely<Database>,
  dialect: DialectName,
  table: T,
  query: PageQuery,
): Promise<Page<Selectable<Database[T]>>> {
  // One query shape for both tables; Kysely cannot type a union of table names, so the base is widened here.
  let base = (db as unknown as Kysely<{ paged: { created_at: number; id: string } }>).selectFrom(
    table as unknown as "paged",
  );
  if (query.where) base = base.where(compilePredicate(query.where, dialect));
  const totalRow = await base
    .select((eb) => eb.fn.countAll<number | string | bigint>().as("n"))
    .executeTakeFirst();
  const total = Number(totalRow?.n ?? 0);
  if (query.limit === 0) return { total, rows: [] };
  const rows = await base
    .selectAll()
    .orderBy("created_at")
    .orderBy("id")
    .offset(query.offset)
    .limit(query.limit)
    .execute();
  return { total, rows: rows as unknown as Selectable<Database[T]>[] };
}
