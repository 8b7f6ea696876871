export {
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  type AuditLog,
  type AuditLogOptions,
  auditEventId,
  createAuditLog,
  MAX_ATTEMPTS,
  MAX_BATCH,
  MAX_PENDING,
} from "./audit-log.js";
