/**
 * One page of users or groups in creation order, with the total that matches (SCIM ListResponse semantics).
 *
 * - `startIndex` is 1-based (values below 1 read as 1); `count` is clamped to 0…1000; `count = 0` returns only
 *   the total.
 * - Order is `created_at, id`: stable across pages even when rows share a creation time (the repositories'
 *   `page`, storage/repositories/paging.ts).
 * - `where` is a storage predicate (`userFilterPredicate` / `groupFilterPredicate` in `scim/filter-sql.ts`);
 *   storage compiles it for its database.
 */
import type { PageQuery, Predicate } from "../storage/index.js";

export interface PageOptions {
  /** A filter on the table (see `scim/filter-sql.ts`). */
  where?: Predicate | undefined;
  startIndex?: number;
  count?: number;
}

export const MAX_PAGE = 1000;

/** What the repository reads for a page request: the options clamped as the module comment says. */
export function pageQuery(options: PageOptions): PageQuery {
  const startIndex = Math.max(1, Math.floor(options.startIndex ?? 1));
  const count = Math.max(0, Math.min(MAX_PAGE, Math.floor(options.count ?? 100)));
  return { where: options.where, offset: startIndex - 1, limit: count };
}
