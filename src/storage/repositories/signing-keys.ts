/**
 * Signing keys at rest. Rotation steps are conditional updates: when two instances rotate at once, the
 * affected-row count picks one winner and the other sees `false` and reloads.
 */
import type { Kysely } from "kysely";
import type { Database, SigningKeyStatus, SigningKeysTable } from "../database.js";
import { insertOutboxEvents, type OutboxEvent } from "./event-outbox.js";

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

export type SigningKeyTransition = Parameters<typeof transitionSigningKey>[1];

/** The signing keys of every algorithm, as the key store (crypto/keys/key-store.ts) reads and rotates them. */
export interface SigningKeysRepository {
  /** Every key, oldest first (ties by kid). */
  list(): Promise<SigningKeyRow[]>;
  insert(row: SigningKeyRow): Promise<void>;
  /** Moves one key from `from` to `to` status, only if it still has status `from`. True when this call won. */
  transition(change: SigningKeyTransition): Promise<boolean>;
  /** Deletes retired keys whose `expires_at` is at or before `now`. Returns how many were deleted. */
  deleteExpired(now: number): Promise<number>;
  /**
   * Runs `work` in one transaction, with a repository that reads and writes inside it (a repository that is
   * already inside a transaction runs `work` in that one). Commits when `work` resolves, rolls back when it throws.
   */
  transaction<T>(work: (keys: SigningKeysRepository) => Promise<T>): Promise<T>;
  /** Writes domain events (key.rotated) to the outbox, in the transaction this repository is bound to. */
  insertEvents(events: readonly OutboxEvent[]): Promise<void>;
}

export function signingKeysRepository(db: Kysely<Database>): SigningKeysRepository {
  const repository: SigningKeysRepository = {
    list: () => listSigningKeys(db),
    insert: (row) => insertSigningKey(db, row),
    transition: (change) => transitionSigningKey(db, change),
    deleteExpired: (now) => deleteExpiredSigningKeys(db, now),
    transaction: (work) =>
      db.isTransaction
        ? work(repository)
        : db.transaction().execute((trx) => work(signingKeysRepository(trx))),
    insertEvents: (events) => insertOutboxEvents(db, events),
  };
  return repository;
}
