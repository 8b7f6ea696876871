/**
 * TOTP factors at rest (mfa/totp.ts): one row per user, the secrets sealed with the master key.
 *
 * - Every change is conditional on what was read: the sealed value (enrolment, confirmation), or the
 *   confirmation time and the last accepted step (verification: `last_step IS NULL OR last_step < step`), so
 *   of two concurrent changes one wins, on either database.
 * - Confirmation and removal write their domain events (`events`) in their own transaction, only when they
 *   changed the row.
 */
import type { Kysely } from "kysely";
import type { Database, TotpFactorsTable } from "../database.js";
import { eventsIfChanged, type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export type TotpFactorRow = TotpFactorsTable;

export interface TotpFactorsRepository {
  find(userId: string): Promise<TotpFactorRow | undefined>;
  /** Whether the user has a confirmed factor. */
  hasConfirmed(userId: string): Promise<boolean>;
  /** Inserts the row unless the user has one; true when it did. */
  insertIfAbsent(row: TotpFactorRow): Promise<boolean>;
  /**
   * Writes a new sealed value (and with it the other given columns) if the stored one is still
   * `expectedSealed`; true when it did.
   */
  replaceSealed(
    userId: string,
    expectedSealed: string,
    change: Pick<TotpFactorRow, "secret_sealed"> &
      Partial<Pick<TotpFactorRow, "created_at" | "confirmed_at" | "last_step">>,
    events?: readonly OutboxEvent[],
  ): Promise<boolean>;
  /**
   * Records `step` as the last accepted one, if the factor is still the one confirmed at `confirmedAt` and
   * no step as late was accepted before; true when it did.
   */
  acceptStep(userId: string, confirmedAt: number, step: number): Promise<boolean>;
  /** True when there was a row to delete. */
  delete(userId: string, events?: readonly OutboxEvent[]): Promise<boolean>;
}

export function totpFactorsRepository(db: Kysely<Database>): TotpFactorsRepository {
  return {
    find: (userId) =>
      db.selectFrom("totp_factors").selectAll().where("user_id", "=", userId).executeTakeFirst(),

    async hasConfirmed(userId) {
      const row = await db
        .selectFrom("totp_factors")
        .select("user_id")
        .where("user_id", "=", userId)
        .where("confirmed_at", "is not", null)
        .executeTakeFirst();
      return row !== undefined;
    },

    async insertIfAbsent(row) {
      const inserted = await db
        .insertInto("totp_factors")
        .values(row)
        .onConflict((oc) => oc.column("user_id").doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
    },

    replaceSealed: (userId, expectedSealed, change, events) =>
      withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db
          .updateTable("totp_factors")
          .set(change)
          .where("user_id", "=", userId)
          .where("secret_sealed", "=", expectedSealed)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) === 1;
      }),

    async acceptStep(userId, confirmedAt, step) {
      const result = await db
        .updateTable("totp_factors")
        .set({ last_step: step })
        .where("user_id", "=", userId)
        .where("confirmed_at", "=", confirmedAt)
        .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    delete: (userId, events) =>
      withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db.deleteFrom("totp_factors").where("user_id", "=", userId).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      }),
  };
}
