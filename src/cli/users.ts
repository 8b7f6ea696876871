/**
 * `tessera users …`: manage accounts from the command line through the same domain services as SCIM and
 * the pages.
 *
 * - Passwords never travel as arguments (they would sit in shell history and `ps`): they are read from
 *   standard input (`--password-stdin`, one line) or typed at a prompt that does not echo.
 * - Users are named by userName (case-insensitive) or id.
 */
import { createInterface } from "node:readline";
import type { User } from "../accounts/index.js";
import { AccountError } from "../lib/errors.js";
import type { Services } from "../server/services.js";
import { table } from "./format.js";

export const USERS_HELP = `  users create NAME [--email E] [--display-name D] [--password-stdin]
                                 Create a user; with --password-stdin the password is read from stdin
  users list [--json]            List users
  users disable NAME             Disable a user: sign-in refused, sessions ended at once
  users enable NAME              Enable a disabled user
  users set-password NAME [--password-stdin]
                                 Set a user's password (prompted, or read from stdin)
  users grant-admin NAME         Give a user Tessera's administrator right (audited)
  users revoke-admin NAME        Take the administrator right away (audited)
  users admins [--json]          List the administrators
`;

export class CliUsageError extends Error {}

const BY = { actor: "cli", authority: "admin" as const };

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    return text.replace(/\r?\n$/, "");
  }
  const ask = (question: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      const output = rl as unknown as { _writeToOutput: (s: string) => void };
      output._writeToOutput = (s: string) => {
        if (s.startsWith(question)) process.stderr.write(question);
      };
      rl.question(question, (answer) => {
        rl.close();
        process.stderr.write("\n");
        resolve(answer);
      });
    });
  const first = await ask("New password: ");
  const second = await ask("Repeat it: ");
  if (first !== second) throw new CliUsageError("the two passwords differ");
  return first;
}

export async function findUser(ctx: Services, name: string): Promise<User> {
  const user = (await ctx.accounts.users.findByUserName(name)) ?? (await ctx.accounts.users.get(name));
  if (!user) throw new AccountError("user_not_found", `no user named "${name}"`, 404);
  return user;
}

export async function runUsersCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [, sub, name, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const users = ctx.accounts.users;
  switch (sub) {
    case "create": {
      if (!name) throw new CliUsageError("users create needs a user name");
      const password = flags["password-stdin"] ? await readPassword(true) : undefined;
      const email = typeof flags.email === "string" ? flags.email : undefined;
      const user = await users.create(
        {
          userName: name,
          displayName: typeof flags["display-name"] === "string" ? flags["display-name"] : null,
          emails: email ? [{ value: email, type: "work", primary: true }] : [],
          ...(password === undefined ? {} : { password }),
        },
        BY,
      );
      out(
        `Created user ${user.userName} (id ${user.id})${password === undefined ? " without a password" : ""}\n`,
      );
      return 0;
    }
    case "list": {
      const all: User[] = [];
      for (let start = 1; ; start += 1000) {
        const page = await users.list({ startIndex: start, count: 1000 });
        all.push(...page.users);
        if (all.length >= page.total || page.users.length === 0) break;
      }
      if (flags.json) {
        out(`${JSON.stringify(all, null, 2)}\n`);
      } else {
        const rows = all.map((u) => ({
          id: u.id,
          userName: u.userName,
          displayName: u.displayName,
          email: (u.emails.find((e) => e.primary) ?? u.emails[0])?.value ?? null,
          active: u.active ? "yes" : "no",
          password: u.hasPassword ? "set" : "none",
        }));
        out(`${table(rows)}\n`);
      }
      return 0;
    }
    case "disable":
    case "enable": {
      if (!name) throw new CliUsageError(`users ${sub} needs a user name`);
      const user = await findUser(ctx, name);
      await users.setActive(user.id, sub === "enable", BY);
      out(`${sub === "enable" ? "Enabled" : "Disabled"} ${user.userName}\n`);
      return 0;
    }
    case "set-password": {
      if (!name) throw new CliUsageError("users set-password needs a user name");
      const user = await findUser(ctx, name);
      const password = await readPassword(Boolean(flags["password-stdin"]));
      await users.setPassword(user.id, password, BY);
      out(`Password set for ${user.userName}\n`);
      return 0;
    }
    case "grant-admin":
    case "revoke-admin": {
      if (!name) throw new CliUsageError(`users ${sub} needs a user name`);
      const user = await findUser(ctx, name);
      if (sub === "grant-admin") await ctx.accounts.administrators.grant(user.id, BY);
      else await ctx.accounts.administrators.revoke(user.id, BY);
      out(`${user.userName} ${sub === "grant-admin" ? "is now" : "is no longer"} an administrator\n`);
      return 0;
    }
    case "admins": {
      if (name) throw new CliUsageError("users admins takes no name");
      const admins = await ctx.accounts.administrators.list();
      const rows = [];
      for (const admin of admins) {
        const user = await users.get(admin.userId);
        rows.push({
          id: admin.userId,
          userName: user?.userName ?? null,
          grantedAt: new Date(admin.grantedAt).toISOString(),
          grantedBy: admin.grantedBy,
        });
      }
      out(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : `${table(rows)}\n`);
      return 0;
    }
    default:
      throw new CliUsageError(`unknown command "users ${sub ?? ""}"`.trim());
  }
}
