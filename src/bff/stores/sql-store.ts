/**
 * BFF sessions in SQLite or PostgreSQL: the storage layer's `bff_sessions` repository
 * (storage/repositories/bff-sessions.ts: one table with its own migration bookkeeping, so the BFF can share a
 * database with Tessera or use its own), closed with the storage it was opened on.
 *
 * - Token replacement is one conditional `UPDATE … WHERE generation = ?`; its row count names the winner.
 */
import { bffSessionsRepository, type Storage } from "../../storage/index.js";
import type { SessionStore } from "./session-store.js";

export function createSqlSessionStore(storage: Storage): SessionStore {
  // The repository's records have the shape of `StoredSession`: the store is the repository plus `close`.
  return { ...bffSessionsRepository(storage), close: () => storage.close() };
}
