/**
 * Where BFF sessions live: one interface, three stores (SQLite and PostgreSQL through Kysely, Redis).
 *
 * - A session is keyed by the SHA-256 of its id (the cookie's value); the id itself is never stored.
 * - Tokens arrive here already sealed (AES-256-GCM under the master key): a store never sees a plain token.
 * - `replaceTokens` is a compare-and-set on `generation`: when two instances refresh one session at once,
 *   exactly one write wins and the other reads the winner's tokens.
 */

export interface StoredSession {
  /** SHA-256 of the session id, base64url. */
  idHash: string;
  sub: string;
  /** Tessera's session id (the ID token's `sid`), for back-channel logout. */
  sid: string | null;
  /** The ID token / userinfo claims shown to the UI, as JSON. */
  claims: string;
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** Epoch ms. */
  accessExpiresAt: number;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute end of the session, epoch ms. */
  expiresAt: number;
  /** Bumped by every token replacement. */
  generation: number;
}

export type SessionTokens = Pick<
  StoredSession,
  "accessToken" | "refreshToken" | "idToken" | "accessExpiresAt" | "claims" | "generation"
>;

export interface SessionStore {
  /** Creates the store's tables when it has any (idempotent). */
  migrate(): Promise<void>;
  create(session: StoredSession): Promise<void>;
  get(idHash: string): Promise<StoredSession | undefined>;
  /** Replaces the tokens when the stored generation is `expectedGeneration`; true when this call won. */
  replaceTokens(idHash: string, expectedGeneration: number, tokens: SessionTokens): Promise<boolean>;
  touch(idHash: string, lastSeenAt: number): Promise<void>;
  /** Deletes one session; answers it as it was (so its refresh token can be revoked), or undefined. */
  delete(idHash: string): Promise<StoredSession | undefined>;
  /** Deletes every session of a Tessera session (`sid`); answers them as they were. */
  deleteBySid(sid: string): Promise<StoredSession[]>;
  /** Deletes every session of a user; answers them as they were. */
  deleteBySub(sub: string): Promise<StoredSession[]>;
  /** Deletes sessions past their absolute end or idle since before `idleBefore`. */
  purgeExpired(now: number, idleBefore: number): Promise<number>;
  close(): Promise<void>;
}
