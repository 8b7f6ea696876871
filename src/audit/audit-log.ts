/**
 * The audit log: who did what to which account, when, from where.
 *
 * - Append-only from the application's side: events are inserted, never updated.
 * - Never a secret: callers pass identifiers and outcomes, not passwords, tokens or codes; `details` is checked
 *   for keys that look like secrets and refused.
 * - Ids sort by time (base-36 epoch ms, then random), so listing by id is listing by time on both dialects.
 * - Recording runs on the event loop with every sign-in: the INSERT's SQL, the same for every event, is built
 *   by Kysely once (for the dialect at hand) and then run with each event's values.
 */
import { randomBytes } from "node:crypto";
import { CompiledQuery, type Kysely } from "kysely";
import type { Clock } from "../lib/clock.js";
import type { AuditEventsTable, Database } from "../storage/database.js";

export type AuditEventType =
  | "user.created"
  | "user.updated"
  | "user.deleted"
  | "user.disabled"
  | "user.enabled"
  | "group.created"
  | "group.updated"
  | "group.deleted"
  | "signin.password"
  | "signin.passkey"
  | "signout"
  | "session.revoked"
  | "session.revoked_others"
  | "password.changed"
  | "password.reset_requested"
  | "password.reset"
  | "oauth.consent_granted"
  | "oauth.consent_revoked"
  | "oauth.code_replayed"
  | "oauth.refresh_reused"
  | "oauth.token_revoked"
  | "api_token.created"
  | "api_token.revoked"
  | "api_token.leaked"
  | "service_account.created"
  | "service_account.disabled"
  | "service_account.deleted"
  | "token.leak_reported"
  | "mfa.policy_changed"
  | "mfa.reset"
  | "mfa.second_factor_failed"
  | "mfa.totp_enrolled"
  | "mfa.totp_removed"
  | "mfa.totp_failed"
  | "mfa.recovery_codes_generated"
  | "mfa.recovery_code_used"
  | "mfa.recovery_code_failed"
  | "mfa.webauthn_registered"
  | "mfa.webauthn_removed"
  | "mfa.webauthn_renamed"
  | "mfa.webauthn_failed"
  | "mfa.webauthn_counter_regression";

export interface AuditEventInput {
  type: AuditEventType;
  outcome: "success" | "failure";
  userId?: string | null;
  actor?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditEvent {
  id: string;
  at: number;
  type: string;
  outcome: "success" | "failure";
  userId: string | null;
  actor: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

const SECRET_KEY =
  /^(password|passcode|secret|token|code|otp|pin|key|client_secret|access_token|refresh_token|id_token)$/i;

export interface AuditLog {
  record(event: AuditEventInput): Promise<void>;
  list(options?: { userId?: string; type?: AuditEventType; limit?: number }): Promise<AuditEvent[]>;
}

export function auditEventId(at: number): string {
  return `${at.toString(36).padStart(10, "0")}${randomBytes(8).toString("hex")}`;
}

export function createAuditLog(deps: { db: Kysely<Database>; clock: Clock }): AuditLog {
  let insertSql: string | undefined;
  return {
    async record(event) {
      for (const key of Object.keys(event.details ?? {})) {
        if (SECRET_KEY.test(key)) throw new Error(`audit details must not carry secrets (key "${key}")`);
      }
      const at = deps.clock.now();
      const row: AuditEventsTable = {
        id: auditEventId(at),
        at,
        type: event.type,
        outcome: event.outcome,
        user_id: event.userId ?? null,
        actor: event.actor ?? null,
        ip: event.ip ?? null,
        user_agent: event.userAgent?.slice(0, 512) ?? null,
        details: event.details ? JSON.stringify(event.details) : null,
      };
      // Every row has the same keys in the same order, so the SQL compiled from the first fits them all.
      insertSql ??= deps.db.insertInto("audit_events").values(row).compile().sql;
      await deps.db.executeQuery(CompiledQuery.raw(insertSql, Object.values(row)));
    },
    async list(options = {}) {
      let query = deps.db.selectFrom("audit_events").selectAll();
      if (options.userId) query = query.where("user_id", "=", options.userId);
      if (options.type) query = query.where("type", "=", options.type);
      const rows = await query
        .orderBy("id", "desc")
        .limit(Math.min(options.limit ?? 100, 1000))
        .execute();
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        type: r.type,
        outcome: r.outcome,
        userId: r.user_id,
        actor: r.actor,
        ip: r.ip,
        userAgent: r.user_agent,
        details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : {},
      }));
    },
  };
}
