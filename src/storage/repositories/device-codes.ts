/**
 * Device authorization requests at rest (oauth/device.ts, RFC 8628): SHA-256 of the device code, the user
 * code, what is asked for, the status (pending → approved | denied → consumed), the approving sign-in and
 * the polling state. Status changes are conditional updates, so each answer and each redemption happens once.
 */
import type { Kysely } from "kysely";
import type { Database, DeviceCodesTable } from "../database.js";

export type DeviceCodeRow = DeviceCodesTable;

/** The sign-in that approved a request. */
export type DeviceApproval = Pick<DeviceCodeRow, "user_id" | "session_id" | "auth_time" | "acr" | "amr">;

export interface DeviceCodesRepository {
  /** Inserts a request; throws when the user code is taken. */
  insert(row: DeviceCodeRow): Promise<void>;
  findByUserCode(userCode: string): Promise<DeviceCodeRow | undefined>;
  findByDeviceCode(deviceCodeHash: string): Promise<DeviceCodeRow | undefined>;
  /**
   * Approves (with the sign-in) or denies the request with this user code, only while it is pending and not
   * expired at `now`; false otherwise.
   */
  answer(userCode: string, answer: { approved: DeviceApproval } | "denied", now: number): Promise<boolean>;
  /** Records a poll at `at`, and a new interval when it was too soon. */
  recordPoll(deviceCodeHash: string, at: number, intervalS?: number): Promise<void>;
  /** Marks an approved request consumed; false when it was not approved (any more). */
  consume(deviceCodeHash: string): Promise<boolean>;
  /** Deletes requests that expired at or before `before`. */
  deleteExpired(before: number): Promise<number>;
}

export function deviceCodesRepository(db: Kysely<Database>): DeviceCodesRepository {
  return {
    async insert(row) {
      await db.insertInto("device_codes").values(row).execute();
    },

    findByUserCode: (userCode) =>
      db.selectFrom("device_codes").selectAll().where("user_code", "=", userCode).executeTakeFirst(),

    findByDeviceCode: (deviceCodeHash) =>
      db
        .selectFrom("device_codes")
        .selectAll()
        .where("device_code_hash", "=", deviceCodeHash)
        .executeTakeFirst(),

    async answer(userCode, answer, now) {
      const result = await db
        .updateTable("device_codes")
        .set(answer === "denied" ? { status: "denied" } : { status: "approved", ...answer.approved })
        .where("user_code", "=", userCode)
        .where("status", "=", "pending")
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async recordPoll(deviceCodeHash, at, intervalS) {
      await db
        .updateTable("device_codes")
        .set({ last_polled_at: at, ...(intervalS === undefined ? {} : { interval_s: intervalS }) })
        .where("device_code_hash", "=", deviceCodeHash)
        .execute();
    },

    async consume(deviceCodeHash) {
      const result = await db
        .updateTable("device_codes")
        .set({ status: "consumed" })
        .where("device_code_hash", "=", deviceCodeHash)
        .where("status", "=", "approved")
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deleteExpired(before) {
      const result = await db.deleteFrom("device_codes").where("expires_at", "<=", before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
