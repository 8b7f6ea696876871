/**
 * The storage contract: every repository in src/storage/repositories/ (and the predicate compiler) gives the same
 * answers on SQLite and on PostgreSQL, asserted on what the database really holds afterwards: rows read back,
 * conditional updates that win once (also when raced), ordering, paging, expiry.
 *
 * Adding a repository: write one `function <name>Contract(t: Contract)` below that declares its `it(…)` cases
 * (use `t.storage()`; the block gets its own freshly migrated database, shared by its cases, so give rows
 * distinct ids), and add it to CONTRACTS. It then runs once per dialect, as `<dialect> › <name> › <case>`.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AdminTokenRow,
  type ApiTokenRow,
  type AuditCheckpointRow,
  type AuditEventRow,
  adminTokensRepository,
  apiTokensRepository,
  auditEventsRepository,
  type BackgroundWriter,
  type BffSessionRecord,
  bffSessionsRepository,
  compilePredicate,
  type DialectName,
  type GroupRow,
  groupsRepository,
  isUniqueViolation,
  type NewUserRow,
  type PasswordResetTokenRow,
  type PendingSignInRow,
  type Predicate,
  passwordResetTokensRepository,
  pendingSignInsRepository,
  type RecoveryCodeRow,
  type RevocationEventRow,
  recoveryCodesRepository,
  revocationEventsRepository,
  type ServiceAccountRow,
  type SessionRow,
  type SigningKeyRow,
  type SigningKeyStatus,
  type Storage,
  serviceAccountsRepository,
  sessionsRepository,
  signingKeysRepository,
  type TotpFactorRow,
  totpFactorsRepository,
  type UserEmailRow,
  usersRepository,
  type WebAuthnChallengeRow,
  type WebAuthnCredentialRow,
  webauthnChallengesRepository,
  webauthnCredentialsRepository,
} from "../../src/storage/index.js";
import { administratorsRepository } from "../../src/storage/repositories/administrators.js";
import { invitationsContract, pendingSignUpsContract } from "../accounts/sign-up-contracts.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";
import { ssfStreamsContract } from "./ssf-streams.contract.js";

interface Contract {
  dialect: DialectName;
  /** The block's storage (opened before its first case, closed and dropped after its last). */
  storage(): Storage;
}

const CONTRACTS: Record<string, (t: Contract) => void> = {
  "signing keys": signingKeysContract,
  "admin tokens": adminTokensContract,
  "audit events": auditEventsContract,
  "revocation events": revocationEventsContract,
  "BFF sessions": bffSessionsContract,
  predicates: predicatesContract,
  users: usersContract,
  groups: groupsContract,
  sessions: sessionsContract,
  "password-reset tokens": passwordResetTokensContract,
  "API tokens": apiTokensContract,
  "service accounts": serviceAccountsContract,
  "pending sign-ins": pendingSignInsContract,
  "TOTP factors": totpFactorsContract,
  "recovery codes": recoveryCodesContract,
  "WebAuthn credentials": webauthnCredentialsContract,
  "WebAuthn challenges": webauthnChallengesContract,
  "pending sign-ups": pendingSignUpsContract,
  invitations: invitationsContract,
  "SSF streams": ssfStreamsContract,
};

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    for (const [name, contract] of Object.entries(CONTRACTS)) {
      describe(name, () => {
        let storage: (Storage & { url: string }) | undefined;
        beforeAll(async () => {
          storage = await openTestStorage(dialect);
        });
        afterAll(async () => {
          await storage?.close();
        });
        contract({
          dialect,
          storage: () => {
            if (storage === undefined) throw new Error("the storage is opened in beforeAll");
            return storage;
          },
        });
      });
    }
  });
}

// --- signing keys -------------------------------------------------------------------------------------------

function keyRow(kid: string, status: SigningKeyStatus, createdAt = 1_000): SigningKeyRow {
  return {
    kid,
    alg: "EdDSA",
    status,
    public_jwk: JSON.stringify({ kty: "OKP", kid }),
    private_key: `sealed-${kid}`,
    created_at: createdAt,
    activated_at: status === "active" ? createdAt : null,
    retired_at: null,
    expires_at: null,
  };
}

function signingKeysContract(t: Contract): void {
  const keys = () => signingKeysRepository(t.storage().db);
  const find = async (kid: string) => (await keys().list()).find((r) => r.kid === kid);

  it("reads back what it inserted, every column, times as numbers", async () => {
    const row = { ...keyRow("sk-roundtrip", "retired", Date.UTC(2100, 0, 1)), retired_at: 5, expires_at: 6 };
    await keys().insert(row);
    expect(await find("sk-roundtrip")).toEqual(row);
  });

  it("refuses a second key with the same kid", async () => {
    await keys().insert(keyRow("sk-dup", "next"));
    const error = await keys()
      .insert(keyRow("sk-dup", "next"))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("lists oldest first, ties by kid", async () => {
    const before = (await keys().list()).map((r) => r.kid);
    for (const [kid, created] of [
      ["sk-order-c", 20],
      ["sk-order-b", 10],
      ["sk-order-a", 20],
    ] as const) {
      await keys().insert(keyRow(kid, "next", created));
    }
    const listed = (await keys().list()).map((r) => [r.kid, r.created_at] as const);
    const mine = listed.filter(([kid]) => kid.startsWith("sk-order-")).map(([kid]) => kid);
    expect(mine).toEqual(["sk-order-b", "sk-order-a", "sk-order-c"]);
    const times = listed.map(([, created]) => created);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(listed).toHaveLength(before.length + 3);
  });

  it("a transition wins once; the loser changes nothing", async () => {
    await keys().insert(keyRow("sk-once", "next"));
    expect(await keys().transition({ kid: "sk-once", from: "next", to: "active", at: 2_000 })).toBe(true);
    expect(await keys().transition({ kid: "sk-once", from: "next", to: "active", at: 3_000 })).toBe(false);
    expect(await find("sk-once")).toMatchObject({ status: "active", activated_at: 2_000 });
    expect(await keys().transition({ kid: "sk-missing", from: "next", to: "active", at: 1 })).toBe(false);
  });

  it("concurrent transitions of one key produce exactly one winner", async () => {
    await keys().insert(keyRow("sk-race", "active"));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        keys().transition({ kid: "sk-race", from: "active", to: "retired", at: 4_000 + i, expiresAt: 9_000 }),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const row = await find("sk-race");
    expect(row).toMatchObject({ status: "retired", expires_at: 9_000 });
    expect(row!.retired_at).toBe(4_000 + results.indexOf(true));
  });

  it("retiring without expiresAt expires at the retirement time", async () => {
    await keys().insert(keyRow("sk-retire", "active"));
    expect(await keys().transition({ kid: "sk-retire", from: "active", to: "retired", at: 7_000 })).toBe(
      true,
    );
    expect(await find("sk-retire")).toMatchObject({ retired_at: 7_000, expires_at: 7_000 });
  });

  it("deletes retired keys expired at or before now, and nothing else", async () => {
    const base = 1_000_000;
    await keys().insert({ ...keyRow("sk-exp-past", "retired"), retired_at: 1, expires_at: base - 1 });
    await keys().insert({ ...keyRow("sk-exp-now", "retired"), retired_at: 1, expires_at: base });
    await keys().insert({ ...keyRow("sk-exp-later", "retired"), retired_at: 1, expires_at: base + 1 });
    await keys().insert({ ...keyRow("sk-exp-active", "active"), expires_at: base - 1 });
    const before = await keys().list();
    const deleted = await keys().deleteExpired(base);
    const after = (await keys().list()).map((r) => r.kid);
    // Earlier cases left retired keys expiring at 9 000 and 7 000: those go too.
    const expected = before.filter((r) => r.status === "retired" && (r.expires_at ?? 0) <= base);
    expect(deleted).toBe(expected.length);
    expect(after).not.toContain("sk-exp-past");
    expect(after).not.toContain("sk-exp-now");
    expect(after).toContain("sk-exp-later");
    expect(after).toContain("sk-exp-active");
    expect(await keys().deleteExpired(base)).toBe(0);
  });

  it("a transaction commits its writes together, and rolls all of them back when it throws", async () => {
    await keys().insert(keyRow("sk-tx-next", "next"));
    const committed = await keys().transaction(async (trx) => {
      expect(await trx.transition({ kid: "sk-tx-next", from: "next", to: "active", at: 10 })).toBe(true);
      await trx.insert(keyRow("sk-tx-new", "next"));
      // Inside the transaction, its own writes are visible.
      expect((await trx.list()).map((r) => r.kid)).toContain("sk-tx-new");
      return "done";
    });
    expect(committed).toBe("done");
    expect(await find("sk-tx-next")).toMatchObject({ status: "active" });
    expect(await find("sk-tx-new")).toBeDefined();

    await keys().insert(keyRow("sk-tx-rollback", "next"));
    await expect(
      keys().transaction(async (trx) => {
        await trx.transition({ kid: "sk-tx-rollback", from: "next", to: "active", at: 11 });
        await trx.insert(keyRow("sk-tx-ghost", "next"));
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await find("sk-tx-rollback")).toMatchObject({ status: "next" });
    expect(await find("sk-tx-ghost")).toBeUndefined();
  });

  it("a transaction inside a transaction joins it", async () => {
    await expect(
      keys().transaction(async (trx) => {
        await trx.transaction(async (inner) => inner.insert(keyRow("sk-tx-inner", "next")));
        throw new Error("outer rolls back");
      }),
    ).rejects.toThrow("outer rolls back");
    expect(await find("sk-tx-inner")).toBeUndefined();
  });

  it("racing transactions that both try to promote one key: one wins", async () => {
    await keys().insert(keyRow("sk-tx-race", "next"));
    const attempt = (n: number) =>
      keys().transaction(async (trx) => {
        const won = await trx.transition({ kid: "sk-tx-race", from: "next", to: "active", at: n });
        if (won) await trx.insert(keyRow(`sk-tx-race-successor-${n}`, "next"));
        return won;
      });
    const results = await Promise.all([attempt(1), attempt(2), attempt(3)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const successors = (await keys().list()).filter((r) => r.kid.startsWith("sk-tx-race-successor-"));
    expect(successors).toHaveLength(1);
  });
}

// --- admin tokens -------------------------------------------------------------------------------------------

function adminRow(id: string, createdAt: number, hash = `hash-${id}`): AdminTokenRow {
  return {
    id,
    name: `token ${id}`,
    token_hash: hash,
    created_at: createdAt,
    last_used_at: null,
    revoked_at: null,
  };
}

function adminTokensContract(t: Contract): void {
  const tokens = () => adminTokensRepository(t.storage().db);

  it("finds an active token by its hash, with every column", async () => {
    const row = adminRow("at-find", 100);
    await tokens().insert(row);
    expect(await tokens().findActiveByHash("hash-at-find")).toEqual(row);
    expect(await tokens().findActiveByHash("hash-unknown")).toBeUndefined();
  });

  it("refuses a second token with the same hash", async () => {
    await tokens().insert(adminRow("at-dup-1", 100, "hash-dup"));
    const error = await tokens()
      .insert(adminRow("at-dup-2", 100, "hash-dup"))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("revokes once: the second revocation and an unknown id answer false; revoked tokens are not found", async () => {
    await tokens().insert(adminRow("at-revoke", 100));
    expect(await tokens().revoke("at-revoke", 500)).toBe(true);
    expect(await tokens().revoke("at-revoke", 600)).toBe(false);
    expect(await tokens().revoke("at-nobody", 600)).toBe(false);
    expect(await tokens().findActiveByHash("hash-at-revoke")).toBeUndefined();
    expect((await tokens().list()).find((r) => r.id === "at-revoke")?.revoked_at).toBe(500);
  });

  it("concurrent revocations: exactly one wins", async () => {
    await tokens().insert(adminRow("at-race", 100));
    const results = await Promise.all([1, 2, 3, 4].map((n) => tokens().revoke("at-race", n)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("lists every token, revoked ones included, oldest first", async () => {
    await tokens().insert(adminRow("at-list-late", 9_000));
    await tokens().insert(adminRow("at-list-early", 1));
    const listed = await tokens().list();
    const ids = listed.map((r) => r.id);
    expect(ids.indexOf("at-list-early")).toBeLessThan(ids.indexOf("at-list-late"));
    expect(ids).toContain("at-revoke");
    const times = listed.map((r) => r.created_at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("records last use at most once a minute", async () => {
    await tokens().insert(adminRow("at-touch", 100));
    const lastUsed = async () => (await tokens().list()).find((r) => r.id === "at-touch")!.last_used_at;
    await tokens().touch("at-touch", 1_000_000);
    expect(await lastUsed()).toBe(1_000_000);
    await tokens().touch("at-touch", 1_000_000 + 59_000);
    expect(await lastUsed()).toBe(1_000_000);
    await tokens().touch("at-touch", 1_000_000 + 61_000);
    expect(await lastUsed()).toBe(1_061_000);
  });
}

// --- audit events -------------------------------------------------------------------------------------------

let auditSequence = 0;

/** An audit row whose id sorts after every earlier one (ids are time-ordered in production). */
function auditRow(overrides: Partial<AuditEventRow> = {}): AuditEventRow {
  auditSequence++;
  return {
    id: `${String(auditSequence).padStart(10, "0")}${randomUUID().slice(0, 8)}`,
    at: 1_700_000_000_000 + auditSequence,
    type: "signin.password",
    outcome: "success",
    user_id: null,
    actor: null,
    ip: null,
    user_agent: null,
    details: null,
    chain_id: null,
    seq: null,
    prev_hash: null,
    hash: null,
    ...overrides,
  };
}

/** Rows of chain `chainId` at the given seqs (hashes are opaque to storage: any 64 hex digits). */
function chainedRows(
  chainId: string,
  seqs: number[],
  overrides: Partial<AuditEventRow> = {},
): AuditEventRow[] {
  return seqs.map((seq) =>
    auditRow({
      chain_id: chainId,
      seq,
      prev_hash: String(seq - 1).padStart(64, "0"),
      hash: String(seq).padStart(64, "0"),
      ...overrides,
    }),
  );
}

function checkpointRow(chainId: string, seq: number, kid: string, id = randomUUID()): AuditCheckpointRow {
  return {
    id,
    chain_id: chainId,
    seq,
    hash: String(seq).padStart(64, "0"),
    at: 1_700_000_000_000 + seq,
    kid,
    jws: `jws-${id}`,
  };
}

function auditEventsContract(t: Contract): void {
  const events = (writer?: BackgroundWriter) => auditEventsRepository(t.storage().db, writer);

  it("reads back every column, nulls and times included", async () => {
    const full = auditRow({
      user_id: "ae-u-full",
      type: "user.created",
      outcome: "failure",
      actor: "admin:x",
      ip: "192.0.2.7",
      user_agent: "ua/1",
      details: JSON.stringify({ n: 1 }),
    });
    const bare = auditRow({ user_id: "ae-u-full" });
    await events().insert([full, bare]);
    expect(await events().list({ userId: "ae-u-full", limit: 10 })).toEqual([bare, full]);
  });

  it("lists newest first (by id), filtered by user and type, at most `limit`", async () => {
    const rows = Array.from({ length: 5 }, (_, i) =>
      auditRow({ user_id: "ae-u-list", type: i % 2 ? "signout" : "signin.password" }),
    );
    await events().insert(rows);
    await events().insert([auditRow({ user_id: "ae-u-other" })]);
    const mine = await events().list({ userId: "ae-u-list", limit: 100 });
    expect(mine.map((r) => r.id)).toEqual(rows.map((r) => r.id).reverse());
    const signouts = await events().list({ userId: "ae-u-list", type: "signout", limit: 100 });
    expect(signouts.map((r) => r.id)).toEqual([rows[3]!.id, rows[1]!.id]);
    const newest = await events().list({ limit: 2 });
    expect(newest).toHaveLength(2);
    expect(newest[0]!.id > newest[1]!.id).toBe(true);
  });

  it("skips ids already stored (a retried batch), keeping the first version and the new rows", async () => {
    const first = auditRow({ user_id: "ae-u-retry", actor: "first" });
    await events().insert([first]);
    const second = auditRow({ user_id: "ae-u-retry" });
    await events().insert([{ ...first, actor: "again" }, second]);
    const listed = await events().list({ userId: "ae-u-retry", limit: 10 });
    expect(listed.map((r) => [r.id, r.actor])).toEqual([
      [second.id, null],
      [first.id, "first"],
    ]);
  });

  it("stores a batch of 500 rows in one call", async () => {
    const rows = Array.from({ length: 500 }, () => auditRow({ user_id: "ae-u-batch" }));
    await events().insert(rows);
    const listed = await events().list({ userId: "ae-u-batch", limit: 1000 });
    expect(listed).toHaveLength(500);
  });

  it("hands batches to a background writer that takes them, and writes itself when it cannot", async () => {
    const real = t.storage().backgroundWriter;
    const calls: number[] = [];
    const writer: BackgroundWriter = {
      async write(sql, rows) {
        calls.push(rows.length);
        // Without a real worker (PostgreSQL), the writer cannot take the batch.
        return real ? real.write(sql, rows) : false;
      },
    };
    const rows = [auditRow({ user_id: "ae-u-writer" }), auditRow({ user_id: "ae-u-writer" })];
    await events(writer).insert(rows);
    // A repeat through the writer is skipped too.
    await events(writer).insert([rows[0]!]);
    expect(calls).toEqual([2, 1]);
    expect(await events().list({ userId: "ae-u-writer", limit: 10 })).toEqual([...rows].reverse());
  });

  it("a writer that fails makes the insert fail (the caller retries), writing nothing", async () => {
    const writer: BackgroundWriter = { write: () => Promise.reject(new Error("worker busy")) };
    await expect(events(writer).insert([auditRow({ user_id: "ae-u-fail" })])).rejects.toThrow("worker busy");
    expect(await events().list({ userId: "ae-u-fail", limit: 10 })).toEqual([]);
  });

  it("reads back the chain columns, through the writer too, and a repeat keeps the first version", async () => {
    const rows = chainedRows("ae-c-cols", [1, 2], { user_id: "ae-u-cols" });
    await events(t.storage().backgroundWriter).insert(rows);
    await events().insert([{ ...rows[0]!, hash: "f".repeat(64) }]);
    expect(await events().list({ userId: "ae-u-cols", limit: 10 })).toEqual([...rows].reverse());
    expect((await events().chainPage({ chainId: "ae-c-cols", limit: 10 }))[1]).toEqual(rows[1]);
  });

  it("pages a chain by (seq, id), keeping two rows at one seq, between bounds", async () => {
    const rows = chainedRows("ae-c-page", [1, 2, 3, 4, 5]);
    const twin = auditRow({ ...rows[2]!, id: `${rows[2]!.id}z`, actor: "inserted" });
    await events().insert([...rows.slice().reverse(), twin]);
    await events().insert(chainedRows("ae-c-page-other", [1, 2, 3]));
    const all = await events().chainPage({ chainId: "ae-c-page", limit: 100 });
    expect(all.map((r) => [r.seq, r.id])).toEqual(
      [...rows.slice(0, 3), twin, ...rows.slice(3)].map((r) => [r.seq, r.id]),
    );
    const first = await events().chainPage({ chainId: "ae-c-page", limit: 3 });
    expect(first.map((r) => r.id)).toEqual([rows[0]!.id, rows[1]!.id, rows[2]!.id]);
    const last = first[first.length - 1]!;
    const second = await events().chainPage({
      chainId: "ae-c-page",
      after: { seq: last.seq!, id: last.id },
      limit: 3,
    });
    expect(second.map((r) => r.id)).toEqual([twin.id, rows[3]!.id, rows[4]!.id]);
    const bounded = await events().chainPage({ chainId: "ae-c-page", fromSeq: 2, toSeq: 3, limit: 100 });
    expect(bounded.map((r) => r.id)).toEqual([rows[1]!.id, rows[2]!.id, twin.id]);
  });

  it("sums up chains (extent and count) and the rows matching a filter, per chain", async () => {
    const a = chainedRows("ae-c-sum-a", [1, 2, 3, 4], { type: "signout" });
    a[1]!.type = "user.created";
    const b = chainedRows("ae-c-sum-b", [1, 2]);
    await events().insert([...a, ...b]);
    const chains = (await events().chains()).filter((c) => c.chain_id.startsWith("ae-c-sum-"));
    expect(chains).toEqual([
      { chain_id: "ae-c-sum-a", first_seq: 1, last_seq: 4, count: 4 },
      { chain_id: "ae-c-sum-b", first_seq: 1, last_seq: 2, count: 2 },
    ]);
    const byType = await events().matchingExtents({ types: ["user.created"] });
    expect(byType.filter((e) => e.chain_id.startsWith("ae-c-sum-"))).toEqual([
      { chain_id: "ae-c-sum-a", first_seq: 2, last_seq: 2 },
    ]);
    const byTime = await events().matchingExtents({ since: a[2]!.at, until: b[0]!.at });
    expect(
      byTime
        .filter((e) => e.chain_id.startsWith("ae-c-sum-"))
        .sort((x, y) => x.chain_id.localeCompare(y.chain_id)),
    ).toEqual([
      { chain_id: "ae-c-sum-a", first_seq: 3, last_seq: 4 },
      { chain_id: "ae-c-sum-b", first_seq: 1, last_seq: 1 },
    ]);
  });

  it("finds unchained rows: how many, the first newer than a chained one, and by filter", async () => {
    const before = await events().unchained();
    const legacy = auditRow({ type: "group.created" });
    const chained = chainedRows("ae-c-unchained", [1]);
    const late = auditRow({ type: "group.deleted" });
    await events().insert([legacy, ...chained, late]);
    const after = await events().unchained();
    expect(after.count).toBe(before.count + 2);
    expect(after.newestId! >= late.id).toBe(true);
    expect((await events().unchainedAfter(chained[0]!.id))?.id).toBe(late.id);
    expect(await events().unchainedAfter(late.id)).toBeUndefined();
    expect(await events().firstChainedId()).not.toBeNull();
    const page = await events().unchainedPage({ types: ["group.created", "group.deleted"] }, undefined, 10);
    expect(page.map((r) => r.id)).toEqual([legacy.id, late.id]);
    expect(
      (await events().unchainedPage({ types: ["group.deleted"] }, undefined, 10)).map((r) => r.id),
    ).toEqual([late.id]);
    expect(await events().unchainedPage({ types: ["group.created"] }, legacy.id, 10)).toEqual([]);
  });

  it("stores checkpoints (through the writer too), lists them by seq, and finds each chain's newest", async () => {
    const writer = t.storage().backgroundWriter;
    const first = checkpointRow("ae-k-a", 10, "kid-1");
    const newest = checkpointRow("ae-k-a", 20, "kid-1");
    const again = checkpointRow("ae-k-a", 20, "kid-2");
    const other = checkpointRow("ae-k-b", 5, "kid-1");
    await events(writer).insertCheckpoint(newest);
    await events().insertCheckpoint(first);
    await events().insertCheckpoint(again);
    await events().insertCheckpoint(other);
    await events().insertCheckpoint({ ...other, jws: "changed" }); // a repeat is skipped
    const listed = await events().checkpoints("ae-k-a");
    expect(listed.map((c) => c.seq)).toEqual([10, 20, 20]);
    expect(listed.find((c) => c.id === newest.id)).toEqual(newest);
    const latest = (await events().latestCheckpoints()).filter((c) => c.chain_id.startsWith("ae-k-"));
    expect(latest.map((c) => c.id).sort()).toEqual([newest.id, again.id, other.id].sort());
    expect((await events().checkpoints()).find((c) => c.id === other.id)?.jws).toBe(other.jws);
  });
}

// --- revocation events --------------------------------------------------------------------------------------

function revocationRow(id: string, at: number, keepUntil = at + 60_000): RevocationEventRow {
  return { id, type: id.endsWith("-sub") ? "sub" : "jti", value: `value-${id}`, at, keep_until: keepUntil };
}

function revocationEventsContract(t: Contract): void {
  const feed = () => revocationEventsRepository(t.storage().db);
  // Each case works in its own time range, far from the others'.
  let base = 0;
  const range = () => {
    base += 10_000_000;
    return base;
  };
  const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id);

  it("reads back the events in (at, id) order whatever the insertion order, times as numbers", async () => {
    const t0 = range();
    const rows = [
      revocationRow("re-order-b", t0 + 2),
      revocationRow("re-order-a", t0 + 2),
      revocationRow("re-order-c-sub", t0 + 1),
    ];
    await feed().insert(rows);
    const listed = await feed().list({ now: t0, after: { at: t0, id: "" }, limit: 100 });
    expect(listed).toEqual([
      { id: "re-order-c-sub", type: "sub", value: "value-re-order-c-sub", at: t0 + 1 },
      { id: "re-order-a", type: "jti", value: "value-re-order-a", at: t0 + 2 },
      { id: "re-order-b", type: "jti", value: "value-re-order-b", at: t0 + 2 },
    ]);
    expect(typeof listed[0]!.at).toBe("number");
    await feed().insert([]);
  });

  it("lists only live events: keep_until after now", async () => {
    const t0 = range();
    await feed().insert([
      revocationRow("re-live-gone", t0 + 1, t0 + 100),
      revocationRow("re-live-edge", t0 + 2, t0 + 101),
      revocationRow("re-live-kept", t0 + 3, t0 + 102),
    ]);
    const from = { at: t0, id: "" };
    expect(idsOf(await feed().list({ now: t0 + 100, after: from, limit: 10 }))).toEqual([
      "re-live-edge",
      "re-live-kept",
    ]);
    expect(idsOf(await feed().list({ now: t0 + 101, after: from, limit: 10 }))).toEqual(["re-live-kept"]);
  });

  it("reads strictly after a position; id '' means from that time on", async () => {
    const t0 = range();
    await feed().insert([
      revocationRow("re-pos-a", t0 + 1),
      revocationRow("re-pos-b", t0 + 1),
      revocationRow("re-pos-c", t0 + 2),
    ]);
    const list = (after: { at: number; id: string }) => feed().list({ now: t0, after, limit: 10 });
    expect(idsOf(await list({ at: t0 + 1, id: "" }))).toEqual(["re-pos-a", "re-pos-b", "re-pos-c"]);
    expect(idsOf(await list({ at: t0 + 1, id: "re-pos-a" }))).toEqual(["re-pos-b", "re-pos-c"]);
    expect(idsOf(await list({ at: t0 + 1, id: "re-pos-b" }))).toEqual(["re-pos-c"]);
    expect(idsOf(await list({ at: t0 + 2, id: "re-pos-c" }))).toEqual([]);
  });

  it("pages through many events sharing one millisecond, each exactly once", async () => {
    const t0 = range();
    const ids = Array.from({ length: 57 }, (_, i) => `re-page-${String(i).padStart(3, "0")}`);
    await feed().insert(ids.map((id, i) => revocationRow(id, t0 + 5 + (i % 2))));
    const seen: string[] = [];
    let after = { at: t0, id: "" };
    for (let page = 0; page < 20; page++) {
      const rows = await feed().list({ now: t0, after, limit: 10 });
      seen.push(...idsOf(rows));
      if (rows.length < 10) break;
      const last = rows.at(-1)!;
      after = { at: last.at, id: last.id };
    }
    expect(seen.filter((id) => id.startsWith("re-page-"))).toHaveLength(57);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it("without a position, lists every live event from the start, at most `limit`", async () => {
    const t0 = range();
    await feed().insert([
      revocationRow("re-start-1", t0 + 1),
      revocationRow("re-start-2", t0 + 2),
      revocationRow("re-start-3", t0 + 3),
    ]);
    const all = await feed().list({ now: t0, limit: 100_000 });
    expect(idsOf(all).filter((id) => id.startsWith("re-start-"))).toEqual([
      "re-start-1",
      "re-start-2",
      "re-start-3",
    ]);
    const ats = all.map((r) => r.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    expect(await feed().list({ now: t0, limit: 2 })).toEqual(all.slice(0, 2));
  });

  it("deletes events kept until now or earlier, and counts them", async () => {
    const t0 = range();
    await feed().insert([
      revocationRow("re-purge-old", t0 + 1, t0 + 10),
      revocationRow("re-purge-edge", t0 + 1, t0 + 20),
      revocationRow("re-purge-kept", t0 + 1, t0 + 21),
    ]);
    const live = async () => idsOf(await feed().list({ now: 0, after: { at: t0, id: "" }, limit: 10 }));
    // Everything from earlier cases expires before t0 + 20 too.
    const deleted = await feed().deleteExpired(t0 + 20);
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await live()).toEqual(["re-purge-kept"]);
    expect(await feed().deleteExpired(t0 + 20)).toBe(0);
  });
}

// --- BFF sessions -------------------------------------------------------------------------------------------

function bffSession(idHash: string, overrides: Partial<BffSessionRecord> = {}): BffSessionRecord {
  return {
    idHash,
    sub: "user-1",
    sid: "sid-1",
    claims: JSON.stringify({ sub: "user-1" }),
    accessToken: `sealed-access-${idHash}`,
    refreshToken: `sealed-refresh-${idHash}`,
    idToken: null,
    accessExpiresAt: 2_000_000,
    createdAt: 1_000_000,
    lastSeenAt: 1_000_000,
    expiresAt: 9_000_000,
    generation: 0,
    ...overrides,
  };
}

function bffSessionsContract(t: Contract): void {
  const sessions = () => bffSessionsRepository(t.storage());
  beforeAll(async () => {
    await sessions().migrate();
  });

  it("migrating again changes nothing", async () => {
    await sessions().create(bffSession("bs-migrate"));
    await sessions().migrate();
    expect(await sessions().get("bs-migrate")).toBeDefined();
  });

  it("reads back what it created, nulls and numbers included", async () => {
    const session = bffSession("bs-roundtrip", { sid: null, refreshToken: null, idToken: "sealed-id" });
    await sessions().create(session);
    expect(await sessions().get("bs-roundtrip")).toEqual(session);
    expect(await sessions().get("bs-nobody")).toBeUndefined();
  });

  it("replaces tokens only from the expected generation: once, also when raced", async () => {
    await sessions().create(bffSession("bs-cas"));
    const tokens = (generation: number) => ({
      accessToken: `a${generation}`,
      refreshToken: `r${generation}`,
      idToken: null,
      accessExpiresAt: 3_000_000 + generation,
      claims: "{}",
      generation,
    });
    expect(await sessions().replaceTokens("bs-cas", 0, tokens(1))).toBe(true);
    expect(await sessions().replaceTokens("bs-cas", 0, tokens(1))).toBe(false);
    const raced = await Promise.all([2, 3, 4].map((n) => sessions().replaceTokens("bs-cas", 1, tokens(n))));
    expect(raced.filter(Boolean)).toHaveLength(1);
    const winner = [2, 3, 4][raced.indexOf(true)]!;
    expect(await sessions().get("bs-cas")).toMatchObject({
      accessToken: `a${winner}`,
      accessExpiresAt: 3_000_000 + winner,
      generation: winner,
      createdAt: 1_000_000,
    });
    expect(await sessions().replaceTokens("bs-nobody", 0, tokens(1))).toBe(false);
  });

  it("touch sets the last-seen time", async () => {
    await sessions().create(bffSession("bs-touch"));
    await sessions().touch("bs-touch", 1_500_000);
    expect((await sessions().get("bs-touch"))?.lastSeenAt).toBe(1_500_000);
  });

  it("delete answers the session as it was, once", async () => {
    const session = bffSession("bs-delete");
    await sessions().create(session);
    expect(await sessions().delete("bs-delete")).toEqual(session);
    expect(await sessions().delete("bs-delete")).toBeUndefined();
    expect(await sessions().get("bs-delete")).toBeUndefined();
  });

  it("deletes by sid and by sub, answering exactly the deleted sessions", async () => {
    await sessions().create(bffSession("bs-sid-1", { sid: "sid-x", sub: "sub-x" }));
    await sessions().create(bffSession("bs-sid-2", { sid: "sid-x", sub: "sub-y" }));
    await sessions().create(bffSession("bs-sub-1", { sid: "sid-y", sub: "sub-y" }));
    await sessions().create(bffSession("bs-other", { sid: "sid-z", sub: "sub-z" }));
    const bySid = await sessions().deleteBySid("sid-x");
    expect(bySid.map((s) => s.idHash).sort()).toEqual(["bs-sid-1", "bs-sid-2"]);
    expect(bySid.find((s) => s.idHash === "bs-sid-2")).toEqual(
      bffSession("bs-sid-2", { sid: "sid-x", sub: "sub-y" }),
    );
    expect((await sessions().deleteBySub("sub-y")).map((s) => s.idHash)).toEqual(["bs-sub-1"]);
    expect(await sessions().deleteBySid("sid-x")).toEqual([]);
    expect(await sessions().get("bs-other")).toBeDefined();
  });

  it("purges sessions past their end (at or before now) or idle since before the cut-off", async () => {
    const now = 50_000_000;
    await sessions().create(bffSession("bs-purge-ended", { expiresAt: now, lastSeenAt: now }));
    await sessions().create(bffSession("bs-purge-idle", { expiresAt: now + 1, lastSeenAt: now - 1_001 }));
    await sessions().create(bffSession("bs-purge-edge", { expiresAt: now + 1, lastSeenAt: now - 1_000 }));
    await sessions().create(bffSession("bs-purge-live", { expiresAt: now + 1, lastSeenAt: now }));
    // Earlier cases' sessions end at 9 000 000: they go too.
    const deleted = await sessions().purgeExpired(now, now - 1_000);
    expect(deleted).toBeGreaterThanOrEqual(2);
    expect(await sessions().get("bs-purge-ended")).toBeUndefined();
    expect(await sessions().get("bs-purge-idle")).toBeUndefined();
    expect(await sessions().get("bs-purge-edge")).toBeDefined();
    expect(await sessions().get("bs-purge-live")).toBeDefined();
    expect(await sessions().purgeExpired(now, now - 1_000)).toBe(0);
  });
}

// --- predicates ---------------------------------------------------------------------------------------------

function predicatesContract(t: Contract): void {
  // admin_tokens has a text column (name), a nullable number (last_used_at) and an id to join on.
  const NAMES: Record<string, string> = {
    p1: "Alpha",
    p2: "ALPHA",
    p3: "alpha_1",
    p4: "alphaX1",
    p5: "50% off",
    p6: "Zed",
    p7: "éclair",
    p8: "Éclair",
    p9: "back\\slash",
  };
  beforeAll(async () => {
    const tokens = adminTokensRepository(t.storage().db);
    for (const [id, name] of Object.entries(NAMES)) {
      await tokens.insert({ ...adminRow(id, 1), name, last_used_at: id === "p1" || id === "p6" ? 5 : null });
    }
    // p6 has a key whose kid is its id: the EXISTS case.
    await signingKeysRepository(t.storage().db).insert(keyRow("p6", "next"));
  });

  const select = async (predicate: Predicate): Promise<string[]> => {
    const rows = await t
      .storage()
      .db.selectFrom("admin_tokens")
      .select("id")
      .where(compilePredicate(predicate, t.dialect))
      .execute();
    return rows.map((r) => r.id).sort();
  };
  const name = "admin_tokens.name" as const;

  it("equality is exact; fold lower-cases ASCII only", async () => {
    expect(await select({ kind: "compare", column: name, op: "=", value: "Alpha" })).toEqual(["p1"]);
    expect(await select({ kind: "compare", column: name, op: "=", value: "alpha", fold: true })).toEqual([
      "p1",
      "p2",
    ]);
    expect(await select({ kind: "compare", column: name, op: "=", value: "éclair", fold: true })).toEqual([
      "p7",
    ]);
  });

  it("orders text by code point", async () => {
    // "Z" (U+005A) < "a" (U+0061) < "é" (U+00E9), whatever the database's collation says.
    expect(await select({ kind: "compare", column: name, op: "<", value: "a" })).toEqual([
      "p1",
      "p2",
      "p5",
      "p6",
    ]);
    expect(await select({ kind: "compare", column: name, op: ">", value: "z" })).toEqual(["p7", "p8"]);
  });

  it("matches are case-exact and take %, _ and \\ literally", async () => {
    const match = (op: "contains" | "startsWith" | "endsWith", value: string, fold = false) =>
      select({ kind: "match", column: name, op, value, fold });
    expect(await match("startsWith", "alpha")).toEqual(["p3", "p4"]);
    expect(await match("startsWith", "alpha", true)).toEqual(["p1", "p2", "p3", "p4"]);
    expect(await match("contains", "_")).toEqual(["p3"]);
    expect(await match("contains", "%")).toEqual(["p5"]);
    expect(await match("contains", "\\")).toEqual(["p9"]);
    expect(await match("endsWith", "X1")).toEqual(["p4"]);
    expect(await match("endsWith", "x1", true)).toEqual(["p4"]);
    expect(await match("contains", "")).toEqual(Object.keys(NAMES).sort());
  });

  it("combines with and, or, not, notNull, exists and constants; values stay parameters", async () => {
    const used: Predicate = { kind: "notNull", column: "admin_tokens.last_used_at" };
    expect(await select(used)).toEqual(["p1", "p6"]);
    expect(await select({ kind: "not", predicate: used })).toHaveLength(Object.keys(NAMES).length - 2);
    expect(
      await select({
        kind: "and",
        left: used,
        right: { kind: "compare", column: "admin_tokens.last_used_at", op: ">=", value: 5 },
      }),
    ).toEqual(["p1", "p6"]);
    expect(
      await select({
        kind: "or",
        left: { kind: "false" },
        right: {
          kind: "exists",
          table: "signing_keys",
          link: "signing_keys.kid",
          parent: "admin_tokens.id",
          where: { kind: "true" },
        },
      }),
    ).toEqual(["p6"]);
    expect(await select({ kind: "compare", column: name, op: "=", value: "x' or '1'='1" })).toEqual([]);
    expect(() =>
      compilePredicate({ kind: "compare", column: name, op: "= 1 or 1 =" as "=", value: 1 }, t.dialect),
    ).toThrow(TypeError);
  });
}

// --- users --------------------------------------------------------------------------------------------------

function userRow(id: string, overrides: Partial<NewUserRow> = {}): NewUserRow {
  return {
    id,
    user_name: id,
    user_name_key: id.toLowerCase(),
    external_id: null,
    display_name: null,
    given_name: null,
    family_name: null,
    active: 1,
    password_hash: null,
    password_updated_at: null,
    created_at: 1_000,
    updated_at: 1_000,
    version: 1,
    ...overrides,
  };
}

function emailRow(userId: string, value: string, position: number, primary: 0 | 1 = 0): UserEmailRow {
  return { user_id: userId, value, value_key: value.toLowerCase(), type: null, primary, position };
}

function usersContract(t: Contract): void {
  const users = () => usersRepository(t.storage().db, t.dialect);
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

  it("reads back what it inserted, the table's defaults included, and its e-mails in position order", async () => {
    const row = userRow("u-roundtrip", {
      external_id: "ext-1",
      display_name: "Round Trip",
      given_name: "Round",
      family_name: "Trip",
      password_hash: "$argon2id$stub",
      password_updated_at: 1_500,
      created_at: Date.UTC(2100, 0, 1),
    });
    await users().insert(row, [
      emailRow("u-roundtrip", "second@example.test", 1),
      emailRow("u-roundtrip", "First@Example.test", 0, 1),
    ]);
    expect(await users().findById("u-roundtrip")).toEqual({ ...row, tokens_not_before: 0, mfa_required: 0 });
    expect(await users().findByNameKey("u-roundtrip")).toEqual(await users().findById("u-roundtrip"));
    expect(await users().findById("u-nobody")).toBeUndefined();
    const { emails, groups } = await users().details(["u-roundtrip"]);
    expect(emails).toEqual([
      emailRow("u-roundtrip", "First@Example.test", 0, 1),
      emailRow("u-roundtrip", "second@example.test", 1),
    ]);
    expect(groups).toEqual([]);
    expect(await users().details([])).toEqual({ emails: [], groups: [] });
  });

  it("a second user name key is a unique violation; a failed insert writes neither user nor e-mails", async () => {
    const failure = (promise: Promise<unknown>) => promise.then(() => undefined).catch((e: unknown) => e);
    await users().insert(userRow("u-dup-1", { user_name_key: "dup" }), []);
    const taken = await failure(users().insert(userRow("u-dup-2", { user_name_key: "dup" }), []));
    expect(isUniqueViolation(taken)).toBe(true);
    expect(await users().findById("u-dup-2")).toBeUndefined();
    // The e-mails fail (one address twice), after the user row was written: the transaction takes both back.
    const twice = [
      emailRow("u-dup-3", "twice@example.test", 0),
      emailRow("u-dup-3", "Twice@example.test", 1),
    ];
    expect(isUniqueViolation(await failure(users().insert(userRow("u-dup-3"), twice)))).toBe(true);
    expect(await users().findById("u-dup-3")).toBeUndefined();
    expect(await users().findByEmailKey("twice@example.test")).toEqual([]);
  });

  it("the sign-in look-up answers the same through a prepared query and the default one", async () => {
    await users().insert(userRow("u-signin", { password_hash: "h1", active: 0 }), []);
    const expected = { id: "u-signin", user_name: "u-signin", active: 0, password_hash: "h1" };
    for (const repository of [users(), usersRepository(t.storage().db, t.dialect, t.storage().prepare)]) {
      expect(await repository.findForSignInNow("u-signin")).toEqual(expected);
      expect(await repository.findForSignInNow("u-nobody")).toBeUndefined();
    }
  });

  it("finds users by e-mail key, and their group memberships by group name", async () => {
    await users().insert(userRow("u-mail-a"), [emailRow("u-mail-a", "shared@example.test", 0)]);
    await users().insert(userRow("u-mail-b"), [emailRow("u-mail-b", "Shared@Example.test", 0)]);
    expect(ids(await users().findByEmailKey("shared@example.test")).sort()).toEqual(["u-mail-a", "u-mail-b"]);
    const groups = groupsRepository(t.storage().db, t.dialect);
    await groups.insert(groupRow("g-u-zeta", "Zeta"), ["u-mail-a"]);
    await groups.insert(groupRow("g-u-alpha", "alpha"), ["u-mail-a", "u-mail-b"]);
    const { groups: memberships } = await users().details(["u-mail-a", "u-mail-b"]);
    expect(memberships.filter((m) => m.user_id === "u-mail-a")).toEqual([
      { user_id: "u-mail-a", id: "g-u-alpha", display_name: "alpha" },
      { user_id: "u-mail-a", id: "g-u-zeta", display_name: "Zeta" },
    ]);
    expect(memberships.filter((m) => m.user_id === "u-mail-b").map((m) => m.id)).toEqual(["g-u-alpha"]);
  });

  it("replace wins once from the version read, also when raced, and replaces the e-mails", async () => {
    await users().insert(userRow("u-replace"), [emailRow("u-replace", "old@example.test", 0)]);
    const change = (n: number) => ({
      ...userRow("u-replace", { display_name: `v${n}`, updated_at: 2_000 + n, version: 2 }),
      password_hash: `hash-${n}`,
      password_updated_at: 2_000 + n,
    });
    const { id: _id, created_at: _created, ...replacement } = change(0);
    expect(
      await users().replace("u-replace", 5, replacement, [emailRow("u-replace", "never@example.test", 0)]),
    ).toBe(false);
    const raced = await Promise.all(
      [1, 2, 3].map((n) => {
        const { id: _i, created_at: _c, ...r } = change(n);
        return users().replace("u-replace", 1, r, [emailRow("u-replace", `new-${n}@example.test`, 0)]);
      }),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    const winner = [1, 2, 3][raced.indexOf(true)]!;
    expect(await users().findById("u-replace")).toMatchObject({
      display_name: `v${winner}`,
      password_hash: `hash-${winner}`,
      version: 2,
      created_at: 1_000,
    });
    const { emails } = await users().details(["u-replace"]);
    expect(emails.map((e) => e.value)).toEqual([`new-${winner}@example.test`]);
    expect(await users().replace("u-nobody", 1, replacement, [])).toBe(false);
  });

  it("a replace whose new user name key is taken is a unique violation and changes nothing", async () => {
    await users().insert(userRow("u-taken"), []);
    await users().insert(userRow("u-renamer"), [emailRow("u-renamer", "kept@example.test", 0)]);
    const {
      id: _id,
      created_at: _c,
      ...replacement
    } = userRow("u-renamer", {
      user_name_key: "u-taken",
      version: 2,
    });
    const error = await users()
      .replace("u-renamer", 1, replacement, [])
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await users().findById("u-renamer")).toMatchObject({ user_name_key: "u-renamer", version: 1 });
    expect((await users().details(["u-renamer"])).emails).toHaveLength(1);
  });

  it("setActive and setPasswordHash bump the version; upgradePasswordHash is conditional on the old hash", async () => {
    await users().insert(userRow("u-set", { password_hash: "h0" }), []);
    await users().setActive("u-set", false, 3_000);
    expect(await users().findById("u-set")).toMatchObject({ active: 0, updated_at: 3_000, version: 2 });
    await users().setPasswordHash("u-set", "h1", 4_000);
    expect(await users().findById("u-set")).toMatchObject({
      password_hash: "h1",
      password_updated_at: 4_000,
      updated_at: 4_000,
      version: 3,
    });
    expect(await users().passwordHash("u-set")).toBe("h1");
    expect(await users().passwordHash("u-nobody")).toBeNull();
    expect(await users().upgradePasswordHash("u-set", "h0", "stale")).toBe(false);
    expect(await users().upgradePasswordHash("u-set", "h1", "h2")).toBe(true);
    expect(await users().findById("u-set")).toMatchObject({ password_hash: "h2", version: 3 });
  });

  it("the MFA-required flag reads back, false for an unknown user", async () => {
    await users().insert(userRow("u-mfa"), []);
    expect(await users().mfaRequired("u-mfa")).toBe(false);
    await users().setMfaRequired("u-mfa", true);
    expect(await users().mfaRequired("u-mfa")).toBe(true);
    await users().setMfaRequired("u-mfa", false);
    expect(await users().mfaRequired("u-mfa")).toBe(false);
    expect(await users().mfaRequired("u-nobody")).toBe(false);
  });

  it("pages in creation order (ties by id) with the filtered total; limit 0 reads only the total", async () => {
    // created_at far after every other case's rows, so only these match the filter below.
    const at = 9_000_000;
    for (const [id, created] of [
      ["u-page-c", at],
      ["u-page-b", at + 1],
      ["u-page-a", at],
      ["u-page-d", at + 2],
    ] as const) {
      await users().insert(userRow(id, { created_at: created }), []);
    }
    const where: Predicate = {
      kind: "and",
      left: { kind: "compare", column: "users.created_at", op: ">=", value: at },
      right: { kind: "compare", column: "users.created_at", op: "<=", value: at + 2 },
    };
    const page = (offset: number, limit: number) => users().page({ where, offset, limit });
    expect(await page(0, 10)).toMatchObject({ total: 4 });
    expect(ids((await page(0, 10)).rows)).toEqual(["u-page-a", "u-page-c", "u-page-b", "u-page-d"]);
    expect(ids((await page(1, 2)).rows)).toEqual(["u-page-c", "u-page-b"]);
    expect(await page(4, 2)).toEqual({ total: 4, rows: [] });
    expect(await page(0, 0)).toEqual({ total: 4, rows: [] });
    const all = await users().page({ offset: 0, limit: 1000 });
    expect(all.total).toBe(all.rows.length);
    expect(ids(all.rows)).toContain("u-roundtrip");
  });

  it("delete removes the user and everything that points at it, and nothing of another user", async () => {
    const db = t.storage().db;
    for (const id of ["u-del", "u-keep"]) {
      await users().insert(userRow(id), [emailRow(id, `${id}@example.test`, 0)]);
      await sessionsRepository(db).insert(sessionRow(`s-${id}`, id));
      await passwordResetTokensRepository(db).insert(resetRow(`r-${id}`, id));
      await administratorsRepository(db).insert({ user_id: id, granted_at: 1, granted_by: "test" });
    }
    await groupsRepository(db, t.dialect).insert(groupRow("g-del", "Deleted's group"), ["u-del", "u-keep"]);
    await users().delete("u-del");
    expect(await users().findById("u-del")).toBeUndefined();
    expect(await users().details(["u-del"])).toEqual({ emails: [], groups: [] });
    expect(await sessionsRepository(db).listUnexpired("u-del", 0)).toEqual([]);
    expect(await passwordResetTokensRepository(db).findByHash("r-u-del")).toBeUndefined();
    expect(await administratorsRepository(db).has("u-del")).toBe(false);
    expect((await groupsRepository(db, t.dialect).members(["g-del"])).map((m) => m.id)).toEqual(["u-keep"]);
    expect(await users().findById("u-keep")).toBeDefined();
    expect(await sessionsRepository(db).listUnexpired("u-keep", 0)).toHaveLength(1);
    expect(await passwordResetTokensRepository(db).findByHash("r-u-keep")).toBeDefined();
    expect(await administratorsRepository(db).has("u-keep")).toBe(true);
  });
}

// --- groups -------------------------------------------------------------------------------------------------

function groupRow(id: string, displayName: string, overrides: Partial<GroupRow> = {}): GroupRow {
  return {
    id,
    display_name: displayName,
    display_name_key: displayName.toLowerCase(),
    external_id: null,
    created_at: 1_000,
    updated_at: 1_000,
    version: 1,
    ...overrides,
  };
}

function groupsContract(t: Contract): void {
  const groups = () => groupsRepository(t.storage().db, t.dialect);
  const users = () => usersRepository(t.storage().db, t.dialect);
  beforeAll(async () => {
    for (const name of ["Zoe", "adam", "Bea"]) {
      await users().insert(userRow(`gu-${name}`, { user_name: name, user_name_key: name.toLowerCase() }), []);
    }
  });

  it("reads back what it inserted; members come ordered by user name key", async () => {
    const row = groupRow("g-roundtrip", "Round Trip", {
      external_id: "ext",
      created_at: Date.UTC(2100, 0, 1),
    });
    await groups().insert(row, ["gu-Zoe", "gu-adam", "gu-Bea"]);
    expect(await groups().findById("g-roundtrip")).toEqual(row);
    expect(await groups().findById("g-nobody")).toBeUndefined();
    expect(await groups().members(["g-roundtrip"])).toEqual([
      { group_id: "g-roundtrip", id: "gu-adam", user_name: "adam" },
      { group_id: "g-roundtrip", id: "gu-Bea", user_name: "Bea" },
      { group_id: "g-roundtrip", id: "gu-Zoe", user_name: "Zoe" },
    ]);
    expect(await groups().members([])).toEqual([]);
  });

  it("a second display name key is a unique violation, and writes no members", async () => {
    await groups().insert(groupRow("g-dup-1", "Dup"), []);
    const error = await groups()
      .insert(groupRow("g-dup-2", "DUP"), ["gu-adam"])
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await groups().members(["g-dup-2"])).toEqual([]);
  });

  it("tells which ids are users', across batches of 500", async () => {
    const unknown = Array.from({ length: 1_100 }, (_, i) => `nobody-${i}`);
    const asked = [...unknown.slice(0, 600), "gu-Zoe", ...unknown.slice(600), "gu-Bea"];
    expect([...(await groups().knownUserIds(asked))].sort()).toEqual(["gu-Bea", "gu-Zoe"]);
    expect(await groups().knownUserIds([])).toEqual(new Set());
  });

  it("stores more than one batch of members", async () => {
    const many = Array.from({ length: 1_201 }, (_, i) => `gu-many-${String(i).padStart(4, "0")}`);
    for (const id of many) await users().insert(userRow(id), []);
    await groups().insert(groupRow("g-many", "Many"), many);
    expect((await groups().members(["g-many"])).map((m) => m.id)).toEqual(many);
  });

  it("replace wins once from the version read, also when raced, and replaces the members", async () => {
    await groups().insert(groupRow("g-replace", "Replace"), ["gu-adam"]);
    const change = (n: number) => ({
      display_name: `Replace ${n}`,
      display_name_key: `replace ${n}`,
      external_id: `ext-${n}`,
      updated_at: 2_000 + n,
      version: 2,
    });
    expect(await groups().replace("g-replace", 7, change(0), [])).toBe(false);
    const members = { 1: ["gu-Bea"], 2: ["gu-Zoe"], 3: ["gu-Bea", "gu-Zoe"] } as Record<number, string[]>;
    const raced = await Promise.all(
      [1, 2, 3].map((n) => groups().replace("g-replace", 1, change(n), members[n]!)),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    const winner = [1, 2, 3][raced.indexOf(true)]!;
    expect(await groups().findById("g-replace")).toEqual({
      ...groupRow("g-replace", `Replace ${winner}`),
      ...change(winner),
    });
    expect((await groups().members(["g-replace"])).map((m) => m.id).sort()).toEqual(
      [...members[winner]!].sort(),
    );
    expect(await groups().replace("g-nobody", 1, change(4), [])).toBe(false);
  });

  it("pages in creation order with the filtered total, a membership filter included", async () => {
    const at = 9_000_000;
    await groups().insert(groupRow("g-page-b", "Page B", { created_at: at }), ["gu-adam"]);
    await groups().insert(groupRow("g-page-a", "Page A", { created_at: at }), []);
    await groups().insert(groupRow("g-page-c", "Page C", { created_at: at - 1 }), ["gu-adam"]);
    const page = (where: Predicate, offset = 0, limit = 10) => groups().page({ where, offset, limit });
    const recent: Predicate = {
      kind: "and",
      left: { kind: "compare", column: "groups.created_at", op: ">=", value: at - 1 },
      right: { kind: "compare", column: "groups.created_at", op: "<=", value: at },
    };
    expect(await page(recent)).toMatchObject({ total: 3 });
    expect((await page(recent)).rows.map((r) => r.id)).toEqual(["g-page-c", "g-page-a", "g-page-b"]);
    expect((await page(recent, 1, 1)).rows.map((r) => r.id)).toEqual(["g-page-a"]);
    const withAdam: Predicate = {
      kind: "and",
      left: recent,
      right: {
        kind: "exists",
        table: "group_members",
        link: "group_members.group_id",
        parent: "groups.id",
        where: { kind: "compare", column: "group_members.user_id", op: "=", value: "gu-adam" },
      },
    };
    expect(await page(withAdam, 0, 0)).toEqual({ total: 2, rows: [] });
    expect((await page(withAdam)).rows.map((r) => r.id)).toEqual(["g-page-c", "g-page-b"]);
  });

  it("delete removes the group and its memberships, not the users", async () => {
    await groups().insert(groupRow("g-delete", "Delete"), ["gu-adam", "gu-Bea"]);
    await groups().delete("g-delete");
    expect(await groups().findById("g-delete")).toBeUndefined();
    expect(await groups().members(["g-delete"])).toEqual([]);
    expect(await users().findById("gu-adam")).toBeDefined();
  });
}

// --- sessions -----------------------------------------------------------------------------------------------

function sessionRow(id: string, userId: string, overrides: Partial<SessionRow> = {}): SessionRow {
  return {
    id,
    token_hash: `hash-${id}`,
    user_id: userId,
    created_at: 1_000,
    last_seen_at: 1_000,
    idle_timeout_ms: 1_000_000,
    expires_at: 9_000_000,
    auth_time: 1_000,
    amr: "pwd",
    remember: 0,
    user_agent: null,
    ip: null,
    ...overrides,
  };
}

function sessionsContract(t: Contract): void {
  const sessions = () => sessionsRepository(t.storage().db);
  const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id);
  const user = async (id: string, overrides: Partial<NewUserRow> = {}) =>
    usersRepository(t.storage().db, t.dialect).insert(userRow(id, overrides), []);

  it("finds a session by token hash with its user's fields, through a prepared query or the default one", async () => {
    await user("su-find", { display_name: "Finder" });
    await user("su-inactive", { active: 0 });
    const row = sessionRow("s-find", "su-find", {
      remember: 1,
      user_agent: "ua/1",
      ip: "192.0.2.1",
      amr: "pwd otp",
    });
    await sessions().insert(row);
    await sessions().insert(sessionRow("s-inactive", "su-inactive"));
    for (const repository of [sessions(), sessionsRepository(t.storage().db, t.storage().prepare)]) {
      expect(await repository.findByTokenHash("hash-s-find")).toEqual({
        ...row,
        user_name: "su-find",
        display_name: "Finder",
        active: 1,
      });
      expect(await repository.findByTokenHash("hash-s-inactive")).toMatchObject({
        id: "s-inactive",
        active: 0,
      });
      expect(await repository.findByTokenHash("hash-nobody")).toBeUndefined();
    }
  });

  it("a second session with the same token hash is a unique violation", async () => {
    await user("su-dup");
    await sessions().insert(sessionRow("s-dup-1", "su-dup", { token_hash: "dup" }));
    const error = await sessions()
      .insert(sessionRow("s-dup-2", "su-dup", { token_hash: "dup" }))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("setToken replaces the token (the old hash no longer finds it), with a new authentication when given", async () => {
    await user("su-token");
    await sessions().insert(sessionRow("s-token", "su-token"));
    expect(await sessions().setToken("s-token", { tokenHash: "rotated", lastSeenAt: 2_000 })).toBe(true);
    expect(await sessions().findByTokenHash("hash-s-token")).toBeUndefined();
    expect(await sessions().findByTokenHash("rotated")).toMatchObject({
      last_seen_at: 2_000,
      auth_time: 1_000,
      amr: "pwd",
    });
    expect(
      await sessions().setToken("s-token", {
        tokenHash: "stepped",
        lastSeenAt: 3_000,
        authTime: 3_000,
        amr: "pwd hwk",
      }),
    ).toBe(true);
    expect(await sessions().findByTokenHash("stepped")).toMatchObject({ auth_time: 3_000, amr: "pwd hwk" });
    expect(await sessions().setToken("s-nobody", { tokenHash: "x", lastSeenAt: 1 })).toBe(false);
  });

  it("lists a user's unexpired sessions, most recently seen first", async () => {
    await user("su-list");
    await sessions().insert(sessionRow("s-list-old", "su-list", { last_seen_at: 10 }));
    await sessions().insert(sessionRow("s-list-new", "su-list", { last_seen_at: 30 }));
    await sessions().insert(sessionRow("s-list-mid", "su-list", { last_seen_at: 20 }));
    await sessions().insert(sessionRow("s-list-ended", "su-list", { last_seen_at: 40, expires_at: 5_000 }));
    expect(idsOf(await sessions().listUnexpired("su-list", 5_000))).toEqual([
      "s-list-new",
      "s-list-mid",
      "s-list-old",
    ]);
    expect(idsOf(await sessions().listUnexpired("su-list", 4_999))).toEqual([
      "s-list-ended",
      "s-list-new",
      "s-list-mid",
      "s-list-old",
    ]);
    expect(await sessions().listUnexpired("su-nobody", 0)).toEqual([]);
  });

  it("deletes one session of its user once; others; all — counting what went", async () => {
    await user("su-del");
    await user("su-other");
    for (const id of ["s-del-1", "s-del-2", "s-del-3", "s-del-4"])
      await sessions().insert(sessionRow(id, "su-del"));
    await sessions().insert(sessionRow("s-other", "su-other"));
    expect(await sessions().deleteOne("su-other", "s-del-1")).toBe(false);
    const raced = await Promise.all([1, 2, 3].map(() => sessions().deleteOne("su-del", "s-del-1")));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await sessions().deleteOthers("su-del", "s-del-2")).toBe(2);
    expect(idsOf(await sessions().listUnexpired("su-del", 0))).toEqual(["s-del-2"]);
    expect(await sessions().deleteAll("su-del")).toBe(1);
    expect(await sessions().deleteAll("su-del")).toBe(0);
    expect(idsOf(await sessions().listUnexpired("su-other", 0))).toEqual(["s-other"]);
  });

  it("touch writes later last-seen times only", async () => {
    await user("su-touch");
    await sessions().insert(sessionRow("s-touch-a", "su-touch", { last_seen_at: 5_000 }));
    await sessions().insert(sessionRow("s-touch-b", "su-touch", { last_seen_at: 5_000 }));
    await sessions().touch(
      new Map([
        ["s-touch-a", 6_000],
        ["s-touch-b", 4_000],
        ["s-nobody", 7_000],
      ]),
    );
    const seen = async (id: string) => (await sessions().findByTokenHash(`hash-${id}`))?.last_seen_at;
    expect(await seen("s-touch-a")).toBe(6_000);
    expect(await seen("s-touch-b")).toBe(5_000);
    await sessions().touch([]);
  });

  it("deletes sessions past their absolute or idle end (at or before now), and counts them", async () => {
    await user("su-purge");
    const now = 50_000_000;
    await sessions().insert(sessionRow("s-purge-ended", "su-purge", { expires_at: now, last_seen_at: now }));
    await sessions().insert(
      sessionRow("s-purge-idle", "su-purge", {
        expires_at: now + 10,
        last_seen_at: now - 100,
        idle_timeout_ms: 100,
      }),
    );
    await sessions().insert(
      sessionRow("s-purge-edge", "su-purge", {
        expires_at: now + 10,
        last_seen_at: now - 99,
        idle_timeout_ms: 100,
      }),
    );
    await sessions().insert(
      sessionRow("s-purge-live", "su-purge", { expires_at: now + 1, last_seen_at: now }),
    );
    // Earlier cases' sessions end at 9 000 000: they go too.
    expect(await sessions().deleteExpired(now)).toBeGreaterThanOrEqual(2);
    expect(idsOf(await sessions().listUnexpired("su-purge", 0)).sort()).toEqual([
      "s-purge-edge",
      "s-purge-live",
    ]);
    expect(await sessions().deleteExpired(now)).toBe(0);
  });

  it("a transaction commits its writes together, rolls them back when it throws, and joins an outer one", async () => {
    await user("su-tx");
    await sessions().insert(sessionRow("s-tx-1", "su-tx"));
    await sessions().insert(sessionRow("s-tx-2", "su-tx"));
    const count = await sessions().transaction(async (trx) => {
      expect(await trx.setToken("s-tx-1", { tokenHash: "tx-rotated", lastSeenAt: 2 })).toBe(true);
      // Inside the transaction its own writes are visible, through the look-up too.
      expect(await trx.findByTokenHash("tx-rotated")).toMatchObject({ id: "s-tx-1" });
      return trx.deleteOthers("su-tx", "s-tx-1");
    });
    expect(count).toBe(1);
    expect(idsOf(await sessions().listUnexpired("su-tx", 0))).toEqual(["s-tx-1"]);
    await expect(
      sessions().transaction(async (trx) => {
        await trx.transaction((inner) => inner.deleteAll("su-tx"));
        await trx.touch([["s-tx-1", 9_999]]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await sessions().findByTokenHash("tx-rotated")).toMatchObject({ id: "s-tx-1", last_seen_at: 2 });
  });
}

// --- password-reset tokens ----------------------------------------------------------------------------------

function resetRow(
  hash: string,
  userId: string,
  overrides: Partial<PasswordResetTokenRow> = {},
): PasswordResetTokenRow {
  return {
    token_hash: hash,
    user_id: userId,
    created_at: 1_000,
    expires_at: 9_000_000,
    used_at: null,
    ...overrides,
  };
}

function passwordResetTokensContract(t: Contract): void {
  const links = () => passwordResetTokensRepository(t.storage().db);
  beforeAll(async () => {
    for (const id of ["ru-1", "ru-2"])
      await usersRepository(t.storage().db, t.dialect).insert(userRow(id), []);
  });

  it("reads back what it inserted", async () => {
    const row = resetRow("r-roundtrip", "ru-1", { used_at: 5 });
    await links().insert(row);
    expect(await links().findByHash("r-roundtrip")).toEqual(row);
    expect(await links().findByHash("r-nobody")).toBeUndefined();
  });

  it("consumes a live link once, also when raced; never an expired one", async () => {
    await links().insert(resetRow("r-race", "ru-1"));
    const raced = await Promise.all([1, 2, 3, 4].map((n) => links().consume("r-race", 2_000 + n)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect((await links().findByHash("r-race"))?.used_at).toBe(2_000 + 1 + raced.indexOf(true));
    await links().insert(resetRow("r-expired", "ru-1", { expires_at: 3_000 }));
    expect(await links().consume("r-expired", 3_000)).toBe(false);
    expect(await links().consume("r-expired", 2_999)).toBe(true);
    expect(await links().consume("r-nobody", 1)).toBe(false);
  });

  it("uses up every unused link of a user, keeping earlier use times; deletes all of a user's", async () => {
    await links().insert(resetRow("r-all-1", "ru-2"));
    await links().insert(resetRow("r-all-2", "ru-2", { used_at: 7 }));
    await links().insert(resetRow("r-all-other", "ru-1"));
    await links().useAllOf("ru-2", 4_000);
    expect((await links().findByHash("r-all-1"))?.used_at).toBe(4_000);
    expect((await links().findByHash("r-all-2"))?.used_at).toBe(7);
    expect((await links().findByHash("r-all-other"))?.used_at).toBeNull();
    await links().deleteAllOf("ru-2");
    expect(await links().findByHash("r-all-1")).toBeUndefined();
    expect(await links().findByHash("r-all-other")).toBeDefined();
  });

  it("deletes expired (at or before now) and used links, and counts them", async () => {
    const now = 50_000_000;
    await links().insert(resetRow("r-purge-expired", "ru-1", { expires_at: now }));
    await links().insert(resetRow("r-purge-used", "ru-1", { expires_at: now + 10, used_at: 1 }));
    await links().insert(resetRow("r-purge-live", "ru-1", { expires_at: now + 1 }));
    expect(await links().deleteExpiredOrUsed(now)).toBeGreaterThanOrEqual(2);
    expect(await links().findByHash("r-purge-expired")).toBeUndefined();
    expect(await links().findByHash("r-purge-used")).toBeUndefined();
    expect(await links().findByHash("r-purge-live")).toBeDefined();
    expect(await links().deleteExpiredOrUsed(now)).toBe(0);
  });
}

// --- API tokens ---------------------------------------------------------------------------------------------

function apiTokenRow(id: string, overrides: Partial<ApiTokenRow> = {}): ApiTokenRow {
  return {
    id,
    kind: "personal",
    name: `token ${id}`,
    token_hash: `hash-${id}`,
    user_id: "tu-owner",
    service_account_id: null,
    scope: "tessera:scim",
    resources: "[]",
    allowed_ips: null,
    expires_at: null,
    created_at: 1_000,
    created_by: "test",
    last_used_at: null,
    last_used_ip: null,
    revoked_at: null,
    revoked_reason: null,
    ...overrides,
  };
}

function apiTokensContract(t: Contract): void {
  const tokens = () => apiTokensRepository(t.storage().db);
  const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id);

  it("reads back what it inserted, by hash and by id", async () => {
    const row = apiTokenRow("tk-roundtrip", {
      kind: "service",
      user_id: null,
      service_account_id: "sa-1",
      resources: '["https://api.example.test"]',
      allowed_ips: '["192.0.2.0/24"]',
      expires_at: Date.UTC(2100, 0, 1),
      last_used_at: 5,
      last_used_ip: "192.0.2.9",
      revoked_at: 6,
      revoked_reason: "revoked",
    });
    await tokens().insert(row);
    expect(await tokens().findByHash("hash-tk-roundtrip")).toEqual(row);
    expect(await tokens().findById("tk-roundtrip")).toEqual(row);
    expect(await tokens().findByHash("hash-nobody")).toBeUndefined();
    expect(await tokens().findById("tk-nobody")).toBeUndefined();
  });

  it("a second token with the same hash is a unique violation", async () => {
    await tokens().insert(apiTokenRow("tk-dup-1", { token_hash: "dup" }));
    const error = await tokens()
      .insert(apiTokenRow("tk-dup-2", { token_hash: "dup" }))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("lists newest first (ties by id), by kind and by owner, user or service account", async () => {
    await tokens().insert(apiTokenRow("tk-list-b", { user_id: "tu-list", created_at: 20 }));
    await tokens().insert(apiTokenRow("tk-list-a", { user_id: "tu-list", created_at: 20 }));
    await tokens().insert(apiTokenRow("tk-list-c", { user_id: "tu-list", created_at: 30 }));
    await tokens().insert(
      apiTokenRow("tk-list-svc", {
        kind: "service",
        user_id: null,
        service_account_id: "tu-list",
        created_at: 10,
      }),
    );
    expect(idsOf(await tokens().list({ ownerId: "tu-list" }))).toEqual([
      "tk-list-c",
      "tk-list-a",
      "tk-list-b",
      "tk-list-svc",
    ]);
    expect(idsOf(await tokens().list({ ownerId: "tu-list", kind: "service" }))).toEqual(["tk-list-svc"]);
    const all = await tokens().list({});
    expect(idsOf(all)).toContain("tk-roundtrip");
    const times = all.map((r) => r.created_at);
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it("revokes each live token once, also when raced; counts only what this call revoked", async () => {
    for (const id of ["tk-rev-1", "tk-rev-2", "tk-rev-3"])
      await tokens().insert(apiTokenRow(id, { user_id: "tu-rev" }));
    await tokens().insert(
      apiTokenRow("tk-rev-svc", { kind: "service", user_id: null, service_account_id: "tu-rev" }),
    );
    expect((await tokens().liveIdsOf("tu-rev")).sort()).toEqual([
      "tk-rev-1",
      "tk-rev-2",
      "tk-rev-3",
      "tk-rev-svc",
    ]);
    expect(await tokens().revoke(["tk-rev-1"], 500, "revoked")).toBe(1);
    const raced = await Promise.all(
      [1, 2, 3].map((n) => tokens().revoke(["tk-rev-1", "tk-rev-2", "tk-rev-3"], 600 + n, "leaked")),
    );
    expect(raced.reduce((a, b) => a + b, 0)).toBe(2);
    expect(await tokens().findById("tk-rev-1")).toMatchObject({ revoked_at: 500, revoked_reason: "revoked" });
    expect(await tokens().findById("tk-rev-2")).toMatchObject({ revoked_reason: "leaked" });
    expect(await tokens().liveIdsOf("tu-rev")).toEqual(["tk-rev-svc"]);
    expect(await tokens().revoke([], 1, "x")).toBe(0);
    expect(await tokens().revoke(["tk-nobody"], 1, "x")).toBe(0);
  });

  it("names the owners of tokens", async () => {
    const owners = await tokens().owners(["tk-rev-1", "tk-rev-svc", "tk-nobody"]);
    expect(owners.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: "tk-rev-1", user_id: "tu-rev", kind: "personal", service_account_id: null },
      { id: "tk-rev-svc", user_id: null, kind: "service", service_account_id: "tu-rev" },
    ]);
    expect(await tokens().owners([])).toEqual([]);
  });

  it("records last use, keeping the stored address when none is given", async () => {
    await tokens().insert(apiTokenRow("tk-use"));
    await tokens().recordUse("tk-use", { at: 1_000_000, ip: "192.0.2.1" });
    expect(await tokens().findById("tk-use")).toMatchObject({
      last_used_at: 1_000_000,
      last_used_ip: "192.0.2.1",
    });
    await tokens().recordUse("tk-use", { at: 2_000_000, ip: null });
    expect(await tokens().findById("tk-use")).toMatchObject({
      last_used_at: 2_000_000,
      last_used_ip: "192.0.2.1",
    });
  });

  it("answers what tokens name: a resource server's scopes, a user owner, a service-account owner", async () => {
    const db = t.storage().db;
    await db
      .insertInto("resource_servers")
      .values({ audience: "https://api.example.test", name: "API", scope: "read write", created_at: 1 })
      .execute();
    expect(await tokens().resourceServerScope("https://api.example.test")).toBe("read write");
    expect(await tokens().resourceServerScope("https://nobody.example.test")).toBeUndefined();
    await usersRepository(db, t.dialect).insert(userRow("tu-owner", { user_name: "Owner", active: 0 }), []);
    expect(await tokens().userOwner("tu-owner")).toEqual({ user_name: "Owner", active: 0 });
    expect(await tokens().userOwner("tu-nobody")).toBeUndefined();
    await serviceAccountsRepository(db).insert(
      serviceAccountRow("tsa-owner", "Deployer", { disabled_at: 9 }),
    );
    expect(await tokens().serviceAccountOwner("tsa-owner")).toEqual({ name: "Deployer", disabled_at: 9 });
    expect(await tokens().serviceAccountOwner("tsa-nobody")).toBeUndefined();
  });
}

// --- service accounts ---------------------------------------------------------------------------------------

function serviceAccountRow(
  id: string,
  name: string,
  overrides: Partial<ServiceAccountRow> = {},
): ServiceAccountRow {
  return {
    id,
    name,
    name_key: name.toLowerCase(),
    description: null,
    owner_user_id: null,
    owner_group_id: null,
    created_at: 1_000,
    disabled_at: null,
    ...overrides,
  };
}

function serviceAccountsContract(t: Contract): void {
  const accounts = () => serviceAccountsRepository(t.storage().db);

  it("reads back what it inserted, by id and by name key", async () => {
    const row = serviceAccountRow("sa-roundtrip", "Round Trip", {
      description: "d",
      owner_user_id: "u",
      owner_group_id: "g",
      created_at: Date.UTC(2100, 0, 1),
    });
    await accounts().insert(row);
    expect(await accounts().findById("sa-roundtrip")).toEqual(row);
    expect(await accounts().findByNameKey("round trip")).toEqual(row);
    expect(await accounts().findById("sa-nobody")).toBeUndefined();
    expect(await accounts().findByNameKey("nobody")).toBeUndefined();
  });

  it("a second name key is a unique violation", async () => {
    await accounts().insert(serviceAccountRow("sa-dup-1", "Dup"));
    const error = await accounts()
      .insert(serviceAccountRow("sa-dup-2", "DUP"))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("lists by name key", async () => {
    await accounts().insert(serviceAccountRow("sa-list-1", "zz last"));
    await accounts().insert(serviceAccountRow("sa-list-2", "AA first"));
    const keys = (await accounts().list()).map((r) => r.name_key);
    expect(keys[0]).toBe("aa first");
    expect(keys.at(-1)).toBe("zz last");
    expect(keys).toEqual([...keys].sort());
  });

  it("disables and deletes", async () => {
    await accounts().insert(serviceAccountRow("sa-life", "Life"));
    await accounts().disable("sa-life", 4_000);
    expect((await accounts().findById("sa-life"))?.disabled_at).toBe(4_000);
    await accounts().delete("sa-life");
    expect(await accounts().findById("sa-life")).toBeUndefined();
    await accounts().delete("sa-life");
  });

  it("tells whether an owning user or group exists", async () => {
    await usersRepository(t.storage().db, t.dialect).insert(userRow("sau-owner"), []);
    await groupsRepository(t.storage().db, t.dialect).insert(groupRow("sag-owner", "Owners"), []);
    expect(await accounts().userExists("sau-owner")).toBe(true);
    expect(await accounts().userExists("sag-owner")).toBe(false);
    expect(await accounts().groupExists("sag-owner")).toBe(true);
    expect(await accounts().groupExists("sau-owner")).toBe(false);
  });
}

// --- pending sign-ins ---------------------------------------------------------------------------------------

function pendingRow(hash: string, overrides: Partial<PendingSignInRow> = {}): PendingSignInRow {
  return {
    token_hash: hash,
    user_id: "pu-1",
    amr: "pwd",
    auth_time: 1_000,
    stage: "verify",
    remember: 0,
    return_to: null,
    attempts: 0,
    expires_at: 9_000_000,
    ...overrides,
  };
}

function pendingSignInsContract(t: Contract): void {
  const pending = () => pendingSignInsRepository(t.storage().db);

  it("reads back what it inserted", async () => {
    const row = pendingRow("p-roundtrip", {
      stage: "enrol",
      remember: 1,
      return_to: "/account",
      attempts: 2,
    });
    await pending().insert(row);
    expect(await pending().findByHash("p-roundtrip")).toEqual(row);
    expect(await pending().findByHash("p-nobody")).toBeUndefined();
  });

  it("counts failures below the limit only, also when raced", async () => {
    await pending().insert(pendingRow("p-fail"));
    const raced = await Promise.all(Array.from({ length: 6 }, () => pending().countFailure("p-fail", 4)));
    expect(raced.filter(Boolean)).toHaveLength(4);
    expect((await pending().findByHash("p-fail"))?.attempts).toBe(4);
    expect(await pending().countFailure("p-fail", 4)).toBe(false);
    expect(await pending().countFailure("p-nobody", 4)).toBe(false);
  });

  it("moves to another stage, and deletes", async () => {
    await pending().insert(pendingRow("p-stage", { stage: "enrol" }));
    await pending().setStage("p-stage", "verify");
    expect((await pending().findByHash("p-stage"))?.stage).toBe("verify");
    await pending().delete("p-stage");
    expect(await pending().findByHash("p-stage")).toBeUndefined();
  });

  it("is taken once, also when raced, and never once expired", async () => {
    await pending().insert(pendingRow("p-take"));
    const raced = await Promise.all([1, 2, 3].map(() => pending().take("p-take", 5_000)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await pending().findByHash("p-take")).toBeUndefined();
    await pending().insert(pendingRow("p-take-late", { expires_at: 6_000 }));
    expect(await pending().take("p-take-late", 6_000)).toBe(false);
    expect(await pending().take("p-take-late", 5_999)).toBe(true);
  });

  it("deletes those expired at or before now, and counts them", async () => {
    const now = 50_000_000;
    await pending().insert(pendingRow("p-purge-past", { expires_at: now - 1 }));
    await pending().insert(pendingRow("p-purge-now", { expires_at: now }));
    await pending().insert(pendingRow("p-purge-later", { expires_at: now + 1 }));
    expect(await pending().deleteExpired(now)).toBeGreaterThanOrEqual(2);
    expect(await pending().findByHash("p-purge-now")).toBeUndefined();
    expect(await pending().findByHash("p-purge-later")).toBeDefined();
    expect(await pending().deleteExpired(now)).toBe(0);
  });
}

// --- TOTP factors -------------------------------------------------------------------------------------------

function totpRow(userId: string, overrides: Partial<TotpFactorRow> = {}): TotpFactorRow {
  return {
    user_id: userId,
    secret_sealed: `sealed-${userId}`,
    created_at: 1_000,
    confirmed_at: null,
    last_step: null,
    ...overrides,
  };
}

function totpFactorsContract(t: Contract): void {
  const factors = () => totpFactorsRepository(t.storage().db);

  it("inserts once per user, also when raced; reads back what won", async () => {
    const raced = await Promise.all(
      [1, 2, 3].map((n) => factors().insertIfAbsent(totpRow("tf-insert", { secret_sealed: `s${n}` }))),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    const winner = [1, 2, 3][raced.indexOf(true)]!;
    expect(await factors().find("tf-insert")).toEqual(totpRow("tf-insert", { secret_sealed: `s${winner}` }));
    expect(await factors().find("tf-nobody")).toBeUndefined();
  });

  it("replaces the sealed value only from the value read, once when raced", async () => {
    await factors().insertIfAbsent(totpRow("tf-cas", { secret_sealed: "v0" }));
    expect(await factors().replaceSealed("tf-cas", "other", { secret_sealed: "never" })).toBe(false);
    const raced = await Promise.all(
      [1, 2, 3].map((n) =>
        factors().replaceSealed("tf-cas", "v0", {
          secret_sealed: `v${n}`,
          confirmed_at: 100 + n,
          last_step: n,
        }),
      ),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    const winner = [1, 2, 3][raced.indexOf(true)]!;
    expect(await factors().find("tf-cas")).toEqual(
      totpRow("tf-cas", { secret_sealed: `v${winner}`, confirmed_at: 100 + winner, last_step: winner }),
    );
    expect(await factors().hasConfirmed("tf-cas")).toBe(true);
    expect(await factors().hasConfirmed("tf-insert")).toBe(false);
    expect(await factors().hasConfirmed("tf-nobody")).toBe(false);
  });

  it("accepts a step once, only later steps after it, only for the factor confirmed at that time", async () => {
    await factors().insertIfAbsent(totpRow("tf-step", { confirmed_at: 500 }));
    const raced = await Promise.all([1, 2, 3].map(() => factors().acceptStep("tf-step", 500, 10)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await factors().acceptStep("tf-step", 500, 9)).toBe(false);
    expect(await factors().acceptStep("tf-step", 501, 11)).toBe(false);
    expect(await factors().acceptStep("tf-step", 500, 11)).toBe(true);
    expect((await factors().find("tf-step"))?.last_step).toBe(11);
  });

  it("deletes once", async () => {
    await factors().insertIfAbsent(totpRow("tf-delete"));
    expect(await factors().delete("tf-delete")).toBe(true);
    expect(await factors().delete("tf-delete")).toBe(false);
    expect(await factors().find("tf-delete")).toBeUndefined();
  });
}

// --- recovery codes -----------------------------------------------------------------------------------------

function recoveryRows(userId: string, set: string, count = 3): RecoveryCodeRow[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${userId}-${set}-${i}`,
    user_id: userId,
    code_hash: `${userId}-${set}-hash-${i}`,
    created_at: 1_000,
    used_at: null,
  }));
}

function recoveryCodesContract(t: Contract): void {
  const codes = () => recoveryCodesRepository(t.storage().db);
  beforeAll(async () => {
    for (const id of ["rc-1", "rc-2", "rc-race"]) {
      await usersRepository(t.storage().db, t.dialect).insert(userRow(id), []);
    }
  });

  it("replaces a user's whole set, answering how many codes went; others' stay", async () => {
    expect(await codes().replaceAll("rc-1", recoveryRows("rc-1", "a"))).toBe(0);
    await codes().replaceAll("rc-2", recoveryRows("rc-2", "a", 2));
    expect(await codes().countUnused("rc-1")).toBe(3);
    expect(await codes().replaceAll("rc-1", recoveryRows("rc-1", "b", 4))).toBe(3);
    expect(await codes().countUnused("rc-1")).toBe(4);
    expect(await codes().consume("rc-1", "rc-1-a-hash-0", 1)).toBe(false);
    expect(await codes().countUnused("rc-2")).toBe(2);
  });

  it("concurrent replacements leave exactly one set", async () => {
    await Promise.all(
      ["x", "y", "z"].map((set) => codes().replaceAll("rc-race", recoveryRows("rc-race", set, 5))),
    );
    expect(await codes().countUnused("rc-race")).toBe(5);
    const rows = await t
      .storage()
      .db.selectFrom("recovery_codes")
      .select("id")
      .where("user_id", "=", "rc-race")
      .execute();
    expect(new Set(rows.map((r) => r.id.split("-")[2])).size).toBe(1);
  });

  it("consumes a code once, also when raced; only the user's own", async () => {
    expect(await codes().consume("rc-2", "rc-1-b-hash-0", 5)).toBe(false);
    const raced = await Promise.all([1, 2, 3].map((n) => codes().consume("rc-1", "rc-1-b-hash-0", n)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await codes().countUnused("rc-1")).toBe(3);
    expect(await codes().consume("rc-1", "rc-nobody", 5)).toBe(false);
  });

  it("deletes every code of a user", async () => {
    await codes().deleteAll("rc-1");
    expect(await codes().countUnused("rc-1")).toBe(0);
    expect(await codes().countUnused("rc-2")).toBe(2);
    expect(await codes().countUnused("rc-nobody")).toBe(0);
  });
}

// --- WebAuthn credentials -----------------------------------------------------------------------------------

function credentialRow(
  id: string,
  userId: string,
  overrides: Partial<WebAuthnCredentialRow> = {},
): WebAuthnCredentialRow {
  return {
    id,
    user_id: userId,
    name: `key ${id.slice(0, 32)}`,
    public_key: `pk-${id}`,
    counter: 0,
    transports: '["usb"]',
    aaguid: "00000000-0000-0000-0000-000000000000",
    device_type: "singleDevice",
    backed_up: 0,
    discoverable: 0,
    created_at: 1_000,
    last_used_at: null,
    ...overrides,
  };
}

function webauthnCredentialsContract(t: Contract): void {
  const credentials = () => webauthnCredentialsRepository(t.storage().db);

  it("reads back what it inserted; a known id is refused", async () => {
    const row = credentialRow("wc-roundtrip-".padEnd(1_200, "x"), "wu-1", {
      counter: 7,
      backed_up: 1,
      discoverable: 1,
      device_type: "multiDevice",
      last_used_at: 5,
      created_at: Date.UTC(2100, 0, 1),
    });
    await credentials().insert(row);
    expect(await credentials().findById(row.id)).toEqual(row);
    expect(await credentials().exists(row.id)).toBe(true);
    expect(await credentials().exists("wc-nobody")).toBe(false);
    expect(await credentials().findById("wc-nobody")).toBeUndefined();
    const error = await credentials()
      .insert(credentialRow(row.id, "wu-2"))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("lists a user's credentials oldest first (ties by id), and counts them", async () => {
    await credentials().insert(credentialRow("wc-list-b", "wu-list", { created_at: 20 }));
    await credentials().insert(credentialRow("wc-list-a", "wu-list", { created_at: 20 }));
    await credentials().insert(credentialRow("wc-list-c", "wu-list", { created_at: 10 }));
    expect((await credentials().listOf("wu-list")).map((r) => r.id)).toEqual([
      "wc-list-c",
      "wc-list-a",
      "wc-list-b",
    ]);
    expect(await credentials().countOf("wu-list")).toBe(3);
    expect(await credentials().countOf("wu-nobody")).toBe(0);
    expect(await credentials().listOf("wu-nobody")).toEqual([]);
  });

  it("a counted assertion advances the counter once, also when raced; never backwards", async () => {
    await credentials().insert(credentialRow("wc-count", "wu-1", { counter: 5 }));
    const assertion = (counter: number, at: number) => ({ counter, counted: true, at, backedUp: 1 as const });
    expect(await credentials().recordAssertion("wc-count", assertion(5, 1))).toBe(false);
    const raced = await Promise.all(
      [1, 2, 3].map((n) => credentials().recordAssertion("wc-count", assertion(6, n))),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await credentials().findById("wc-count")).toMatchObject({
      counter: 6,
      last_used_at: 1 + raced.indexOf(true),
      backed_up: 1,
    });
    expect(await credentials().recordAssertion("wc-count", assertion(9, 10))).toBe(true);
    expect(await credentials().recordAssertion("wc-nobody", assertion(9, 10))).toBe(false);
  });

  it("an uncounted assertion passes only while the stored counter is 0", async () => {
    await credentials().insert(credentialRow("wc-zero", "wu-1"));
    const zero = { counter: 0, counted: false, at: 50, backedUp: 0 as const };
    expect(await credentials().recordAssertion("wc-zero", zero)).toBe(true);
    expect(await credentials().recordAssertion("wc-zero", zero)).toBe(true);
    expect((await credentials().findById("wc-zero"))?.last_used_at).toBe(50);
    await credentials().recordAssertion("wc-zero", { counter: 3, counted: true, at: 60, backedUp: 0 });
    expect(await credentials().recordAssertion("wc-zero", zero)).toBe(false);
  });

  it("renames and deletes only the owner's credential", async () => {
    await credentials().insert(credentialRow("wc-own", "wu-owner"));
    expect(await credentials().rename("wu-other", "wc-own", "stolen")).toBe(false);
    expect(await credentials().rename("wu-owner", "wc-own", "Mine")).toBe(true);
    expect((await credentials().findById("wc-own"))?.name).toBe("Mine");
    expect(await credentials().delete("wu-other", "wc-own")).toBe(false);
    expect(await credentials().delete("wu-owner", "wc-own")).toBe(true);
    expect(await credentials().delete("wu-owner", "wc-own")).toBe(false);
    expect(await credentials().exists("wc-own")).toBe(false);
  });
}

// --- WebAuthn challenges ------------------------------------------------------------------------------------

function challengeRow(id: string, overrides: Partial<WebAuthnChallengeRow> = {}): WebAuthnChallengeRow {
  return {
    id,
    user_id: "cu-1",
    purpose: "authenticate",
    challenge: `challenge-${id}`,
    expires_at: 9_000_000,
    ...overrides,
  };
}

function webauthnChallengesContract(t: Contract): void {
  const challenges = () => webauthnChallengesRepository(t.storage().db);

  it("is consumed once, also when raced, and only for its purpose and user", async () => {
    await challenges().insert(challengeRow("wch-once"));
    expect(await challenges().consume("wch-once", "register", "cu-1", 1)).toBe(false);
    expect(await challenges().consume("wch-once", "authenticate", "cu-2", 1)).toBe(false);
    expect(await challenges().consume("wch-once", "authenticate", null, 1)).toBe(false);
    const raced = await Promise.all(
      [1, 2, 3].map(() => challenges().consume("wch-once", "authenticate", "cu-1", 1)),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect(await challenges().consume("wch-once", "authenticate", "cu-1", 1)).toBe(false);
  });

  it("a passwordless challenge has no user: only a null user consumes it", async () => {
    await challenges().insert(challengeRow("wch-null", { user_id: null, purpose: "passwordless" }));
    expect(await challenges().consume("wch-null", "passwordless", "cu-1", 1)).toBe(false);
    expect(await challenges().consume("wch-null", "passwordless", null, 1)).toBe(true);
  });

  it("is not consumed once expired; expired ones are deleted and counted", async () => {
    const now = 50_000_000;
    await challenges().insert(challengeRow("wch-edge", { expires_at: now }));
    expect(await challenges().consume("wch-edge", "authenticate", "cu-1", now)).toBe(false);
    await challenges().insert(challengeRow("wch-later", { expires_at: now + 1 }));
    await challenges().insert(challengeRow("wch-past", { expires_at: now - 1 }));
    expect(await challenges().deleteExpired(now)).toBe(2);
    expect(await challenges().consume("wch-later", "authenticate", "cu-1", now)).toBe(true);
    expect(await challenges().deleteExpired(now)).toBe(0);
  });
}
