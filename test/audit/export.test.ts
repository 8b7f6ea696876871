/**
 * `tessera audit export` (the built binary, `dist/src/cli/main.js`) and the standalone `verifyAuditExport`, given
 * nothing but the JWKS a running Tessera serves at `/.well-known/jwks.json`: a whole export, a time range starting
 * in the middle of a chain and a type filter verify; every kind of change to an exported line is refused. The
 * checkpoints are also checked with `jose`'s own remote JWKS, apart from the verifier under test.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { createRemoteJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditExport } from "../../src/audit/verify.js";
import { buildApp } from "../../src/http/app.js";
import { manualClock } from "../../src/lib/clock.js";
import type { Services } from "../../src/server/services.js";
import { runTessera } from "../helpers/cli.js";
import { createTestDatabase, DIALECTS, type TestDatabase } from "../helpers/databases.js";
import { openServices } from "./helpers.js";

type Line = Record<string, unknown>;

const T0 = Date.UTC(2026, 2, 1, 9);
const MINUTE = 60_000;
const TYPES = ["signin.password", "user.updated", "signout", "user.updated", "api_token.created"] as const;

describe.each(DIALECTS)("tessera audit export on %s, verified with only the JWKS", (dialect) => {
  let db: TestDatabase;
  let dir: string;
  let server: Services;
  let app: FastifyInstance;
  let base: string;
  let jwks: JSONWebKeySet;
  let full: string[];

  /** One run of Tessera writing five events a minute apart from `start` (its own chain, signed at shutdown). */
  async function run(start: number, user: string) {
    const clock = manualClock(start);
    const ctx = await openServices(db.url, { clock });
    for (const [i, type] of TYPES.entries()) {
      await ctx.accounts.audit.record({ type, outcome: "success", userId: user, details: { i } });
      clock.advance(MINUTE);
    }
    await ctx.close();
  }

  async function exportLines(args: string[]): Promise<string[]> {
    const out = join(dir, `export-${Math.random().toString(36).slice(2)}.jsonl`);
    const r = await runTessera(["audit", "export", ...args, "--out", out], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(0);
    return readFileSync(out, "utf8").trimEnd().split("\n");
  }

  const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Line);
  const ofKind = (lines: string[], kind: string) => parsed(lines).filter((l) => l.kind === kind);
  /** The lines with the one at `index` replaced by `change(line)` (or removed when it returns undefined). */
  const edited = (lines: string[], index: number, change: (line: Line) => Line | undefined) => {
    const copy = [...lines];
    const next = change(JSON.parse(copy[index]!) as Line);
    if (next === undefined) copy.splice(index, 1);
    else copy[index] = JSON.stringify(next);
    return copy;
  };
  const indexOf = (lines: string[], test: (line: Line) => boolean) =>
    lines.findIndex((l) => test(JSON.parse(l) as Line));

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    dir = mkdtempSync(join(tmpdir(), "tessera-audit-export-"));
    await run(T0, "first");
    await run(T0 + 10 * MINUTE, "second");
    // A running Tessera on the same database serves the JWKS.
    server = await openServices(db.url);
    app = await buildApp(server);
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    full = await exportLines([]);
  });
  afterAll(async () => {
    await app?.close();
    await server?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("exports every record with its hashes and the signed checkpoints; it verifies", async () => {
    const header = parsed(full)[0]!;
    expect(header).toMatchObject({
      kind: "header",
      format: "tessera-audit-export/1",
      since: null,
      types: null,
    });
    expect(ofKind(full, "record")).toHaveLength(10);
    expect(ofKind(full, "omitted")).toHaveLength(0);
    expect(ofKind(full, "checkpoint")).toHaveLength(2);
    const result = await verifyAuditExport(full, jwks);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.chains.map((c) => [c.start, c.firstSeq, c.lastSeq, c.records, c.signedSeq])).toEqual([
      ["genesis", 1, 5, 5, 5],
      ["genesis", 1, 5, 5, 5],
    ]);
    expect(result.notes).toEqual([]);
  });

  it("each checkpoint is a JWS jose verifies against the server's JWKS, signing the exported record's hash", async () => {
    const remote = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const records = ofKind(full, "record");
    for (const checkpoint of ofKind(full, "checkpoint")) {
      const { payload } = await jwtVerify(checkpoint.jws as string, remote, { typ: "audit-checkpoint+jwt" });
      const signed = records.find((r) => r.chain_id === payload.chain_id && r.seq === payload.seq);
      expect(signed?.hash).toBe(payload.hash);
    }
  });

  it("a time range starting mid-chain verifies from its first record and ends on the signed checkpoint", async () => {
    const since = new Date(T0 + MINUTE).toISOString();
    const until = new Date(T0 + 2 * MINUTE).toISOString();
    const lines = await exportLines(["--since", since, "--until", until]);
    expect(ofKind(lines, "record").map((r) => [r.seq, r.user_id])).toEqual([
      [2, "first"],
      [3, "first"],
    ]);
    // Up to the first chain's checkpoint (seq 5), by digest only.
    expect(ofKind(lines, "omitted").map((r) => r.seq)).toEqual([4, 5]);
    expect(ofKind(lines, "checkpoint").map((c) => c.seq)).toEqual([5]);
    const result = await verifyAuditExport(lines, jwks);
    expect(result.problems).toEqual([]);
    expect(result.chains.map((c) => [c.start, c.firstSeq, c.records, c.omitted, c.signedSeq])).toEqual([
      ["anchor", 2, 2, 2, 5],
    ]);
    // A change inside the range is still refused.
    const i = indexOf(lines, (l) => l.kind === "record" && l.seq === 3);
    const tampered = await verifyAuditExport(
      edited(lines, i, (l) => ({ ...l, ip: "203.0.113.9" })),
      jwks,
    );
    expect(tampered.ok).toBe(false);
    expect(tampered.problems[0]!.message).toContain(
      `record ${JSON.parse(lines[i]!).id} (seq 3) does not match its hash: changed`,
    );
  });

  it("a type filter leaves the other records out by digest, and the chains still verify", async () => {
    const lines = await exportLines(["--type", "user.updated", "--type=api_token.created"]);
    expect(ofKind(lines, "record").map((r) => r.type)).toEqual([
      "user.updated",
      "user.updated",
      "api_token.created",
      "user.updated",
      "user.updated",
      "api_token.created",
    ]);
    expect(ofKind(lines, "omitted").map((r) => r.seq)).toEqual([3, 3]);
    const result = await verifyAuditExport(lines, jwks);
    expect(result.problems).toEqual([]);
    expect(result.chains.every((c) => c.signedSeq === 5 && c.omitted === 1)).toBe(true);
    // An omitted record whose digest was replaced (to hide what it was) breaks its link.
    const i = indexOf(lines, (l) => l.kind === "omitted");
    const hidden = await verifyAuditExport(
      edited(lines, i, (l) => ({ ...l, digest: "ab".repeat(32) })),
      jwks,
    );
    expect(hidden.ok).toBe(false);
    expect(hidden.problems[0]!.message).toContain("omitted record at seq 3 does not match its hash: changed");
  });

  it("refuses a changed record, naming it", async () => {
    const i = indexOf(full, (l) => l.kind === "record" && l.seq === 2);
    const line = JSON.parse(full[i]!) as Line;
    const result = await verifyAuditExport(
      edited(full, i, (l) => ({ ...l, outcome: "failure" })),
      jwks,
    );
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => [p.kind, p.recordId, p.chainId])).toEqual([
      ["changed", line.id, line.chain_id],
    ]);
  });

  it("refuses a record removed from the middle or the end of an export", async () => {
    const middle = indexOf(full, (l) => l.kind === "record" && l.seq === 3);
    const gap = await verifyAuditExport(
      edited(full, middle, () => undefined),
      jwks,
    );
    expect(gap.problems.map((p) => [p.kind, p.seq])).toEqual([["deleted", 3]]);
    const end = indexOf(full, (l) => l.kind === "record" && l.seq === 5);
    const cut = await verifyAuditExport(
      edited(full, end, () => undefined),
      jwks,
    );
    expect(cut.problems[0]!.message).toMatch(/are missing: a signed checkpoint names seq 5/);
  });

  it("refuses a forged or changed checkpoint, and one signed by a key not in the JWKS is only unverifiable", async () => {
    const i = indexOf(full, (l) => l.kind === "checkpoint");
    const checkpoint = JSON.parse(full[i]!) as Line;
    const [head, body, signature] = (checkpoint.jws as string).split(".");
    const payload = JSON.parse(Buffer.from(body!, "base64url").toString("utf8"));
    const forgedBody = Buffer.from(JSON.stringify({ ...payload, seq: 4 })).toString("base64url");
    const forged = await verifyAuditExport(
      edited(full, i, (l) => ({ ...l, seq: 4, jws: `${head}.${forgedBody}.${signature}` })),
      jwks,
    );
    expect(forged.problems.map((p) => [p.kind, p.recordId])).toEqual([["checkpoint-invalid", checkpoint.id]]);
    const moved = await verifyAuditExport(
      edited(full, i, (l) => ({ ...l, hash: "cd".repeat(32) })),
      jwks,
    );
    expect(moved.problems.map((p) => p.kind)).toEqual(["checkpoint-changed"]);

    const elsewhere = await verifyAuditExport(full, { keys: [] });
    expect(elsewhere.ok).toBe(true);
    expect(elsewhere.chains.every((c) => c.signedSeq === null && c.checkpointsUnverifiable === 1)).toBe(true);
    expect(elsewhere.notes.filter((n) => n.includes("could not be checked"))).toHaveLength(2);
  });

  it("refuses lines that are not an export", async () => {
    const lines = [...full.slice(1), "{not json", JSON.stringify({ kind: "mystery" })];
    const result = await verifyAuditExport(lines, jwks);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.message)).toEqual([
      `line ${lines.length - 1}: not JSON`,
      `line ${lines.length}: unknown kind "mystery"`,
      "no header line: not a tessera audit export",
    ]);
  });
});
