/**
 * The audit trail as a whole: verifying every chain in the database, and exporting a verifiable slice of it
 * (`tessera audit verify`, `tessera audit export`).
 *
 * - Verify walks each chain from seq 1 in pages (never the whole table in memory) with the same walk as the
 *   standalone export verifier (`verify.ts`), and checks every checkpoint against the JWKS: Tessera's published
 *   keys, or a JWKS the caller obtained elsewhere (the keys in the database are as writable as the records).
 * - Rows outside any chain were stored before migration 0009 (or with the chain turned off): reported as
 *   unchained, not as tampering, as long as they are older than the first chained record. An unchained row newer
 *   than that was inserted outside the audit log (or written by an instance without the chain, such as an older
 *   version during an upgrade): a problem.
 * - Export writes JSON lines: a header; per chain, the records matching the filter, `omitted` lines (digest only)
 *   for the records between them that do not match, extended to the first checkpoint at or after the chain's last
 *   matching record so the slice ends on signed state, and the checkpoints inside that interval; then the matching
 *   unchained rows. `verifyAuditExport` checks it with the JWKS alone.
 */
import type { JSONWebKeySet } from "jose";
import type { Clock } from "../lib/clock.js";
import type {
  AuditCheckpointRow,
  AuditEventFilter,
  AuditEventRow,
  AuditEventsRepository,
} from "../storage/index.js";
import { recordDigest } from "./record-hash.js";
import {
  type AuditProblem,
  type AuditVerification,
  type ChainEntry,
  type ChainReport,
  chainNotes,
  checkCheckpoints,
  checkpointKeys,
  EXPORT_FORMAT,
  walkChain,
} from "./verify.js";

const PAGE = 1000;

export interface AuditTrailOptions {
  repository: AuditEventsRepository;
  /** Tessera's published keys (`keys.jwks()`). */
  jwks: () => JSONWebKeySet;
  clock: Clock;
  /** Written into the export's header. */
  issuer?: string;
}

export interface AuditExportSummary {
  records: number;
  omitted: number;
  checkpoints: number;
  unchained: number;
}

export interface AuditTrail {
  /** Checks every chain and checkpoint; `jwks` replaces Tessera's own published keys. */
  verify(options?: { jwks?: JSONWebKeySet }): Promise<AuditVerification>;
  /** Writes the export's JSON lines (without newlines) to `write`, awaiting each. */
  export(
    filter: AuditEventFilter,
    write: (line: string) => void | Promise<void>,
  ): Promise<AuditExportSummary>;
}

/** Rows of one chain, by (seq, id), page by page. */
async function* chainRows(
  repository: AuditEventsRepository,
  chainId: string,
  range: { fromSeq?: number; toSeq?: number } = {},
): AsyncGenerator<AuditEventRow> {
  let after: { seq: number; id: string } | undefined;
  for (;;) {
    const page = await repository.chainPage({ chainId, ...range, ...(after ? { after } : {}), limit: PAGE });
    yield* page;
    const last = page[page.length - 1];
    // A row without a seq (changed) sorts first or last depending on the database; it ends the paging.
    if (page.length < PAGE || last === undefined || last.seq === null) return;
    after = { seq: last.seq, id: last.id };
  }
}

/** A stored row as the walk sees it; missing chain columns make it fail as changed. */
function entryOf(row: AuditEventRow): ChainEntry {
  return {
    kind: "record",
    record: {
      id: row.id,
      at: row.at,
      type: row.type,
      outcome: row.outcome,
      user_id: row.user_id,
      actor: row.actor,
      ip: row.ip,
      user_agent: row.user_agent,
      details: row.details,
      chain_id: row.chain_id ?? "",
      seq: row.seq ?? Number.NaN,
      prev_hash: row.prev_hash ?? "",
      hash: row.hash ?? "",
    },
  };
}

async function* entries(rows: AsyncIterable<AuditEventRow>): AsyncGenerator<ChainEntry> {
  for await (const row of rows) yield entryOf(row);
}

const recordLine = (row: AuditEventRow) => ({
  kind: "record",
  id: row.id,
  at: row.at,
  type: row.type,
  outcome: row.outcome,
  user_id: row.user_id,
  actor: row.actor,
  ip: row.ip,
  user_agent: row.user_agent,
  details: row.details,
  chain_id: row.chain_id,
  seq: row.seq,
  prev_hash: row.prev_hash,
  hash: row.hash,
});

const checkpointLine = (c: AuditCheckpointRow) => ({
  kind: "checkpoint",
  id: c.id,
  chain_id: c.chain_id,
  seq: c.seq,
  hash: c.hash,
  at: c.at,
  jws: c.jws,
});

const matches = (row: AuditEventRow, filter: AuditEventFilter) =>
  (filter.since === undefined || row.at >= filter.since) &&
  (filter.until === undefined || row.at <= filter.until) &&
  (filter.types === undefined || filter.types.length === 0 || filter.types.includes(row.type));

function byChain(rows: readonly AuditCheckpointRow[]): Map<string, AuditCheckpointRow[]> {
  const map = new Map<string, AuditCheckpointRow[]>();
  for (const row of rows) map.get(row.chain_id)?.push(row) ?? map.set(row.chain_id, [row]);
  return map;
}

export function createAuditTrail(options: AuditTrailOptions): AuditTrail {
  const { repository } = options;
  return {
    async verify(verifyOptions = {}) {
      const keys = checkpointKeys(verifyOptions.jwks ?? options.jwks());
      const checkpoints = byChain(await repository.checkpoints());
      const problems: AuditProblem[] = [];
      const notes: string[] = [];
      const chains: ChainReport[] = [];
      for (const summary of await repository.chains()) {
        const check = await checkCheckpoints(checkpoints.get(summary.chain_id) ?? [], keys);
        checkpoints.delete(summary.chain_id);
        problems.push(...check.problems);
        const walked = await walkChain(entries(chainRows(repository, summary.chain_id)), {
          chainId: summary.chain_id,
          start: "genesis",
          signed: check.signed,
        });
        const report: ChainReport = {
          ...walked,
          checkpointsVerified: check.verified,
          checkpointsUnverifiable: check.unverifiable,
        };
        if (report.problem) problems.push(report.problem);
        notes.push(...chainNotes(report));
        chains.push(report);
      }
      // Checkpoints of a chain with no record left: the whole chain was deleted.
      for (const [chainId, rows] of checkpoints) {
        const check = await checkCheckpoints(rows, keys);
        problems.push(...check.problems);
        if (check.signed.size > 0) {
          const last = Math.max(...check.signed.keys());
          problems.push({
            kind: "deleted",
            chainId,
            seq: 1,
            recordId: null,
            message: `chain ${chainId}: every record is missing (deleted); a signed checkpoint names seq ${last}`,
          });
        }
      }
      const unchained = await repository.unchained();
      if (unchained.count > 0) {
        notes.push(
          `${unchained.count} unchained record(s) (${unchained.oldestId} … ${unchained.newestId}), stored before the chain existed: present, but not verifiable`,
        );
        const firstChained = await repository.firstChainedId();
        const late = firstChained === null ? undefined : await repository.unchainedAfter(firstChained);
        if (late !== undefined) {
          problems.push({
            kind: "inserted",
            chainId: null,
            seq: null,
            recordId: late.id,
            message: `record ${late.id} is in no chain but newer than the first chained record (${firstChained}): inserted outside the audit log, or written by an instance without the chain (an older version during an upgrade)`,
          });
        }
      }
      return { ok: problems.length === 0, chains, problems, unchained: unchained.count, notes };
    },

    async export(filter, write) {
      const summary: AuditExportSummary = { records: 0, omitted: 0, checkpoints: 0, unchained: 0 };
      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
      await write(
        JSON.stringify({
          kind: "header",
          format: EXPORT_FORMAT,
          issuer: options.issuer ?? null,
          exported_at: new Date(options.clock.now()).toISOString(),
          since: iso(filter.since),
          until: iso(filter.until),
          types: filter.types && filter.types.length > 0 ? [...filter.types] : null,
        }),
      );
      const checkpoints = byChain(await repository.checkpoints());
      const extents = (await repository.matchingExtents(filter)).sort((a, b) =>
        a.chain_id.localeCompare(b.chain_id),
      );
      for (const extent of extents) {
        const mine = checkpoints.get(extent.chain_id) ?? [];
        // End on signed state: the first checkpoint at or after the last matching record, when there is one.
        const closing = mine.find((c) => c.seq >= extent.last_seq);
        const toSeq = closing === undefined ? extent.last_seq : closing.seq;
        for await (const row of chainRows(repository, extent.chain_id, {
          fromSeq: extent.first_seq,
          toSeq,
        })) {
          if (matches(row, filter)) {
            await write(JSON.stringify(recordLine(row)));
            summary.records++;
          } else {
            const digest =
              row.chain_id !== null && row.seq !== null
                ? recordDigest({ ...row, chain_id: row.chain_id, seq: row.seq })
                : "";
            await write(
              JSON.stringify({
                kind: "omitted",
                chain_id: row.chain_id,
                seq: row.seq,
                prev_hash: row.prev_hash,
                digest,
                hash: row.hash,
              }),
            );
            summary.omitted++;
          }
        }
        for (const c of mine) {
          if (c.seq >= extent.first_seq && c.seq <= toSeq) {
            await write(JSON.stringify(checkpointLine(c)));
            summary.checkpoints++;
          }
        }
      }
      let afterId: string | undefined;
      for (;;) {
        const page = await repository.unchainedPage(filter, afterId, PAGE);
        for (const row of page) {
          const { chain_id: _c, seq: _s, prev_hash: _p, hash: _h, ...fields } = row;
          await write(JSON.stringify({ kind: "unchained", ...fields }));
          summary.unchained++;
        }
        if (page.length < PAGE) break;
        afterId = page[page.length - 1]!.id;
      }
      return summary;
    },
  };
}
