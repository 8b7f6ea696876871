/**
 * Linked upstream accounts: which upstream account belongs to which Tessera user.
 *
 * - One upstream account (provider, subject) belongs to one user; a user links at most one account per
 *   provider. A second link is refused (`already_linked`), also when two requests race (unique keys).
 * - Linking never happens on a name or an unverified address: the callers link only (a) the signed-in user who
 *   asked to link from their account page, (b) a user who proved they own the account by signing in to it in
 *   the same flow, (c) a user whose e-mail the upstream says is verified, for a provider the administrator
 *   trusts for e-mail, (d) the account just provisioned for this upstream account, or (e) the account an
 *   invitation just created for the person who followed the invitation's link to this provider.
 * - Removing a link is refused when it is the user's last way to sign in: no password, no passkey, no other
 *   link (`forbidden_change`, 409). Two racing removals cannot both pass (the repository locks the user's links).
 * - Audited: `federation.linked` (with how), `federation.unlinked`.
 */

import type { Users } from "../accounts/index.js";
import type { AuditLog } from "../audit/index.js";
import type { Clock } from "../lib/clock.js";
import { isUniqueViolation, type LinkedIdentitiesRepository } from "../storage/index.js";
import { FederationError, FederationSignInError } from "./errors.js";

export type LinkedVia = "account_page" | "signed_in" | "verified_email" | "provisioned" | "invitation";

export interface LinkedProvider {
  providerId: string;
  displayName: string;
  kind: string;
  email: string | null;
  linkedAt: number;
  lastSignInAt: number | null;
}

export interface Linking {
  link(input: {
    userId: string;
    providerId: string;
    subject: string;
    email: string | null;
    via: LinkedVia;
    actor: string;
    ip?: string | null;
    userAgent?: string | null;
  }): Promise<void>;
  list(userId: string): Promise<LinkedProvider[]>;
  unlink(input: {
    userId: string;
    providerId: string;
    actor: string;
    ip?: string | null;
    userAgent?: string | null;
  }): Promise<void>;
}

export function createLinking(deps: {
  repository: LinkedIdentitiesRepository;
  users: Pick<Users, "get">;
  /** How many passkeys (discoverable WebAuthn credentials) the user has. */
  countPasskeys(userId: string): Promise<number>;
  audit: AuditLog;
  clock: Clock;
}): Linking {
  const { repository, audit, clock } = deps;
  return {
    async link(input) {
      try {
        await repository.insert({
          provider_id: input.providerId,
          subject: input.subject,
          user_id: input.userId,
          email: input.email,
          linked_at: clock.now(),
          last_sign_in_at: null,
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new FederationSignInError("already_linked");
        throw error;
      }
      await audit.record({
        type: "federation.linked",
        outcome: "success",
        userId: input.userId,
        actor: input.actor,
        ip: input.ip ?? null,
        userAgent: input.userAgent ?? null,
        details: { providerId: input.providerId, via: input.via },
      });
    },

    async list(userId) {
      return (await repository.listForUser(userId)).map((row) => ({
        providerId: row.provider_id,
        displayName: row.display_name,
        kind: row.kind,
        email: row.email,
        linkedAt: Number(row.linked_at),
        lastSignInAt: row.last_sign_in_at === null ? null : Number(row.last_sign_in_at),
      }));
    },

    async unlink(input) {
      const user = await deps.users.get(input.userId);
      if (!user) throw new FederationError("not_found", "No such user.");
      const otherWay = user.hasPassword || (await deps.countPasskeys(input.userId)) > 0;
      const removed = await repository.delete(input.providerId, input.userId, { keepLast: !otherWay });
      if (!removed) {
        const linked = (await repository.listForUser(input.userId)).some(
          (l) => l.provider_id === input.providerId,
        );
        if (!linked) throw new FederationError("not_found", "This provider is not linked to the account.");
        throw new FederationError(
          "forbidden_change",
          "This is your only way to sign in. Set a password or add a passkey first.",
          409,
        );
      }
      await audit.record({
        type: "federation.unlinked",
        outcome: "success",
        userId: input.userId,
        actor: input.actor,
        ip: input.ip ?? null,
        userAgent: input.userAgent ?? null,
        details: { providerId: input.providerId },
      });
    },
  };
}
