/**
 * Helpers for the audit-trail tests: an independent implementation of the documented record hash (docs/events.md,
 * "Audit trail"), services built on a given database, and reading a chain back.
 */
import { createHash } from "node:crypto";
import { loadConfig } from "../../src/config/index.js";
import { createMasterKey } from "../../src/crypto/index.js";
import type { Clock } from "../../src/lib/clock.js";
import { createLogger } from "../../src/observability/log.js";
import { createServices, type Services } from "../../src/server/services.js";
import type { AuditEventRow, Storage } from "../../src/storage/index.js";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest();

/**
 * The hash the documentation defines, written here from the text and not taken from src/: SHA-256 over the
 * previous hash's 32 bytes followed by the SHA-256 of the canonical JSON array of the record's fields.
 */
export function documentedHash(prevHash: string, row: AuditEventRow): string {
  const canonical = JSON.stringify([
    "tessera.audit.v1",
    row.chain_id,
    row.seq,
    row.id,
    row.at,
    row.type,
    row.outcome,
    row.user_id,
    row.actor,
    row.ip,
    row.user_agent,
    row.details,
  ]);
  return sha256(
    Buffer.concat([Buffer.from(prevHash, "hex"), sha256(Buffer.from(canonical, "utf8"))]),
  ).toString("hex");
}

export const ZERO_HASH = "0".repeat(64);

/** Services on the database at `url`, as `tessera serve` would build them (the test master key of the CLI). */
export async function openServices(
  url: string,
  options: { auditChain?: boolean; env?: Record<string, string>; clock?: Clock } = {},
): Promise<Services> {
  const config = loadConfig({
    env: {
      NODE_ENV: "test",
      DATABASE_URL: url,
      TESSERA_KEY_ROTATION_INTERVAL: "0",
      LOG_LEVEL: "silent",
      ...options.env,
    },
  });
  return createServices(config, {
    log: createLogger({ level: "silent" }),
    // The same key as TEST_MASTER_KEY in test/helpers/cli.ts ("07" × 32), so the CLI opens the same keys.
    masterKey: createMasterKey(Buffer.alloc(32, 7)),
    ...(options.auditChain === undefined ? {} : { auditChain: options.auditChain }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}

/** Every chained row, by chain, then seq, then id. */
export async function chainedRows(storage: Pick<Storage, "db">): Promise<AuditEventRow[]> {
  return storage.db
    .selectFrom("audit_events")
    .selectAll()
    .where("chain_id", "is not", null)
    .orderBy("chain_id")
    .orderBy("seq")
    .orderBy("id")
    .execute();
}

/** Records `n` events through the services' audit log: distinct users, alternating outcomes. */
export async function recordEvents(ctx: Services, n: number, prefix = "u"): Promise<void> {
  for (let i = 0; i < n; i++) {
    await ctx.accounts.audit.record({
      type: i % 3 === 0 ? "signin.password" : i % 3 === 1 ? "user.updated" : "signout",
      outcome: i % 2 ? "failure" : "success",
      userId: `${prefix}${i}`,
      actor: "cli",
      ip: "192.0.2.10",
      userAgent: "test/1",
      details: { n: i },
    });
  }
  await ctx.accounts.audit.flush();
}
