/** Audit events of the multi-factor domain: who acted (`MfaActor`) goes into every event the same way. */
import type { AuditEventInput, AuditLog } from "../audit/index.js";
import type { MfaActor } from "./types.js";

export function recordMfaEvent(
  audit: AuditLog,
  event: {
    type: AuditEventInput["type"];
    outcome: AuditEventInput["outcome"];
    userId: string | null;
    details?: AuditEventInput["details"];
  },
  by: MfaActor,
): Promise<void> {
  return audit.record({
    type: event.type,
    outcome: event.outcome,
    userId: event.userId,
    actor: by.actor,
    ip: by.ip ?? null,
    userAgent: by.userAgent ?? null,
    ...(event.details ? { details: event.details } : {}),
  });
}
