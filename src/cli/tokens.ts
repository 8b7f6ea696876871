/**
 * `tessera tokens …` and `tessera service-accounts …`: personal access tokens and service-account keys from the
 * command line, through the same domain code as the admin API and the account pages.
 *
 * - A token's value is printed once, at creation; Tessera keeps only its hash.
 * - Owners are named: `--user USERNAME` for a personal token, `--service-account NAME` for a key.
 */
import { type ApiToken, DEFAULT_API_TOKEN_LIFETIME } from "../api-tokens/index.js";
import { AccountError, ApiTokenError } from "../lib/errors.js";
import type { Services } from "../server/services.js";
import { commaList as list, table } from "./format.js";
import { CliUsageError } from "./users.js";

export const TOKENS_HELP = `  tokens create NAME (--user USERNAME | --service-account NAME) [--scope "S …"] [--resources R[,R…]]
                 [--expires-in SECONDS | --no-expiry] [--allowed-ips CIDR[,CIDR…]] [--json]
                                 Mint a personal access token or a service-account key (shown once;
                                 default expiry 90 days; scopes: tessera:admin, tessera:scim, or the
                                 listed resource servers' scopes)
  tokens list [--user USERNAME | --service-account NAME] [--json]
                                 List API tokens (never their values)
  tokens revoke ID               Revoke an API token (at once)
  service-accounts create NAME [--description D] [--owner-user USERNAME] [--owner-group GROUP_ID] [--json]
                                 Create a service account (a non-human principal with its own keys)
  service-accounts list [--json] List service accounts
  service-accounts disable ID|NAME
                                 Disable a service account and revoke its keys
  service-accounts delete ID|NAME
                                 Delete a service account (its keys are revoked first)
`;

export const TOKEN_FLAGS = {
  user: "string",
  "service-account": "string",
  scope: "string",
  resources: "string",
  "expires-in": "string",
  "no-expiry": "boolean",
  "allowed-ips": "string",
  description: "string",
  "owner-user": "string",
  "owner-group": "string",
  json: "boolean",
} as const;

const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

function row(t: ApiToken) {
  return {
    id: t.id,
    kind: t.kind,
    name: t.name,
    owner: t.ownerId,
    scope: t.scopes.join(" "),
    expires: t.expiresAt === null ? "never" : iso(t.expiresAt),
    lastUsed: iso(t.lastUsedAt),
    revoked: iso(t.revokedAt),
  };
}

export async function runTokensCommand(
  ctx: Services,
  words: string[],
  flags: Record<string, string | boolean>,
  out: (text: string) => void,
): Promise<number> {
  const [group, sub, arg, ...rest] = words;
  if (rest.length > 0) throw new CliUsageError("too many arguments");
  const json = flags.json === true;

  // A name that matches nothing is not a usage error (exit 1, like `users` and `clients`, not 2).
  async function userId(userName: string): Promise<string> {
    const user = await ctx.accounts.users.findByUserName(userName);
    if (!user) throw new AccountError("user_not_found", `no user named ${userName}`, 404);
    return user.id;
  }
  async function serviceAccountId(idOrName: string): Promise<string> {
    const account = await ctx.serviceAccounts.get(idOrName);
    if (!account) throw new ApiTokenError("service_account_not_found", `no service account ${idOrName}`, 404);
    return account.id;
  }

  if (group === "tokens") {
    if (sub === "create") {
      if (!arg) throw new CliUsageError("tokens create needs a name");
      const user = typeof flags.user === "string" ? flags.user : undefined;
      const account = typeof flags["service-account"] === "string" ? flags["service-account"] : undefined;
      if ((user === undefined) === (account === undefined)) {
        throw new CliUsageError("tokens create needs exactly one of --user and --service-account");
      }
      if (flags["no-expiry"] === true && flags["expires-in"] !== undefined) {
        throw new CliUsageError("--expires-in and --no-expiry exclude each other");
      }
      const expiresIn =
        flags["no-expiry"] === true
          ? null
          : typeof flags["expires-in"] === "string"
            ? Number(flags["expires-in"])
            : DEFAULT_API_TOKEN_LIFETIME;
      if (expiresIn !== null && !Number.isInteger(expiresIn))
        throw new CliUsageError("--expires-in must be seconds");
      const scope = typeof flags.scope === "string" ? flags.scope.split(" ").filter(Boolean) : [];
      const { token, apiToken } = await ctx.apiTokens.create({
        kind: user !== undefined ? "personal" : "service",
        name: arg,
        ownerId: user !== undefined ? await userId(user) : await serviceAccountId(account!),
        scopes: scope,
        resources: list(flags.resources) ?? [],
        expiresIn,
        allowedIps: list(flags["allowed-ips"]) ?? null,
        createdBy: "cli",
      });
      if (json) out(`${JSON.stringify({ token, apiToken }, null, 2)}\n`);
      else {
        out(`${table([row(apiToken)])}\n\nToken (shown once; Tessera keeps only its hash):\n${token}\n`);
      }
      return 0;
    }
    if (sub === "list") {
      if (arg) throw new CliUsageError("tokens list takes no argument");
      if (typeof flags.user === "string" && typeof flags["service-account"] === "string") {
        throw new CliUsageError("tokens list takes at most one of --user and --service-account");
      }
      const ownerId =
        typeof flags.user === "string"
          ? await userId(flags.user)
          : typeof flags["service-account"] === "string"
            ? await serviceAccountId(flags["service-account"])
            : undefined;
      const tokens = await ctx.apiTokens.list(ownerId ? { ownerId } : {});
      out(json ? `${JSON.stringify(tokens, null, 2)}\n` : `${table(tokens.map(row))}\n`);
      return 0;
    }
    if (sub === "revoke") {
      if (!arg) throw new CliUsageError("tokens revoke needs a token id");
      const token = await ctx.apiTokens.get(arg);
      if (!token || token.revokedAt !== null) {
        process.stderr.write(`tessera: no active API token with id ${arg}\n`);
        return 1;
      }
      await ctx.apiTokens.revoke(arg, { actor: "cli" });
      out(`Revoked ${arg}\n`);
      return 0;
    }
    throw new CliUsageError(`unknown command "tokens ${sub ?? ""}"`);
  }

  if (sub === "create") {
    if (!arg) throw new CliUsageError("service-accounts create needs a name");
    const account = await ctx.serviceAccounts.create({
      name: arg,
      description: typeof flags.description === "string" ? flags.description : null,
      ownerUserId: typeof flags["owner-user"] === "string" ? await userId(flags["owner-user"]) : null,
      ownerGroupId: typeof flags["owner-group"] === "string" ? flags["owner-group"] : null,
      actor: "cli",
    });
    out(
      json ? `${JSON.stringify(account, null, 2)}\n` : `${table([{ id: account.id, name: account.name }])}\n`,
    );
    return 0;
  }
  if (sub === "list") {
    const accounts = await ctx.serviceAccounts.list();
    out(
      json
        ? `${JSON.stringify(accounts, null, 2)}\n`
        : `${table(accounts.map((a) => ({ id: a.id, name: a.name, created: iso(a.createdAt), disabled: iso(a.disabledAt) })))}\n`,
    );
    return 0;
  }
  if (sub === "disable" || sub === "delete") {
    if (!arg) throw new CliUsageError(`service-accounts ${sub} needs an id or a name`);
    const id = await serviceAccountId(arg);
    if (sub === "disable") await ctx.serviceAccounts.disable(id, "cli");
    else await ctx.serviceAccounts.delete(id, "cli");
    out(`${sub === "disable" ? "Disabled" : "Deleted"} ${id}\n`);
    return 0;
  }
  throw new CliUsageError(`unknown command "service-accounts ${sub ?? ""}"`);
}
