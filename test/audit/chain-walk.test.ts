/**
 * The chain walk on its own (no database): chains built here with the documented hash (test/audit/helpers.ts,
 * written from the documentation, not from src/), then damaged the ways an attacker with write access could, each
 * named at its first bad record.
 */
import { describe, expect, it } from "vitest";
import { type ChainEntry, walkChain } from "../../src/audit/verify.js";
import type { AuditEventRow } from "../../src/storage/index.js";
import { documentedHash, ZERO_HASH } from "./helpers.js";

type Row = AuditEventRow & { chain_id: string; seq: number; prev_hash: string; hash: string };

/** A well-formed chain of `n` records. */
function chain(n: number, chainId = "chain-a"): Row[] {
  const rows: Row[] = [];
  let prev = ZERO_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const row = {
      id: `r${String(seq).padStart(4, "0")}`,
      at: 1_767_225_600_000 + seq,
      type: "signin.password",
      outcome: "success" as const,
      user_id: `u${seq}`,
      actor: null,
      ip: "192.0.2.1",
      user_agent: null,
      details: JSON.stringify({ seq }),
      chain_id: chainId,
      seq,
      prev_hash: prev,
      hash: "",
    };
    row.hash = documentedHash(prev, row);
    rows.push(row);
    prev = row.hash;
  }
  return rows;
}

/** Re-hashes a row after a change, as an attacker without the signing key can. */
const rehash = (row: Row): Row => ({ ...row, hash: documentedHash(row.prev_hash, row) });
const entries = (rows: Row[]): ChainEntry[] =>
  [...rows]
    .sort((a, b) => a.seq - b.seq || a.id.localeCompare(b.id))
    .map((record) => ({ kind: "record", record }));
const walk = (rows: Row[], options: { start?: "genesis" | "anchor"; signed?: Map<number, string> } = {}) =>
  walkChain(entries(rows), {
    chainId: "chain-a",
    start: options.start ?? "genesis",
    signed: options.signed ?? new Map(),
  });

describe("the chain walk", () => {
  it("accepts a whole chain and reports its extent", async () => {
    const report = await walk(chain(5), { signed: new Map([[5, chain(5)[4]!.hash]]) });
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ records: 5, firstSeq: 1, lastSeq: 5, start: "genesis", signedSeq: 5 });
  });

  it("names a record replaced with its own hash recomputed: the next one links to the original", async () => {
    const rows = chain(5);
    rows[2] = rehash({ ...rows[2]!, actor: "forger" });
    const report = await walk(rows);
    expect(report.problem).toMatchObject({ kind: "changed", recordId: "r0003", seq: 3 });
    expect(report.problem!.message).toContain("record r0003 (seq 3) was replaced (its hash recomputed)");
  });

  it("names a record moved several places away (its seq changed)", async () => {
    const rows = chain(8);
    rows[1] = { ...rows[1]!, seq: 6 }; // r0002 now claims seq 6
    rows[5] = { ...rows[5]!, seq: 2 }; // r0006 now claims seq 2
    const report = await walk(rows);
    expect(report.problem).toMatchObject({ kind: "out-of-order", recordId: "r0006", seq: 2 });
    expect(report.problem!.message).toContain(
      "record r0006 (seq 2) was written at seq 6: moved (out of order)",
    );
  });

  it("names a forged record appended with a hash that is not its own", async () => {
    const rows = chain(4);
    rows.push({ ...rows[3]!, id: "forged", seq: 5, prev_hash: rows[3]!.hash, hash: "e".repeat(64) });
    const report = await walk(rows);
    expect(report.problem).toMatchObject({ kind: "changed", recordId: "forged", seq: 5 });
  });

  it("names a forged record that hashes right but links to nothing", async () => {
    const rows = chain(4);
    rows[3] = rehash({ ...rows[3]!, id: "forged", prev_hash: "a".repeat(64) });
    const report = await walk(rows);
    expect(report.problem).toMatchObject({ kind: "inserted", recordId: "forged", seq: 4 });
    expect(report.problem!.message).toContain("does not link to record r0003 (seq 3): inserted or replaced");
  });

  it("says so when two records share a seq and neither is the one the chain goes on from", async () => {
    const rows = chain(3);
    rows.push(rehash({ ...rows[2]!, id: "r0003b", actor: "twin" }));
    rows[2] = rehash({ ...rows[2]!, actor: "changed too" });
    const report = await walk(rows);
    expect(report.problem).toMatchObject({ kind: "inserted", seq: 3 });
    expect(report.problem!.message).toContain("record r0003 (seq 3), record r0003b (seq 3) share one seq");
  });

  it("uses a signed hash to tell the genuine record from a twin at the chain's end", async () => {
    const rows = chain(3);
    const twin = rehash({ ...rows[2]!, id: "r0003a", actor: "twin" });
    const report = await walk([...rows, twin], { signed: new Map([[3, rows[2]!.hash]]) });
    expect(report.problem).toMatchObject({ kind: "inserted", recordId: "r0003a" });
  });

  it("anchors a slice at its first record's prev_hash, but a slice starting at seq 1 must start from zeros", async () => {
    const rows = chain(6);
    const slice = await walk(rows.slice(2), { start: "anchor" });
    expect(slice.problem).toBeUndefined();
    expect(slice).toMatchObject({ start: "anchor", firstSeq: 3, lastSeq: 6 });
    const moved = rows.map((r) => ({ ...r }));
    moved[0] = rehash({ ...moved[0]!, prev_hash: "b".repeat(64) });
    const fromOne = await walk(moved, { start: "anchor" });
    expect(fromOne.problem).toMatchObject({ recordId: "r0001", seq: 1 });
    // From the database the chain must start at seq 1.
    const cut = await walk(rows.slice(2));
    expect(cut.problem).toMatchObject({ kind: "deleted", seq: 1, recordId: "r0003" });
  });

  it("refuses a slice whose first records were removed when a checkpoint in it names an earlier seq", async () => {
    const rows = chain(6);
    const report = await walk(rows.slice(3), { start: "anchor", signed: new Map([[2, rows[1]!.hash]]) });
    expect(report.problem).toMatchObject({ kind: "deleted", seq: 2 });
  });
});
