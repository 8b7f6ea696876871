/**
 * The audit log: who did what to which account, when, from where.
 *
 * - Append-only from the application's side: events are inserted, never updated.
 * - Never a secret: callers pass identifiers and outcomes, not passwords, tokens or codes; `details` is checked
 *   for keys that look like secrets and refused.
 * - Ids sort by time (base-36 epoch ms, then random), so listing by id is listing by time on both dialects.
 * - Written behind the request, in batches: `record` checks the event and queues its row (its id and time are
 *   fixed then), and returns without waiting for the database; the queue is written every `flushMs` (default
 *   100 ms), or at once when `MAX_BATCH` rows are waiting, as one multi-row INSERT per `MAX_BATCH` rows. A
 *   sign-in then costs no commit on the event loop (one synchronous SQLite commit per event took the
 *   `/healthz` p99 under sign-in load from about 1× to 2.3–2.8× idle, `npm run bench -- accounts`), and
 *   PostgreSQL sees one round trip per batch.
 * - On a SQLite file the batches go to the storage's background writer (given to the repository:
 *   `auditEventsRepository(db, storage.backgroundWriter)`, a second connection in a worker thread): even
 *   batched, the INSERT and its commit took 0.5–1.2 ms of event-loop time every 100 ms under password-hashing
 *   load. If the writer is not running, the repository writes batches through Kysely as before.
 * - Read-your-writes in the process: `list` and `flush` write the queue first. `close` (at shutdown) writes
 *   it too. What a crash takes with it is at most the last `flushMs` of events.
 * - A failed write is retried (after `flushMs`, at least 100 ms, or with the next batch), the same batch as it
 *   was, up to `MAX_ATTEMPTS` times, then reported through `onError` with the number of events lost (`close` tries
 *   as often); the queue is bounded (`MAX_PENDING`, oldest first out, also reported), so an unreachable database
 *   cannot exhaust memory.
 * - Hash chain (docs/events.md, "Audit trail"): each batch's rows get their chain id, seq, prev_hash and hash
 *   when the batch is formed (chain.ts), never on the request path. A retry resends the same rows, so a batch
 *   that had committed (answer lost) is skipped by id and the chain stays whole. A batch given up may or may not
 *   be stored: the chain ends there and later events start a new chain (no hole, no fork). Events dropped by the
 *   queue's bound never had a place in a chain. A new process starts a new chain.
 * - Checkpoints (checkpoints.ts), when `checkpoints` is given: the chain's acknowledged head is signed every
 *   `every` records, at least every `intervalMs` when records are waiting for one, and at close; the same timer
 *   signs again, with a new signing key, the newest checkpoints other chains had signed with the old one.
 * - `chain: false` writes unchained rows and signs nothing: only to measure what the chain costs.
 */
import { randomFillSync } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import type { AuditEventRow, AuditEventsRepository } from "../storage/index.js";
import { appendToChain, type ChainState, startChain } from "./chain.js";
import { type CheckpointOptions, createCheckpointer } from "./checkpoints.js";

export type AuditEventType =
  | "user.created"
  | "user.updated"
  | "user.deleted"
  | "user.disabled"
  | "user.enabled"
  | "group.created"
  | "group.updated"
  | "group.deleted"
  | "signin.password"
  | "signin.passkey"
  | "signout"
  | "session.revoked"
  | "session.revoked_others"
  | "password.changed"
  | "password.reset_requested"
  | "password.reset"
  | "oauth.consent_granted"
  | "oauth.consent_revoked"
  | "oauth.code_replayed"
  | "oauth.refresh_reused"
  | "oauth.token_revoked"
  | "oauth.token_exchanged"
  | "api_token.created"
  | "api_token.revoked"
  | "api_token.leaked"
  | "service_account.created"
  | "service_account.disabled"
  | "service_account.deleted"
  | "token.leak_reported"
  | "mfa.policy_changed"
  | "mfa.reset"
  | "mfa.second_factor_failed"
  | "mfa.totp_enrolled"
  | "mfa.totp_removed"
  | "mfa.totp_failed"
  | "mfa.recovery_codes_generated"
  | "mfa.recovery_code_used"
  | "mfa.recovery_code_failed"
  | "mfa.webauthn_registered"
  | "mfa.webauthn_removed"
  | "mfa.webauthn_renamed"
  | "mfa.webauthn_failed"
  | "mfa.webauthn_counter_regression"
  | "access.ended"
  | "admin.granted"
  | "admin.revoked"
  | "federation.signin"
  | "federation.provisioned"
  | "federation.linked"
  | "federation.unlinked"
  | "idp.created"
  | "idp.updated"
  | "idp.deleted"
  | "webhook.created"
  | "webhook.updated"
  | "webhook.deleted"
  | "webhook.secret_rotated"
  | "webhook.redelivered"
  | "sign_up.requested"
  | "user.signed_up"
  | "invitation.created"
  | "invitation.accepted"
  | "invitation.revoked";

export interface AuditEventInput {
  type: AuditEventType;
  outcome: "success" | "failure";
  userId?: string | null;
  actor?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditEvent {
  id: string;
  at: number;
  type: string;
  outcome: "success" | "failure";
  userId: string | null;
  actor: string | null;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

const SECRET_KEY =
  /^(password|passcode|secret|token|code|otp|pin|key|client_secret|access_token|refresh_token|id_token)$/i;

export interface AuditLog {
  /** Checks and queues the event (throws at once on a secret-named detail); written within `flushMs`. */
  record(event: AuditEventInput): Promise<void>;
  /** Events, newest first, the queue included. */
  list(options?: { userId?: string; type?: AuditEventType; limit?: number }): Promise<AuditEvent[]>;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Writes what is queued and stops the timer; later events are written at once, one by one. */
  close(): Promise<void>;
}

export interface AuditLogOptions {
  /**
   * Where events are stored: `auditEventsRepository(db, storage.backgroundWriter)` (with the writer, batches
   * are written off the event loop on a SQLite file; without it, and on PostgreSQL, through the connection).
   */
  repository: AuditEventsRepository;
  clock: Clock;
  /** How long an event may wait in the queue, ms (default 100; 0 writes each event at once). */
  flushMs?: number;
  /** A write failed for good, or the queue overflowed: `lost` events are gone. */
  onError?: (error: unknown, lost: number) => void;
  /**
   * Hash-chain the records (default true). Turned off only to measure what the chain costs against the same run
   * without it: rows are then stored unchained (and `tessera audit verify` reports them) and nothing is signed.
   */
  chain?: boolean;
  /** Sign the chain's head with Tessera's signing key (absent: the chain is written but never signed). */
  checkpoints?: CheckpointOptions;
}

/** Rows per INSERT (13 parameters each: well under SQLite's and PostgreSQL's parameter limits). */
export const MAX_BATCH = 500;
export const MAX_PENDING = 50_000;
export const MAX_ATTEMPTS = 3;
export const CHECKPOINT_EVERY = 1000;
export const CHECKPOINT_INTERVAL_MS = 30_000;

// 64 random bits per id, from CSPRNG bytes drawn 4 KiB at a time, each byte used once: an id costs one hex
// conversion, not a trip into OpenSSL per event (nor a UUID built and then cut up, as `randomUUID` would).
const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomOffset = RANDOM_POOL_BYTES;

export function auditEventId(at: number): string {
  if (randomOffset + 8 > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const random = randomPool.toString("hex", randomOffset, randomOffset + 8);
  randomOffset += 8;
  return `${at.toString(36).padStart(10, "0")}${random}`;
}

interface Batch {
  rows: AuditEventRow[];
  attempts: number;
  /** The chain its rows were given places in (undefined: unchained). */
  chain: ChainState | undefined;
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { repository, clock } = options;
  const flushMs = options.flushMs ?? 100;
  const chained = options.chain !== false;
  const signing = chained ? options.checkpoints : undefined;
  const checkpointEvery = Math.max(1, signing?.every ?? CHECKPOINT_EVERY);
  let pending: AuditEventRow[] = [];
  /** A batch whose write failed: written again, as it is, before anything else. */
  let retry: Batch | undefined;
  let chain: ChainState | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  const report = (error: unknown, lost: number) => {
    if (options.onError) options.onError(error, lost);
    else process.emitWarning(`audit log: ${lost} event(s) lost: ${(error as Error)?.message ?? error}`);
  };
  // A retry may repeat rows a lost answer had committed: ids are unique per event, and the repository skips
  // ids already stored.
  const write = (rows: AuditEventRow[]): Promise<void> => repository.insert(rows);

  const checkpointer =
    signing === undefined
      ? undefined
      : createCheckpointer({ ...signing, repository, clock, newId: () => auditEventId(clock.now()) });
  const checkpoint = async (target: ChainState | undefined): Promise<void> => {
    if (checkpointer !== undefined && target !== undefined) await checkpointer.sign(target);
  };
  // The timer: a checkpoint for records waiting for one, and signing again after a change of signing key.
  const ticker =
    checkpointer === undefined
      ? undefined
      : setInterval(() => {
          running = running.then(async () => {
            await checkpoint(chain);
            await checkpointer.signAgainAfterKeyChange();
          });
        }, signing?.intervalMs ?? CHECKPOINT_INTERVAL_MS);
  ticker?.unref();

  /** The next batch to write: the failed one again, or the oldest queued rows given their places. */
  const nextBatch = (): Batch | undefined => {
    if (retry) return retry;
    if (pending.length === 0) return undefined;
    const rows = pending.slice(0, MAX_BATCH);
    pending = pending.slice(rows.length);
    if (!chained) return { rows, attempts: 0, chain: undefined };
    chain ??= startChain(auditEventId(clock.now()));
    appendToChain(chain, rows);
    return { rows, attempts: 0, chain };
  };

  const writeQueued = async (): Promise<void> => {
    for (;;) {
      const batch = nextBatch();
      if (batch === undefined) return;
      try {
        await write(batch.rows);
      } catch (error) {
        retry = ++batch.attempts < MAX_ATTEMPTS ? batch : undefined;
        if (retry === undefined) {
          report(error, batch.rows.length);
          // Stored or not, nobody knows: the chain ends at its last acknowledged record, signed if it is not yet,
          // and later events start a new chain.
          if (batch.chain !== undefined && batch.chain === chain) {
            await checkpoint(chain);
            chain = undefined;
          }
        }
        // Try again after an interval, even if no other event comes (not at once: the database is failing).
        if ((retry || pending.length > 0) && !closed && !timer) {
          timer = setTimeout(() => void flush(), Math.max(flushMs, 100));
          timer.unref();
        }
        return;
      }
      retry = undefined;
      const last = batch.rows[batch.rows.length - 1];
      if (batch.chain !== undefined && last?.seq != null && last.hash != null) {
        batch.chain.confirmedSeq = last.seq;
        batch.chain.confirmedHead = Buffer.from(last.hash, "hex");
        if (batch.chain.confirmedSeq - batch.chain.signedSeq >= checkpointEvery)
          await checkpoint(batch.chain);
      }
    }
  };

  const flush = (): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    running = running.then(writeQueued);
    return running;
  };

  const schedule = () => {
    if (pending.length >= MAX_BATCH || closed || flushMs === 0) {
      void flush();
    } else if (!timer) {
      timer = setTimeout(() => void flush(), flushMs);
      timer.unref();
    }
  };

  return {
    async record(event) {
      for (const key of Object.keys(event.details ?? {})) {
        if (SECRET_KEY.test(key)) throw new Error(`audit details must not carry secrets (key "${key}")`);
      }
      const at = clock.now();
      const row: AuditEventRow = {
        id: auditEventId(at),
        at,
        type: event.type,
        outcome: event.outcome,
        user_id: event.userId ?? null,
        actor: event.actor ?? null,
        ip: event.ip ?? null,
        user_agent: event.userAgent?.slice(0, 512) ?? null,
        details: event.details ? JSON.stringify(event.details) : null,
        chain_id: null,
        seq: null,
        prev_hash: null,
        hash: null,
      };
      // Only queued rows are dropped, never a batch being written: they have no place in a chain yet.
      if (pending.length >= MAX_PENDING) {
        pending.shift();
        report(new Error("the audit queue is full (the database is not taking writes)"), 1);
      }
      pending.push(row);
      schedule();
    },
    flush,
    async close() {
      closed = true;
      if (ticker) clearInterval(ticker);
      for (let attempt = 0; attempt < MAX_ATTEMPTS && (pending.length > 0 || retry); attempt++) await flush();
      const unwritten = pending.length + (retry?.rows.length ?? 0);
      if (unwritten > 0) {
        report(new Error("the audit log closed with events it could not write"), unwritten);
        pending = [];
        retry = undefined;
      }
      // The chain's last acknowledged records, signed before the process goes.
      running = running.then(() => checkpoint(chain));
      await running;
    },
    async list(options = {}) {
      await flush();
      const rows = await repository.list({
        userId: options.userId,
        type: options.type,
        limit: Math.min(options.limit ?? 100, 1000),
      });
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        type: r.type,
        outcome: r.outcome,
        userId: r.user_id,
        actor: r.actor,
        ip: r.ip,
        userAgent: r.user_agent,
        details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : {},
      }));
    },
  };
}
