/**
 * Who may do and grant what. Pure rules, used by the domains that act on them (accounts, api-tokens), so every
 * entry point meets the same answer. The principle: no credential obtains, directly or through a chain of
 * steps, a credential or a right with more authority than its own.
 *
 * - The administrator right is a row of its own (`administrators`), granted and removed only with administrator
 *   authority (`tessera users grant-admin|revoke-admin`, `PUT|DELETE /admin/users/{id}/admin`). No group
 *   confers it, so SCIM — which manages groups and their members — cannot confer it.
 * - Tessera's own API scopes (`tessera:admin`, `tessera:scim`) go only on tokens of administrators (a personal
 *   token's are dropped at every use once its owner is no longer one), or on service-account keys, which only
 *   administrators create.
 * - Provisioning (SCIM) cannot take over an administrator's account: on a user who holds the right it may not
 *   set a password, change the user name or e-mail addresses (where reset links go), or re-enable the account.
 *   It may still update other attributes, disable or delete it (leavers are removed everywhere).
 */

/** The kind of authority an actor holds, as the entry point authenticated it. */
export type Authority =
  /** An administrator: admin token, `tessera:admin` API token, an administrator's session, the CLI. */
  | "admin"
  /** A provisioning client: a `tessera:scim` credential. */
  | "provisioning"
  /** The user acting on their own account. */
  | "self"
  /** Tessera itself (jobs, migrations). */
  | "system";

export const TESSERA_API_SCOPES = ["tessera:admin", "tessera:scim"] as const;

export function isTesseraApiScope(scope: string): boolean {
  return (TESSERA_API_SCOPES as readonly string[]).includes(scope);
}

/** Whether this authority may grant or remove the administrator right. */
export function mayManageAdministrators(authority: Authority): boolean {
  return authority === "admin" || authority === "system";
}

export interface ProvisionedChange {
  userNameChanged: boolean;
  emailsChanged: boolean;
  passwordSet: boolean;
  enabling: boolean;
}

/**
 * Why `authority` may not make this change to a user who holds the administrator right (undefined: it may).
 * Only provisioning is limited; administrators and the user themself are not.
 */
export function refusalForAdministratorChange(
  authority: Authority,
  change: ProvisionedChange,
): string | undefined {
  if (authority !== "provisioning") return undefined;
  if (change.passwordSet) return "Provisioning cannot set an administrator's password.";
  if (change.userNameChanged) return "Provisioning cannot change an administrator's user name.";
  if (change.emailsChanged) return "Provisioning cannot change an administrator's e-mail addresses.";
  if (change.enabling) return "Provisioning cannot re-enable an administrator.";
  return undefined;
}
