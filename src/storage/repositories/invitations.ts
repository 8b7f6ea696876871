/**
 * Invitations at rest (onboarding/invitations.ts): found by id (admin API, CLI) or by the SHA-256 of the link's
 * token (the acceptance page); the token itself is never stored.
 *
 * - State changes are conditional UPDATEs whose row count decides: `accept` wins once for a pending, unexpired
 *   invitation (also when raced, also against `revoke`), `revoke` wins once for one not accepted or revoked.
 *   `release` undoes an acceptance whose account could not be created (conditional on the acceptance's own time
 *   and on no account having been recorded).
 * - Status is derived, never stored: revoked, accepted, else expired once `expires_at <= now`, else pending.
 * - Lists are newest first (`created_at`, then `id`, both descending), a page at a time with the total.
 */
import type { Expression, ExpressionBuilder, Kysely, SqlBool } from "kysely";
import type { Database, InvitationsTable } from "../database.js";

export type InvitationRow = InvitationsTable;
export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";

export interface InvitationsPageQuery {
  /** Rows to skip (0-based). */
  offset: number;
  /** At most this many rows (0: only the total). */
  limit: number;
  status?: InvitationStatus;
  /** The instant `expired` and `pending` are judged at. */
  now: number;
}

export interface InvitationsRepository {
  insert(row: InvitationRow): Promise<void>;
  findById(id: string): Promise<InvitationRow | undefined>;
  findByHash(tokenHash: string): Promise<InvitationRow | undefined>;
  page(query: InvitationsPageQuery): Promise<{ total: number; rows: InvitationRow[] }>;
  /** Marks the invitation accepted at `at` if it is pending and unexpired at `at`; true when this call did. */
  accept(id: string, at: number): Promise<boolean>;
  /** Makes an invitation accepted at `at` without an account pending again; true when it did. */
  release(id: string, at: number): Promise<boolean>;
  /** Records the account an acceptance created. */
  setUser(id: string, userId: string): Promise<void>;
  /** Revokes the invitation if it is neither accepted nor revoked; true when this call did. */
  revoke(id: string, at: number, by: string): Promise<boolean>;
}

function statusFilter(
  eb: ExpressionBuilder<Database, "invitations">,
  status: InvitationStatus,
  now: number,
): Expression<SqlBool> {
  switch (status) {
    case "revoked":
      return eb("revoked_at", "is not", null);
    case "accepted":
      return eb.and([eb("revoked_at", "is", null), eb("accepted_at", "is not", null)]);
    case "expired":
      return eb.and([
        eb("revoked_at", "is", null),
        eb("accepted_at", "is", null),
        eb("expires_at", "<=", now),
      ]);
    case "pending":
      return eb.and([
        eb("revoked_at", "is", null),
        eb("accepted_at", "is", null),
        eb("expires_at", ">", now),
      ]);
  }
}

export function invitationsRepository(db: Kysely<Database>): InvitationsRepository {
  return {
    async insert(row) {
      await db.insertInto("invitations").values(row).execute();
    },

    findById: (id) => db.selectFrom("invitations").selectAll().where("id", "=", id).executeTakeFirst(),

    findByHash: (tokenHash) =>
      db.selectFrom("invitations").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    async page({ offset, limit, status, now }) {
      const base = db
        .selectFrom("invitations")
        .$if(status !== undefined, (q) => q.where((eb) => statusFilter(eb, status!, now)));
      const counted = await base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirst();
      const total = Number(counted?.n ?? 0);
      if (limit === 0) return { total, rows: [] };
      const rows = await base
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit)
        .offset(offset)
        .execute();
      return { total, rows };
    },

    async accept(id, at) {
      const result = await db
        .updateTable("invitations")
        .set({ accepted_at: at })
        .where("id", "=", id)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", at)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(id, at) {
      const result = await db
        .updateTable("invitations")
        .set({ accepted_at: null })
        .where("id", "=", id)
        .where("accepted_at", "=", at)
        .where("user_id", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setUser(id, userId) {
      await db.updateTable("invitations").set({ user_id: userId }).where("id", "=", id).execute();
    },

    async revoke(id, at, by) {
      const result = await db
        .updateTable("invitations")
        .set({ revoked_at: at, revoked_by: by })
        .where("id", "=", id)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
