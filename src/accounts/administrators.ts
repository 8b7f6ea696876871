/**
 * The administrator right: held by the users listed in `administrators`, granted and removed only by an actor
 * with administrator authority (access/policy.ts), each change audited. No group membership confers it, so
 * neither SCIM nor anyone who can manage groups can.
 */
import { type Authority, mayManageAdministrators } from "../access/policy.js";
import type { AuditLog } from "../audit/index.js";
import type { Clock } from "../lib/clock.js";
import { AccountError } from "../lib/errors.js";
import type { AdministratorsRepository } from "../storage/repositories/administrators.js";

export interface Administrator {
  userId: string;
  grantedAt: number;
  grantedBy: string;
}

export interface Administrators {
  isAdministrator(userId: string): Promise<boolean>;
  list(): Promise<Administrator[]>;
  /** Throws `forbidden_change` without administrator authority, `user_not_found`, `already_admin`. */
  grant(userId: string, by: { actor: string; authority: Authority }): Promise<void>;
  /** Throws `forbidden_change` without administrator authority, `not_admin`. */
  revoke(userId: string, by: { actor: string; authority: Authority }): Promise<void>;
}

export function createAdministrators(deps: {
  repository: AdministratorsRepository;
  clock: Clock;
  audit: AuditLog;
  /** Whether an active user with this id exists. */
  userExists(userId: string): Promise<boolean>;
}): Administrators {
  const { repository, clock, audit } = deps;

  function authorise(by: { authority: Authority }) {
    if (!mayManageAdministrators(by.authority)) {
      throw new AccountError("forbidden_change", "Only an administrator may grant or remove the right.", 403);
    }
  }

  return {
    isAdministrator: (userId) => repository.has(userId),

    async list() {
      return (await repository.list()).map((r) => ({
        userId: r.user_id,
        grantedAt: r.granted_at,
        grantedBy: r.granted_by,
      }));
    },

    async grant(userId, by) {
      authorise(by);
      if (!(await deps.userExists(userId))) throw new AccountError("user_not_found", "No such user.", 404);
      const added = await repository.insert({
        user_id: userId,
        granted_at: clock.now(),
        granted_by: by.actor,
      });
      if (!added) throw new AccountError("already_admin", "The user is already an administrator.", 409);
      await audit.record({ type: "admin.granted", outcome: "success", userId, actor: by.actor });
    },

    async revoke(userId, by) {
      authorise(by);
      if (!(await repository.delete(userId))) {
        throw new AccountError("not_admin", "The user is not an administrator.", 409);
      }
      await audit.record({ type: "admin.revoked", outcome: "success", userId, actor: by.actor });
    },
  };
}
