#!/usr/bin/env node
/**
 * The `tessera` command. Commands call domain services directly (never an HTTP handler).
 *
 * Exit codes: 0 success, 1 the operation failed, 2 bad usage or configuration.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Config, loadConfig } from "../config/index.js";
import { JWS_ALGORITHMS, type JwsAlgorithm } from "../crypto/index.js";
import { ConfigError, TesseraError } from "../lib/errors.js";
import { createLogger, type Logger } from "../observability/log.js";
import { startServer } from "../server/serve.js";
import { createServices, type Services } from "../server/services.js";
import { migrateToLatest, openStorage } from "../storage/index.js";
import { AUDIT_FLAGS, AUDIT_HELP, runAuditCommand, takeAuditTypes } from "./audit.js";
import { BFF_HELP, startBff } from "./bff.js";
import { CLIENT_FLAGS, CLIENTS_HELP, runClientsCommand } from "./clients.js";
import { table } from "./format.js";
import { GROUPS_HELP, runGroupsCommand } from "./groups.js";
import { IDP_FLAGS, IDP_HELP, runIdpCommand } from "./idp.js";
import {
  INVITATION_FLAGS,
  INVITATIONS_HELP,
  parseInvitationsCommand,
  runInvitationsCommand,
} from "./invitations.js";
import { runTokensCommand, TOKEN_FLAGS, TOKENS_HELP } from "./tokens.js";
import { CliUsageError, runUsersCommand, USERS_HELP } from "./users.js";
import { runWebhooksCommand, WEBHOOK_FLAGS, WEBHOOKS_HELP } from "./webhooks.js";

const HELP = `Usage: tessera [command] [options]

Commands:
  serve                          Run the server (the default command)
  migrate                        Apply pending database migrations
  keys list [--json]             List signing keys and their status
  keys rotate [--alg ALG] [--force]
                                 Publish-then-activate key rotation (ALG: ${JWS_ALGORITHMS.join(", ")})
  admin-token create [--name N]  Mint an admin API token (shown once)
  admin-token list [--json]      List admin tokens (never their values)
  admin-token revoke ID          Revoke an admin token
${USERS_HELP}${GROUPS_HELP}${IDP_HELP}${INVITATIONS_HELP}${CLIENTS_HELP}${TOKENS_HELP}${WEBHOOKS_HELP}${AUDIT_HELP}${BFF_HELP}
Options (each also an environment variable; see docs/configuration.md):
  --config FILE   JSON configuration file
  --port N        --host H        --issuer URL     --database-url URL
  --data-dir DIR  --log-level L   ...
  -h, --help      Show this help
  -v, --version   Show the version
`;

class UsageError extends Error {}

function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    dir = dirname(dir);
  }
  return "unknown";
}

/** Splits command words and command-specific flags from configuration flags. */
function takeFlags(
  args: string[],
  names: Record<string, "boolean" | "string">,
): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; ) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("--")
      ? (arg.slice(2).split(/=(.*)/s) as [string, string?])
      : [arg, undefined];
    const kind = arg.startsWith("--") ? names[name] : undefined;
    if (kind === undefined) {
      i++;
      continue;
    }
    if (kind === "boolean") {
      out[name] = true;
      args.splice(i, 1);
    } else {
      const value = inline ?? args[i + 1];
      if (value === undefined || (inline === undefined && value.startsWith("--")))
        throw new UsageError(`--${name} needs a value`);
      out[name] = value;
      args.splice(i, inline === undefined ? 2 : 1);
    }
  }
  return out;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Runs a one-shot command with a full context; its logs go to stderr so stdout carries only the result. */
async function withContext<T>(config: Config, fn: (ctx: Services) => Promise<T>): Promise<T> {
  const log: Logger = createLogger({ level: "warn", destination: process.stderr });
  // No event dispatch or webhook delivery in a one-shot command: a running server sends what it commits.
  const ctx = await createServices(config, { log, background: false });
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const args = [...argv];
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.includes("-v") || args.includes("--version")) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const words: string[] = [];
  while (args.length > 0 && !args[0]!.startsWith("-")) words.push(args.shift()!);
  const command = words.join(" ") || "serve";

  try {
    switch (command) {
      case "serve": {
        const config = loadConfig({ env, argv: args });
        const log = createLogger({ level: config.logLevel });
        const server = await startServer(config, log, {
          announce: (line) => process.stderr.write(`${line}\n`),
        });
        const shutdown = (signal: string) => {
          log.info({ signal }, "shutting down");
          server.stop().then(
            () => process.exit(0),
            (error) => {
              log.error({ err: error }, "shutdown failed");
              process.exit(1);
            },
          );
        };
        process.once("SIGINT", shutdown);
        process.once("SIGTERM", shutdown);
        return -1; // keep running
      }
      case "bff": {
        const { app } = await startBff(env);
        const shutdown = () => {
          app.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once("SIGINT", shutdown);
        process.once("SIGTERM", shutdown);
        return -1; // keep running
      }
      case "migrate": {
        const config = loadConfig({ env, argv: args });
        const storage = await openStorage(config.databaseUrl);
        try {
          const { applied } = await migrateToLatest(storage);
          process.stdout.write(
            applied.length ? `Applied: ${applied.join(", ")}\n` : "Database is up to date.\n",
          );
        } finally {
          await storage.close();
        }
        return 0;
      }
      case "keys list": {
        const flags = takeFlags(args, { json: "boolean" });
        const config = loadConfig({ env, argv: args });
        const keys = await withContext(config, async (ctx) => ctx.keys.list());
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(keys, null, 2)}\n`
            : `${table(keys.map((k) => ({ kid: k.kid, alg: k.alg, status: k.status, created: iso(k.createdAt), activated: iso(k.activatedAt), expires: iso(k.expiresAt) })))}\n`,
        );
        return 0;
      }
      case "keys rotate": {
        const flags = takeFlags(args, { alg: "string", force: "boolean" });
        if (flags.alg !== undefined && !JWS_ALGORITHMS.includes(flags.alg as JwsAlgorithm)) {
          throw new UsageError(`--alg must be one of ${JWS_ALGORITHMS.join(", ")}`);
        }
        const config = loadConfig({ env, argv: args });
        const results = await withContext(config, (ctx) =>
          ctx.keys.rotate({
            ...(flags.alg ? { alg: flags.alg as JwsAlgorithm } : {}),
            force: flags.force === true,
          }),
        );
        for (const r of results) {
          process.stdout.write(
            r.rotated
              ? `${r.alg}: now signing with ${r.activated}; retired ${r.retired.join(", ") || "-"}; published next ${r.published}\n`
              : `${r.alg}: another instance rotated at the same time; nothing changed here\n`,
          );
        }
        return 0;
      }
      case "admin-token create": {
        const flags = takeFlags(args, { name: "string" });
        const config = loadConfig({ env, argv: args });
        const created = await withContext(config, (ctx) =>
          ctx.adminTokens.create({ name: String(flags.name ?? "admin") }),
        );
        process.stderr.write(
          `Admin token "${created.name}" (id ${created.id}). It is shown once; store it now:\n`,
        );
        process.stdout.write(`${created.token}\n`);
        return 0;
      }
      case "admin-token list": {
        const flags = takeFlags(args, { json: "boolean" });
        const config = loadConfig({ env, argv: args });
        const tokens = await withContext(config, (ctx) => ctx.adminTokens.list());
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(tokens, null, 2)}\n`
            : `${table(tokens.map((t) => ({ id: t.id, name: t.name, created: iso(t.createdAt), lastUsed: iso(t.lastUsedAt), revoked: iso(t.revokedAt) })))}\n`,
        );
        return 0;
      }
      default: {
        if (words[0] === "users") {
          const flags = takeFlags(args, {
            email: "string",
            "display-name": "string",
            "password-stdin": "boolean",
            json: "boolean",
          });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runUsersCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "idp") {
          const flags = takeFlags(args, { ...IDP_FLAGS });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runIdpCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "groups") {
          const flags = takeFlags(args, { json: "boolean" });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runGroupsCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "invitations") {
          const command = parseInvitationsCommand(words, takeFlags(args, { ...INVITATION_FLAGS }));
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runInvitationsCommand(
              ctx,
              command,
              (text) => process.stdout.write(text),
              (text) => process.stderr.write(text),
            ),
          );
        }
        if (words[0] === "clients" || words[0] === "resources") {
          const flags = takeFlags(args, { ...CLIENT_FLAGS });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runClientsCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "tokens" || words[0] === "service-accounts") {
          const flags = takeFlags(args, { ...TOKEN_FLAGS });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runTokensCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "webhooks") {
          const flags = takeFlags(args, { ...WEBHOOK_FLAGS });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runWebhooksCommand(ctx, words, flags, (text) => process.stdout.write(text)),
          );
        }
        if (words[0] === "audit") {
          const types = takeAuditTypes(args);
          const flags = takeFlags(args, { ...AUDIT_FLAGS });
          const config = loadConfig({ env, argv: args });
          return await withContext(config, (ctx) =>
            runAuditCommand(
              ctx,
              words,
              flags,
              types,
              (text) => process.stdout.write(text),
              (text) => process.stderr.write(text),
            ),
          );
        }
        if (words[0] === "admin-token" && words[1] === "revoke" && words.length === 3) {
          const config = loadConfig({ env, argv: args });
          const ok = await withContext(config, (ctx) => ctx.adminTokens.revoke(words[2]!));
          if (!ok) {
            process.stderr.write(`tessera: no active admin token with id ${words[2]}\n`);
            return 1;
          }
          process.stdout.write(`Revoked ${words[2]}\n`);
          return 0;
        }
        throw new UsageError(`unknown command "${command}"`);
      }
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof CliUsageError) {
      process.stderr.write(
        `tessera: ${error.message}\n${error instanceof ConfigError ? "" : "Run `tessera --help` for usage.\n"}`,
      );
      return 2;
    }
    if (error instanceof TesseraError) {
      process.stderr.write(`tessera: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`tessera: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

// Run when executed (also through the npm bin symlink), not when imported by tests.
const invokedDirectly =
  process.argv[1] !== undefined &&
  realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), process.env).then((code) => {
    if (code >= 0) process.exitCode = code;
  });
}
