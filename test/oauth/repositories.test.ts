/**
 * The OAuth repositories (src/storage/repositories/, built by `oauthRepositories`) on SQLite and PostgreSQL,
 * asserted on what the database holds afterwards: the conditional writes that must win once (refresh rotation,
 * code redemption and issuance, device answers and redemption, replay records, limited initial tokens),
 * including the dialect-specific rotation statement under concurrency.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DialectName, Storage } from "../../src/storage/index.js";
import type { AuthorizationCodeRow } from "../../src/storage/repositories/authorization-codes.js";
import type { DeviceCodeRow } from "../../src/storage/repositories/device-codes.js";
import { type OAuthRepositories, oauthRepositories } from "../../src/storage/repositories/oauth.js";
import type { OAuthClientRow } from "../../src/storage/repositories/oauth-clients.js";
import type { RefreshTokenRow } from "../../src/storage/repositories/refresh-tokens.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

function clientRow(id: string): OAuthClientRow {
  return {
    id,
    name: id,
    secret_hash: `secret-${id}`,
    auth_method: "client_secret_basic",
    redirect_uris: "[]",
    post_logout_redirect_uris: "[]",
    grant_types: '["authorization_code","refresh_token"]',
    resources: "[]",
    scope: "openid",
    first_party: 1,
    access_token_ttl: 300,
    access_token_format: "jwt",
    id_token_alg: "EdDSA",
    require_par: 0,
    backchannel_logout_uri: null,
    jwks: null,
    registration_token_hash: null,
    dpop_bound: 0,
    jwks_uri: null,
    userinfo_signed_alg: null,
    id_token_encryption_alg: null,
    id_token_encryption_enc: null,
    userinfo_encryption_alg: null,
    userinfo_encryption_enc: null,
    token_exchange_audiences: null,
    token_exchange_impersonation: 0,
    created_at: NOW,
    updated_at: NOW,
  };
}

function refreshRow(id: string, familyId: string, overrides: Partial<RefreshTokenRow> = {}): RefreshTokenRow {
  return {
    id,
    token_hash: `hash-${id}`,
    family_id: familyId,
    client_id: "client-a",
    user_id: "user-1",
    session_id: "session-1",
    scope: "openid offline_access",
    resources: "[]",
    auth_time: NOW,
    acr: "urn:tessera:acr:password",
    amr: "pwd",
    created_at: NOW,
    expires_at: NOW + 3600_000,
    family_expires_at: NOW + 86_400_000,
    access_jti: `jti-${id}`,
    access_expires_at: NOW + 300_000,
    rotated_at: null,
    successor: null,
    successor_until: null,
    revoked_at: null,
    dpop_jkt: null,
    ...overrides,
  };
}

function codeRow(hash: string): AuthorizationCodeRow {
  return {
    code_hash: hash,
    client_id: "client-a",
    user_id: "user-1",
    session_id: "session-1",
    redirect_uri: "https://app.example.test/cb",
    code_challenge: "c".repeat(43),
    scope: "openid",
    resources: "[]",
    nonce: null,
    auth_time: NOW,
    acr: "urn:tessera:acr:password",
    amr: "pwd",
    created_at: NOW,
    expires_at: NOW + 60_000,
    consumed_at: null,
    issued_family_id: null,
    issued_jti: null,
    issued_jti_expires_at: null,
    dpop_jkt: null,
  };
}

function deviceRow(hash: string, userCode: string): DeviceCodeRow {
  return {
    device_code_hash: hash,
    user_code: userCode,
    client_id: "client-a",
    scope: "openid",
    resources: "[]",
    status: "pending",
    user_id: null,
    session_id: null,
    auth_time: null,
    acr: null,
    amr: null,
    interval_s: 5,
    last_polled_at: null,
    created_at: NOW,
    expires_at: NOW + 600_000,
  };
}

describe.each(DIALECTS)("OAuth repositories on %s", (dialect: DialectName) => {
  let storage: Storage;
  let r: OAuthRepositories;

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    r = oauthRepositories(storage.db, storage.dialect);
    await storage.db
      .insertInto("users")
      .values({
        id: "user-1",
        user_name: "pat",
        user_name_key: "pat",
        external_id: null,
        display_name: null,
        given_name: null,
        family_name: null,
        active: 1,
        password_hash: null,
        password_updated_at: null,
        created_at: NOW,
        updated_at: NOW,
        version: 1,
      })
      .execute();
    expect(await r.clients.insert(clientRow("client-a"))).toBe(true);
  });
  afterAll(async () => {
    await storage.close();
  });

  describe("clients", () => {
    it("refuses a taken id, and replaces a credential only while it is still the one presented", async () => {
      expect(await r.clients.insert(clientRow("client-a"))).toBe(false);
      expect(await r.clients.insert(clientRow("client-b"))).toBe(true);
      expect(await r.clients.findIdByCredential("secret_hash", "secret-client-b")).toBe("client-b");
      await r.clients.replaceCredential("client-b", "secret_hash", "not-the-stored-one", "new", NOW);
      expect((await r.clients.find("client-b"))?.secret_hash).toBe("secret-client-b");
      await r.clients.replaceCredential("client-b", "secret_hash", "secret-client-b", "new", NOW + 1);
      expect(await r.clients.find("client-b")).toMatchObject({ secret_hash: "new", updated_at: NOW + 1 });
      expect(await r.clients.delete("client-b")).toBe(true);
      expect(await r.clients.delete("client-b")).toBe(false);
    });
  });

  describe("refresh tokens", () => {
    it("rotates once: the winner inserts the successor, a second rotation loses", async () => {
      await r.refreshTokens.insert(refreshRow("rt-1", "fam-1"));
      const rotation = { rotated_at: NOW + 1, successor: "sealed", successor_until: NOW + 10_001 };
      expect(await r.refreshTokens.rotate("rt-1", rotation, refreshRow("rt-2", "fam-1"))).toBe("rotated");
      expect(await r.refreshTokens.rotate("rt-1", rotation, refreshRow("rt-3", "fam-1"))).toBe("lost");
      expect(await r.refreshTokens.findById("rt-1")).toMatchObject({
        rotated_at: NOW + 1,
        successor: "sealed",
        successor_until: NOW + 10_001,
      });
      expect(await r.refreshTokens.findById("rt-2")).toEqual(refreshRow("rt-2", "fam-1"));
      expect(await r.refreshTokens.findById("rt-3")).toBeUndefined();
    });

    it("lets one of many concurrent rotations win", async () => {
      await r.refreshTokens.insert(refreshRow("rc-0", "fam-c"));
      const rotation = { rotated_at: NOW + 1, successor: null, successor_until: null };
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          r.refreshTokens.rotate("rc-0", rotation, refreshRow(`rc-${i + 1}`, "fam-c")),
        ),
      );
      expect(outcomes.filter((o) => o === "rotated")).toHaveLength(1);
      const members = await storage.db
        .selectFrom("refresh_tokens")
        .select("id")
        .where("family_id", "=", "fam-c")
        .execute();
      expect(members).toHaveLength(2);
    });

    it("does not extend a family with a revoked member", async () => {
      await r.refreshTokens.insert(refreshRow("rv-1", "fam-v"));
      await r.refreshTokens.insert(refreshRow("rv-2", "fam-v", { revoked_at: NOW }));
      const outcome = await r.refreshTokens.rotate(
        "rv-1",
        { rotated_at: NOW + 1, successor: null, successor_until: null },
        refreshRow("rv-3", "fam-v"),
      );
      expect(outcome).not.toBe("rotated");
      expect(await r.refreshTokens.findById("rv-3")).toBeUndefined();
      // Nothing was marked either: the rotation is all or nothing.
      expect((await r.refreshTokens.findById("rv-1"))?.rotated_at).toBeNull();
    });

    it("reads a token with its user's active flag, lists live families, clears and purges", async () => {
      await r.refreshTokens.insert(refreshRow("rl-1", "fam-l", { successor: "s", successor_until: NOW }));
      expect(await r.refreshTokens.findByHashWithUser("hash-rl-1")).toMatchObject({
        id: "rl-1",
        user_active: 1,
      });
      expect(await r.refreshTokens.liveFamilies("user-1", "client-a")).toContain("fam-l");
      await r.refreshTokens.clearSealedSuccessors(NOW);
      expect((await r.refreshTokens.findById("rl-1"))?.successor).toBeNull();
      expect(await r.refreshTokens.deleteExpiredFamilies(NOW + 86_400_000)).toBeGreaterThanOrEqual(1);
      expect(await r.refreshTokens.findById("rl-1")).toBeUndefined();
    });
  });

  describe("authorization requests and codes", () => {
    it("issues a code for a stored request once", async () => {
      await r.requests.insert({
        id: "req-1",
        client_id: "client-a",
        params: "{}",
        created_at: NOW,
        expires_at: NOW + 1,
      });
      expect(await r.codes.issueForRequest("req-1", codeRow("code-1"))).toBe(true);
      expect(await r.codes.issueForRequest("req-1", codeRow("code-2"))).toBe(false);
      expect(await r.requests.find("req-1")).toBeUndefined();
      expect(await r.codes.find("code-2")).toBeUndefined();
    });

    it("redeems a code once, with the family's first refresh token", async () => {
      await storage.db.insertInto("authorization_codes").values(codeRow("code-r")).execute();
      const issued = {
        consumedAt: NOW + 5,
        familyId: "fam-r",
        accessJti: "jti-r",
        accessExpiresAt: NOW + 300,
      };
      expect(await r.codes.redeem("code-r", issued, refreshRow("rr-1", "fam-r"))).toBe(true);
      expect(await r.codes.redeem("code-r", issued, refreshRow("rr-2", "fam-r"))).toBe(false);
      expect(await r.codes.find("code-r")).toMatchObject({
        consumed_at: NOW + 5,
        issued_family_id: "fam-r",
        issued_jti: "jti-r",
      });
      expect(await r.refreshTokens.findById("rr-1")).toBeDefined();
      expect(await r.refreshTokens.findById("rr-2")).toBeUndefined();
    });

    it("burns an unredeemed code once, issuing nothing; a redeemed code cannot be burnt", async () => {
      await storage.db.insertInto("authorization_codes").values(codeRow("code-b")).execute();
      expect(await r.codes.burn("code-b", NOW + 2)).toBe(true);
      expect(await r.codes.burn("code-b", NOW + 3)).toBe(false);
      expect(await r.codes.find("code-b")).toMatchObject({
        consumed_at: NOW + 2,
        issued_family_id: null,
        issued_jti: null,
      });
      const issued = { consumedAt: NOW + 4, familyId: null, accessJti: "jti-b", accessExpiresAt: NOW + 300 };
      expect(await r.codes.redeem("code-b", issued, undefined)).toBe(false);
      await storage.db.insertInto("authorization_codes").values(codeRow("code-rb")).execute();
      expect(await r.codes.redeem("code-rb", issued, undefined)).toBe(true);
      expect(await r.codes.burn("code-rb", NOW + 5)).toBe(false);
      expect((await r.codes.find("code-rb"))?.issued_jti).toBe("jti-b");
    });
  });

  describe("device codes", () => {
    it("answers a pending request once, consumes an approved one once", async () => {
      await r.deviceCodes.insert(deviceRow("dc-1", "BCDFGHJK"));
      await expect(r.deviceCodes.insert(deviceRow("dc-2", "BCDFGHJK"))).rejects.toThrow();
      const approval = { user_id: "user-1", session_id: "s", auth_time: NOW, acr: "a", amr: "pwd" };
      expect(await r.deviceCodes.answer("BCDFGHJK", { approved: approval }, NOW + 600_000)).toBe(false);
      expect(await r.deviceCodes.answer("BCDFGHJK", { approved: approval }, NOW)).toBe(true);
      expect(await r.deviceCodes.answer("BCDFGHJK", "denied", NOW)).toBe(false);
      await r.deviceCodes.recordPoll("dc-1", NOW + 1, 10);
      expect(await r.deviceCodes.findByDeviceCode("dc-1")).toMatchObject({
        status: "approved",
        user_id: "user-1",
        last_polled_at: NOW + 1,
        interval_s: 10,
      });
      expect(await r.deviceCodes.consume("dc-1")).toBe(true);
      expect(await r.deviceCodes.consume("dc-1")).toBe(false);
    });
  });

  describe("replay records and initial access tokens", () => {
    it("records a DPoP proof and a client assertion once each", async () => {
      expect(await r.dpopProofs.record("proof-1", NOW + 1)).toBe(true);
      expect(await r.dpopProofs.record("proof-1", NOW + 1)).toBe(false);
      expect(await r.clientAssertions.record("client-a", "jti-1", NOW + 1)).toBe(true);
      expect(await r.clientAssertions.record("client-a", "jti-1", NOW + 1)).toBe(false);
      expect(await r.dpopProofs.deleteExpired(NOW + 1)).toBe(1);
      expect(await r.clientAssertions.deleteExpired(NOW + 1)).toBe(1);
    });

    it("takes the uses of a limited initial access token one at a time", async () => {
      await r.initialAccessTokens.insert({
        id: "iat-1",
        token_hash: "iat-hash",
        created_at: NOW,
        expires_at: null,
        uses_left: 2,
      });
      const uses = await Promise.all([1, 2, 3].map(() => r.initialAccessTokens.useOnce("iat-hash")));
      expect(uses.filter(Boolean)).toHaveLength(2);
      expect((await r.initialAccessTokens.findByHash("iat-hash"))?.uses_left).toBe(0);
      expect(await r.initialAccessTokens.deleteByHash("iat-hash")).toBe(true);
    });
  });

  describe("consents and token holders", () => {
    it("merges a consent in place and keeps when it was first given", async () => {
      const row = { user_id: "user-1", client_id: "client-a", scope: "openid", resources: "[]" };
      await r.consents.upsert({ ...row, created_at: NOW, updated_at: NOW });
      await r.consents.upsert({ ...row, scope: "openid profile", created_at: NOW + 5, updated_at: NOW + 5 });
      expect(await r.consents.listByUser("user-1")).toEqual([
        { ...row, scope: "openid profile", created_at: NOW, updated_at: NOW + 5 },
      ]);
      expect(await r.tokenHolders.find("user-1")).toEqual({
        userName: "pat",
        active: true,
        tokensNotBefore: 0,
      });
      expect(await r.tokenHolders.find("nobody")).toBeUndefined();
    });
  });
});
