/**
 * `tessera audit verify`, run as the built binary (`dist/src/cli/main.js`) the way an operator would, on SQLite and
 * PostgreSQL: a clean trail verifies; a changed field, a deleted record (middle or end), a forged record, two
 * records swapped, a record replaced with every later hash recomputed, a changed or forged checkpoint and a row
 * inserted outside any chain are each refused (exit 1) with the first bad record named.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditEventId } from "../../src/audit/index.js";
import { type AuditEventRow, openStorage, type Storage } from "../../src/storage/index.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../helpers/databases.js";
import { chainedRows, documentedHash, openServices, recordEvents } from "./helpers.js";

describe.each(DIALECTS)("tessera audit verify on %s", (dialect) => {
  let db: TestDatabase;
  let storage: Storage;
  let rows: AuditEventRow[];
  let chainId: string;

  const verify = (args: string[] = []) => runTessera(["audit", "verify", ...args], { DATABASE_URL: db.url });
  const row = (seq: number) => rows.find((r) => r.seq === seq)!;
  const update = (id: string, values: Partial<AuditEventRow>) =>
    storage.db.updateTable("audit_events").set(values).where("id", "=", id).execute();

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    // One run of Tessera: six events, then shutdown (which signs the chain's end).
    const ctx = await openServices(db.url);
    await recordEvents(ctx, 6);
    await ctx.close();
    storage = await openStorage(db.url);
    rows = await chainedRows(storage);
    chainId = rows[0]!.chain_id!;
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  afterEach(async () => {
    await storage.close();
    await db.drop();
  });

  it("verifies a clean trail of several runs (a CLI command's own chain included), legacy rows noted", async () => {
    const second = await openServices(db.url);
    await recordEvents(second, 3, "second");
    await second.close();
    // A command that records an event writes (and signs) its own chain.
    const created = await runTessera(["users", "create", "alice"], { DATABASE_URL: db.url });
    expect(created.code, created.stderr).toBe(0);
    // Rows from before the chain existed: older than every chained record, and unchained.
    const legacyAt = rows[0]!.at - 86_400_000;
    await storage.db
      .insertInto("audit_events")
      .values(
        [1, 2].map((i) => ({
          id: auditEventId(legacyAt + i),
          at: legacyAt + i,
          type: "signout",
          outcome: "success",
        })),
      )
      .execute();
    const r = await verify();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("OK: 3 chain(s) verified.");
    expect(r.stdout).toContain(
      `chain ${chainId}: 6 record(s), seq 1–6; 1 checkpoint(s) verified, signed up to seq 6`,
    );
    expect(r.stdout).toMatch(/note: 2 unchained record\(s\)/);
  });

  it("names a record whose field was changed", async () => {
    await update(row(3).id, { actor: "someone-else" });
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: record ${row(3).id} (seq 3) does not match its hash: changed`,
    );
  });

  it("names the gap a deleted record leaves", async () => {
    await storage.db.deleteFrom("audit_events").where("id", "=", row(3).id).execute();
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: record at seq 3 is missing between record ${row(2).id} (seq 2) and record ${row(4).id} (seq 4): deleted`,
    );
  });

  it("notices the last record deleted: the signed checkpoint names its seq", async () => {
    await storage.db.deleteFrom("audit_events").where("id", "=", row(6).id).execute();
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: records after record ${row(5).id} (seq 5) are missing: a signed checkpoint names seq 6`,
    );
  });

  it("names a forged record inserted at a seq already taken, even with its hash computed right", async () => {
    const forged: AuditEventRow = {
      ...row(3),
      id: auditEventId(row(3).at),
      actor: "forger",
      user_id: "victim",
    };
    forged.hash = documentedHash(forged.prev_hash!, forged);
    await storage.db.insertInto("audit_events").values(forged).execute();
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: record ${forged.id} (seq 3) was inserted: the chain goes on from record ${row(3).id} (seq 3) at the same seq`,
    );
  });

  it("names a record moved out of order (two records' seq swapped)", async () => {
    await update(row(3).id, { seq: 4 });
    await update(row(4).id, { seq: 3 });
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: record ${row(4).id} (seq 3) was written at seq 4: moved (out of order)`,
    );
  });

  it("refuses a record replaced with every later hash recomputed: the signed checkpoint disagrees", async () => {
    let prev = row(1).hash!;
    for (let seq = 2; seq <= 6; seq++) {
      const changed = {
        ...row(seq),
        ...(seq === 2 ? { outcome: "success" as const, actor: "covered-up" } : {}),
      };
      changed.prev_hash = prev;
      changed.hash = documentedHash(prev, changed);
      await update(changed.id, {
        actor: changed.actor,
        outcome: changed.outcome,
        prev_hash: prev,
        hash: changed.hash,
      });
      prev = changed.hash;
    }
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `FAILED: chain ${chainId}: a signed checkpoint names another hash at seq 6: a record at seq 1–6 was changed or replaced and the hashes after it recomputed (record ${row(6).id} (seq 6) is the signed one)`,
    );
  });

  it("names a checkpoint whose stored fields were changed, and one whose signed content was forged", async () => {
    const [checkpoint] = await storage.db.selectFrom("audit_checkpoints").selectAll().execute();
    expect(checkpoint!.seq).toBe(6);
    await storage.db
      .updateTable("audit_checkpoints")
      .set({ hash: row(5).hash!, seq: 5 })
      .where("id", "=", checkpoint!.id)
      .execute();
    const changed = await verify();
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(
      `FAILED: checkpoint ${checkpoint!.id} of chain ${chainId} at seq 5: its stored fields differ from what was signed (signed: seq 6, hash ${row(6).hash})`,
    );

    // Forged: the payload says seq 5 (matching the changed row), under the old signature.
    const [head, , signature] = checkpoint!.jws.split(".");
    const payload = JSON.parse(Buffer.from(checkpoint!.jws.split(".")[1]!, "base64url").toString("utf8"));
    const forgedPayload = Buffer.from(JSON.stringify({ ...payload, seq: 5, hash: row(5).hash })).toString(
      "base64url",
    );
    await storage.db
      .updateTable("audit_checkpoints")
      .set({ jws: `${head}.${forgedPayload}.${signature}` })
      .where("id", "=", checkpoint!.id)
      .execute();
    const forged = await verify();
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain(
      `FAILED: checkpoint ${checkpoint!.id} of chain ${chainId} at seq 5: its signature does not verify (forged or changed)`,
    );
  });

  it("names a row inserted outside any chain after the chain began", async () => {
    const at = row(6).at + 1000;
    const id = auditEventId(at);
    await storage.db
      .insertInto("audit_events")
      .values({ id, at, type: "admin.granted", outcome: "success" })
      .execute();
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`FAILED: record ${id} is in no chain but newer than the first chained record`);
  });

  it("checks the checkpoints against a JWKS given with --jwks instead of the stored keys", async () => {
    const ctx = await openServices(db.url);
    const published = ctx.keys.jwks();
    await ctx.close();
    const dir = tmpdir();
    const good = join(dir, `tessera-jwks-${process.pid}-${Date.now()}.json`);
    writeFileSync(good, JSON.stringify(published));
    const ok = await verify(["--jwks", good, "--json"]);
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout);
    expect(result.chains[0]).toMatchObject({ chainId, checkpointsVerified: 1, signedSeq: 6 });

    // A JWKS without Tessera's keys: the checkpoint cannot be checked (said so), and nothing is signed.
    const { publicKey } = await generateKeyPair("EdDSA");
    const other = join(dir, `tessera-jwks-other-${process.pid}-${Date.now()}.json`);
    writeFileSync(
      other,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "someone-else" }] }),
    );
    const unknown = await verify(["--jwks", other]);
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toContain(
      `note: chain ${chainId}: 1 checkpoint(s) signed with a key no longer in the JWKS could not be checked`,
    );
    expect(unknown.stdout).toContain(`note: chain ${chainId}: no verified checkpoint covers seq 1–6 yet`);
  });

  it("refuses bad usage with exit 2", async () => {
    const r = await runTessera(["audit", "verify", "--type", "signout"], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--since, --until, --type and --out are for export");
  });
});
