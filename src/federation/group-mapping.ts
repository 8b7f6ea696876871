/**
 * Group mapping: the upstream's groups decide the user's membership of the Tessera groups the provider maps to.
 *
 * - Only the groups named as targets in the provider's `groupMapping` are touched: the user is made a member
 *   of each target some upstream group of theirs maps to, and removed from the other targets. Groups outside the
 *   mapping, whoever manages them, are left alone.
 * - A target that does not exist (renamed or deleted since) is skipped, not created.
 * - It cannot confer the administrator right: that is the `administrators` table, changed only with
 *   administrator authority (src/access/policy.ts); nothing here reaches it.
 * - Membership changes go through the groups service (audited as `group.updated`, conditional on the version
 *   read; a concurrent change is retried).
 */
import type { Actor, Groups } from "../accounts/index.js";
import { TesseraError } from "../lib/errors.js";
import { groupFilterPredicate } from "../scim/filter-sql.js";

async function findGroup(groups: Groups, displayName: string) {
  const page = await groups.list({
    where: groupFilterPredicate({
      type: "compare",
      path: { schema: null, attribute: "displayName", subAttribute: null },
      op: "eq",
      value: displayName,
    }),
    count: 1,
  });
  return page.groups[0];
}

/** Applies the mapping for one user; answers the Tessera groups the user was added to and removed from. */
export async function applyGroupMapping(input: {
  groups: Groups;
  userId: string;
  upstreamGroups: readonly string[];
  mapping: Readonly<Record<string, string>>;
  by: Actor;
}): Promise<{ added: string[]; removed: string[] }> {
  const { groups, userId, mapping, by } = input;
  const targets = new Set(Object.values(mapping).map((name) => name.toLowerCase()));
  const wanted = new Set(
    input.upstreamGroups.flatMap((g) => (mapping[g] === undefined ? [] : [mapping[g].toLowerCase()])),
  );
  const added: string[] = [];
  const removed: string[] = [];
  for (const target of targets) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const group = await findGroup(groups, target);
      if (!group) break;
      const member = group.members.some((m) => m.id === userId);
      const shouldBe = wanted.has(target);
      if (member === shouldBe) break;
      const members = shouldBe
        ? [...group.members.map((m) => m.id), userId]
        : group.members.map((m) => m.id).filter((id) => id !== userId);
      try {
        await groups.replace(
          group.id,
          { displayName: group.displayName, externalId: group.externalId, members },
          { ...by, expectedVersion: group.version },
        );
        (shouldBe ? added : removed).push(group.displayName);
        break;
      } catch (error) {
        if (error instanceof TesseraError && error.code === "group_changed") continue;
        throw error;
      }
    }
  }
  return { added, removed };
}
