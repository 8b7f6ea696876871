/**
 * API tokens at the domain level (src/api-tokens/): creation rules, every refusal of `authenticate`, revocation
 * and its feed events, last-use write-behind, service accounts and leak reports. Runs on SQLite and PostgreSQL
 * against the real context (`createTestApp`); time moves with the manual clock.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type ApiTokens, createApiTokens, DEFAULT_API_TOKEN_LIFETIME } from "../../src/api-tokens/index.js";
import { generateOpaqueToken } from "../../src/crypto/index.js";
import { ApiTokenError } from "../../src/lib/errors.js";
import { KEEP_EVENTS_MS } from "../../src/revocation/index.js";
import { apiTokensRepository } from "../../src/storage/index.js";
import { createWriteBehind } from "../../src/storage/write-behind.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";

const API = "https://api.example.test";
const OTHER_API = "https://other.example.test";
const BY = { actor: "test", authority: "admin" as const };
const DAY = 86_400;

async function refusal(promise: Promise<unknown>): Promise<ApiTokenError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiTokenError);
  return error as ApiTokenError;
}

describe.each(DIALECTS)("API tokens on %s", (dialect) => {
  let t: TestApp;
  let tokens: ApiTokens;
  let adminGroupId: string;
  let admin: string;
  let userCount = 0;

  async function newUser(options: { admin?: boolean } = {}): Promise<string> {
    userCount += 1;
    const user = await t.ctx.accounts.users.create({ userName: `user${userCount}` }, BY);
    if (options.admin) await setAdmin(user.id, true);
    return user.id;
  }

  async function setAdmin(userId: string, member: boolean) {
    const admins = t.ctx.accounts.administrators;
    const by = { actor: "test", authority: "admin" as const };
    const holds = await admins.isAdministrator(userId);
    if (member && !holds) await admins.grant(userId, by);
    if (!member && holds) await admins.revoke(userId, by);
  }

  async function personal(ownerId: string, input: Partial<Parameters<ApiTokens["create"]>[0]> = {}) {
    return tokens.create({
      kind: "personal",
      name: "script",
      ownerId,
      scopes: [],
      createdBy: "test",
      ...input,
    });
  }

  async function eventsFor(value: string) {
    const { events } = await t.ctx.revocations.read(undefined);
    return events.filter((e) => e.value === value);
  }

  beforeAll(async () => {
    t = await createTestApp({ dialect });
    tokens = t.ctx.apiTokens;
    adminGroupId = (await t.ctx.accounts.groups.create({ displayName: "tessera-admins" }, BY)).id;
    admin = await newUser({ admin: true });
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "read write" });
    await t.ctx.oauth.clients.createResourceServer({ audience: OTHER_API, name: "Other", scope: "other" });
  });
  afterAll(async () => {
    await t.close();
  });

  describe("creating", () => {
    it("mints a personal token shown once and stored only as its SHA-256", async () => {
      const owner = await newUser();
      const { token, apiToken } = await personal(owner, { scopes: ["read"], resources: [API] });
      expect(token).toMatch(/^tsr_pat_[0-9A-Za-z]{49}$/);
      expect(apiToken).toMatchObject({
        kind: "personal",
        name: "script",
        ownerId: owner,
        scopes: ["read"],
        resources: [API],
        allowedIps: null,
        expiresAt: t.clock.now() + DEFAULT_API_TOKEN_LIFETIME * 1000,
        createdAt: t.clock.now(),
        createdBy: "test",
        lastUsedAt: null,
        revokedAt: null,
      });
      expect(JSON.stringify(apiToken)).not.toContain(token);
      const rows = await t.ctx.storage.db.selectFrom("api_tokens").selectAll().execute();
      const row = rows.find((r) => r.id === apiToken.id)!;
      expect(row.token_hash).toBe(createHash("sha256").update(token).digest("base64url"));
      const body = token.slice("tsr_pat_".length);
      for (const r of rows) {
        expect(JSON.stringify(r)).not.toContain(body);
        expect(JSON.stringify(r)).not.toContain(body.slice(0, 20));
      }
      const audit = await t.ctx.accounts.audit.list({ userId: owner, type: "api_token.created" });
      expect(audit).toHaveLength(1);
      expect(JSON.stringify(audit)).not.toContain(body);
    });

    it("mints a service-account key that authenticates as the service account", async () => {
      const account = await t.ctx.serviceAccounts.create({ name: "deployer-a", actor: "test" });
      const { token, apiToken } = await tokens.create({
        kind: "service",
        name: "ci",
        ownerId: account.id,
        scopes: ["tessera:scim"],
        createdBy: "test",
      });
      expect(token).toMatch(/^tsr_svc_[0-9A-Za-z]{49}$/);
      expect(apiToken.ownerId).toBe(account.id);
      expect(await tokens.authenticate(token)).toMatchObject({
        tokenId: apiToken.id,
        kind: "service",
        subject: account.id,
        subjectName: "deployer-a",
        scopes: ["tessera:scim"],
      });
    });

    it("refuses Tessera's scopes on a personal token of a user who is not an administrator", async () => {
      const owner = await newUser();
      for (const scope of ["tessera:admin", "tessera:scim"]) {
        const error = await refusal(personal(owner, { scopes: [scope] }));
        expect(error.code).toBe("invalid_scope");
        expect(error.message).toContain("grant-admin");
      }
      expect(await tokens.list({ ownerId: owner })).toEqual([]);
      const { apiToken } = await personal(admin, { scopes: ["tessera:admin", "tessera:scim"] });
      expect(apiToken.scopes).toEqual(["tessera:admin", "tessera:scim"]);
    });

    it("gives Tessera's scopes only to administrators: no group confers the right", async () => {
      const ops = await newUser();
      // A group named like the old admin group, or any other, confers nothing.
      await t.ctx.accounts.groups.create({ displayName: "platform-ops", members: [ops] }, BY);
      const group = (await t.ctx.accounts.groups.get(adminGroupId))!;
      await t.ctx.accounts.groups.replace(
        adminGroupId,
        { displayName: group.displayName, members: [ops] },
        BY,
      );
      expect(await tokens.isAdmin(ops)).toBe(false);
      const base = { kind: "personal" as const, name: "x", scopes: ["tessera:admin"], createdBy: "test" };
      expect((await refusal(tokens.create({ ...base, ownerId: ops }))).code).toBe("invalid_scope");
      await setAdmin(ops, true);
      expect((await tokens.create({ ...base, ownerId: ops })).apiToken.scopes).toEqual(["tessera:admin"]);
    });

    it("accepts resource-server scopes only for listed resource servers", async () => {
      const owner = await newUser();
      expect((await refusal(personal(owner, { scopes: ["read"] }))).code).toBe("invalid_scope");
      expect((await refusal(personal(owner, { scopes: ["other"], resources: [API] }))).code).toBe(
        "invalid_scope",
      );
      expect((await refusal(personal(owner, { scopes: ["delete"], resources: [API] }))).code).toBe(
        "invalid_scope",
      );
      expect(
        (await refusal(personal(owner, { scopes: ["read"], resources: ["https://unknown.example.test"] })))
          .code,
      ).toBe("invalid_request");
      expect((await refusal(personal(owner, { scopes: ['bad"scope'] }))).code).toBe("invalid_scope");
      expect((await refusal(personal(owner, { scopes: [""] }))).code).toBe("invalid_scope");
      const many = Array.from({ length: 51 }, (_, i) => `s${i}`);
      expect((await refusal(personal(owner, { scopes: many }))).code).toBe("invalid_scope");
      const { apiToken } = await personal(owner, {
        scopes: ["read", "other", "read"],
        resources: [API, OTHER_API, API],
      });
      expect(apiToken.scopes).toEqual(["read", "other"]);
      expect(apiToken.resources).toEqual([API, OTHER_API]);
    });

    it("refuses an owner that is missing or inactive, and a service account that is missing or disabled", async () => {
      const owner = await newUser();
      await t.ctx.accounts.users.setActive(owner, false, BY);
      expect((await refusal(personal(owner))).code).toBe("invalid_request");
      expect((await refusal(personal("no-such-user"))).code).toBe("invalid_request");
      const account = await t.ctx.serviceAccounts.create({ name: "disabled-before", actor: "test" });
      await t.ctx.serviceAccounts.disable(account.id, "test");
      const base = { kind: "service" as const, name: "k", scopes: [], createdBy: "test" };
      const disabled = await refusal(tokens.create({ ...base, ownerId: account.id }));
      expect([disabled.code, disabled.status]).toEqual(["service_account_not_found", 404]);
      const missing = await refusal(tokens.create({ ...base, ownerId: "no-such-account" }));
      expect([missing.code, missing.status]).toEqual(["service_account_not_found", 404]);
      // A user id is not a service account, nor the other way round.
      expect((await refusal(tokens.create({ ...base, ownerId: admin }))).code).toBe(
        "service_account_not_found",
      );
      const active = await t.ctx.serviceAccounts.create({ name: "active-one", actor: "test" });
      expect((await refusal(personal(active.id))).code).toBe("invalid_request");
    });

    it("refuses a bad name, kind or CIDR block", async () => {
      const owner = await newUser();
      for (const name of ["", "   ", "a\u0000b", "tab\there", "x".repeat(201)]) {
        expect((await refusal(personal(owner, { name }))).code).toBe("invalid_request");
      }
      // Trimmed before the length check: 202 characters with two leading spaces is a 200-character name.
      expect((await personal(owner, { name: "  x".padEnd(202, "y") })).apiToken.name).toHaveLength(200);
      expect(
        (
          await refusal(
            tokens.create({
              kind: "admin" as "personal",
              name: "x",
              ownerId: owner,
              scopes: [],
              createdBy: "t",
            }),
          )
        ).code,
      ).toBe("invalid_request");
      for (const allowedIps of [
        [],
        ["10.0.0.0/33"],
        ["banana"],
        ["::ffff:10.0.0.0/8"],
        ["10.0.0.0/8", ""],
        Array(51).fill("10.0.0.1"),
      ]) {
        expect((await refusal(personal(owner, { allowedIps }))).code).toBe("invalid_request");
      }
      const { apiToken } = await personal(owner, {
        allowedIps: [" 10.0.0.0/8 ", "10.0.0.0/8", "2001:db8::/32"],
      });
      expect(apiToken.allowedIps).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    });

    it("bounds the expiry by the organisation's maximum (default 366 days); null only when the maximum is 0", async () => {
      const owner = await newUser();
      const max = t.config.apiTokenMaxLifetime;
      expect(max).toBe(366 * DAY);
      expect((await personal(owner, { expiresIn: max })).apiToken.expiresAt).toBe(t.clock.now() + max * 1000);
      const above = await refusal(personal(owner, { expiresIn: max + 1 }));
      expect([above.code, above.status]).toEqual(["invalid_request", 400]);
      expect(above.message).toContain(String(max));
      expect((await refusal(personal(owner, { expiresIn: null }))).code).toBe("invalid_request");
      for (const expiresIn of [59, 0, -1, 60.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect((await refusal(personal(owner, { expiresIn }))).code).toBe("invalid_request");
      }
      expect((await personal(owner, { expiresIn: 60 })).apiToken.expiresAt).toBe(t.clock.now() + 60_000);

      const unbounded = createApiTokens({
        repository: apiTokensRepository(t.ctx.storage.db),
        clock: t.clock,
        audit: t.ctx.accounts.audit,
        feed: t.ctx.revocations,
        maxLifetime: 0,
        isAdministrator: (id) => t.ctx.accounts.administrators.isAdministrator(id),
      });
      const base = { kind: "personal" as const, name: "forever", ownerId: owner, scopes: [], createdBy: "t" };
      const forever = await unbounded.create({ ...base, expiresIn: null });
      expect(forever.apiToken.expiresAt).toBeNull();
      expect((await unbounded.create({ ...base, expiresIn: 10 * 366 * DAY })).apiToken.expiresAt).toBe(
        t.clock.now() + 10 * 366 * DAY * 1000,
      );
      t.clock.advance(20 * 366 * DAY * 1000);
      try {
        expect(await unbounded.authenticate(forever.token)).toMatchObject({ expiresAt: null });
      } finally {
        t.clock.advance(-20 * 366 * DAY * 1000);
      }
    });
  });

  describe("authenticating", () => {
    it("refuses a wrong prefix, a bad checksum and an unknown token", async () => {
      const owner = await newUser();
      const { token } = await personal(owner);
      expect(await tokens.authenticate(token)).toBeDefined();
      const body = token.slice("tsr_pat_".length);
      expect(await tokens.authenticate(`tsr_svc_${body}`)).toBeUndefined();
      expect(await tokens.authenticate(`tsr_adm_${body}`)).toBeUndefined();
      const last = token.at(-1) === "A" ? "B" : "A";
      expect(await tokens.authenticate(token.slice(0, -1) + last)).toBeUndefined();
      expect(
        await tokens.authenticate(generateOpaqueToken({ prefix: "tsr_pat_", checksum: true })),
      ).toBeUndefined();
      expect(
        await tokens.authenticate(generateOpaqueToken({ prefix: "tsr_svc_", checksum: true })),
      ).toBeUndefined();
    });

    it("refuses a revoked token at once, and revoking twice changes nothing", async () => {
      const owner = await newUser();
      const { token, apiToken } = await personal(owner);
      expect(await tokens.authenticate(token)).toBeDefined();
      expect(await tokens.revoke(apiToken.id, { actor: "test" })).toBe(true);
      expect(await tokens.authenticate(token)).toBeUndefined();
      expect(await tokens.revoke(apiToken.id, { actor: "test" })).toBe(false);
      expect(await tokens.revoke("no-such-token", { actor: "test" })).toBe(false);
      expect(await tokens.get(apiToken.id)).toMatchObject({
        revokedAt: t.clock.now(),
        revokedReason: "revoked",
      });
      expect(await eventsFor(apiToken.id)).toEqual([
        { id: expect.any(String), type: "jti", value: apiToken.id, at: t.clock.now() },
      ]);
      const audit = await t.ctx.accounts.audit.list({ userId: owner, type: "api_token.revoked" });
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: "test", details: { tokenId: apiToken.id, reason: "revoked" } });
    });

    it("revokes only the owner's token when an owner is given", async () => {
      const owner = await newUser();
      const other = await newUser();
      const { token, apiToken } = await personal(owner);
      expect(await tokens.revoke(apiToken.id, { actor: `user:${other}`, ownerId: other })).toBe(false);
      expect(await tokens.authenticate(token)).toBeDefined();
      expect(await eventsFor(apiToken.id)).toEqual([]);
      expect(await tokens.revoke(apiToken.id, { actor: `user:${owner}`, ownerId: owner })).toBe(true);
      expect(await tokens.authenticate(token)).toBeUndefined();
    });

    it("refuses an expired token once the clock reaches its expiry", async () => {
      const owner = await newUser();
      const { token } = await personal(owner, { expiresIn: 3600 });
      t.clock.advance(3_599_999);
      expect(await tokens.authenticate(token)).toBeDefined();
      t.clock.advance(1);
      expect(await tokens.authenticate(token)).toBeUndefined();
      t.clock.advance(DAY * 1000);
      expect(await tokens.authenticate(token)).toBeUndefined();
    });

    it("applies the IP allow-list, IPv4-mapped IPv6 included; introspection skips it", async () => {
      const owner = await newUser();
      const { token } = await personal(owner, { allowedIps: ["10.0.0.0/8", "2001:db8::/32"] });
      expect(await tokens.authenticate(token, { ip: "10.1.2.3" })).toMatchObject({
        allowedIps: ["10.0.0.0/8", "2001:db8::/32"],
      });
      expect(await tokens.authenticate(token, { ip: "::ffff:10.1.2.3" })).toBeDefined();
      expect(await tokens.authenticate(token, { ip: "2001:db8::7" })).toBeDefined();
      expect(await tokens.authenticate(token, { ip: "192.0.2.1" })).toBeUndefined();
      expect(await tokens.authenticate(token, { ip: "::ffff:192.0.2.1" })).toBeUndefined();
      expect(await tokens.authenticate(token, { ip: "2001:db9::7" })).toBeUndefined();
      expect(await tokens.authenticate(token)).toBeUndefined();
      expect(await tokens.authenticate(token, { checkIp: false })).toBeDefined();
      const open = await personal(owner);
      expect(await tokens.authenticate(open.token, { ip: "192.0.2.1" })).toBeDefined();
      expect(await tokens.authenticate(open.token)).toBeDefined();
    });

    it("refuses the tokens of a disabled user (revoked, with a sub event) and of a deleted user", async () => {
      const owner = await newUser();
      const first = await personal(owner);
      const second = await personal(owner, { name: "second" });
      await t.ctx.accounts.users.setActive(owner, false, BY);
      expect(await tokens.authenticate(first.token)).toBeUndefined();
      expect(await tokens.authenticate(second.token)).toBeUndefined();
      expect((await tokens.get(first.apiToken.id))?.revokedReason).toBe("owner_disabled");
      expect(await eventsFor(owner)).toEqual([expect.objectContaining({ type: "sub", value: owner })]);
      expect(await eventsFor(first.apiToken.id)).toHaveLength(1);
      expect(await eventsFor(second.apiToken.id)).toHaveLength(1);
      // Enabling the user again does not bring the tokens back.
      await t.ctx.accounts.users.setActive(owner, true, BY);
      expect(await tokens.authenticate(first.token)).toBeUndefined();

      const gone = await newUser();
      const kept = await personal(gone);
      await t.ctx.accounts.users.delete(gone, BY);
      expect(await tokens.authenticate(kept.token)).toBeUndefined();
      expect((await tokens.get(kept.apiToken.id))?.revokedAt).not.toBeNull();
      expect(await eventsFor(gone)).toHaveLength(1);
    });

    it("refuses a live token whose owner became inactive without the revocation hook (defence in depth)", async () => {
      const owner = await newUser();
      const { token } = await personal(owner);
      await t.ctx.storage.db.updateTable("users").set({ active: 0 }).where("id", "=", owner).execute();
      expect(await tokens.authenticate(token)).toBeUndefined();
      await t.ctx.storage.db.updateTable("users").set({ active: 1 }).where("id", "=", owner).execute();
      expect(await tokens.authenticate(token)).toBeDefined();

      const account = await t.ctx.serviceAccounts.create({ name: "raw-disabled", actor: "test" });
      const key = await tokens.create({
        kind: "service",
        name: "k",
        ownerId: account.id,
        scopes: [],
        createdBy: "t",
      });
      await t.ctx.storage.db
        .updateTable("service_accounts")
        .set({ disabled_at: t.clock.now() })
        .where("id", "=", account.id)
        .execute();
      expect(await tokens.authenticate(key.token)).toBeUndefined();
    });

    it("refuses the keys of a disabled and of a deleted service account", async () => {
      const account = await t.ctx.serviceAccounts.create({ name: "to-disable", actor: "test" });
      const base = { kind: "service" as const, ownerId: account.id, scopes: [], createdBy: "t" };
      const one = await tokens.create({ ...base, name: "one" });
      const two = await tokens.create({ ...base, name: "two" });
      expect(await tokens.authenticate(one.token)).toBeDefined();
      const disabled = await t.ctx.serviceAccounts.disable(account.id, "admin:x");
      expect(disabled.disabledAt).toBe(t.clock.now());
      expect(await tokens.authenticate(one.token)).toBeUndefined();
      expect(await tokens.authenticate(two.token)).toBeUndefined();
      expect((await tokens.get(one.apiToken.id))?.revokedReason).toBe("owner_disabled");
      expect(await eventsFor(two.apiToken.id)).toHaveLength(1);
      // Disabling twice is a no-op.
      t.clock.advance(1000);
      expect((await t.ctx.serviceAccounts.disable(account.id, "admin:x")).disabledAt).toBe(
        disabled.disabledAt,
      );

      const doomed = await t.ctx.serviceAccounts.create({ name: "to-delete", actor: "test" });
      const key = await tokens.create({ ...base, ownerId: doomed.id, name: "k" });
      await t.ctx.serviceAccounts.delete(doomed.id, "admin:x");
      expect(await tokens.authenticate(key.token)).toBeUndefined();
      expect((await tokens.get(key.apiToken.id))?.revokedReason).toBe("owner_deleted");
      expect(await t.ctx.serviceAccounts.get(doomed.id)).toBeUndefined();
      const again = await refusal(t.ctx.serviceAccounts.delete(doomed.id, "admin:x"));
      expect([again.code, again.status]).toEqual(["service_account_not_found", 404]);
    });

    it("drops Tessera's scopes at the next use once the owner leaves the admin group, and gives them back on return", async () => {
      const owner = await newUser({ admin: true });
      const { token } = await personal(owner, {
        scopes: ["tessera:admin", "tessera:scim", "read"],
        resources: [API],
      });
      expect((await tokens.authenticate(token))?.scopes).toEqual(["tessera:admin", "tessera:scim", "read"]);
      await setAdmin(owner, false);
      expect((await tokens.authenticate(token))?.scopes).toEqual(["read"]);
      // The stored grant is unchanged: it is the group membership that is checked at each use.
      expect((await tokens.list({ ownerId: owner }))[0]?.scopes).toEqual([
        "tessera:admin",
        "tessera:scim",
        "read",
      ]);
      await setAdmin(owner, true);
      expect((await tokens.authenticate(token))?.scopes).toEqual(["tessera:admin", "tessera:scim", "read"]);
    });

    it("does not drop Tessera's scopes of a service-account key (the admin group is for people)", async () => {
      const account = await t.ctx.serviceAccounts.create({ name: "provisioner", actor: "test" });
      const key = await tokens.create({
        kind: "service",
        name: "scim",
        ownerId: account.id,
        scopes: ["tessera:scim"],
        createdBy: "t",
      });
      expect((await tokens.authenticate(key.token))?.scopes).toEqual(["tessera:scim"]);
    });
  });

  describe("last use", () => {
    it("is written at most once a minute per token, behind the request", async () => {
      const writes: { id: string; at: number; ip: string | null }[] = [];
      const lastUsed = createWriteBehind<{ at: number; ip: string | null }>({
        // Flushed by hand below; the timer never fires during the test.
        intervalMs: 3_600_000,
        newer: (previous, next) => next.at > previous.at,
        onError: (error) => {
          throw error;
        },
        async write(entries) {
          for (const [id, use] of entries) {
            writes.push({ id, ...use });
            await t.ctx.storage.db
              .updateTable("api_tokens")
              .set({ last_used_at: use.at, last_used_ip: use.ip })
              .where("id", "=", id)
              .execute();
          }
        },
      });
      const behind = createApiTokens({
        repository: apiTokensRepository(t.ctx.storage.db),
        clock: t.clock,
        audit: t.ctx.accounts.audit,
        feed: t.ctx.revocations,
        maxLifetime: t.config.apiTokenMaxLifetime,
        isAdministrator: (id) => t.ctx.accounts.administrators.isAdministrator(id),
        lastUsed,
      });
      try {
        const owner = await newUser();
        const { token, apiToken } = await behind.create({
          kind: "personal",
          name: "x",
          ownerId: owner,
          scopes: [],
          createdBy: "t",
        });
        const start = t.clock.now();
        expect(await behind.authenticate(token, { ip: "192.0.2.1" })).toBeDefined();
        // Not written before the flush: the request did not wait for it.
        expect((await behind.get(apiToken.id))?.lastUsedAt).toBeNull();
        await lastUsed.flush();
        expect(writes).toEqual([{ id: apiToken.id, at: start, ip: "192.0.2.1" }]);
        expect(await behind.get(apiToken.id)).toMatchObject({ lastUsedAt: start, lastUsedIp: "192.0.2.1" });

        for (const step of [1000, 29_000, 30_000]) {
          t.clock.advance(step);
          expect(await behind.authenticate(token, { ip: "192.0.2.2" })).toBeDefined();
          await lastUsed.flush();
        }
        expect(t.clock.now() - start).toBe(60_000);
        expect(writes).toHaveLength(1);

        t.clock.advance(1);
        expect(await behind.authenticate(token, { ip: "192.0.2.3" })).toBeDefined();
        expect(await behind.authenticate(token, { ip: "192.0.2.3" })).toBeDefined();
        await lastUsed.flush();
        expect(writes).toHaveLength(2);
        expect(await behind.get(apiToken.id)).toMatchObject({
          lastUsedAt: start + 60_001,
          lastUsedIp: "192.0.2.3",
        });

        // A revoked token's pending use is dropped.
        t.clock.advance(61_000);
        expect(await behind.authenticate(token)).toBeDefined();
        await behind.revoke(apiToken.id, { actor: "t" });
        await lastUsed.flush();
        expect(writes).toHaveLength(2);
      } finally {
        await lastUsed.close();
      }
    });

    it("is written at once without a write-behind, still at most once a minute", async () => {
      const direct = createApiTokens({
        repository: apiTokensRepository(t.ctx.storage.db),
        clock: t.clock,
        audit: t.ctx.accounts.audit,
        feed: t.ctx.revocations,
        maxLifetime: t.config.apiTokenMaxLifetime,
        isAdministrator: (id) => t.ctx.accounts.administrators.isAdministrator(id),
      });
      const owner = await newUser();
      const { token, apiToken } = await personal(owner);
      const start = t.clock.now();
      await direct.authenticate(token, { ip: "192.0.2.1" });
      expect(await direct.get(apiToken.id)).toMatchObject({ lastUsedAt: start, lastUsedIp: "192.0.2.1" });
      t.clock.advance(59_999);
      await direct.authenticate(token, { ip: "192.0.2.2" });
      expect(await direct.get(apiToken.id)).toMatchObject({ lastUsedAt: start, lastUsedIp: "192.0.2.1" });
      t.clock.advance(2);
      await direct.authenticate(token, { ip: "192.0.2.2" });
      expect(await direct.get(apiToken.id)).toMatchObject({
        lastUsedAt: start + 60_001,
        lastUsedIp: "192.0.2.2",
      });
    });

    it("reaches the database through the context's write-behind", async () => {
      const owner = await newUser();
      const { token, apiToken } = await personal(owner);
      await tokens.authenticate(token, { ip: "198.51.100.9" });
      const used = t.clock.now();
      await vi.waitFor(
        async () => {
          expect(await tokens.get(apiToken.id)).toMatchObject({
            lastUsedAt: used,
            lastUsedIp: "198.51.100.9",
          });
        },
        { timeout: 10_000, interval: 50 },
      );
    });
  });

  describe("listing and bulk revocation", () => {
    it("lists by kind and owner, newest first, never with a secret", async () => {
      const owner = await newUser();
      const first = await personal(owner, { name: "first" });
      t.clock.advance(1000);
      const second = await personal(owner, { name: "second" });
      const listed = await tokens.list({ ownerId: owner });
      expect(listed.map((x) => x.name)).toEqual(["second", "first"]);
      expect(JSON.stringify(listed)).not.toContain(first.token);
      expect(JSON.stringify(listed)).not.toContain(second.token);
      expect(JSON.stringify(listed)).not.toContain("token_hash");
      const services = await tokens.list({ kind: "service" });
      expect(services.length).toBeGreaterThan(0);
      expect(services.every((x) => x.kind === "service")).toBe(true);
      expect((await tokens.list({ kind: "personal", ownerId: owner })).map((x) => x.id)).toEqual([
        second.apiToken.id,
        first.apiToken.id,
      ]);
      expect(await tokens.list({ kind: "service", ownerId: owner })).toEqual([]);
    });

    it("revokeAllOf revokes every live token of an owner and counts them", async () => {
      const owner = await newUser();
      const a = await personal(owner);
      const b = await personal(owner);
      await tokens.revoke(a.apiToken.id, { actor: "t" });
      expect(await tokens.revokeAllOf(owner, { actor: "t", reason: "owner_disabled" })).toBe(1);
      expect(await tokens.authenticate(b.token)).toBeUndefined();
      expect((await tokens.get(a.apiToken.id))?.revokedReason).toBe("revoked");
      expect(await tokens.revokeAllOf(owner, { actor: "t", reason: "owner_disabled" })).toBe(0);
    });
  });

  describe("leak reports", () => {
    it("revokeLeaked revokes a live API token once, with reason leaked", async () => {
      const owner = await newUser();
      const { token, apiToken } = await personal(owner);
      expect(await tokens.revokeLeaked(token)).toMatchObject({ id: apiToken.id, revokedReason: "leaked" });
      expect(await tokens.authenticate(token)).toBeUndefined();
      expect(await tokens.revokeLeaked(token)).toBeUndefined();
      expect(await eventsFor(apiToken.id)).toHaveLength(1);
      const audit = await t.ctx.accounts.audit.list({ userId: owner, type: "api_token.leaked" });
      expect(audit).toHaveLength(1);
      expect(audit[0]?.actor).toBe("leak-report");
    });

    it("report counts received, recognised and revoked values and alerts the owner", async () => {
      const owner = await newUser();
      const { token } = await personal(owner);
      const badChecksum = token.slice(0, -1) + (token.at(-1) === "A" ? "B" : "A");
      const unknown = generateOpaqueToken({ prefix: "tsr_pat_", checksum: true });
      const result = await t.ctx.leakReports.report([token, token, badChecksum, unknown, "hello"], {
        ip: "203.0.113.5",
        source: "https://example.test/commit/1",
      });
      expect(result).toEqual({ received: 5, recognised: 2, revoked: 1 });
      expect(await tokens.authenticate(token)).toBeUndefined();
      const alerts = await t.ctx.accounts.audit.list({ userId: owner, type: "token.leak_reported" });
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        ip: "203.0.113.5",
        actor: "leak-report",
        details: { kind: "personal", source: "https://example.test/commit/1" },
      });
      expect(JSON.stringify(alerts)).not.toContain(token);
    });
  });

  describe("service accounts", () => {
    it("names are unique case-insensitively; get finds by id or name", async () => {
      const account = await t.ctx.serviceAccounts.create({
        name: "  Backup-Job ",
        description: " nightly ",
        ownerUserId: admin,
        ownerGroupId: adminGroupId,
        actor: "test",
      });
      expect(account).toMatchObject({
        name: "Backup-Job",
        description: "nightly",
        ownerUserId: admin,
        ownerGroupId: adminGroupId,
        disabledAt: null,
      });
      const duplicate = await refusal(t.ctx.serviceAccounts.create({ name: "backup-job", actor: "test" }));
      expect([duplicate.code, duplicate.status]).toEqual(["service_account_exists", 409]);
      expect((await t.ctx.serviceAccounts.get("BACKUP-JOB"))?.id).toBe(account.id);
      expect((await t.ctx.serviceAccounts.get(account.id))?.name).toBe("Backup-Job");
      expect(await t.ctx.serviceAccounts.get("nope")).toBeUndefined();
      const names = (await t.ctx.serviceAccounts.list()).map((a) => a.name.toLowerCase());
      expect(names).toEqual([...names].sort());
      const audit = await t.ctx.accounts.audit.list({ type: "service_account.created" });
      expect(audit.some((e) => e.details.serviceAccountId === account.id)).toBe(true);
    });

    it("get prefers the account whose id matches over one whose name is that id", async () => {
      // The impostor is stored first (created first, then renamed to the target's id), so a query that takes
      // whichever row comes first finds it.
      const impostor = await t.ctx.serviceAccounts.create({ name: "placeholder", actor: "test" });
      const target = await t.ctx.serviceAccounts.create({ name: "real-target", actor: "test" });
      await t.ctx.storage.db
        .updateTable("service_accounts")
        .set({ name: target.id, name_key: target.id.toLowerCase() })
        .where("id", "=", impostor.id)
        .execute();
      // (PostgreSQL writes an updated row at the end of the table: touch the target so it is stored last.)
      await t.ctx.storage.db
        .updateTable("service_accounts")
        .set({ description: "target" })
        .where("id", "=", target.id)
        .execute();
      for (let i = 0; i < 3; i++) expect((await t.ctx.serviceAccounts.get(target.id))?.id).toBe(target.id);
      expect((await t.ctx.serviceAccounts.get(impostor.id))?.id).toBe(impostor.id);
    });

    it("refuses a bad name or description and owners that do not exist", async () => {
      for (const name of ["", "  ", "a\u0007b", "x".repeat(201)]) {
        expect((await refusal(t.ctx.serviceAccounts.create({ name, actor: "t" }))).code).toBe(
          "invalid_request",
        );
      }
      expect(
        (
          await refusal(
            t.ctx.serviceAccounts.create({ name: "d", description: "x".repeat(1001), actor: "t" }),
          )
        ).code,
      ).toBe("invalid_request");
      expect(
        (await refusal(t.ctx.serviceAccounts.create({ name: "u", ownerUserId: "no-such-user", actor: "t" })))
          .code,
      ).toBe("invalid_request");
      expect(
        (
          await refusal(
            t.ctx.serviceAccounts.create({ name: "g", ownerGroupId: "no-such-group", actor: "t" }),
          )
        ).code,
      ).toBe("invalid_request");
      expect(await t.ctx.serviceAccounts.get("u")).toBeUndefined();
    });
  });

  describe("revocation feed", () => {
    it("keeps events for 35 minutes, then stops answering and purges them", async () => {
      const owner = await newUser();
      const { apiToken } = await personal(owner);
      await tokens.revoke(apiToken.id, { actor: "t" });
      expect(await eventsFor(apiToken.id)).toHaveLength(1);
      t.clock.advance(KEEP_EVENTS_MS - 1);
      expect(await eventsFor(apiToken.id)).toHaveLength(1);
      t.clock.advance(1);
      expect(await eventsFor(apiToken.id)).toEqual([]);
      expect(await t.ctx.revocations.purgeExpired()).toBeGreaterThan(0);
      const left = await t.ctx.storage.db
        .selectFrom("revocation_events")
        .select("id")
        .where("value", "=", apiToken.id)
        .execute();
      expect(left).toEqual([]);
    });
  });
});
