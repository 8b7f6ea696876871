/**
 * How an audit record is hashed into its chain: the one definition the writer (`chain.ts`), `tessera audit verify`
 * and the standalone export verifier (`verify.ts`) share. Depends only on `node:crypto`.
 *
 * - Canonical form: the JSON array (`JSON.stringify`, which for strings, safe integers and null is also RFC 8785's
 *   canonical JSON) `["tessera.audit.v1", chain_id, seq, id, at, type, outcome, user_id, actor, ip, user_agent,
 *   details]`. Every stored field is in it; `details` is the stored JSON text, hashed as that string, so no key
 *   order question arises. The chain id and seq are in it too: a record moved to another place is changed.
 * - digest = SHA-256(UTF-8 canonical form); hash = SHA-256(prev_hash || digest), both 32 raw bytes, written as
 *   lowercase hex. The first record of a chain has prev_hash = 64 zeros.
 * - Hashing the digest (not the canonical form itself) after the previous hash lets an export leave a record out
 *   and keep only its digest: the verifier still recomputes every link, and an included record cannot be
 *   changed without breaking the link to the signed head.
 */
import { hash } from "node:crypto";

export const RECORD_FORMAT = "tessera.audit.v1";
export const GENESIS_HASH = "0".repeat(64);
const HASH = /^[0-9a-f]{64}$/;

/** The stored fields of a chained record (all of them but its hashes). */
export interface HashedRecordFields {
  id: string;
  at: number;
  type: string;
  outcome: string;
  user_id: string | null;
  actor: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string | null;
  chain_id: string;
  seq: number;
}

/** Whether `value` is a hash as stored: 64 lowercase hex digits. */
export function isHash(value: unknown): value is string {
  return typeof value === "string" && HASH.test(value);
}

/** The record's canonical form (see the module's rules). */
export function canonicalRecord(record: HashedRecordFields): string {
  return JSON.stringify([
    RECORD_FORMAT,
    record.chain_id,
    record.seq,
    record.id,
    record.at,
    record.type,
    record.outcome,
    record.user_id ?? null,
    record.actor ?? null,
    record.ip ?? null,
    record.user_agent ?? null,
    record.details ?? null,
  ]);
}

// One-shot `hash` (Node ≥ 20.12): about half the cost of a `createHash` object per digest, and the writer
// computes two per record.

/** SHA-256 of the canonical form, 32 bytes. */
export function recordDigestBytes(record: HashedRecordFields): Buffer {
  return hash("sha256", canonicalRecord(record), "buffer");
}

/** SHA-256(prev || digest), 32 bytes. */
export function linkBytes(prev: Buffer, digest: Buffer): Buffer {
  return hash("sha256", Buffer.concat([prev, digest], 64), "buffer");
}

/** The record's digest as hex. */
export function recordDigest(record: HashedRecordFields): string {
  return recordDigestBytes(record).toString("hex");
}

/** hash = SHA-256(prev_hash || digest), from hex; undefined when either is not a well-formed hash. */
export function chainHash(prevHash: string, digest: string): string | undefined {
  if (!isHash(prevHash) || !isHash(digest)) return undefined;
  return linkBytes(Buffer.from(prevHash, "hex"), Buffer.from(digest, "hex")).toString("hex");
}

/** The hash a record must carry after `prevHash`; undefined when `prevHash` is not a well-formed hash. */
export function recordHash(prevHash: string, record: HashedRecordFields): string | undefined {
  return chainHash(prevHash, recordDigest(record));
}
