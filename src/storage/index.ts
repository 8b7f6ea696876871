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
export { createPrepare, type PreparedQuery, type PrepareQuery } from "./prepared.js";
export * as adminTokens from "./repositories/admin-tokens.js";
export * as signingKeys from "./repositories/signing-keys.js";
