/**
 * Many instances on one PostgreSQL database write the audit trail without a global lock: each writes its own
 * chain. Two services (two instances, as far as the database can tell) record events at the same time, from many
 * concurrent requests; both chains are whole and `tessera audit verify` (the built binary, `dist/src/cli/main.js`)
 * accepts them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Services } from "../../src/server/services.js";
import { openStorage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/databases.js";
import { chainedRows, documentedHash, openServices, ZERO_HASH } from "./helpers.js";

describe("two instances writing the audit trail to one PostgreSQL database", () => {
  let db: TestDatabase;
  let instances: Services[];

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    // The first one migrates and makes the keys; the second starts on the same database.
    instances = [await openServices(db.url)];
    instances.push(await openServices(db.url));
  });
  afterAll(async () => {
    for (const instance of instances) await instance.close();
    await db.drop();
  });

  it("produces two chains, each whole, that both verify", async () => {
    const PER_INSTANCE = 600;
    // Interleaved bursts from both instances, flushed while the other writes.
    await Promise.all(
      instances.map(async (ctx, n) => {
        for (let burst = 0; burst < 6; burst++) {
          await Promise.all(
            Array.from({ length: PER_INSTANCE / 6 }, (_, i) =>
              ctx.accounts.audit.record({
                type: "signin.password",
                outcome: "success",
                userId: `instance-${n}`,
                details: { burst, i },
              }),
            ),
          );
          await ctx.accounts.audit.flush();
        }
      }),
    );
    for (const instance of instances) await instance.close();
    instances = [];

    const storage = await openStorage(db.url);
    try {
      const rows = await chainedRows(storage);
      const chains = new Map<string | null, typeof rows>();
      for (const row of rows) chains.get(row.chain_id)?.push(row) ?? chains.set(row.chain_id, [row]);
      expect(chains.size).toBe(2);
      for (const chain of chains.values()) {
        expect(chain).toHaveLength(PER_INSTANCE);
        expect(new Set(chain.map((r) => r.user_id)).size).toBe(1);
        let prev = ZERO_HASH;
        chain.forEach((row, i) => {
          expect(row.seq).toBe(i + 1);
          expect(row.prev_hash).toBe(prev);
          expect(row.hash).toBe(documentedHash(prev, row));
          prev = row.hash!;
        });
      }
    } finally {
      await storage.close();
    }

    const r = await runTessera(["audit", "verify"], { DATABASE_URL: db.url });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("OK: 2 chain(s) verified.");
    expect(
      r.stdout.match(/600 record\(s\), seq 1–600; 1 checkpoint\(s\) verified, signed up to seq 600/g),
    ).toHaveLength(2);
  });
});
