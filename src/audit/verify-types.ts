/**
 * The shapes the audit-trail verification works on and reports (`verify.ts`, `chain-walk.ts`,
 * `verify-checkpoint.ts`). No imports beyond `record-hash.ts`: the verifier runs outside Tessera.
 */
import type { HashedRecordFields } from "./record-hash.js";

export const CHECKPOINT_TYP = "audit-checkpoint+jwt";
export const EXPORT_FORMAT = "tessera-audit-export/1";

/** The signed content of a checkpoint. */
export interface CheckpointPayload {
  iss?: string;
  /** When it was signed (seconds). */
  iat: number;
  chain_id: string;
  seq: number;
  hash: string;
  /** When the head was first signed (epoch ms): a checkpoint signed again after a key rotation keeps it. */
  at: number;
}

/** A stored record with its place in a chain. */
export interface ChainedRecord extends HashedRecordFields {
  prev_hash: string;
  hash: string;
}

/** One entry of a chain walk: a full record, or one an export left out (its digest only). */
export type ChainEntry =
  | { kind: "record"; record: ChainedRecord }
  | { kind: "omitted"; chain_id: string; seq: number; prev_hash: string; digest: string; hash: string };

export interface CheckpointRecord {
  id: string;
  chain_id: string;
  seq: number;
  hash: string;
  at: number;
  jws: string;
}

export type AuditProblemKind =
  | "changed"
  | "deleted"
  | "inserted"
  | "out-of-order"
  | "checkpoint-invalid"
  | "checkpoint-changed"
  | "malformed";

export interface AuditProblem {
  kind: AuditProblemKind;
  chainId: string | null;
  seq: number | null;
  /** The record (or checkpoint) named: the first bad one found. */
  recordId: string | null;
  message: string;
}

export interface ChainReport {
  chainId: string;
  /** Full records walked, and records an export left out. */
  records: number;
  omitted: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The walk began at seq 1 (`genesis`: 64 zeros before it) or mid-chain at a record's prev_hash (`anchor`). */
  start: "genesis" | "anchor";
  /** Checkpoints whose signature verified, whose key is no longer published, and the last seq one vouches for. */
  checkpointsVerified: number;
  checkpointsUnverifiable: number;
  signedSeq: number | null;
  /** The chain's first problem, where the walk stopped. */
  problem?: AuditProblem;
}

export interface AuditVerification {
  ok: boolean;
  chains: ChainReport[];
  /** Every problem: each chain's first, checkpoints that do not verify, malformed input. */
  problems: AuditProblem[];
  /** Records outside any chain (stored before the chain existed): present, but not verifiable. */
  unchained: number;
  /** What is not a failure but limits what was shown (unverifiable checkpoints, unsigned tails). */
  notes: string[];
}
