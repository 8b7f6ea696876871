/** API tokens. For now: admin tokens for the admin API (personal and service tokens come next). */
export {
  ADMIN_TOKEN_FORMAT,
  type AdminPrincipal,
  type AdminTokenDeps,
  authenticateAdminToken,
  createAdminToken,
  listAdminTokens,
  revokeAdminToken,
} from "./admin-tokens.js";
