/**
 * Groups: named sets of users (SCIM `Group`), later carried in the `groups` claim.
 *
 * - `displayName` is unique case-insensitively.
 * - Members are users only (nested groups are not supported); unknown member ids are refused, not dropped.
 * - Every change bumps `version` and writes an audit event.
 */
import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/index.js";
import type { Clock } from "../lib/clock.js";
import { AccountError } from "../lib/errors.js";
import { type GroupRow, type GroupsRepository, isUniqueViolation } from "../storage/index.js";
import { type PageOptions, pageQuery } from "./paging.js";
import type { Actor } from "./users.js";

export interface Group {
  id: string;
  displayName: string;
  externalId: string | null;
  members: { id: string; userName: string }[];
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface GroupAttributes {
  displayName: string;
  externalId?: string | null;
  /** User ids. */
  members?: string[];
}

export interface Groups {
  create(attributes: GroupAttributes, by: Actor): Promise<Group>;
  /**
   * Replaces the group's name and members. With `expectedVersion` (the version a read-modify-write started
   * from), a group changed meanwhile is refused with 412 `group_changed` instead of losing that change.
   */
  replace(id: string, attributes: GroupAttributes, by: Actor & { expectedVersion?: number }): Promise<Group>;
  get(id: string): Promise<Group | undefined>;
  list(options?: PageOptions): Promise<{
    total: number;
    groups: Group[];
  }>;
  delete(id: string, by: Actor): Promise<void>;
}

const MAX_MEMBERS = 10_000;
const CONTROL = /\p{Cc}/u;

function cleanDisplayName(value: unknown): string {
  if (typeof value !== "string") throw new AccountError("invalid_request", "displayName is required.");
  const name = value.normalize("NFKC").trim();
  if (name.length === 0 || name.length > 256 || CONTROL.test(name)) {
    throw new AccountError("invalid_request", "displayName must be 1 to 256 characters.");
  }
  return name;
}

export function createGroups(deps: {
  /** Where groups are stored: `groupsRepository(storage.db, storage.dialect)`. */
  repository: GroupsRepository;
  clock: Clock;
  audit: AuditLog;
}): Groups {
  const { repository, clock } = deps;

  async function hydrate(rows: GroupRow[]): Promise<Group[]> {
    if (rows.length === 0) return [];
    const members = await repository.members(rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      displayName: r.display_name,
      externalId: r.external_id,
      members: members.filter((m) => m.group_id === r.id).map((m) => ({ id: m.id, userName: m.user_name })),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      version: r.version,
    }));
  }

  async function get(id: string): Promise<Group | undefined> {
    const row = await repository.findById(id);
    return row ? (await hydrate([row]))[0] : undefined;
  }

  async function checkMembers(ids: string[] | undefined): Promise<string[]> {
    const unique = [...new Set(ids ?? [])];
    if (unique.length > MAX_MEMBERS) {
      throw new AccountError("invalid_request", `A group holds at most ${MAX_MEMBERS} members.`);
    }
    if (unique.length === 0) return unique;
    const found = await repository.knownUserIds(unique);
    const missing = unique.filter((id) => !found.has(id));
    if (missing.length > 0) throw new AccountError("invalid_request", "A member is not a known user id.");
    return unique;
  }

  function conflict(error: unknown): never {
    if (isUniqueViolation(error)) {
      throw new AccountError("group_exists", "A group with this displayName already exists.", 409);
    }
    throw error;
  }

  async function audit(type: "group.created" | "group.updated" | "group.deleted", id: string, by: Actor) {
    await deps.audit.record({
      type,
      outcome: "success",
      actor: by.actor,
      ip: by.ip,
      details: { groupId: id },
    });
  }

  return {
    async create(attributes, by) {
      const displayName = cleanDisplayName(attributes.displayName);
      const members = await checkMembers(attributes.members);
      const id = randomUUID();
      const now = clock.now();
      try {
        await repository.insert(
          {
            id,
            display_name: displayName,
            display_name_key: displayName.toLowerCase(),
            external_id: attributes.externalId ?? null,
            created_at: now,
            updated_at: now,
            version: 1,
          },
          members,
        );
      } catch (error) {
        conflict(error);
      }
      await audit("group.created", id, by);
      return (await get(id))!;
    },

    async replace(id, attributes, by) {
      const existing = await get(id);
      if (!existing) throw new AccountError("group_not_found", "No such group.", 404);
      const displayName = cleanDisplayName(attributes.displayName);
      const members = await checkMembers(attributes.members);
      let replaced: boolean;
      try {
        replaced = await repository.replace(
          id,
          by.expectedVersion ?? existing.version,
          {
            display_name: displayName,
            display_name_key: displayName.toLowerCase(),
            external_id: attributes.externalId ?? null,
            updated_at: clock.now(),
            version: existing.version + 1,
          },
          members,
        );
      } catch (error) {
        conflict(error);
      }
      if (!replaced) {
        throw new AccountError("group_changed", "The group changed meanwhile; fetch it and retry.", 412);
      }
      await audit("group.updated", id, by);
      return (await get(id))!;
    },

    get,

    async list(options = {}) {
      const { total, rows } = await repository.page(pageQuery(options));
      return { total, groups: await hydrate(rows) };
    },

    async delete(id, by) {
      const existing = await get(id);
      if (!existing) throw new AccountError("group_not_found", "No such group.", 404);
      await repository.delete(id);
      await audit("group.deleted", id, by);
    },
  };
}
