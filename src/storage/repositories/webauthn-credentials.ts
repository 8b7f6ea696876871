/**
 * WebAuthn credentials at rest (mfa/webauthn.ts): one row per credential id, owned by one user.
 *
 * - The signature counter advances in one conditional UPDATE (`counter < new`, or `counter = 0` for
 *   authenticators that do not count): two assertions carrying the same count cannot both pass.
 * - Renaming and removal are scoped to the owner: another user's credential id changes nothing.
 * - Registration and removal write their domain events (`events`) in their own transaction.
 */
import type { Kysely } from "kysely";
import type { Database, IntBool, WebAuthnCredentialsTable } from "../database.js";
import { eventsIfChanged, type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export type WebAuthnCredentialRow = WebAuthnCredentialsTable;

export interface WebAuthnCredentialsRepository {
  /** The user's credentials, oldest first (ties by id). */
  listOf(userId: string): Promise<WebAuthnCredentialRow[]>;
  /** How many credentials the user has. */
  countOf(userId: string): Promise<number>;
  findById(id: string): Promise<WebAuthnCredentialRow | undefined>;
  exists(id: string): Promise<boolean>;
  /** Rejects (primary key) when the id is already stored. */
  insert(row: WebAuthnCredentialRow, events?: readonly OutboxEvent[]): Promise<void>;
  /**
   * Records an assertion: the new counter, last use and backup state. `counted`: only if the stored counter
   * is below `counter`; otherwise only if the stored counter is 0. True when it did.
   */
  recordAssertion(
    id: string,
    assertion: { counter: number; counted: boolean; at: number; backedUp: IntBool },
  ): Promise<boolean>;
  /** Renames the user's credential; false when the user has no credential with this id. */
  rename(userId: string, id: string, name: string): Promise<boolean>;
  /** Deletes the user's credential; false when the user has no credential with this id. */
  delete(userId: string, id: string, events?: readonly OutboxEvent[]): Promise<boolean>;
}

export function webauthnCredentialsRepository(db: Kysely<Database>): WebAuthnCredentialsRepository {
  return {
    listOf: (userId) =>
      db
        .selectFrom("webauthn_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .orderBy("id")
        .execute(),

    async countOf(userId) {
      const row = await db
        .selectFrom("webauthn_credentials")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", userId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    findById: (id) =>
      db.selectFrom("webauthn_credentials").selectAll().where("id", "=", id).executeTakeFirst(),

    async exists(id) {
      const row = await db
        .selectFrom("webauthn_credentials")
        .select("id")
        .where("id", "=", id)
        .executeTakeFirst();
      return row !== undefined;
    },

    async insert(row, events) {
      await withOutboxEvents(db, events, (db) => db.insertInto("webauthn_credentials").values(row).execute());
    },

    async recordAssertion(id, assertion) {
      const result = await db
        .updateTable("webauthn_credentials")
        .set({ counter: assertion.counter, last_used_at: assertion.at, backed_up: assertion.backedUp })
        .where("id", "=", id)
        .where((eb) => (assertion.counted ? eb("counter", "<", assertion.counter) : eb("counter", "=", 0)))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async rename(userId, id, name) {
      const result = await db
        .updateTable("webauthn_credentials")
        .set({ name })
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    delete: (userId, id, events) =>
      withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db
          .deleteFrom("webauthn_credentials")
          .where("id", "=", id)
          .where("user_id", "=", userId)
          .executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      }),
  };
}
