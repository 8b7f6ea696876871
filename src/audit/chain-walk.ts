/**
 * The chain walk: one chain's records (or an export's lines) in seq order, checked link by link, stopping at the
 * first problem and naming that record (see `verify.ts` for what is checked and what a chain cannot show).
 * No imports beyond `record-hash.ts`: the verifier runs outside Tessera.
 */
import { chainHash, GENESIS_HASH, recordHash } from "./record-hash.js";
import type { AuditProblemKind, ChainEntry, ChainReport } from "./verify-types.js";

/** How far from its stored seq a moved record is looked for, each way. */
const MOVE_SEARCH = 64;

export const entrySeq = (e: ChainEntry) => (e.kind === "record" ? e.record.seq : e.seq);
const entryHash = (e: ChainEntry) => (e.kind === "record" ? e.record.hash : e.hash);
const entryPrev = (e: ChainEntry) => (e.kind === "record" ? e.record.prev_hash : e.prev_hash);
export const entryId = (e: ChainEntry) => (e.kind === "record" ? e.record.id : null);
const describe = (e: ChainEntry) =>
  e.kind === "record" ? `record ${e.record.id} (seq ${e.record.seq})` : `omitted record at seq ${e.seq}`;

/** Whether the entry's hash is what its fields (or digest) and prev_hash give. */
function consistent(e: ChainEntry): boolean {
  const expected =
    e.kind === "record" ? recordHash(e.record.prev_hash, e.record) : chainHash(e.prev_hash, e.digest);
  return expected !== undefined && expected === entryHash(e);
}

/** A record whose hash is right for another seq was moved there: that seq, or undefined. */
function writtenSeq(e: ChainEntry): number | undefined {
  if (e.kind !== "record") return undefined;
  for (let d = 1; d <= MOVE_SEARCH; d++) {
    for (const seq of [e.record.seq - d, e.record.seq + d]) {
      if (seq >= 1 && recordHash(e.record.prev_hash, { ...e.record, seq }) === e.record.hash) return seq;
    }
  }
  return undefined;
}

/** Entries in seq order, read one group (one seq) at a time, with look-ahead. */
class Groups {
  readonly #iterator: AsyncIterator<ChainEntry> | Iterator<ChainEntry>;
  readonly #buffer: ChainEntry[] = [];
  #done = false;
  constructor(entries: AsyncIterable<ChainEntry> | Iterable<ChainEntry>) {
    this.#iterator =
      Symbol.asyncIterator in entries
        ? (entries as AsyncIterable<ChainEntry>)[Symbol.asyncIterator]()
        : (entries as Iterable<ChainEntry>)[Symbol.iterator]();
  }
  async #fill(n: number): Promise<void> {
    while (!this.#done && this.#buffer.length < n) {
      const step = await this.#iterator.next();
      if (step.done) this.#done = true;
      else this.#buffer.push(step.value);
    }
  }
  /** The next group of entries sharing one seq, or undefined at the end. */
  async next(): Promise<ChainEntry[] | undefined> {
    await this.#fill(1);
    const first = this.#buffer[0];
    if (first === undefined) return undefined;
    let n = 1;
    for (;;) {
      await this.#fill(n + 1);
      const candidate = this.#buffer[n];
      if (candidate === undefined || entrySeq(candidate) !== entrySeq(first)) break;
      n++;
    }
    return this.#buffer.splice(0, n);
  }
  /** Up to `n` entries after the current group, without consuming them. */
  async peek(n: number): Promise<ChainEntry[]> {
    await this.#fill(n);
    return this.#buffer.slice(0, n);
  }
}

export interface WalkOptions {
  chainId: string;
  /** `genesis`: the chain must start at seq 1 (the database). `anchor`: it may start anywhere (an export). */
  start: "genesis" | "anchor";
  /** Checkpoints that verified, by seq: the signed hash at that seq. */
  signed: ReadonlyMap<number, string>;
}

/** Walks one chain's entries (sorted by seq, then id) and reports its first problem. */
export async function walkChain(
  entries: AsyncIterable<ChainEntry> | Iterable<ChainEntry>,
  options: WalkOptions,
): Promise<Omit<ChainReport, "checkpointsVerified" | "checkpointsUnverifiable">> {
  const { chainId, signed } = options;
  const report: Omit<ChainReport, "checkpointsVerified" | "checkpointsUnverifiable"> = {
    chainId,
    records: 0,
    omitted: 0,
    firstSeq: null,
    lastSeq: null,
    start: options.start,
    signedSeq: null,
  };
  const groups = new Groups(entries);
  const problemAt = (kind: AuditProblemKind, entry: ChainEntry | null, message: string, seq?: number) => {
    report.problem = {
      kind,
      chainId,
      seq: seq ?? (entry ? entrySeq(entry) : null),
      recordId: entry ? entryId(entry) : null,
      message: `chain ${chainId}: ${message}`,
    };
    return report;
  };
  let previous: ChainEntry | undefined;
  let expectedPrev = GENESIS_HASH;
  let lastSigned = 0;
  for (;;) {
    const group = await groups.next();
    if (group === undefined) break;
    const seq = entrySeq(group[0]!);
    if (!Number.isSafeInteger(seq) || seq < 1) {
      return problemAt("changed", group[0]!, `${describe(group[0]!)} has no valid seq: changed`, seq);
    }
    if (previous === undefined) {
      report.firstSeq = seq;
      report.start = seq === 1 ? "genesis" : "anchor";
      if (seq === 1) expectedPrev = GENESIS_HASH;
      else if (options.start === "anchor") expectedPrev = entryPrev(group[0]!);
      else
        return problemAt(
          "deleted",
          group[0]!,
          `record${seq > 2 ? `s at seq 1–${seq - 1} are` : " at seq 1 is"} missing before ${describe(group[0]!)}: deleted`,
          1,
        );
    } else {
      const expected = entrySeq(previous) + 1;
      if (seq !== expected) {
        return problemAt(
          "deleted",
          group[0]!,
          `record${seq - expected > 1 ? `s at seq ${expected}–${seq - 1} are` : ` at seq ${expected} is`} missing between ${describe(previous)} and ${describe(group[0]!)}: deleted`,
          expected,
        );
      }
    }
    const entry = group[0]!;
    if (group.length > 1) {
      // One seq, several records: the chain goes on from one of them; the others were inserted.
      const after = await groups.peek(1);
      const nextPrev = after[0] === undefined ? undefined : entryPrev(after[0]);
      const signedHash = signed.get(seq);
      const genuine = group.filter(
        (e) =>
          consistent(e) &&
          entryPrev(e) === expectedPrev &&
          (signedHash === undefined || entryHash(e) === signedHash) &&
          (nextPrev === undefined || entryHash(e) === nextPrev),
      );
      if (genuine.length === 1) {
        const forged = group.find((e) => e !== genuine[0])!;
        return problemAt(
          "inserted",
          forged,
          `${describe(forged)} was inserted: the chain goes on from ${describe(genuine[0]!)} at the same seq`,
        );
      }
      return problemAt(
        "inserted",
        entry,
        `${group.map(describe).join(", ")} share one seq: all but one were inserted`,
      );
    }
    if (!consistent(entry)) {
      const moved = writtenSeq(entry);
      if (moved !== undefined) {
        return problemAt(
          "out-of-order",
          entry,
          `${describe(entry)} was written at seq ${moved}: moved (out of order)`,
        );
      }
      return problemAt("changed", entry, `${describe(entry)} does not match its hash: changed`);
    }
    if (entryPrev(entry) !== expectedPrev) {
      const ahead = await groups.peek(MOVE_SEARCH);
      const followed = ahead.find((e) => entryHash(e) === entryPrev(entry));
      if (followed !== undefined) {
        return problemAt(
          "out-of-order",
          entry,
          `${describe(entry)} follows ${describe(followed)} in the chain: moved`,
        );
      }
      if (previous !== undefined && ahead[0] !== undefined && entryPrev(ahead[0]) === entryHash(entry)) {
        return problemAt(
          "changed",
          previous,
          `${describe(previous)} was replaced (its hash recomputed): ${describe(entry)} links to another predecessor`,
        );
      }
      return problemAt(
        "inserted",
        entry,
        `${describe(entry)} does not link to ${previous ? describe(previous) : "the chain's start"}: inserted or replaced`,
      );
    }
    const signedHash = signed.get(seq);
    if (signedHash !== undefined) {
      if (signedHash !== entryHash(entry)) {
        return problemAt(
          "changed",
          entry,
          `a signed checkpoint names another hash at seq ${seq}: a record at seq ${lastSigned + 1}–${seq} was changed or replaced and the hashes after it recomputed (${describe(entry)} is the signed one)`,
        );
      }
      lastSigned = seq;
      report.signedSeq = seq;
    }
    if (entry.kind === "record") report.records++;
    else report.omitted++;
    report.lastSeq = seq;
    previous = entry;
    expectedPrev = entryHash(entry);
  }
  // A signed seq before an export's first record: its beginning was cut off.
  const before = [...signed.keys()].filter((s) => report.firstSeq !== null && s < report.firstSeq);
  if (before.length > 0) {
    const earliest = Math.min(...before);
    return problemAt(
      "deleted",
      null,
      `records from seq ${earliest} are missing before the first one (seq ${report.firstSeq}): a signed checkpoint names seq ${earliest}`,
      earliest,
    );
  }
  // A signed seq past the last record: the end of the chain was cut off.
  const beyond = [...signed.keys()].filter((s) => report.lastSeq === null || s > report.lastSeq);
  if (beyond.length > 0 && previous !== undefined) {
    const furthest = Math.max(...beyond);
    return problemAt(
      "deleted",
      previous,
      `records after ${describe(previous)} are missing: a signed checkpoint names seq ${furthest}`,
    );
  }
  return report;
}

/** The notes a chain's report calls for (not failures). */
export function chainNotes(report: ChainReport): string[] {
  const notes: string[] = [];
  if (report.checkpointsUnverifiable > 0) {
    notes.push(
      `chain ${report.chainId}: ${report.checkpointsUnverifiable} checkpoint(s) signed with a key no longer in the JWKS could not be checked`,
    );
  }
  if (!report.problem && report.lastSeq !== null && (report.signedSeq ?? 0) < report.lastSeq) {
    notes.push(
      report.signedSeq === null
        ? `chain ${report.chainId}: no verified checkpoint covers seq ${report.firstSeq}–${report.lastSeq} yet`
        : `chain ${report.chainId}: seq ${report.signedSeq + 1}–${report.lastSeq} follow the last verified checkpoint`,
    );
  }
  return notes;
}
