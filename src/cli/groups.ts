/**
 * `tessera groups …`: groups and their members from the command line, through the same domain service as
 * SCIM, the admin API and the pages. Groups are named by displayName (case-insensitive) or id, users by
 * userName or id. Groups confer no Tessera right: the administrator right is `tessera users grant-admin`.
 */
import type { Group } from "../accounts/index.js";
import { AccountError } from "../lib/errors.js";
import type { Services } from "../server/services.js";
import { table } from "./format.js";
import { CliUsageError, findUser } from "./users.js";

export const GROUPS_HELP = `  groups create NAME             Create a group
  groups list [--json]           List groups with their member counts
  groups show NAME [--json]      A group and its members
  groups add NAME USER           Add a user to a group
  groups remove NAME USER        Remove a user from a group
  groups delete NAME             Delete a group (its members stay)
`;

const BY = { actor: "cli", authority: "admin" as const };

async function allGroups(ctx: Services): Promise<Group[]> {
  const all: Group[] = [];
  for (let start = 1; ; start += 1000) {
    const page = await ctx.accounts.groups.list({ startIndex: start, count: 1000 });
    all.push(...page.groups);
    if (all.length >= page.total || page.groups.length === 0) break;
  }
  return all;
}

async function findGroup(ctx: Services, name: string): Promise<Group> {
  const key = name.normalize("NFKC").trim().toLowerCase();
  const group =
    (await ctx.accounts.groups.get(name)) ??
    (await allGroups(ctx)).find((g) => g.displayName.toLowerCase() === key);
  if (!group) throw new AccountError("group_not_found", `no group named "${name}"`, 404);
  return group;
}

export async function runGroupsCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [, sub, name, member, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const groups = ctx.accounts.groups;
  const needs = (what: string, value: string | undefined): string => {
    if (!value) throw new CliUsageError(`groups ${sub} needs ${what}`);
    return value;
  };
  switch (sub) {
    case "create": {
      const group = await groups.create({ displayName: needs("a group name", name) }, BY);
      out(`Created group ${group.displayName} (id ${group.id})\n`);
      return 0;
    }
    case "list": {
      const all = await allGroups(ctx);
      if (flags.json) out(`${JSON.stringify(all, null, 2)}\n`);
      else
        out(
          `${table(all.map((g) => ({ id: g.id, displayName: g.displayName, members: g.members.length })))}\n`,
        );
      return 0;
    }
    case "show": {
      const group = await findGroup(ctx, needs("a group name", name));
      if (flags.json) out(`${JSON.stringify(group, null, 2)}\n`);
      else {
        out(`${group.displayName} (id ${group.id}), ${group.members.length} member(s)\n`);
        if (group.members.length > 0) out(`${table(group.members)}\n`);
      }
      return 0;
    }
    case "add":
    case "remove": {
      const group = await findGroup(ctx, needs("a group name", name));
      const user = await findUser(ctx, needs("a user name", member));
      const ids = group.members.map((m) => m.id).filter((id) => id !== user.id);
      await groups.replace(
        group.id,
        {
          displayName: group.displayName,
          externalId: group.externalId,
          members: sub === "add" ? [...ids, user.id] : ids,
        },
        // Conditional on the version read: a concurrent change fails instead of being overwritten.
        { ...BY, expectedVersion: group.version },
      );
      out(
        `${sub === "add" ? "Added" : "Removed"} ${user.userName} ${sub === "add" ? "to" : "from"} ${group.displayName}\n`,
      );
      return 0;
    }
    case "delete": {
      const group = await findGroup(ctx, needs("a group name", name));
      await groups.delete(group.id, BY);
      out(`Deleted group ${group.displayName}\n`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown command "groups ${sub ?? ""}"`.trim());
  }
}
