/**
 * Upstream identity providers at rest (src/federation/), and the short-lived state of their sign-in round trips.
 *
 * - Providers: one row each; secrets arrive here already sealed (the domain seals them), lists and mappings as
 *   JSON text. `update` is conditional on `updated_at` when the caller read-modified-wrote: a concurrent change
 *   makes it answer false instead of being overwritten.
 * - States: found by the SHA-256 of `state`; `takeState` is one conditional DELETE … RETURNING (`expires_at >
 *   now`): a state is used once, whoever races for it.
 * - Pending links: found by the SHA-256 of their cookie; `takePendingLink` removes one once, the same way.
 */
import type { Kysely } from "kysely";
import type {
  Database,
  FederationPendingLinksTable,
  FederationStatesTable,
  IdentityProvidersTable,
} from "../database.js";

export type IdentityProviderRow = IdentityProvidersTable;
export type FederationStateRow = FederationStatesTable;
export type FederationPendingLinkRow = FederationPendingLinksTable;

export interface IdentityProvidersRepository {
  insert(row: IdentityProviderRow): Promise<void>;
  get(id: string): Promise<IdentityProviderRow | undefined>;
  /** Every provider, oldest first. */
  list(): Promise<IdentityProviderRow[]>;
  /**
   * Replaces the row's fields (all but `id` and `created_at`) if its `updated_at` is still `expectedUpdatedAt`;
   * true when it did.
   */
  update(row: IdentityProviderRow, expectedUpdatedAt: number): Promise<boolean>;
  /** Records the authorization endpoint discovery found. */
  setAuthorizationEndpoint(id: string, endpoint: string): Promise<void>;
  /** True when a row was deleted (its links, states and pending links go with it). */
  delete(id: string): Promise<boolean>;

  insertState(row: FederationStateRow): Promise<void>;
  /** Deletes and answers the state if it is unexpired at `now`; undefined when gone, used or expired. */
  takeState(stateHash: string, now: number): Promise<FederationStateRow | undefined>;

  insertPendingLink(row: FederationPendingLinkRow): Promise<void>;
  findPendingLink(tokenHash: string): Promise<FederationPendingLinkRow | undefined>;
  /** Deletes and answers the pending link if it is unexpired at `now`. */
  takePendingLink(tokenHash: string, now: number): Promise<FederationPendingLinkRow | undefined>;

  /** Removes states and pending links expired at `now` (`expires_at <= now`); how many. */
  deleteExpired(now: number): Promise<number>;
}

export function identityProvidersRepository(db: Kysely<Database>): IdentityProvidersRepository {
  return {
    async insert(row) {
      await db.insertInto("identity_providers").values(row).execute();
    },

    get: (id) => db.selectFrom("identity_providers").selectAll().where("id", "=", id).executeTakeFirst(),

    list: () => db.selectFrom("identity_providers").selectAll().orderBy("created_at").orderBy("id").execute(),

    async update(row, expectedUpdatedAt) {
      const { id, created_at: _created, ...fields } = row;
      const result = await db
        .updateTable("identity_providers")
        .set(fields)
        .where("id", "=", id)
        .where("updated_at", "=", expectedUpdatedAt)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async setAuthorizationEndpoint(id, endpoint) {
      await db
        .updateTable("identity_providers")
        .set({ authorization_endpoint: endpoint })
        .where("id", "=", id)
        .execute();
    },

    async delete(id) {
      // Explicit child deletes: the same on both dialects whatever the foreign-key settings.
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom("federated_sessions").where("provider_id", "=", id).execute();
        await trx.deleteFrom("federation_pending_links").where("provider_id", "=", id).execute();
        await trx.deleteFrom("federation_states").where("provider_id", "=", id).execute();
        await trx.deleteFrom("linked_identities").where("provider_id", "=", id).execute();
        const result = await trx.deleteFrom("identity_providers").where("id", "=", id).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      });
    },

    async insertState(row) {
      await db.insertInto("federation_states").values(row).execute();
    },

    takeState: (stateHash, now) =>
      db
        .deleteFrom("federation_states")
        .where("state_hash", "=", stateHash)
        .where("expires_at", ">", now)
        .returningAll()
        .executeTakeFirst(),

    async insertPendingLink(row) {
      await db.insertInto("federation_pending_links").values(row).execute();
    },

    findPendingLink: (tokenHash) =>
      db
        .selectFrom("federation_pending_links")
        .selectAll()
        .where("token_hash", "=", tokenHash)
        .executeTakeFirst(),

    takePendingLink: (tokenHash, now) =>
      db
        .deleteFrom("federation_pending_links")
        .where("token_hash", "=", tokenHash)
        .where("expires_at", ">", now)
        .returningAll()
        .executeTakeFirst(),

    async deleteExpired(now) {
      const states = await db
        .deleteFrom("federation_states")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      const links = await db
        .deleteFrom("federation_pending_links")
        .where("expires_at", "<=", now)
        .executeTakeFirst();
      return Number(states.numDeletedRows) + Number(links.numDeletedRows);
    },
  };
}
