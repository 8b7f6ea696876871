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
  type AuditEventRow,
  adminTokensRepository,
  auditEventsRepository,
  type BackgroundWriter,
  type BffSessionRecord,
  bffSessionsRepository,
  compilePredicate,
  type DialectName,
  isUniqueViolation,
  type Predicate,
  type RevocationEventRow,
  revocationEventsRepository,
  type SigningKeyRow,
  type SigningKeyStatus,
  type Storage,
  signingKeysRepository,
} from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

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
    ...overrides,
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
