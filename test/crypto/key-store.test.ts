import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMasterKey, KeyStore, type KeyStoreOptions } from "../../src/crypto/index.js";
import { manualClock } from "../../src/lib/clock.js";
import { KeyError, TokenError } from "../../src/lib/errors.js";
import { type Storage, signingKeys, signingKeysRepository } from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
const MINUTE = 60_000;

describe.each(DIALECTS)("signing keys on %s", (dialect) => {
  let storage: Storage;
  const clock = manualClock(Date.UTC(2026, 5, 1));
  const masterKey = createMasterKey(Buffer.alloc(32, 1));
  let options: KeyStoreOptions;
  let store: KeyStore;

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    options = {
      repository: signingKeysRepository(storage.db),
      masterKey,
      clock,
      jwtMaxLifetime: 3600,
      publishLeadTime: 300,
      rotationInterval: 0,
    };
    store = await KeyStore.open(options);
  });
  afterAll(async () => {
    await storage.close();
  });

  const statusOf = async (alg: string) =>
    (await signingKeys.listSigningKeys(storage.db))
      .filter((r) => r.alg === alg)
      .map((r) => r.status)
      .sort();

  it("first start creates an active and a next key per algorithm, all published", async () => {
    for (const alg of ["EdDSA", "ES256", "RS256"]) expect(await statusOf(alg)).toEqual(["active", "next"]);
    expect(store.jwks().keys).toHaveLength(6);
  });

  it("opening again (another instance) creates no more keys", async () => {
    await KeyStore.open(options);
    expect(await signingKeys.listSigningKeys(storage.db)).toHaveLength(6);
  });

  it("the JWKS never holds a private parameter", () => {
    for (const jwk of store.jwks().keys) {
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(jwk).toMatchObject({ use: "sig" });
      expect(typeof jwk.kid).toBe("string");
    }
  });

  it("private keys are sealed at rest: no PEM, no DER, not readable with another master key", async () => {
    const rows = await signingKeys.listSigningKeys(storage.db);
    for (const row of rows) {
      expect(row.private_key.startsWith("v1.")).toBe(true);
      expect(row.private_key).not.toMatch(/BEGIN|MC4CAQAwBQYDK2Vw/); // PEM / Ed25519 PKCS#8 DER prefix
    }
    await expect(
      KeyStore.open({ ...options, masterKey: createMasterKey(Buffer.alloc(32, 2)) }),
    ).rejects.toBeInstanceOf(KeyError);
  });

  it("signs with the active key and verifies; tokens longer than jwtMaxLifetime are refused", () => {
    const now = Math.floor(clock.now() / 1000);
    for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
      const token = store.sign({ sub: "u", exp: now + 900 }, { typ: "at+jwt", alg });
      const { header, payload } = store.verify(token, { typ: "at+jwt" });
      expect(header.alg).toBe(alg);
      expect(header.kid).toBe(store.signingKey(alg).kid);
      expect(payload.sub).toBe("u");
    }
    expect(() => store.sign({ exp: now + 3601 })).toThrow(RangeError);
  });

  it("refuses to rotate before the next key has been published for the JWKS max-age, and changes nothing", async () => {
    const before = await signingKeys.listSigningKeys(storage.db);
    await expect(store.rotate()).rejects.toMatchObject({ code: "key_rotation_too_soon" });
    expect(await signingKeys.listSigningKeys(storage.db)).toEqual(before);
  });

  it("rotation: next becomes active, the old key retires but stays published until its tokens expire", async () => {
    const oldKid = store.signingKey("EdDSA").kid;
    const nextKid = store.jwks().keys.find((k) => k.alg === "EdDSA" && k.kid !== oldKid)!.kid!;
    clock.advance(5 * MINUTE);
    const oldToken = store.sign({ sub: "old", exp: Math.floor(clock.now() / 1000) + 3600 });
    const [result] = await store.rotate({ alg: "EdDSA" });
    expect(result).toMatchObject({ alg: "EdDSA", rotated: true, activated: nextKid, retired: [oldKid] });
    expect(store.signingKey("EdDSA").kid).toBe(nextKid);
    expect(await statusOf("EdDSA")).toEqual(["active", "next", "retired"]);
    expect(await statusOf("ES256")).toEqual(["active", "next"]);

    // The old key's last token is still good and the key still published...
    clock.advance(59 * MINUTE);
    expect(store.verify(oldToken).payload.sub).toBe("old");
    expect(store.jwks().keys.map((k) => k.kid)).toContain(oldKid);
    // ...until jwtMaxLifetime + 60 s after retirement.
    clock.advance(2 * MINUTE);
    expect(store.jwks().keys.map((k) => k.kid)).not.toContain(oldKid);
    expect(() => store.verify(oldToken)).toThrow(TokenError);
  });

  it("another instance verifies tokens signed with a freshly activated key before it reloads", async () => {
    const other = await KeyStore.open(options);
    clock.advance(10 * MINUTE);
    await store.rotate({ alg: "ES256" });
    const token = store.sign({ sub: "x", exp: Math.floor(clock.now() / 1000) + 60 }, { alg: "ES256" });
    expect(other.verify(token).payload.sub).toBe("x");
    expect(other.signingKey("ES256").kid).not.toBe(store.signingKey("ES256").kid);
    await other.reload();
    expect(other.signingKey("ES256").kid).toBe(store.signingKey("ES256").kid);
  });

  it("expired retired keys are deleted at the next rotation", async () => {
    clock.advance(2 * 3600_000);
    await store.rotate({ alg: "RS256" });
    const rows = await signingKeys.listSigningKeys(storage.db);
    const eddsa = rows.filter((r) => r.alg === "EdDSA").map((r) => r.status);
    expect(eddsa).not.toContain("retired");
  });

  it("concurrent rotations on two instances: exactly one wins, one active key remains", async () => {
    const a = await KeyStore.open(options);
    const b = await KeyStore.open(options);
    clock.advance(10 * MINUTE);
    const outcomes = await Promise.allSettled([a.rotate({ alg: "EdDSA" }), b.rotate({ alg: "EdDSA" })]);
    const winners = outcomes.filter((o) => o.status === "fulfilled" && o.value[0]?.rotated);
    expect(winners).toHaveLength(1);
    // The loser either lost the conditional update, or came second and found a brand-new next key.
    for (const o of outcomes) {
      if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "key_rotation_too_soon" });
    }
    const statuses = await statusOf("EdDSA");
    expect(statuses.filter((s) => s === "active")).toHaveLength(1);
    expect(statuses.filter((s) => s === "next")).toHaveLength(1);
  });

  it("scheduled rotation happens only when the interval has passed", async () => {
    const scheduled = await KeyStore.open({ ...options, rotationInterval: 86400 });
    expect(await scheduled.rotateDue()).toEqual([]);
    clock.advance(86400_000);
    const results = await scheduled.rotateDue();
    expect(results.map((r) => r.alg).sort()).toEqual(["ES256", "EdDSA", "RS256"]);
    expect(await scheduled.rotateDue()).toEqual([]);
  });

  it("a forced rotation activates even a just-published key", async () => {
    const kidBefore = store.signingKey("EdDSA").kid;
    await store.rotate({ alg: "EdDSA", force: true });
    await expect(store.rotate({ alg: "EdDSA" })).rejects.toMatchObject({ code: "key_rotation_too_soon" });
    expect(store.signingKey("EdDSA").kid).not.toBe(kidBefore);
  });
});
