/**
 * OAuth grants as access-ending events see them: refresh-token families, unredeemed codes and approved device
 * codes, found by the sessions they were granted in or by their user, and the user's access-token cut-off.
 */
import type { Kysely } from "kysely";
import type { Database } from "../database.js";
import { type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export interface GrantRow {
  familyId: string;
  clientId: string;
  scope: string;
  sessionId: string | null;
}

export interface GrantsRepository {
  /** Live refresh tokens granted in these sessions. */
  liveRefreshBySessions(sessionIds: readonly string[]): Promise<GrantRow[]>;
  /** Live refresh tokens of the user, whatever session they came from. */
  liveRefreshByUser(userId: string): Promise<GrantRow[]>;
  /**
   * The codes issued in these sessions (redeemed or not): their client and session (for back-channel logout),
   * scope, and the access token a redemption issued (`jti`, expiry), if any.
   */
  codesBySessions(sessionIds: readonly string[]): Promise<
    {
      clientId: string;
      sessionId: string;
      scope: string;
      issuedJti: string | null;
      issuedJtiExpiresAt: number | null;
    }[]
  >;
  /** Deletes the unredeemed codes issued in these sessions. */
  deleteUnredeemedCodesBySessions(sessionIds: readonly string[]): Promise<void>;
  /** Deletes every unredeemed code of the user, and denies their approved, unredeemed device codes. */
  endPendingGrantsOfUser(userId: string): Promise<void>;
  /** Marks every live member of the family revoked (and writes `events`, in one transaction); how many changed. */
  revokeFamilyMembers(familyId: string, at: number, events?: readonly OutboxEvent[]): Promise<number>;
  /** Access tokens issued with the family's members (for the revocation list). */
  familyAccessTokens(familyId: string): Promise<{ jti: string; expiresAt: number }[]>;
  /** Moves the user's access-token cut-off forward to `at` (never back). */
  raiseTokensNotBefore(userId: string, at: number): Promise<void>;
}

export function grantsRepository(db: Kysely<Database>): GrantsRepository {
  const toRow = (r: { family_id: string; client_id: string; scope: string; session_id: string | null }) => ({
    familyId: r.family_id,
    clientId: r.client_id,
    scope: r.scope,
    sessionId: r.session_id,
  });
  return {
    async liveRefreshBySessions(sessionIds) {
      if (sessionIds.length === 0) return [];
      const rows = await db
        .selectFrom("refresh_tokens")
        .select(["family_id", "client_id", "scope", "session_id"])
        .where("session_id", "in", [...sessionIds])
        .where("revoked_at", "is", null)
        .execute();
      return rows.map(toRow);
    },
    async liveRefreshByUser(userId) {
      const rows = await db
        .selectFrom("refresh_tokens")
        .select(["family_id", "client_id", "scope", "session_id"])
        .where("user_id", "=", userId)
        .where("revoked_at", "is", null)
        .execute();
      return rows.map(toRow);
    },
    async codesBySessions(sessionIds) {
      if (sessionIds.length === 0) return [];
      const rows = await db
        .selectFrom("authorization_codes")
        .select(["client_id", "session_id", "scope", "issued_jti", "issued_jti_expires_at"])
        .where("session_id", "in", [...sessionIds])
        .execute();
      return rows.flatMap((r) =>
        r.session_id
          ? [
              {
                clientId: r.client_id,
                sessionId: r.session_id,
                scope: r.scope,
                issuedJti: r.issued_jti,
                issuedJtiExpiresAt: r.issued_jti_expires_at,
              },
            ]
          : [],
      );
    },
    async deleteUnredeemedCodesBySessions(sessionIds) {
      if (sessionIds.length === 0) return;
      await db
        .deleteFrom("authorization_codes")
        .where("session_id", "in", [...sessionIds])
        .where("consumed_at", "is", null)
        .execute();
    },
    async endPendingGrantsOfUser(userId) {
      await db
        .deleteFrom("authorization_codes")
        .where("user_id", "=", userId)
        .where("consumed_at", "is", null)
        .execute();
      await db
        .updateTable("device_codes")
        .set({ status: "denied" })
        .where("user_id", "=", userId)
        .where("status", "=", "approved")
        .execute();
    },
    revokeFamilyMembers: (familyId, at, events) =>
      withOutboxEvents(db, events, async (db) => {
        const result = await db
          .updateTable("refresh_tokens")
          .set({ revoked_at: at, successor: null, successor_until: null })
          .where("family_id", "=", familyId)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      }),
    async familyAccessTokens(familyId) {
      const rows = await db
        .selectFrom("refresh_tokens")
        .select(["access_jti", "access_expires_at"])
        .where("family_id", "=", familyId)
        .execute();
      return rows.flatMap((r) =>
        r.access_jti && r.access_expires_at ? [{ jti: r.access_jti, expiresAt: r.access_expires_at }] : [],
      );
    },
    async raiseTokensNotBefore(userId, at) {
      await db
        .updateTable("users")
        .set({ tokens_not_before: at })
        .where("id", "=", userId)
        .where("tokens_not_before", "<", at)
        .execute();
    },
  };
}
