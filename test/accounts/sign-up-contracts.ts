/**
 * The storage contract of the onboarding repositories (pending sign-ups, invitations), run by
 * test/storage/repositories.contract.test.ts on SQLite and PostgreSQL like every other repository: rows read
 * back, conditional updates that win once (also when raced), ordering, paging and expiry boundaries.
 */
import { expect, it } from "vitest";
import {
  type DialectName,
  type InvitationRow,
  invitationsRepository,
  isUniqueViolation,
  type NewPendingSignUpRow,
  pendingSignUpsRepository,
  type Storage,
} from "../../src/storage/index.js";

/** The contract suite's handle: the block's own freshly migrated storage. */
interface Contract {
  dialect: DialectName;
  storage(): Storage;
}

function signUpRow(id: string, overrides: Partial<NewPendingSignUpRow> = {}): NewPendingSignUpRow {
  return {
    id,
    token_hash: `hash-${id}`,
    user_name: `user-${id}`,
    email: `${id}@example.test`,
    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    return_to: null,
    created_at: 1_000,
    expires_at: 9_000_000,
    used_at: null,
    ...overrides,
  };
}

export function pendingSignUpsContract(t: Contract): void {
  const rows = () => pendingSignUpsRepository(t.storage().db);

  it("reads back what it inserted, the attempts default included", async () => {
    await rows().insert(
      signUpRow("su-roundtrip", { return_to: "/authorize/continue?request=x", used_at: 5 }),
    );
    expect(await rows().findByHash("hash-su-roundtrip")).toEqual({
      ...signUpRow("su-roundtrip", { return_to: "/authorize/continue?request=x", used_at: 5 }),
      attempts: 0,
    });
    expect(await rows().findByHash("hash-nobody")).toBeUndefined();
  });

  it("a second row with the same token hash is a unique violation", async () => {
    await rows().insert(signUpRow("su-dup-1", { token_hash: "dup" }));
    const error = await rows()
      .insert(signUpRow("su-dup-2", { token_hash: "dup" }))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("consumes a live link once, also when raced; never an expired or used-up one", async () => {
    await rows().insert(signUpRow("su-race"));
    const raced = await Promise.all([1, 2, 3, 4].map((n) => rows().consume("su-race", 2_000 + n, 5)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    expect((await rows().findByHash("hash-su-race"))?.used_at).toBe(2_000 + 1 + raced.indexOf(true));
    await rows().insert(signUpRow("su-expired", { expires_at: 3_000 }));
    expect(await rows().consume("su-expired", 3_000, 5)).toBe(false);
    expect(await rows().consume("su-expired", 2_999, 5)).toBe(true);
    await rows().insert(signUpRow("su-tries", { attempts: 5 }));
    expect(await rows().consume("su-tries", 2_000, 5)).toBe(false);
    expect(await rows().consume("su-nobody", 1, 5)).toBe(false);
  });

  it("counts failures up to the limit only, and not on a used link", async () => {
    await rows().insert(signUpRow("su-fail"));
    const counted = await Promise.all([1, 2, 3, 4, 5, 6, 7].map(() => rows().countFailure("su-fail", 5)));
    expect(counted.filter(Boolean)).toHaveLength(5);
    expect((await rows().findByHash("hash-su-fail"))?.attempts).toBe(5);
    await rows().insert(signUpRow("su-fail-used", { used_at: 1 }));
    expect(await rows().countFailure("su-fail-used", 5)).toBe(false);
  });

  it("release undoes only the consume made at that time", async () => {
    await rows().insert(signUpRow("su-release"));
    expect(await rows().consume("su-release", 4_000, 5)).toBe(true);
    expect(await rows().release("su-release", 4_001)).toBe(false);
    expect(await rows().release("su-release", 4_000)).toBe(true);
    expect((await rows().findByHash("hash-su-release"))?.used_at).toBeNull();
    expect(await rows().release("su-release", 4_000)).toBe(false);
  });

  it("deletes expired (at or before now) and used links, and counts them", async () => {
    const now = 50_000_000;
    await rows().insert(signUpRow("su-purge-expired", { expires_at: now }));
    await rows().insert(signUpRow("su-purge-used", { expires_at: now + 10, used_at: 1 }));
    await rows().insert(signUpRow("su-purge-live", { expires_at: now + 1 }));
    expect(await rows().deleteExpiredOrUsed(now)).toBeGreaterThanOrEqual(2);
    expect(await rows().findByHash("hash-su-purge-expired")).toBeUndefined();
    expect(await rows().findByHash("hash-su-purge-used")).toBeUndefined();
    expect(await rows().findByHash("hash-su-purge-live")).toBeDefined();
    expect(await rows().deleteExpiredOrUsed(now)).toBe(0);
  });
}

function invitationRow(id: string, overrides: Partial<InvitationRow> = {}): InvitationRow {
  return {
    id,
    token_hash: `hash-${id}`,
    email: `${id}@Example.test`,
    email_key: `${id}@example.test`,
    groups: "[]",
    created_at: 1_000,
    created_by: "admin:test",
    expires_at: 9_000_000,
    accepted_at: null,
    user_id: null,
    revoked_at: null,
    revoked_by: null,
    ...overrides,
  };
}

export function invitationsContract(t: Contract): void {
  const rows = () => invitationsRepository(t.storage().db);

  it("reads back what it inserted, by id and by hash", async () => {
    const row = invitationRow("in-roundtrip", {
      groups: '["g1","g2"]',
      accepted_at: 5,
      user_id: "u-1",
      revoked_at: 6,
      revoked_by: "cli",
    });
    await rows().insert(row);
    expect(await rows().findById("in-roundtrip")).toEqual(row);
    expect(await rows().findByHash("hash-in-roundtrip")).toEqual(row);
    expect(await rows().findById("in-nobody")).toBeUndefined();
    expect(await rows().findByHash("hash-in-nobody")).toBeUndefined();
  });

  it("a second invitation with the same token hash is a unique violation", async () => {
    await rows().insert(invitationRow("in-dup-1", { token_hash: "dup" }));
    const error = await rows()
      .insert(invitationRow("in-dup-2", { token_hash: "dup" }))
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
  });

  it("accepts a pending invitation once, also when raced; never an expired, revoked or accepted one", async () => {
    await rows().insert(invitationRow("in-race"));
    const raced = await Promise.all([1, 2, 3, 4].map((n) => rows().accept("in-race", 2_000 + n)));
    expect(raced.filter(Boolean)).toHaveLength(1);
    await rows().insert(invitationRow("in-expired", { expires_at: 3_000 }));
    expect(await rows().accept("in-expired", 3_000)).toBe(false);
    expect(await rows().accept("in-expired", 2_999)).toBe(true);
    await rows().insert(invitationRow("in-revoked", { revoked_at: 1, revoked_by: "x" }));
    expect(await rows().accept("in-revoked", 2_000)).toBe(false);
    expect(await rows().accept("in-nobody", 2_000)).toBe(false);
  });

  it("accept and revoke racing: exactly one wins", async () => {
    for (let i = 0; i < 5; i++) {
      await rows().insert(invitationRow(`in-versus-${i}`));
      const [accepted, revoked] = await Promise.all([
        rows().accept(`in-versus-${i}`, 2_000),
        rows().revoke(`in-versus-${i}`, 2_000, "admin:x"),
      ]);
      expect(accepted !== revoked).toBe(true);
    }
  });

  it("revokes once; never an accepted invitation", async () => {
    await rows().insert(invitationRow("in-revoke"));
    const raced = await Promise.all(
      [1, 2, 3].map((n) => rows().revoke("in-revoke", 3_000 + n, `admin:${n}`)),
    );
    expect(raced.filter(Boolean)).toHaveLength(1);
    const row = await rows().findById("in-revoke");
    expect(row?.revoked_by).toBe(`admin:${raced.indexOf(true) + 1}`);
    await rows().insert(invitationRow("in-accepted", { accepted_at: 5, user_id: "u" }));
    expect(await rows().revoke("in-accepted", 3_000, "admin:x")).toBe(false);
    // An expired, never accepted invitation may still be revoked.
    await rows().insert(invitationRow("in-old", { expires_at: 2 }));
    expect(await rows().revoke("in-old", 3_000, "admin:x")).toBe(true);
  });

  it("release gives back only an acceptance made at that time and without an account", async () => {
    await rows().insert(invitationRow("in-release"));
    expect(await rows().accept("in-release", 4_000)).toBe(true);
    expect(await rows().release("in-release", 4_001)).toBe(false);
    expect(await rows().release("in-release", 4_000)).toBe(true);
    expect((await rows().findById("in-release"))?.accepted_at).toBeNull();
    expect(await rows().accept("in-release", 4_002)).toBe(true);
    await rows().setUser("in-release", "u-released");
    expect(await rows().release("in-release", 4_002)).toBe(false);
    expect(await rows().findById("in-release")).toMatchObject({ accepted_at: 4_002, user_id: "u-released" });
  });

  it("pages newest first (ties by id), by status judged at `now`, with the filtered total", async () => {
    const storage = t.storage();
    await storage.db.deleteFrom("invitations").execute();
    const now = 100_000;
    const fixtures: InvitationRow[] = [
      invitationRow("p-pending-b", { created_at: 10 }),
      invitationRow("p-pending-a", { created_at: 10 }),
      invitationRow("p-expired", { created_at: 20, expires_at: now }),
      invitationRow("p-accepted", { created_at: 30, accepted_at: 40, user_id: "u" }),
      invitationRow("p-revoked", { created_at: 40, revoked_at: 50, revoked_by: "x" }),
      invitationRow("p-live-edge", { created_at: 50, expires_at: now + 1 }),
    ];
    for (const row of fixtures) await rows().insert(row);
    const ids = async (query: Partial<Parameters<ReturnType<typeof rows>["page"]>[0]>) => {
      const page = await rows().page({ offset: 0, limit: 100, now, ...query });
      return { total: page.total, ids: page.rows.map((r) => r.id) };
    };
    expect(await ids({})).toEqual({
      total: 6,
      ids: ["p-live-edge", "p-revoked", "p-accepted", "p-expired", "p-pending-b", "p-pending-a"],
    });
    expect(await ids({ status: "pending" })).toEqual({
      total: 3,
      ids: ["p-live-edge", "p-pending-b", "p-pending-a"],
    });
    expect(await ids({ status: "expired" })).toEqual({ total: 1, ids: ["p-expired"] });
    expect(await ids({ status: "accepted" })).toEqual({ total: 1, ids: ["p-accepted"] });
    expect(await ids({ status: "revoked" })).toEqual({ total: 1, ids: ["p-revoked"] });
    expect(await ids({ offset: 2, limit: 2 })).toEqual({ total: 6, ids: ["p-accepted", "p-expired"] });
    expect(await ids({ limit: 0 })).toEqual({ total: 6, ids: [] });
  });
}
