/**
 * Verifying the audit trail: `verifyAuditExport` checks a `tessera audit export` with nothing but the issuer's
 * JWKS, with the same chain walk (`chain-walk.ts`) and checkpoint check (`verify-checkpoint.ts`) that
 * `tessera audit verify` runs over the database. This module and the four it imports (those two,
 * `verify-types.ts`, `record-hash.ts`) depend only on `jose` and `node:crypto`: they can be copied out and run
 * anywhere.
 *
 * What is checked, per chain (records in seq order):
 * - every record's hash is SHA-256(prev_hash || SHA-256(canonical record)) (`record-hash.ts`): a changed field
 *   fails here ("changed"), a moved record too ("out of order": it hashes right with another seq);
 * - seq goes 1, 2, 3… without a gap ("deleted"), and each prev_hash is its predecessor's hash; a record whose own
 *   hash is right but does not link is "inserted" (or its predecessor was replaced, when the next record links to
 *   it); two records at one seq: the one the chain does not go on from was "inserted";
 * - each checkpoint is a JWS that verifies with a key of the JWKS (typ `audit-checkpoint+jwt`, EdDSA, ES256 or
 *   RS256), its stored columns equal its signed payload, and the record at its seq has the signed hash; a signed
 *   seq beyond the last record means records at the end were deleted.
 * - The walk stops at a chain's first problem and names that record (id, chain, seq).
 *
 * What a hash chain cannot show by itself: records after a chain's last checkpoint can be changed with every later
 * hash recomputed, or cut off at the end, by someone who can write the database (SHA-256 has no secret); the signed
 * checkpoints close that, up to their seq. Checkpoints signed with a key that has left the JWKS cannot be checked
 * ("unverifiable"); Tessera signs the newest checkpoint of each chain again with the new key when it rotates.
 *
 * An export may start in the middle of a chain (a time range): the first exported record's prev_hash is then the
 * anchor, and checkpoints inside the range tie it to signed state. Records left out by a type filter appear as
 * `omitted` lines (seq, prev_hash, digest, hash), so every link is still recomputed.
 */
import type { JSONWebKeySet } from "jose";
import { chainNotes, entryId, entrySeq, walkChain } from "./chain-walk.js";
import { isHash } from "./record-hash.js";
import { checkCheckpoints, checkpointKeys } from "./verify-checkpoint.js";
import {
  type AuditProblem,
  type AuditVerification,
  type ChainEntry,
  type ChainedRecord,
  type ChainReport,
  type CheckpointRecord,
  EXPORT_FORMAT,
} from "./verify-types.js";

export { chainNotes, walkChain } from "./chain-walk.js";
export { checkCheckpoints, checkpointKeys, verifyCheckpoint } from "./verify-checkpoint.js";
export * from "./verify-types.js";

type Line = Record<string, unknown>;

const isNullableString = (v: unknown) => v === null || typeof v === "string";

function asRecord(line: Line): ChainedRecord | undefined {
  const r = line as Partial<ChainedRecord>;
  if (
    typeof r.id !== "string" ||
    !Number.isSafeInteger(r.at) ||
    typeof r.type !== "string" ||
    typeof r.outcome !== "string" ||
    !isNullableString(r.user_id) ||
    !isNullableString(r.actor) ||
    !isNullableString(r.ip) ||
    !isNullableString(r.user_agent) ||
    !isNullableString(r.details) ||
    typeof r.chain_id !== "string" ||
    !Number.isSafeInteger(r.seq) ||
    !isHash(r.prev_hash) ||
    !isHash(r.hash)
  ) {
    return undefined;
  }
  return {
    id: r.id,
    at: r.at as number,
    type: r.type,
    outcome: r.outcome,
    user_id: r.user_id ?? null,
    actor: r.actor ?? null,
    ip: r.ip ?? null,
    user_agent: r.user_agent ?? null,
    details: r.details ?? null,
    chain_id: r.chain_id,
    seq: r.seq as number,
    prev_hash: r.prev_hash,
    hash: r.hash,
  };
}

function asCheckpoint(line: Line): CheckpointRecord | undefined {
  const c = line as Partial<CheckpointRecord>;
  if (
    typeof c.id !== "string" ||
    typeof c.chain_id !== "string" ||
    !Number.isSafeInteger(c.seq) ||
    !isHash(c.hash) ||
    !Number.isSafeInteger(c.at) ||
    typeof c.jws !== "string"
  ) {
    return undefined;
  }
  return {
    id: c.id,
    chain_id: c.chain_id,
    seq: c.seq as number,
    hash: c.hash,
    at: c.at as number,
    jws: c.jws,
  };
}

const bySeqThenId = (a: ChainEntry, b: ChainEntry) =>
  entrySeq(a) - entrySeq(b) || String(entryId(a) ?? "").localeCompare(String(entryId(b) ?? ""));

/**
 * Verifies the JSON lines of `tessera audit export` with only the issuer's JWKS (fetch it from
 * `/.well-known/jwks.json`, ideally before the export, from a source you trust).
 *
 * @example
 * const jwks = await (await fetch("https://id.example.com/.well-known/jwks.json")).json();
 * const result = await verifyAuditExport(readFileSync("audit.jsonl", "utf8"), jwks);
 * if (!result.ok) console.error(result.problems.map((p) => p.message).join("\n"));
 */
export async function verifyAuditExport(
  lines: string | Iterable<string>,
  jwks: JSONWebKeySet,
): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  const notes: string[] = [];
  const entries = new Map<string, ChainEntry[]>();
  const checkpoints = new Map<string, CheckpointRecord[]>();
  let unchained = 0;
  let header = false;
  const texts = typeof lines === "string" ? lines.split("\n") : lines;
  let number = 0;
  const malformed = (what: string) =>
    problems.push({
      kind: "malformed",
      chainId: null,
      seq: null,
      recordId: null,
      message: `line ${number}: ${what}`,
    });
  for (const text of texts) {
    number++;
    if (text.trim() === "") continue;
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      malformed("not JSON");
      continue;
    }
    if (typeof line !== "object" || line === null || Array.isArray(line)) {
      malformed("not a JSON object");
      continue;
    }
    switch (line.kind) {
      case "header":
        if (line.format !== EXPORT_FORMAT) malformed(`unknown format ${JSON.stringify(line.format)}`);
        header = true;
        break;
      case "record": {
        const record = asRecord(line);
        if (record === undefined) malformed("a record line lacks a field or has a wrong type");
        else
          entries.get(record.chain_id)?.push({ kind: "record", record }) ??
            entries.set(record.chain_id, [{ kind: "record", record }]);
        break;
      }
      case "omitted": {
        const { chain_id, seq, prev_hash, digest, hash } = line;
        if (
          typeof chain_id !== "string" ||
          !Number.isSafeInteger(seq) ||
          !isHash(prev_hash) ||
          !isHash(digest) ||
          !isHash(hash)
        ) {
          malformed("an omitted line lacks a field or has a wrong type");
        } else {
          const list = entries.get(chain_id) ?? [];
          list.push({ kind: "omitted", chain_id, seq: seq as number, prev_hash, digest, hash });
          entries.set(chain_id, list);
        }
        break;
      }
      case "checkpoint": {
        const checkpoint = asCheckpoint(line);
        if (checkpoint === undefined) malformed("a checkpoint line lacks a field or has a wrong type");
        else
          checkpoints.get(checkpoint.chain_id)?.push(checkpoint) ??
            checkpoints.set(checkpoint.chain_id, [checkpoint]);
        break;
      }
      case "unchained":
        unchained++;
        break;
      default:
        malformed(`unknown kind ${JSON.stringify(line.kind)}`);
    }
  }
  if (!header) {
    problems.push({
      kind: "malformed",
      chainId: null,
      seq: null,
      recordId: null,
      message: "no header line: not a tessera audit export",
    });
  }
  const keys = checkpointKeys(jwks);
  const chains: ChainReport[] = [];
  for (const chainId of new Set([...entries.keys(), ...checkpoints.keys()])) {
    const list = (entries.get(chainId) ?? []).sort(bySeqThenId);
    const check = await checkCheckpoints(checkpoints.get(chainId) ?? [], keys);
    problems.push(...check.problems);
    if (list.length === 0) {
      malformed(`chain ${chainId} has checkpoints but no records`);
      continue;
    }
    const walked = await walkChain(list, { chainId, start: "anchor", signed: check.signed });
    const report: ChainReport = {
      ...walked,
      checkpointsVerified: check.verified,
      checkpointsUnverifiable: check.unverifiable,
    };
    if (report.problem) problems.push(report.problem);
    notes.push(...chainNotes(report));
    chains.push(report);
  }
  if (unchained > 0)
    notes.push(`${unchained} unchained record(s) (stored before the chain existed) cannot be checked`);
  return { ok: problems.length === 0, chains, problems, unchained, notes };
}
