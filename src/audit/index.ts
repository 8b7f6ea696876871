export {
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  type AuditLog,
  auditEventId,
  createAuditLog,
} from "./audit-log.js";
