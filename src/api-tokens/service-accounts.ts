/**
 * Service accounts: non-human principals (a deployment job, a back-end service) that hold their own API
 * tokens (`tsr_svc_…`). Each is owned by a user (an admin) or a group, named uniquely (case-insensitive),
 * and can be disabled (every key stops working at once) or deleted.
 */
import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import type { Clock } from "../lib/clock.js";
import { ApiTokenError } from "../lib/errors.js";
import type { ServiceAccountRow, ServiceAccountsRepository } from "../storage/index.js";
import type { ApiTokens } from "./tokens.js";

export interface ServiceAccount {
  id: string;
  name: string;
  description: string | null;
  ownerUserId: string | null;
  ownerGroupId: string | null;
  createdAt: number;
  disabledAt: number | null;
}

export interface ServiceAccounts {
  create(input: {
    name: string;
    description?: string | null;
    ownerUserId?: string | null;
    ownerGroupId?: string | null;
    actor: string;
  }): Promise<ServiceAccount>;
  get(idOrName: string): Promise<ServiceAccount | undefined>;
  list(): Promise<ServiceAccount[]>;
  /** Disables the account and revokes its keys. */
  disable(id: string, actor: string): Promise<ServiceAccount>;
  /** Deletes the account; its keys are revoked first. */
  delete(id: string, actor: string): Promise<void>;
}

const MAX_NAME = 200;
const MAX_DESCRIPTION = 1000;

function toServiceAccount(row: ServiceAccountRow): ServiceAccount {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    ownerUserId: row.owner_user_id,
    ownerGroupId: row.owner_group_id,
    createdAt: Number(row.created_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

export function createServiceAccounts(deps: {
  /** Where accounts are stored: `serviceAccountsRepository(storage.db)`. */
  repository: ServiceAccountsRepository;
  clock: Clock;
  audit: AuditLog;
  tokens: ApiTokens;
}): ServiceAccounts {
  const { repository, clock, audit, tokens } = deps;

  async function load(id: string): Promise<ServiceAccount> {
    const row = await repository.findById(id);
    if (!row) throw new ApiTokenError("service_account_not_found", "No such service account.", 404);
    return toServiceAccount(row);
  }

  return {
    async create(input) {
      const name = typeof input.name === "string" ? input.name.normalize("NFKC").trim() : "";
      if (name.length === 0 || name.length > MAX_NAME || /\p{Cc}/u.test(name)) {
        throw new ApiTokenError("invalid_request", `The name must be 1 to ${MAX_NAME} characters.`);
      }
      const description = input.description?.trim() || null;
      if (description !== null && description.length > MAX_DESCRIPTION) {
        throw new ApiTokenError(
          "invalid_request",
          `The description may be at most ${MAX_DESCRIPTION} characters.`,
        );
      }
      const ownerUserId = input.ownerUserId ?? null;
      const ownerGroupId = input.ownerGroupId ?? null;
      if (ownerUserId !== null && !(await repository.userExists(ownerUserId))) {
        throw new ApiTokenError("invalid_request", "The owner user does not exist.");
      }
      if (ownerGroupId !== null && !(await repository.groupExists(ownerGroupId))) {
        throw new ApiTokenError("invalid_request", "The owner group does not exist.");
      }
      const nameKey = name.toLowerCase();
      const taken = await repository.findByNameKey(nameKey);
      if (taken)
        throw new ApiTokenError("service_account_exists", "A service account with this name exists.", 409);
      const row: ServiceAccountRow = {
        id: randomUUID(),
        name,
        name_key: nameKey,
        description,
        owner_user_id: ownerUserId,
        owner_group_id: ownerGroupId,
        created_at: clock.now(),
        disabled_at: null,
      };
      try {
        await repository.insert(row);
      } catch (error) {
        // A concurrent create with the same name lost the unique index race.
        const again = await repository.findByNameKey(nameKey);
        if (again)
          throw new ApiTokenError("service_account_exists", "A service account with this name exists.", 409);
        throw error;
      }
      await audit.record({
        type: "service_account.created",
        outcome: "success",
        actor: input.actor,
        details: { serviceAccountId: row.id, name },
      });
      return toServiceAccount(row);
    },

    async get(idOrName) {
      // The id first: a name is free text and may spell another account's id, and one query matching either
      // would return whichever row the database reads first (the wrong account to disable or mint a key for).
      const row =
        (await repository.findById(idOrName)) ??
        (await repository.findByNameKey(idOrName.normalize("NFKC").trim().toLowerCase()));
      return row ? toServiceAccount(row) : undefined;
    },

    async list() {
      return (await repository.list()).map(toServiceAccount);
    },

    async disable(id, actor) {
      const account = await load(id);
      if (account.disabledAt === null) {
        const now = clock.now();
        await repository.disable(id, now);
        account.disabledAt = now;
        await tokens.revokeAllOf(id, { actor, reason: "owner_disabled" });
        await audit.record({
          type: "service_account.disabled",
          outcome: "success",
          actor,
          details: { serviceAccountId: id },
        });
      }
      return account;
    },

    async delete(id, actor) {
      await load(id);
      await tokens.revokeAllOf(id, { actor, reason: "owner_deleted" });
      await repository.delete(id);
      await audit.record({
        type: "service_account.deleted",
        outcome: "success",
        actor,
        details: { serviceAccountId: id },
      });
    },
  };
}
