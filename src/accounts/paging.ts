/**
 * One page of users or groups in creation order, with the total that matches (SCIM ListResponse semantics).
 *
 * - `startIndex` is 1-based (values below 1 read as 1); `count` is clamped to 0…1000; `count = 0` returns only
 *   the total.
 * - Order is `created_at, id`: stable across pages even when rows share a creation time.
 */
import type { Expression, Kysely, Selectable, SqlBool } from "kysely";
import type { Database } from "../storage/database.js";

export interface PageOptions {
  /** A compiled filter on the table (see `scim/filter-sql.ts`). */
  where?: Expression<SqlBool>;
  startIndex?: number;
  count?: number;
}

export const MAX_PAGE = 1000;

export async function listPage<T extends "users" | "groups">(
  db: Kysely<Database>,
  table: T,
  options: PageOptions,
): Promise<{ total: number; rows: Selectable<Database[T]>[] }> {
  const startIndex = Math.max(1, Math.floor(options.startIndex ?? 1));
  const count = Math.max(0, Math.min(MAX_PAGE, Math.floor(options.count ?? 100)));
  // One query shape for both tables; Kysely cannot type a union of table names, so the base is widened here.
  let base = (db as unknown as Kysely<{ paged: { created_at: number; id: string } }>).selectFrom(
    table as unknown as "paged",
  );
  if (options.where) base = base.where(options.where);
  const totalRow = await base
    .select((eb) => eb.fn.countAll<number | string | bigint>().as("n"))
    .executeTakeFirst();
  const total = Number(totalRow?.n ?? 0);
  if (count === 0) return { total, rows: [] };
  const rows = await base
    .selectAll()
    .orderBy("created_at")
    .orderBy("id")
    .offset(startIndex - 1)
    .limit(count)
    .execute();
  return { total, rows: rows as unknown as Selectable<Database[T]>[] };
}
