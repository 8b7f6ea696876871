/**
 * Upstream accounts linked to Tessera users (src/federation/linking.ts), and which provider a session came from.
 *
 * - (provider, subject) is the key: one upstream account belongs to one user. A user links at most one account
 *   per provider (unique (user, provider)). A second link of either kind fails as a unique violation, which
 *   the caller turns into its refusal: two racing links cannot both win.
 * - `delete` is conditional on the user: a user removes only their own link.
 */
import type { Kysely } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database, LinkedIdentitiesTable } from "../database.js";

export type LinkedIdentityRow = LinkedIdentitiesTable;

export interface LinkedIdentityWithProviderRow extends LinkedIdentityRow {
  display_name: string;
  kind: string;
}

export interface LinkedIdentitiesRepository {
  /** Throws a unique violation when the upstream account or the (user, provider) pair is already linked. */
  insert(row: LinkedIdentityRow): Promise<void>;
  find(providerId: string, subject: string): Promise<LinkedIdentityRow | undefined>;
  /** The user's links with their provider's name, oldest first. */
  listForUser(userId: string): Promise<LinkedIdentityWithProviderRow[]>;
  /**
   * Removes the user's link to the provider; true when one was removed. With `keepLast`, only if the user has
   * another link (the user's links are locked first: two racing removals cannot both leave the user with none).
   */
  delete(providerId: string, userId: string, options?: { keepLast?: boolean }): Promise<boolean>;
  /** Records a sign-in through the link (and the e-mail the upstream gave this time). */
  touch(providerId: string, subject: string, at: number, email: string | null): Promise<void>;
  /** Remembers that a session was started through a provider. */
  recordSession(sessionId: string, providerId: string, at: number): Promise<void>;
  /** The provider a session was started through, if any. */
  providerOfSession(sessionId: string): Promise<string | undefined>;
}

export function linkedIdentitiesRepository(
  db: Kysely<Database>,
  dialect: DialectName,
): LinkedIdentitiesRepository {
  return {
    async insert(row) {
      await db.insertInto("linked_identities").values(row).execute();
    },

    find: (providerId, subject) =>
      db
        .selectFrom("linked_identities")
        .selectAll()
        .where("provider_id", "=", providerId)
        .where("subject", "=", subject)
        .executeTakeFirst(),

    listForUser: (userId) =>
      db
        .selectFrom("linked_identities as l")
        .innerJoin("identity_providers as p", "p.id", "l.provider_id")
        .selectAll("l")
        .select(["p.display_name", "p.kind"])
        .where("l.user_id", "=", userId)
        .orderBy("l.linked_at")
        .orderBy("l.provider_id")
        .execute(),

    delete(providerId, userId, options = {}) {
      return db.transaction().execute(async (trx) => {
        // The user's links, locked on PostgreSQL (SQLite transactions here are IMMEDIATE: one writer), so a
        // racing removal of another link waits and then sees this one gone.
        let mine = trx.selectFrom("linked_identities").select("provider_id").where("user_id", "=", userId);
        if (dialect === "postgres") mine = mine.forUpdate();
        const links = await mine.execute();
        if (!links.some((l) => l.provider_id === providerId)) return false;
        if (options.keepLast && links.length < 2) return false;
        const result = await trx
          .deleteFrom("linked_identities")
          .where("provider_id", "=", providerId)
          .where("user_id", "=", userId)
          .executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      });
    },

    async touch(providerId, subject, at, email) {
      await db
        .updateTable("linked_identities")
        .set({ last_sign_in_at: at, email })
        .where("provider_id", "=", providerId)
        .where("subject", "=", subject)
        .execute();
    },

    async recordSession(sessionId, providerId, at) {
      await db
        .insertInto("federated_sessions")
        .values({ session_id: sessionId, provider_id: providerId, created_at: at })
        .onConflict((oc) => oc.column("session_id").doUpdateSet({ provider_id: providerId, created_at: at }))
        .execute();
    },

    async providerOfSession(sessionId) {
      const row = await db
        .selectFrom("federated_sessions")
        .select("provider_id")
        .where("session_id", "=", sessionId)
        .executeTakeFirst();
      return row?.provider_id;
    },
  };
}
