/**
 * The federation repositories' contract (src/storage/repositories/identity-providers.ts and linked-identities.ts)
 * on SQLite and PostgreSQL, in the manner of test/storage/repositories.contract.test.ts: rows read back,
 * conditional updates that win once, single-use states and pending links (also when raced), expiry boundaries,
 * unique links, the last-link guard, and cascades when a provider goes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMasterKey } from "../../src/crypto/index.js";
import { decodeRoundTripSecrets, encodeRoundTripSecrets } from "../../src/federation/invitations.js";
import {
  type IdentityProviderRow,
  identityProvidersRepository,
  isUniqueViolation,
  linkedIdentitiesRepository,
  type Storage,
} from "../../src/storage/index.js";
import { DIALECTS, openTestStorage } from "../helpers/databases.js";

function providerRow(id: string, at = 1_000): IdentityProviderRow {
  return {
    id,
    kind: "oidc",
    display_name: `Provider ${id}`,
    issuer: "https://idp.example",
    client_id: "client",
    client_auth: "client_secret_basic",
    client_secret_sealed: "v1.sealed",
    private_key_sealed: null,
    public_jwk: null,
    scopes: "openid email",
    jit: 0,
    trust_email: 0,
    satisfies_mfa: 0,
    enabled: 1,
    allow_private_network: 0,
    upstream_logout: 0,
    claim_mapping: "{}",
    group_mapping: "{}",
    allowed_domains: "[]",
    allowed_tenants: "[]",
    api_url: null,
    authorization_endpoint: null,
    created_at: at,
    updated_at: at,
  };
}

describe.each(DIALECTS)("federation repositories on %s", (dialect) => {
  let storage: Storage & { url: string };
  let users = 0;

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
  });
  afterAll(async () => {
    await storage?.close();
  });

  const providers = () => identityProvidersRepository(storage.db);
  const links = () => linkedIdentitiesRepository(storage.db, storage.dialect);

  async function user(): Promise<string> {
    const id = `user-${++users}`;
    await storage.db
      .insertInto("users")
      .values({
        id,
        user_name: id,
        user_name_key: id,
        external_id: null,
        display_name: null,
        given_name: null,
        family_name: null,
        active: 1,
        password_hash: null,
        password_updated_at: null,
        created_at: 1,
        updated_at: 1,
        version: 1,
      })
      .execute();
    return id;
  }

  it("stores a provider and reads it back; lists in creation order", async () => {
    await providers().insert(providerRow("p-b", 2_000));
    await providers().insert(providerRow("p-a", 1_000));
    expect(await providers().get("p-a")).toEqual(providerRow("p-a", 1_000));
    const ids = (await providers().list()).map((p) => p.id);
    expect(ids.indexOf("p-a")).toBeLessThan(ids.indexOf("p-b"));
    expect(await providers().get("nothing")).toBeUndefined();
  });

  it("updates only from the version read (a concurrent change loses)", async () => {
    await providers().insert(providerRow("p-upd", 1_000));
    const first = { ...providerRow("p-upd", 1_000), display_name: "First", updated_at: 1_001 };
    const second = { ...providerRow("p-upd", 1_000), display_name: "Second", updated_at: 1_002 };
    const results = await Promise.all([providers().update(first, 1_000), providers().update(second, 1_000)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const stored = await providers().get("p-upd");
    expect(stored?.display_name).toBe(results[0] ? "First" : "Second");
    expect(stored?.created_at).toBe(1_000);
    await providers().setAuthorizationEndpoint("p-upd", "https://idp.example/authorize");
    expect((await providers().get("p-upd"))?.authorization_endpoint).toBe("https://idp.example/authorize");
  });

  it("takes a state once, only before it expires, even when raced", async () => {
    await providers().insert(providerRow("p-state"));
    const state = (hash: string, expiresAt: number) => ({
      state_hash: hash,
      browser_hash: "b".repeat(64),
      provider_id: "p-state",
      nonce: "n",
      code_verifier_sealed: "v1.x",
      intent: "signin" as const,
      user_id: null,
      return_to: "/authorize/continue?request=abc",
      created_at: 1_000,
      expires_at: expiresAt,
    });
    await providers().insertState(state("s1", 5_000));
    const taken = await Promise.all([providers().takeState("s1", 4_999), providers().takeState("s1", 4_999)]);
    expect(taken.filter(Boolean)).toHaveLength(1);
    expect(taken.find(Boolean)).toEqual(state("s1", 5_000));
    expect(await providers().takeState("s1", 4_999)).toBeUndefined();
    await providers().insertState(state("s2", 5_000));
    expect(await providers().takeState("s2", 5_000)).toBeUndefined();
    await providers().insertState(state("s3", 9_000));
    expect(await providers().deleteExpired(5_000)).toBe(1);
    expect(await providers().takeState("s3", 5_000)).toBeDefined();
  });

  it("keeps an invitation round trip's sealed secrets whole", async () => {
    await providers().insert(providerRow("p-invite"));
    const masterKey = createMasterKey(Buffer.alloc(32, 3));
    const secrets = { codeVerifier: "v".repeat(43), invitation: `tsr_inv_${"A".repeat(50)}` };
    const sealed = masterKey.seal(
      Buffer.from(encodeRoundTripSecrets("invitation", secrets), "utf8"),
      "federation-state:inv",
    );
    await providers().insertState({
      state_hash: "inv",
      browser_hash: "b".repeat(64),
      provider_id: "p-invite",
      nonce: "n",
      code_verifier_sealed: sealed,
      intent: "invitation",
      user_id: null,
      return_to: null,
      created_at: 1_000,
      expires_at: 5_000,
    });
    const taken = await providers().takeState("inv", 4_999);
    expect(taken?.intent).toBe("invitation");
    expect(taken?.code_verifier_sealed).not.toContain(secrets.invitation);
    const opened = masterKey.open(taken!.code_verifier_sealed, "federation-state:inv").toString();
    expect(decodeRoundTripSecrets("invitation", opened)).toEqual(secrets);
    // Sign-in and link rows keep the bare verifier they always had.
    expect(decodeRoundTripSecrets("signin", secrets.codeVerifier)).toEqual({
      codeVerifier: secrets.codeVerifier,
    });
  });

  it("keeps a pending link until taken once", async () => {
    await providers().insert(providerRow("p-pending"));
    const row = {
      token_hash: "t1",
      provider_id: "p-pending",
      subject: "sub-1",
      profile: JSON.stringify({ email: "a@b.example" }),
      return_to: null,
      created_at: 1_000,
      expires_at: 2_000,
    };
    await providers().insertPendingLink(row);
    expect(await providers().findPendingLink("t1")).toEqual(row);
    const taken = await Promise.all([
      providers().takePendingLink("t1", 1_500),
      providers().takePendingLink("t1", 1_500),
    ]);
    expect(taken.filter(Boolean)).toHaveLength(1);
    expect(await providers().findPendingLink("t1")).toBeUndefined();
    await providers().insertPendingLink({ ...row, token_hash: "t2" });
    expect(await providers().takePendingLink("t2", 2_000)).toBeUndefined();
  });

  it("links an upstream account to one user, and a user to one account per provider", async () => {
    await providers().insert(providerRow("p-link"));
    const [u1, u2] = [await user(), await user()];
    const link = (userId: string, subject: string) => ({
      provider_id: "p-link",
      subject,
      user_id: userId,
      email: null,
      linked_at: 1_000,
      last_sign_in_at: null,
    });
    await links().insert(link(u1, "alice"));
    await expect(links().insert(link(u2, "alice"))).rejects.toSatisfy(isUniqueViolation);
    await expect(links().insert(link(u1, "alice-2"))).rejects.toSatisfy(isUniqueViolation);
    expect(await links().find("p-link", "alice")).toEqual(link(u1, "alice"));
    await links().touch("p-link", "alice", 2_000, "alice@corp.example");
    const [listed] = await links().listForUser(u1);
    expect(listed).toMatchObject({
      last_sign_in_at: 2_000,
      email: "alice@corp.example",
      display_name: "Provider p-link",
    });
  });

  it("keeps a user's last link when asked, also when two removals race", async () => {
    await providers().insert(providerRow("p-x"));
    await providers().insert(providerRow("p-y"));
    const u = await user();
    for (const provider of ["p-x", "p-y"]) {
      await links().insert({
        provider_id: provider,
        subject: `${u}-${provider}`,
        user_id: u,
        email: null,
        linked_at: 1,
        last_sign_in_at: null,
      });
    }
    const removed = await Promise.all([
      links().delete("p-x", u, { keepLast: true }),
      links().delete("p-y", u, { keepLast: true }),
    ]);
    expect(removed.filter(Boolean)).toHaveLength(1);
    expect(await links().listForUser(u)).toHaveLength(1);
    const [left] = await links().listForUser(u);
    expect(await links().delete(left!.provider_id, u, { keepLast: true })).toBe(false);
    expect(await links().delete(left!.provider_id, u)).toBe(true);
    expect(await links().delete(left!.provider_id, u)).toBe(false);
  });

  it("removes a provider with its links, states and pending links", async () => {
    await providers().insert(providerRow("p-gone"));
    const u = await user();
    await links().insert({
      provider_id: "p-gone",
      subject: "s",
      user_id: u,
      email: null,
      linked_at: 1,
      last_sign_in_at: null,
    });
    await providers().insertState({
      state_hash: "gone-state",
      browser_hash: "b",
      provider_id: "p-gone",
      nonce: "n",
      code_verifier_sealed: "v",
      intent: "link",
      user_id: u,
      return_to: null,
      created_at: 1,
      expires_at: 10_000,
    });
    expect(await providers().delete("p-gone")).toBe(true);
    expect(await providers().delete("p-gone")).toBe(false);
    expect(await links().find("p-gone", "s")).toBeUndefined();
    expect(await providers().takeState("gone-state", 1)).toBeUndefined();
  });
});
