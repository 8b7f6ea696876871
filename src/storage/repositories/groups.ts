/**
 * Groups at rest: `groups` and their `group_members` (accounts/groups.ts decides the rules).
 *
 * - A group and its members are written together in one transaction, members in batches of 500 rows.
 * - `replace` is conditional on the version that was read (its answer says whether it won) and replaces the
 *   members in the same transaction.
 * - Unique violations (`display_name_key`) reach the caller as the driver reports them (`isUniqueViolation`).
 */
import type { Kysely } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database, GroupsTable } from "../database.js";
import { type Page, type PageQuery, pageOf } from "./paging.js";

export type GroupRow = GroupsTable;

/** One member of a group, with the user's name. */
export interface GroupMemberRow {
  group_id: string;
  id: string;
  user_name: string;
}

/** What a full replacement of a group writes. */
export type GroupReplacement = Pick<
  GroupRow,
  "display_name" | "display_name_key" | "external_id" | "updated_at" | "version"
>;

export interface GroupsRepository {
  findById(id: string): Promise<GroupRow | undefined>;
  /** The members of these groups, ordered by the users' name keys. */
  members(groupIds: readonly string[]): Promise<GroupMemberRow[]>;
  /** Which of these ids are users' ids (read in batches of 500). */
  knownUserIds(userIds: readonly string[]): Promise<Set<string>>;
  /** One page in creation order (`created_at, id`) and the matching total. */
  page(query: PageQuery): Promise<Page<GroupRow>>;
  /** Inserts the group and its members in one transaction. */
  insert(group: GroupRow, memberIds: readonly string[]): Promise<void>;
  /**
   * Replaces the group's attributes and members in one transaction, if its version is still `expectedVersion`;
   * false (nothing written) when it is not, or the group is gone.
   */
  replace(
    id: string,
    expectedVersion: number,
    changes: GroupReplacement,
    memberIds: readonly string[],
  ): Promise<boolean>;
  /** Deletes the group and its memberships together. */
  delete(id: string): Promise<void>;
}

const BATCH = 500;

async function insertMembers(trx: Kysely<Database>, groupId: string, members: readonly string[]) {
  for (let i = 0; i < members.length; i += BATCH) {
    await trx
      .insertInto("group_members")
      .values(members.slice(i, i + BATCH).map((user_id) => ({ group_id: groupId, user_id })))
      .execute();
  }
}

/** `dialect` compiles page filters. */
export function groupsRepository(db: Kysely<Database>, dialect: DialectName): GroupsRepository {
  return {
    findById: (id) => db.selectFrom("groups").selectAll().where("id", "=", id).executeTakeFirst(),

    async members(groupIds) {
      if (groupIds.length === 0) return [];
      return db
        .selectFrom("group_members")
        .innerJoin("users", "users.id", "group_members.user_id")
        .select(["group_members.group_id", "users.id", "users.user_name"])
        .where("group_members.group_id", "in", [...groupIds])
        .orderBy("users.user_name_key")
        .execute();
    },

    async knownUserIds(userIds) {
      const found = new Set<string>();
      for (let i = 0; i < userIds.length; i += BATCH) {
        const rows = await db
          .selectFrom("users")
          .select("id")
          .where("id", "in", userIds.slice(i, i + BATCH))
          .execute();
        for (const r of rows) found.add(r.id);
      }
      return found;
    },

    page: (query) => pageOf(db, dialect, "groups", query),

    async insert(group, memberIds) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto("groups").values(group).execute();
        await insertMembers(trx, group.id, memberIds);
      });
    },

    replace: (id, expectedVersion, changes, memberIds) =>
      db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable("groups")
          .set(changes)
          .where("id", "=", id)
          .where("version", "=", expectedVersion)
          .executeTakeFirst();
        if (result.numUpdatedRows !== 1n) return false;
        await trx.deleteFrom("group_members").where("group_id", "=", id).execute();
        await insertMembers(trx, id, memberIds);
        return true;
      }),

    async delete(id) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("group_members").where("group_id", "=", id).execute();
        await trx.deleteFrom("groups").where("id", "=", id).execute();
      });
    },
  };
}
