/**
 * Signing keys at rest. Rotation steps are conditional updates: when two instances rotate at once, the
 * affected-row count picks one winner and the other sees `false` and reloads.
 */
import type { Kysely } from "kysely";
import type { Database, SigningKeyStatus, SigningKeysTable } from "../database.js";

export type SigningKeyRow = SigningKeysTable;

export function listSigningKeys(db: Kysely<Database>): Promise<SigningKeyRow[]> {
  return db
    .selectFrom("signing_keys")
    .selectAll()
    .orderBy("created_at", "asc")
    .orderBy("kid", "asc")
    .execute();
}

export async function insertSigningKey(db: Kysely<Database>, row: SigningKeyRow): Promise<void> {
  await db.insertInto("signing_keys").values(row).execute();
}

/** Moves one key from `from` to `to` status, only if it still has status `from`. True when this call won. */
export async function transitionSigningKey(
  db: Kysely<Database>,
  change: { kid: string; from: SigningKeyStatus; to: SigningKeyStatus; at: number; expiresAt?: number },
): Promise<boolean> {
  const set: Partial<SigningKeyRow> = { status: change.to };
  if (change.to === "active") set.activated_at = change.at;
  if (change.to === "retired") {
    set.retired_at = change.at;
    set.expires_at = change.expiresAt ?? change.at;
  }
  const result = await db
    .updateTable("signing_keys")
    .set(set)
    .where("kid", "=", change.kid)
    .where("status", "=", change.from)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Deletes retired keys whose public part may leave the JWKS. Returns how many were deleted. */
export async function deleteExpiredSigningKeys(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db
    .deleteFrom("signing_keys")
    .where("status", "=", "retired")
    .where("expires_at", "<=", now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
