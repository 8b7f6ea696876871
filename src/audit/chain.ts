/**
 * The writer's side of the hash chain: one chain per audit log instance, extended batch by batch.
 *
 * - A chain has a random, time-ordered id (an audit-event-style id taken when it starts) and numbers its records
 *   1, 2, …; each instance (process) writes its own chain, so many instances on one PostgreSQL database never wait
 *   for each other and never need a global sequence.
 * - Records get their place when their batch is formed, just before it is written (never on the request path):
 *   an event dropped from the queue before that (overflow) never had a place, so it leaves no hole.
 * - `confirmed*` is the head as far as the database is known to hold it (last acknowledged batch); `signedSeq` is
 *   the last seq a checkpoint signed. A batch given up may or may not have been stored: the chain is then ended
 *   (`restart`) and later records start a new one, so neither a hole nor a fork ever appears inside a chain.
 */
import type { AuditEventRow } from "../storage/index.js";
import { GENESIS_HASH, type HashedRecordFields, linkBytes, recordDigestBytes } from "./record-hash.js";

const GENESIS = Buffer.from(GENESIS_HASH, "hex");

export interface ChainState {
  readonly id: string;
  /** Seq of the last record given a place. */
  seq: number;
  /** Hash of the last record given a place (raw bytes). */
  head: Buffer;
  /** The last acknowledged record: what a checkpoint may sign. */
  confirmedSeq: number;
  confirmedHead: Buffer;
  /** Seq of the last signed checkpoint (0: none yet). */
  signedSeq: number;
}

export function startChain(id: string): ChainState {
  return { id, seq: 0, head: GENESIS, confirmedSeq: 0, confirmedHead: GENESIS, signedSeq: 0 };
}

/** Gives each row (in order) its place after the chain's head, filling its chain columns. */
export function appendToChain(chain: ChainState, rows: readonly AuditEventRow[]): void {
  for (const row of rows) {
    const seq = chain.seq + 1;
    const prev = chain.head;
    row.chain_id = chain.id;
    row.seq = seq;
    // The row now has its chain id and seq (no copy: this runs for every record).
    const digest = recordDigestBytes(row as HashedRecordFields);
    const hash = linkBytes(prev, digest);
    row.prev_hash = prev.toString("hex");
    row.hash = hash.toString("hex");
    chain.seq = seq;
    chain.head = hash;
  }
}

/** The rows up to `seq` are stored. */
export function confirmChain(chain: ChainState): void {
  chain.confirmedSeq = chain.seq;
  chain.confirmedHead = chain.head;
}
