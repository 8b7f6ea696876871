/**
 * `tessera audit verify` and `tessera audit export`: the tamper-evident audit trail from the command line
 * (docs/events.md, "Audit trail").
 *
 * - verify: checks every chain and every checkpoint signature; exit 1 with the first bad record of each broken
 *   chain named (record id, chain, seq, what happened), 0 when everything verifies. `--jwks FILE` checks the
 *   checkpoints against a JWKS obtained elsewhere instead of the keys in the database.
 * - export: JSON lines to `--out FILE` (created readable by its owner only: records carry addresses and user ids)
 *   or stdout, for a time range (`--since`, `--until`: ISO 8601, inclusive) and event types (`--type T`, repeated
 *   or comma-separated), verifiable with the JWKS alone (`verifyAuditExport`).
 */
import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import type { JSONWebKeySet } from "jose";
import type { AuditVerification } from "../audit/index.js";
import type { Services } from "../server/services.js";
import { CliUsageError } from "./users.js";

export const AUDIT_HELP = `  audit verify [--jwks FILE] [--json]
                                 Check every audit chain and signed checkpoint; exit 1 naming the first
                                 changed, deleted or inserted record (--jwks: trust this JWKS, not the
                                 keys stored in the database)
  audit export [--since ISO] [--until ISO] [--type T ...] [--out FILE]
                                 Write audit records as JSON lines, with what is needed to verify them
                                 with only the JWKS (hashes, omitted-record digests, signed checkpoints)
`;

export const AUDIT_FLAGS = {
  jwks: "string",
  json: "boolean",
  since: "string",
  until: "string",
  out: "string",
} as const;

/**
 * Takes every `--type T` / `--type=T` out of `args` (repeatable, comma-separated values allowed): the generic flag
 * parser keeps one value per flag.
 */
export function takeAuditTypes(args: string[]): string[] {
  const types: string[] = [];
  for (let i = 0; i < args.length; ) {
    const arg = args[i]!;
    if (arg !== "--type" && !arg.startsWith("--type=")) {
      i++;
      continue;
    }
    const inline = arg.startsWith("--type=") ? arg.slice("--type=".length) : undefined;
    const value = inline ?? args[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      throw new CliUsageError("--type needs a value");
    }
    args.splice(i, inline === undefined ? 2 : 1);
    types.push(
      ...value
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    );
  }
  return types;
}

function parseTime(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new CliUsageError(`--${name} must be an ISO 8601 time, e.g. 2026-01-31T00:00:00Z`);
  return ms;
}

function readJwks(file: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliUsageError(`--jwks ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray((parsed as { keys?: unknown })?.keys)) {
    throw new CliUsageError(`--jwks ${file}: not a JWK Set (no "keys" array)`);
  }
  return parsed as JSONWebKeySet;
}

function describeVerification(result: AuditVerification): string {
  const lines: string[] = [];
  for (const chain of result.chains) {
    const range = chain.firstSeq === null ? "no records" : `seq ${chain.firstSeq}–${chain.lastSeq}`;
    const signed = chain.signedSeq === null ? "none covering it" : `signed up to seq ${chain.signedSeq}`;
    lines.push(
      `chain ${chain.chainId}: ${chain.records} record(s), ${range}; ${chain.checkpointsVerified} checkpoint(s) verified, ${signed}${chain.problem ? " — BROKEN" : ""}`,
    );
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  for (const problem of result.problems) lines.push(`FAILED: ${problem.message}`);
  lines.push(
    result.ok
      ? `OK: ${result.chains.length} chain(s) verified.`
      : `The audit trail does not verify: ${result.problems.length} problem(s).`,
  );
  return `${lines.join("\n")}\n`;
}

export async function runAuditCommand(
  ctx: Pick<Services, "auditTrail">,
  words: string[],
  flags: Record<string, string | boolean>,
  types: readonly string[],
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const sub = words.slice(1).join(" ");
  if (sub === "verify") {
    if (types.length > 0 || flags.since !== undefined || flags.until !== undefined || flags.out) {
      throw new CliUsageError(
        "audit verify checks everything: --since, --until, --type and --out are for export",
      );
    }
    const jwks = typeof flags.jwks === "string" ? readJwks(flags.jwks) : undefined;
    const result = await ctx.auditTrail.verify(jwks === undefined ? {} : { jwks });
    if (flags.json) out(`${JSON.stringify(result, null, 2)}\n`);
    else (result.ok ? out : err)(describeVerification(result));
    return result.ok ? 0 : 1;
  }
  if (sub === "export") {
    if (flags.json || flags.jwks !== undefined)
      throw new CliUsageError("audit export takes no --json or --jwks");
    const since = parseTime("since", flags.since);
    const until = parseTime("until", flags.until);
    if (since !== undefined && until !== undefined && since > until) {
      throw new CliUsageError("--since is after --until");
    }
    const filter = {
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(types.length > 0 ? { types } : {}),
    };
    const file = typeof flags.out === "string" ? flags.out : undefined;
    const stream = file === undefined ? process.stdout : createWriteStream(file, { mode: 0o600 });
    if (file !== undefined) await once(stream, "open");
    const summary = await ctx.auditTrail.export(filter, async (line) => {
      if (!stream.write(`${line}\n`)) await once(stream, "drain");
    });
    if (file !== undefined) {
      const closed = once(stream, "close");
      stream.end();
      await closed;
    }
    err(
      `Exported ${summary.records} record(s), ${summary.omitted} omitted (digest only), ${summary.checkpoints} checkpoint(s), ${summary.unchained} unchained record(s)${file === undefined ? "" : ` to ${file}`}.\n`,
    );
    return 0;
  }
  throw new CliUsageError(`unknown command "audit ${sub}": use audit verify or audit export`);
}
