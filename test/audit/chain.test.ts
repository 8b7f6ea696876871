/**
 * The audit log's hash chain and signed checkpoints, on SQLite (through Kysely and through the background writer)
 * and PostgreSQL: every record is chained as the documentation defines (recomputed here independently), and
 * retries, writes given up, a full queue and restarts leave no hole and no fork; checkpoints verify with `jose`
 * against the JWKS and survive a key rotation.
 */
import {
  type CompactVerifyResult,
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
} from "jose";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type AuditLog,
  type AuditLogOptions,
  createAuditLog,
  createAuditTrail,
  MAX_ATTEMPTS,
  MAX_PENDING,
} from "../../src/audit/index.js";
import { createMasterKey, KeyStore } from "../../src/crypto/index.js";
import { manualClock } from "../../src/lib/clock.js";
import {
  type AuditEventsRepository,
  auditEventsRepository,
  type Storage,
  signingKeysRepository,
} from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";
import { chainedRows, documentedHash, ZERO_HASH } from "./helpers.js";

const SETUPS = [
  ...DIALECTS.map((dialect) => ({ dialect, background: false })),
  { dialect: "sqlite" as const, background: true },
];

describe.each(SETUPS)(
  "audit chain on $dialect (background writer: $background)",
  ({ dialect, background }) => {
    let storage: Storage;
    let keys: KeyStore;
    let logs: AuditLog[];
    let lost: number[];
    let checkpointErrors: unknown[];
    const clock = manualClock(Date.UTC(2026, 5, 1, 12));

    const repository = () =>
      auditEventsRepository(storage.db, background ? storage.backgroundWriter : undefined);
    const trail = () => createAuditTrail({ repository: repository(), jwks: () => keys.jwks(), clock });
    const open = (options: Partial<AuditLogOptions> = {}) => {
      const log = createAuditLog({
        repository: repository(),
        clock,
        onError: (_error, n) => lost.push(n),
        ...options,
      });
      logs.push(log);
      return log;
    };
    const signed = (options: { every?: number; intervalMs?: number } = {}) =>
      open({
        checkpoints: {
          keys,
          issuer: "https://id.example.test",
          onError: (e) => checkpointErrors.push(e),
          ...options,
        },
      });
    const record = (log: AuditLog, n: number, userId = "u") =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          log.record({
            type: "signin.password",
            outcome: i % 2 ? "failure" : "success",
            userId,
            details: { i },
          }),
        ),
      );
    const rename = (from: string, to: string) =>
      sql`alter table ${sql.id(from)} rename to ${sql.id(to)}`.execute(storage.db);
    const checkpoints = () =>
      storage.db
        .selectFrom("audit_checkpoints")
        .selectAll()
        .orderBy("chain_id")
        .orderBy("seq")
        .orderBy("id")
        .execute();

    beforeEach(async () => {
      storage = await openTestStorage(dialect);
      keys = await KeyStore.open({
        repository: signingKeysRepository(storage.db),
        masterKey: createMasterKey(Buffer.alloc(32, 7)),
        clock,
        jwtMaxLifetime: 3600,
        publishLeadTime: 0,
        rotationInterval: 0,
        algorithms: ["EdDSA"],
      });
      logs = [];
      lost = [];
      checkpointErrors = [];
    });
    afterEach(async () => {
      for (const log of logs) await log.close();
      await storage.close();
    });

    it("chains every record: seq 1, 2, … and each hash over the previous hash and the record's digest", async () => {
      const log = open();
      await record(log, 3, "a");
      await log.flush();
      await record(log, 4, "b");
      await log.flush();
      const rows = await chainedRows(storage);
      expect(rows).toHaveLength(7);
      expect(new Set(rows.map((r) => r.chain_id)).size).toBe(1);
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      let prev = ZERO_HASH;
      for (const row of rows) {
        expect(row.prev_hash).toBe(prev);
        expect(row.hash).toBe(documentedHash(prev, row));
        prev = row.hash!;
      }
      // The log's own order is the chain's order: the first batch's users come first.
      expect(rows.slice(0, 3).every((r) => r.user_id === "a")).toBe(true);
      expect((await trail().verify()).ok).toBe(true);
    });

    it("retries a batch whose answer was lost as it was: no duplicate, no hole", async () => {
      const real = repository();
      let failOnce = true;
      const flaky: AuditEventsRepository = {
        ...real,
        async insert(rows) {
          await real.insert(rows);
          if (failOnce) {
            failOnce = false;
            throw new Error("the answer was lost");
          }
        },
      };
      const log = open({ repository: flaky });
      await record(log, 3);
      await log.flush(); // committed, but reported as failed
      await record(log, 2);
      await log.flush(); // the same three rows again (skipped by id), then the next two
      const rows = await chainedRows(storage);
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(lost).toEqual([]);
      const result = await trail().verify();
      expect(result.problems).toEqual([]);
      expect(result.chains.map((c) => [c.records, c.firstSeq, c.lastSeq])).toEqual([[5, 1, 5]]);
    });

    it(`ends the chain when a batch is given up after ${MAX_ATTEMPTS} attempts; later events start a new one`, async () => {
      const log = open();
      await record(log, 2, "before");
      await log.flush();
      await rename("audit_events", "audit_events_away");
      await record(log, 1, "lost");
      for (let i = 0; i < MAX_ATTEMPTS; i++) await log.flush();
      expect(lost).toEqual([1]);
      await rename("audit_events_away", "audit_events");
      await record(log, 2, "after");
      await log.flush();
      const rows = await chainedRows(storage);
      const chains = [...new Set(rows.map((r) => r.chain_id))];
      expect(chains).toHaveLength(2);
      const byChain = (user: string) => rows.filter((r) => r.user_id === user);
      expect(byChain("before").map((r) => r.seq)).toEqual([1, 2]);
      expect(byChain("after").map((r) => r.seq)).toEqual([1, 2]);
      expect(byChain("after")[0]!.prev_hash).toBe(ZERO_HASH);
      expect(byChain("before")[0]!.chain_id).not.toBe(byChain("after")[0]!.chain_id);
      const result = await trail().verify();
      expect(result.problems).toEqual([]);
      expect(result.chains).toHaveLength(2);
    });

    it("drops queued events when the queue is full, never a chained one: the chain has no hole", async () => {
      const real = repository();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const stalled: AuditEventsRepository = {
        ...real,
        async insert(rows) {
          await gate;
          return real.insert(rows);
        },
      };
      const log = open({ repository: stalled });
      await record(log, 1, "first");
      const writing = log.flush(); // in flight: the database does not answer
      await new Promise((resolve) => setImmediate(resolve)); // the batch has been taken from the queue
      try {
        await record(log, MAX_PENDING + 7, "queued");
        expect(lost.reduce((a, b) => a + b, 0)).toBe(7);
      } finally {
        release();
      }
      await writing;
      await log.flush();
      const count = await storage.db
        .selectFrom("audit_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(1 + MAX_PENDING);
      const result = await trail().verify();
      expect(result.problems).toEqual([]);
      expect(result.chains.map((c) => [c.firstSeq, c.lastSeq, c.records])).toEqual([
        [1, 1 + MAX_PENDING, 1 + MAX_PENDING],
      ]);
    }, 120_000);

    it("a second log on the same database (a restart) writes its own chain; both verify", async () => {
      const first = open();
      await record(first, 3, "first");
      await first.close();
      const second = open();
      await record(second, 2, "second");
      await second.flush();
      const rows = await chainedRows(storage);
      expect(new Set(rows.map((r) => r.chain_id)).size).toBe(2);
      expect(
        rows.filter((r) => r.user_id === "second").map((r) => [r.seq, r.prev_hash === ZERO_HASH]),
      ).toEqual([
        [1, true],
        [2, false],
      ]);
      const result = await trail().verify();
      expect(result.problems).toEqual([]);
      expect(result.chains).toHaveLength(2);
    });

    it("with the chain turned off, stores unchained rows and signs nothing; verify reports them as unchained", async () => {
      const log = open({ chain: false, checkpoints: { keys, every: 1 } });
      await record(log, 3);
      await log.close();
      const rows = await storage.db.selectFrom("audit_events").selectAll().execute();
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.chain_id === null && r.seq === null && r.hash === null)).toBe(true);
      expect(await checkpoints()).toEqual([]);
      const result = await trail().verify();
      expect(result.ok).toBe(true);
      expect(result.unchained).toBe(3);
      expect(result.notes.join("\n")).toMatch(/3 unchained record\(s\)/);
    });

    it("signs the head every N records and at close; each JWS verifies with jose against the JWKS", async () => {
      const log = signed({ every: 4 });
      await record(log, 4);
      await log.flush();
      await record(log, 5);
      await log.flush();
      await record(log, 2);
      await log.close();
      const rows = await chainedRows(storage);
      const cps = await checkpoints();
      expect(cps.map((c) => c.seq)).toEqual([4, 9, 11]);
      const jwks = createLocalJWKSet(keys.jwks());
      for (const c of cps) {
        const { payload, protectedHeader } = await jwtVerify(c.jws, jwks, {
          typ: "audit-checkpoint+jwt",
          issuer: "https://id.example.test",
        });
        expect(protectedHeader.kid).toBe(keys.signingKey().kid);
        expect(payload.chain_id).toBe(rows[0]!.chain_id);
        expect(payload.seq).toBe(c.seq);
        // The signed hash is the stored record's at that seq.
        expect(payload.hash).toBe(rows.find((r) => r.seq === c.seq)!.hash);
        expect([payload.exp, payload.aud, payload.sub]).toEqual([undefined, undefined, undefined]);
      }
      expect(checkpointErrors).toEqual([]);
      const result = await trail().verify();
      expect(result.problems).toEqual([]);
      expect(result.chains[0]).toMatchObject({ checkpointsVerified: 3, signedSeq: 11, lastSeq: 11 });
    });

    it("signs records waiting for a checkpoint on its timer, without another event", async () => {
      const log = signed({ intervalMs: 50 });
      await record(log, 2);
      await log.flush();
      const deadline = Date.now() + 5000;
      while ((await checkpoints()).length === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect((await checkpoints()).map((c) => c.seq)).toEqual([2]);
    });

    it("a checkpoint that fails is reported and made later; no event is lost", async () => {
      let failures = 1;
      const log = open({
        checkpoints: {
          every: 2,
          keys: {
            signingKey: () => {
              if (failures-- > 0) throw new Error("no key at hand");
              return keys.signingKey();
            },
            resolve: keys.resolve,
          },
          onError: (e) => checkpointErrors.push(e),
        },
      });
      await record(log, 2);
      await log.flush();
      expect(checkpointErrors).toHaveLength(1);
      expect(await checkpoints()).toEqual([]);
      await record(log, 2);
      await log.flush();
      expect((await checkpoints()).map((c) => c.seq)).toEqual([4]);
      expect(lost).toEqual([]);
    });

    it("after a key rotation, signs each chain's newest checkpoint again with the new key (same seq, hash, time)", async () => {
      const old = signed({ every: 1000 });
      await record(old, 3);
      await old.close();
      const [before] = await checkpoints();
      const oldKid = keys.signingKey().kid;
      expect(before!.kid).toBe(oldKid);
      // A checkpoint row that does not verify is never signed again (its chain is otherwise unsigned).
      await repository().insertCheckpoint({ ...before!, id: "forged-1", chain_id: "forged-chain", seq: 9 });
      await keys.rotate({ force: true });
      const newKid = keys.signingKey().kid;
      expect(newKid).not.toBe(oldKid);
      // A running log looks for a key change on its timer.
      signed({ intervalMs: 50 });
      const deadline = Date.now() + 5000;
      while ((await checkpoints()).length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const after = await checkpoints();
      const again = after.filter((c) => c.kid === newKid);
      expect(again).toHaveLength(1);
      expect(again[0]).toMatchObject({
        chain_id: before!.chain_id,
        seq: before!.seq,
        hash: before!.hash,
        at: before!.at,
      });
      expect(decodeProtectedHeader(again[0]!.jws).kid).toBe(newKid);
      // With a JWKS holding only the new key, the old chain is still signed up to its end.
      const onlyNew = { keys: keys.jwks().keys.filter((k) => k.kid === newKid) };
      const payload: CompactVerifyResult = await compactVerify(again[0]!.jws, createLocalJWKSet(onlyNew));
      expect(JSON.parse(new TextDecoder().decode(payload.payload)).hash).toBe(before!.hash);
      const result = await trail().verify({ jwks: onlyNew });
      const chain = result.chains.find((c) => c.chainId === before!.chain_id)!;
      expect(chain).toMatchObject({ signedSeq: 3, checkpointsVerified: 1, checkpointsUnverifiable: 1 });
      expect(chain.problem).toBeUndefined();
    });
  },
);
