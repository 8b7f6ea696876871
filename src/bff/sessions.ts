/**
 * BFF sessions: what the browser's cookie stands for, and the tokens behind it.
 *
 * - A session id is 256 random bits (base64url) and lives only in the cookie; the store keys the session by
 *   its SHA-256, so a leaked store does not yield usable cookies.
 * - Access, refresh and ID tokens are sealed with AES-256-GCM under the master key before they reach the
 *   store, with associated data `bff-session:<idHash>:<field>` so a ciphertext moved to another row or
 *   field does not open.
 * - A session ends at the earliest of: its absolute lifetime (bounded by the refresh token's; without a
 *   refresh token, the access token's expiry), its idle timeout, logout, back-channel logout, or a dead
 *   refresh token.
 * - Refresh happens once per session however many requests need it: concurrent callers in this process
 *   share one promise; across instances the store's compare-and-set on `generation` picks one writer, and
 *   Tessera's refresh grace window answers a second rotation of the same token with the same successor.
 */
import { randomBytes } from "node:crypto";
import { hashToken, type MasterKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { SessionStore, StoredSession } from "./stores/session-store.js";

/** What a token response gives the BFF (openid-client's answer, reduced). */
export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** Seconds. */
  expiresIn: number | undefined;
  /** ID token claims (undefined when no new ID token came). */
  claims: Record<string, unknown> | undefined;
}

/** A session opened for use: tokens in the clear, claims parsed. Never leaves the BFF. */
export interface BffSession {
  idHash: string;
  sub: string;
  sid: string | null;
  claims: Record<string, unknown>;
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  accessExpiresAt: number;
  expiresAt: number;
  generation: number;
}

/** The refresh token is dead (or the session is gone): the user must sign in again. */
export class LoginRequiredError extends Error {
  constructor() {
    super("login required");
  }
}

/** Claims that describe the protocol exchange, not the user: not shown to the UI. */
const PROTOCOL_CLAIMS = new Set([
  "iss",
  "aud",
  "exp",
  "iat",
  "nbf",
  "nonce",
  "at_hash",
  "c_hash",
  "azp",
  "jti",
]);

export function claimsForUi(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => !PROTOCOL_CLAIMS.has(name)));
}

/** How refresh failures are told apart: a dead grant ends the session, anything else is passed on. */
export type RefreshTokens = (refreshToken: string) => Promise<TokenSet>;
export type IsDeadGrant = (error: unknown) => boolean;

export interface BffSessions {
  create(tokens: TokenSet, claims: Record<string, unknown>): Promise<{ id: string; session: BffSession }>;
  /** The live session behind a cookie value, or undefined (unknown, expired, idle). */
  load(id: string | undefined): Promise<BffSession | undefined>;
  /**
   * The session with an access token valid for at least the leeway, refreshing it when needed (or always, with
   * `force`: a token bound to a DPoP key the BFF no longer holds).
   */
  withFreshAccessToken(session: BffSession, options?: { force?: boolean }): Promise<BffSession>;
  end(id: string): Promise<BffSession | undefined>;
  endBySid(sid: string): Promise<BffSession[]>;
  endBySub(sub: string): Promise<BffSession[]>;
  purgeExpired(): Promise<number>;
}

const TOUCH_INTERVAL_MS = 60_000;
const DEFAULT_EXPIRES_IN = 300;
const REFRESH_MEMORY_MS = 10_000;

export function createBffSessions(deps: {
  store: SessionStore;
  masterKey: MasterKey;
  clock: Clock;
  idleTimeoutMs: number;
  lifetimeMs: number;
  refreshLeewayMs: number;
  refresh: RefreshTokens;
  isDeadGrant: IsDeadGrant;
}): BffSessions {
  const { store, masterKey, clock } = deps;
  // Per session: the refresh started from a generation, kept a little after it settles, so a request that
  // read the session just before the refresh finished joins it instead of rotating again.
  const refreshes = new Map<string, { fromGeneration: number; result: Promise<BffSession> }>();

  const hashId = (id: string) => hashToken(id);
  const seal = (idHash: string, field: string, value: string) =>
    masterKey.seal(Buffer.from(value, "utf8"), `bff-session:${idHash}:${field}`);
  const sealOptional = (idHash: string, field: string, value: string | null | undefined) =>
    value ? seal(idHash, field, value) : null;
  const open = (idHash: string, field: string, sealed: string) =>
    masterKey.open(sealed, `bff-session:${idHash}:${field}`).toString("utf8");

  function opened(s: StoredSession): BffSession {
    return {
      idHash: s.idHash,
      sub: s.sub,
      sid: s.sid,
      claims: JSON.parse(s.claims) as Record<string, unknown>,
      accessToken: open(s.idHash, "access_token", s.accessToken),
      refreshToken: s.refreshToken === null ? null : open(s.idHash, "refresh_token", s.refreshToken),
      idToken: s.idToken === null ? null : open(s.idHash, "id_token", s.idToken),
      accessExpiresAt: s.accessExpiresAt,
      expiresAt: s.expiresAt,
      generation: s.generation,
    };
  }

  const accessExpiry = (now: number, expiresIn: number | undefined) =>
    now + (expiresIn ?? DEFAULT_EXPIRES_IN) * 1000;

  async function refreshNow(session: BffSession): Promise<BffSession> {
    if (session.refreshToken === null) {
      await store.delete(session.idHash);
      throw new LoginRequiredError();
    }
    let tokens: TokenSet;
    try {
      tokens = await deps.refresh(session.refreshToken);
    } catch (error) {
      if (!deps.isDeadGrant(error)) throw error;
      // Another instance may have rotated the token first: its tokens are then the session's.
      const current = await store.get(session.idHash);
      if (current && current.generation !== session.generation) return opened(current);
      await store.delete(session.idHash);
      throw new LoginRequiredError();
    }
    const now = clock.now();
    const claims = tokens.claims ? claimsForUi(tokens.claims) : session.claims;
    const next: BffSession = {
      ...session,
      claims,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken ?? session.refreshToken,
      idToken: tokens.idToken ?? session.idToken,
      accessExpiresAt: accessExpiry(now, tokens.expiresIn),
      generation: session.generation + 1,
    };
    const won = await store.replaceTokens(session.idHash, session.generation, {
      accessToken: seal(session.idHash, "access_token", next.accessToken),
      refreshToken: sealOptional(session.idHash, "refresh_token", next.refreshToken),
      idToken: sealOptional(session.idHash, "id_token", next.idToken),
      accessExpiresAt: next.accessExpiresAt,
      claims: JSON.stringify(claims),
      generation: next.generation,
    });
    if (won) return next;
    const current = await store.get(session.idHash);
    if (!current) throw new LoginRequiredError();
    return opened(current);
  }

  async function endMany(sessions: StoredSession[]): Promise<BffSession[]> {
    return sessions.map(opened);
  }

  return {
    async create(tokens, claims) {
      const id = randomBytes(32).toString("base64url");
      const idHash = hashId(id);
      const now = clock.now();
      const accessExpiresAt = accessExpiry(now, tokens.expiresIn);
      const sub = String(claims.sub ?? "");
      const sid = typeof claims.sid === "string" ? claims.sid : null;
      const expiresAt = tokens.refreshToken ? now + deps.lifetimeMs : accessExpiresAt;
      const uiClaims = claimsForUi(claims);
      await store.create({
        idHash,
        sub,
        sid,
        claims: JSON.stringify(uiClaims),
        accessToken: seal(idHash, "access_token", tokens.accessToken),
        refreshToken: sealOptional(idHash, "refresh_token", tokens.refreshToken),
        idToken: sealOptional(idHash, "id_token", tokens.idToken),
        accessExpiresAt,
        createdAt: now,
        lastSeenAt: now,
        expiresAt,
        generation: 0,
      });
      return {
        id,
        session: {
          idHash,
          sub,
          sid,
          claims: uiClaims,
          accessToken: tokens.accessToken,
          refreshToken: tokens.refreshToken ?? null,
          idToken: tokens.idToken ?? null,
          accessExpiresAt,
          expiresAt,
          generation: 0,
        },
      };
    },

    async load(id) {
      if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
      const idHash = hashId(id);
      const stored = await store.get(idHash);
      if (!stored) return undefined;
      const now = clock.now();
      if (now >= stored.expiresAt || now - stored.lastSeenAt >= deps.idleTimeoutMs) {
        await store.delete(idHash);
        return undefined;
      }
      if (now - stored.lastSeenAt >= TOUCH_INTERVAL_MS) await store.touch(idHash, now);
      return opened(stored);
    },

    async withFreshAccessToken(session, options = {}) {
      if (!options.force && clock.now() < session.accessExpiresAt - deps.refreshLeewayMs) return session;
      const known = refreshes.get(session.idHash);
      if (known && known.fromGeneration === session.generation) return known.result;
      const result = refreshNow(session);
      refreshes.set(session.idHash, { fromGeneration: session.generation, result });
      const forget = () => {
        if (refreshes.get(session.idHash)?.result === result) refreshes.delete(session.idHash);
      };
      result.then(
        () => setTimeout(forget, REFRESH_MEMORY_MS).unref(),
        () => forget(),
      );
      return result;
    },

    async end(id) {
      const stored = await store.delete(hashId(id));
      return stored ? opened(stored) : undefined;
    },
    endBySid: async (sid) => endMany(await store.deleteBySid(sid)),
    endBySub: async (sub) => endMany(await store.deleteBySub(sub)),
    purgeExpired: () => store.purgeExpired(clock.now(), clock.now() - deps.idleTimeoutMs),
  };
}
