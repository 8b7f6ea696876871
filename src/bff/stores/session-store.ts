/**
 * Where BFF sessions live: one interface, three stores (SQLite and PostgreSQL through Kysely, Redis).
 *
 * - A session is keyed by the SHA-256 of its id (the cookie's value); the id itself is never stored.
 * - Tokens arrive here already sealed (AES-256-GCM under the master key): a store never sees a plain token.
 * - `replaceTokens` is a compare-and-set on `generation`: when two instances refresh one session at once,
 *   exactly one write wins and the other reads the winner's tokens.
 */
import type { BffSessionRecord, BffSessionsRepository, BffSessionTokens } from "../../storage/index.js";

/**
 * One session as stored (`BffSessionRecord`: idHash, sub, Tessera's `sid` for back-channel logout, the claims
 * shown to the UI, the sealed tokens, times in epoch ms, and the `generation` every token replacement bumps).
 */
export type StoredSession = BffSessionRecord;

export type SessionTokens = BffSessionTokens;

/** The repository's operations (storage/repositories/bff-sessions.ts), which every store offers, and `close`. */
export interface SessionStore extends BffSessionsRepository {
  close(): Promise<void>;
}
