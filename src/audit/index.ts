/**
 * The audit trail: the append-only, hash-chained audit log (written behind the request, in batches), its signed
 * checkpoints, and verifying and exporting it (docs/events.md, "Audit trail").
 */
export {
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  type AuditLog,
  type AuditLogOptions,
  auditEventId,
  CHECKPOINT_EVERY,
  CHECKPOINT_INTERVAL_MS,
  createAuditLog,
  MAX_ATTEMPTS,
  MAX_BATCH,
  MAX_PENDING,
} from "./audit-log.js";
export {
  type CheckpointKeys,
  type CheckpointOptions,
  reattestCheckpoints,
  signCheckpoint,
} from "./checkpoints.js";
export {
  canonicalRecord,
  chainHash,
  GENESIS_HASH,
  type HashedRecordFields,
  recordDigest,
  recordHash,
} from "./record-hash.js";
export {
  type AuditExportSummary,
  type AuditTrail,
  type AuditTrailOptions,
  createAuditTrail,
} from "./trail.js";
export {
  type AuditProblem,
  type AuditProblemKind,
  type AuditVerification,
  CHECKPOINT_TYP,
  type ChainReport,
  type CheckpointPayload,
  EXPORT_FORMAT,
  verifyAuditExport,
} from "./verify.js";
