export {
  type BackgroundWriter,
  type DatabaseLocation,
  type DialectName,
  openStorage,
  parseDatabaseUrl,
  type Storage,
} from "./connect.js";
export type { Database, SigningKeyStatus } from "./database.js";
export { isUniqueViolation } from "./errors.js";
export { migrateToLatest } from "./migrate.js";
export {
  type ColumnRef,
  compilePredicate,
  type Predicate,
  type SqlPredicate,
  type TableName,
} from "./predicates.js";
export { createPrepare, type PreparedQuery, type PrepareQuery } from "./prepared.js";
export * as adminTokens from "./repositories/admin-tokens.js";
export {
  type AdminTokenRow,
  type AdminTokensRepository,
  adminTokensRepository,
} from "./repositories/admin-tokens.js";
export {
  type AuditEventRow,
  type AuditEventsRepository,
  auditEventsRepository,
} from "./repositories/audit-events.js";
export {
  type BffSessionRecord,
  type BffSessionsRepository,
  type BffSessionTokens,
  bffSessionsRepository,
} from "./repositories/bff-sessions.js";
export {
  type RevocationEventEntry,
  type RevocationEventRow,
  type RevocationEventsRepository,
  revocationEventsRepository,
} from "./repositories/revocation-events.js";
export * as signingKeys from "./repositories/signing-keys.js";
export {
  type SigningKeyRow,
  type SigningKeysRepository,
  type SigningKeyTransition,
  signingKeysRepository,
} from "./repositories/signing-keys.js";
