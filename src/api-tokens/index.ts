/** API tokens: admin tokens, personal access tokens, service accounts and their keys, leak reports. */
export {
  ADMIN_TOKEN_FORMAT,
  type AdminPrincipal,
  type AdminTokenDeps,
  type AdminTokens,
  authenticateAdminToken,
  createAdminToken,
  createAdminTokens,
  listAdminTokens,
  revokeAdminToken,
} from "./admin-tokens.js";
export {
  apiTokenLeakRevoker,
  createLeakReports,
  isTesseraTokenShape,
  type LeakReportResult,
  type LeakRevoker,
  MAX_LEAK_REPORT,
} from "./leaked.js";
export { createServiceAccounts, type ServiceAccount, type ServiceAccounts } from "./service-accounts.js";
export {
  type ApiToken,
  type ApiTokenDeps,
  type ApiTokenKind,
  type ApiTokenPrincipal,
  type ApiTokens,
  type CreateApiTokenInput,
  createApiTokens,
  DEFAULT_API_TOKEN_LIFETIME,
  hasApiTokenPrefix,
  kindOfToken,
  PERSONAL_TOKEN_FORMAT,
  SERVICE_TOKEN_FORMAT,
  TESSERA_SCOPES,
} from "./tokens.js";
