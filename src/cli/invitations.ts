/**
 * `tessera invitations …`: invite an e-mail address, list and revoke invitations, through the same domain
 * service as the admin API (`ctx.onboarding.invitations`). The CLI acts as `cli` with administrator authority.
 *
 * - Groups are named by displayName (case-insensitive) or id; an unknown one is refused before anything is sent.
 * - The link is mailed to the address. `--show-link` also prints it on stdout, for handing it over another way
 *   (without `TESSERA_SMTP_URL` the mail only reaches this process's development outbox, so the command says so).
 */
import type { Group } from "../accounts/index.js";
import { AccountError } from "../lib/errors.js";
import type { Invitation, InvitationStatus } from "../onboarding/index.js";
import type { Services } from "../server/services.js";
import { commaList, table } from "./format.js";
import { CliUsageError } from "./users.js";

export const INVITATIONS_HELP = `  invitations create EMAIL [--groups G1,G2] [--expires-in SECONDS] [--show-link] [--json]
                                 Invite an address to create an account (optionally into groups);
                                 the link is mailed, and printed with --show-link
  invitations list [--status S] [--json]
                                 List invitations, newest first (S: pending, accepted, revoked, expired)
  invitations revoke ID          Revoke an invitation: its link stops working
`;

export const INVITATION_FLAGS = {
  groups: "string",
  "expires-in": "string",
  "show-link": "boolean",
  status: "string",
  json: "boolean",
} as const;

const BY = { actor: "cli", authority: "admin" as const };
const STATUSES: readonly InvitationStatus[] = ["pending", "accepted", "revoked", "expired"];

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function allGroups(ctx: Services): Promise<Group[]> {
  const all: Group[] = [];
  for (let start = 1; ; start += 1000) {
    const page = await ctx.accounts.groups.list({ startIndex: start, count: 1000 });
    all.push(...page.groups);
    if (all.length >= page.total || page.groups.length === 0) break;
  }
  return all;
}

async function groupIds(ctx: Services, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const all = await allGroups(ctx);
  return names.map((name) => {
    const key = name.normalize("NFKC").trim().toLowerCase();
    const group = all.find((g) => g.id === name) ?? all.find((g) => g.displayName.toLowerCase() === key);
    if (!group) throw new AccountError("group_not_found", `no group named "${name}"`, 404);
    return group.id;
  });
}

function row(invitation: Invitation) {
  return {
    id: invitation.id,
    email: invitation.email,
    status: invitation.status,
    groups: invitation.groups.length,
    createdBy: invitation.createdBy,
    created: iso(invitation.createdAt),
    expires: iso(invitation.expiresAt),
  };
}

/** A command line checked before anything is opened: bad usage exits 2 without touching the database. */
export type InvitationsCommand =
  | { sub: "create"; email: string; groups: string[]; expiresIn?: number; showLink: boolean; json: boolean }
  | { sub: "list"; status?: InvitationStatus; json: boolean }
  | { sub: "revoke"; id: string };

export function parseInvitationsCommand(
  words: string[],
  flags: Record<string, string | boolean>,
): InvitationsCommand {
  const [, sub, argument, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  switch (sub) {
    case "create": {
      if (!argument) throw new CliUsageError("invitations create needs an e-mail address");
      let expiresIn: number | undefined;
      if (flags["expires-in"] !== undefined) {
        const text = String(flags["expires-in"]);
        if (!/^\d+$/.test(text)) throw new CliUsageError("--expires-in must be a number of seconds");
        expiresIn = Number(text);
      }
      return {
        sub,
        email: argument,
        groups: commaList(flags.groups) ?? [],
        ...(expiresIn === undefined ? {} : { expiresIn }),
        showLink: flags["show-link"] === true,
        json: flags.json === true,
      };
    }
    case "list": {
      if (argument) throw new CliUsageError("too many arguments");
      const status = flags.status === undefined ? undefined : String(flags.status);
      if (status !== undefined && !STATUSES.includes(status as InvitationStatus)) {
        throw new CliUsageError(`--status must be one of ${STATUSES.join(", ")}`);
      }
      return { sub, ...(status ? { status: status as InvitationStatus } : {}), json: flags.json === true };
    }
    case "revoke":
      if (!argument) throw new CliUsageError("invitations revoke needs an invitation id");
      return { sub, id: argument };
    default:
      throw new CliUsageError(`unknown command "invitations ${sub ?? ""}"`.trim());
  }
}

export async function runInvitationsCommand(
  ctx: Services,
  command: InvitationsCommand,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const invitations = ctx.onboarding.invitations;
  switch (command.sub) {
    case "create": {
      const groups = await groupIds(ctx, command.groups);
      const { invitation, link, mailed } = await invitations.create(
        {
          email: command.email,
          groups,
          ...(command.expiresIn === undefined ? {} : { expiresIn: command.expiresIn }),
        },
        BY,
      );
      if (command.json) {
        out(`${JSON.stringify({ ...invitation, mailed, ...(command.showLink ? { link } : {}) }, null, 2)}\n`);
      } else {
        out(
          `Invited ${invitation.email} (id ${invitation.id}); the link expires ${iso(invitation.expiresAt)}\n`,
        );
        if (command.showLink) out(`${link}\n`);
      }
      if (!mailed)
        err("tessera: the invitation mail could not be sent (see the log); revoke and invite again\n");
      else if (ctx.config.smtpUrl === undefined && !command.showLink) {
        err(
          "tessera: no TESSERA_SMTP_URL: the mail went to this process's development outbox only. Use --show-link to hand the link over yourself.\n",
        );
      }
      return mailed ? 0 : 1;
    }
    case "list": {
      const all: Invitation[] = [];
      for (let start = 1; ; start += 1000) {
        const page = await invitations.list({
          startIndex: start,
          count: 1000,
          ...(command.status ? { status: command.status } : {}),
        });
        all.push(...page.invitations);
        if (all.length >= page.total || page.invitations.length === 0) break;
      }
      out(command.json ? `${JSON.stringify(all, null, 2)}\n` : `${table(all.map(row))}\n`);
      return 0;
    }
    case "revoke": {
      const invitation = await invitations.revoke(command.id, BY);
      out(`Revoked the invitation of ${invitation.email} (id ${invitation.id})\n`);
      return 0;
    }
  }
}
