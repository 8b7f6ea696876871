/**
 * API tokens over HTTP (`app.inject`, SQLite and PostgreSQL): the admin API and SCIM accepting them by scope,
 * every refusal with its status and `WWW-Authenticate`, introspection by resource servers, the revocation feed,
 * the leaked-token endpoint, the admin API for tokens and service accounts, and the account pages.
 */
import { createHash } from "node:crypto";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAdminToken } from "../../src/api-tokens/index.js";
import { generateOpaqueToken } from "../../src/crypto/index.js";
import { adminTokensRepository } from "../../src/storage/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://app.example.test/cb";
const API = "https://api.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION_COOKIE = "__Host-tessera_session";
const SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

interface ClientAuth {
  id: string;
  secret: string;
}

const basic = (c: ClientAuth) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString("base64")}`;
const sha256 = (value: string) => createHash("sha256").update(value).digest("base64url");
const flip = (token: string) => token.slice(0, -1) + (token.at(-1) === "A" ? "B" : "A");

describe.each(DIALECTS)("API tokens over HTTP on %s", (dialect) => {
  let t: TestApp;
  let adminGroupId: string;
  let ada: string;
  let bob: string;
  let rs: ClientAuth;
  let stranger: ClientAuth;
  let machine: ClientAuth;
  let webApp: ClientAuth;
  let userCount = 0;

  async function newUser(options: { password?: boolean } = {}) {
    userCount += 1;
    const userName = `person${userCount}`;
    const user = await t.ctx.accounts.users.create(
      { userName, ...(options.password ? { password: PASSWORD } : {}) },
      { actor: "test", authority: "admin" as const },
    );
    return { id: user.id, userName };
  }

  async function setAdmin(userId: string, member: boolean) {
    const admins = t.ctx.accounts.administrators;
    const by = { actor: "test", authority: "admin" as const };
    const holds = await admins.isAdministrator(userId);
    if (member && !holds) await admins.grant(userId, by);
    if (!member && holds) await admins.revoke(userId, by);
  }

  async function pat(
    ownerId: string,
    scopes: string[],
    extra: { resources?: string[]; allowedIps?: string[]; expiresIn?: number } = {},
  ) {
    return t.ctx.apiTokens.create({
      kind: "personal",
      name: "pat",
      ownerId,
      scopes,
      createdBy: "test",
      ...extra,
    });
  }

  async function serviceKey(scopes: string[], name = `svc-${++userCount}`) {
    const account = await t.ctx.serviceAccounts.create({ name, actor: "test" });
    const key = await t.ctx.apiTokens.create({
      kind: "service",
      name: "key",
      ownerId: account.id,
      scopes,
      createdBy: "test",
    });
    return { account, ...key };
  }

  function get(url: string, token: string | undefined, remoteAddress = "127.0.0.1") {
    return t.app.inject({
      method: "GET",
      url,
      remoteAddress,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  }

  function adminCall(
    method: "GET" | "POST" | "DELETE",
    url: string,
    body?: unknown,
    token = TEST_ADMIN_TOKEN,
  ) {
    return t.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  }

  function form(url: string, fields: Record<string, string>, authorization?: string) {
    return t.app.inject({
      method: "POST",
      url,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(authorization ? { authorization } : {}),
      },
      payload: new URLSearchParams(fields).toString(),
    });
  }

  function reportLeak(body: unknown) {
    return t.app.inject({
      method: "POST",
      url: "/api-tokens/leaked",
      remoteAddress: "203.0.113.50",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify(body),
    });
  }

  async function feed(since?: string, auth: ClientAuth = rs) {
    const response = await t.app.inject({
      method: "GET",
      url: since === undefined ? "/revocations" : `/revocations?since=${encodeURIComponent(since)}`,
      headers: { authorization: basic(auth) },
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as {
      events: { id: string; type: string; value: string; at: number }[];
      cursor: string;
      interval_ms: number;
    };
  }

  async function signIn(userName: string, ip = "127.0.0.1") {
    const page = new PageClient(t.app, ISSUER, ip);
    await page.get("/login");
    const response = await page.post("/login", { username: userName, password: PASSWORD });
    expect(response.statusCode).toBe(303);
    return page;
  }

  const SCIM_USERS = "/scim/v2/Users";
  const ADMIN_LIST = "/admin/api-tokens";

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    ada = (await newUser({ password: true })).id;
    adminGroupId = (
      await t.ctx.accounts.groups.create(
        { displayName: "tessera-admins", members: [ada] },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    await setAdmin(ada, true);
    bob = (await newUser({ password: true })).id;
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "read write" });
    const created = async (input: Parameters<typeof t.ctx.oauth.clients.create>[0]) => {
      const { client, secret } = await t.ctx.oauth.clients.create(input);
      return { id: client.id, secret: secret as string };
    };
    rs = await created({
      name: "API server",
      grantTypes: ["client_credentials"],
      scope: "",
      resources: [API],
    });
    stranger = await created({ name: "Stranger", grantTypes: ["client_credentials"], scope: "" });
    machine = await created({
      name: "Machine",
      grantTypes: ["client_credentials"],
      scope: "read",
      resources: [API],
    });
    webApp = await created({ name: "Web", redirectUris: [CALLBACK], firstParty: true });
  });
  afterAll(async () => {
    await t.close();
  });

  describe("admin API and SCIM authentication", () => {
    it("accepts a personal token with tessera:admin from an admin-group member", async () => {
      const { token, apiToken } = await pat(ada, ["tessera:admin"]);
      const response = await get(ADMIN_LIST, token);
      expect(response.statusCode, response.body).toBe(200);
      // Acting as the token: the audit actor names it.
      const created = await adminCall(
        "POST",
        "/admin/service-accounts",
        { name: `by-pat-${apiToken.id}` },
        token,
      );
      expect(created.statusCode).toBe(201);
      const audit = await t.ctx.accounts.audit.list({ type: "service_account.created" });
      expect(audit.find((e) => e.details.serviceAccountId === created.json().id)?.actor).toBe(
        `admin:${apiToken.id}`,
      );
      // SCIM accepts tessera:admin too.
      expect((await get(SCIM_USERS, token)).statusCode).toBe(200);
    });

    it("answers 403 insufficient_scope with the scope for a token without tessera:admin", async () => {
      const { token } = await pat(bob, ["read"], { resources: [API] });
      const response = await get(ADMIN_LIST, token);
      expect(response.statusCode).toBe(403);
      const challenge = String(response.headers["www-authenticate"]);
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="tessera:admin"');
      expect(response.json()).toMatchObject({ error: "insufficient_scope" });
      const scim = await get(SCIM_USERS, token);
      expect(scim.statusCode).toBe(403);
      expect(String(scim.headers["www-authenticate"])).toContain('error="insufficient_scope"');
      expect(String(scim.headers["www-authenticate"])).toContain('scope="tessera:scim"');
      expect(scim.headers["content-type"]).toMatch(/^application\/scim\+json/);
      expect(scim.json()).toMatchObject({ status: "403" });
    });

    it("accepts a service key with tessera:scim at SCIM only", async () => {
      const { token } = await serviceKey(["tessera:scim"]);
      const scim = await get(SCIM_USERS, token);
      expect(scim.statusCode, scim.body).toBe(200);
      expect(scim.json().totalResults).toBeGreaterThan(0);
      const admin = await get(ADMIN_LIST, token);
      expect(admin.statusCode).toBe(403);
      expect(String(admin.headers["www-authenticate"])).toContain('scope="tessera:admin"');
    });

    it("answers 401 invalid_token alike for a bad checksum, an unknown, a revoked and an expired token", async () => {
      const { token, apiToken } = await pat(ada, ["tessera:admin"], { expiresIn: 3600 });
      const expectInvalid = async (value: string) => {
        for (const url of [ADMIN_LIST, SCIM_USERS]) {
          const response = await get(url, value);
          expect(response.statusCode).toBe(401);
          expect(String(response.headers["www-authenticate"])).toContain('error="invalid_token"');
          expect(response.body).not.toContain(value);
        }
      };
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);
      await expectInvalid(flip(token));
      await expectInvalid(`tsr_svc_${token.slice(8)}`);
      await expectInvalid(generateOpaqueToken({ prefix: "tsr_pat_", checksum: true }));
      await expectInvalid(generateOpaqueToken({ prefix: "tsr_svc_", checksum: true }));

      t.clock.advance(3_600_000);
      await expectInvalid(token);
      t.clock.advance(-3_600_000);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);

      expect((await adminCall("DELETE", `/admin/api-tokens/${apiToken.id}`)).statusCode).toBe(204);
      await expectInvalid(token);
    });

    it("answers 401 without credentials, and for a token in the query string", async () => {
      const { token } = await pat(ada, ["tessera:admin"]);
      const missing = await get(ADMIN_LIST, undefined);
      expect(missing.statusCode).toBe(401);
      expect(missing.headers["www-authenticate"]).toBe('Bearer realm="tessera-admin"');
      expect((await get(`${ADMIN_LIST}?access_token=${token}`, undefined)).statusCode).toBe(401);
    });

    it("applies the IP allow-list to the caller's address, IPv4-mapped IPv6 included", async () => {
      const { token } = await pat(ada, ["tessera:admin"], {
        allowedIps: ["203.0.113.0/24", "2001:db8::/32"],
      });
      expect((await get(ADMIN_LIST, token, "203.0.113.9")).statusCode).toBe(200);
      expect((await get(ADMIN_LIST, token, "::ffff:203.0.113.9")).statusCode).toBe(200);
      expect((await get(ADMIN_LIST, token, "2001:db8::1")).statusCode).toBe(200);
      for (const ip of ["198.51.100.1", "::ffff:198.51.100.1", "127.0.0.1", "2001:db9::1"]) {
        const refused = await get(ADMIN_LIST, token, ip);
        expect(refused.statusCode).toBe(401);
        expect(String(refused.headers["www-authenticate"])).toContain('error="invalid_token"');
      }
      // A forwarded header does not move the caller inside the list (no trusted proxy is configured).
      const forwarded = await t.app.inject({
        method: "GET",
        url: ADMIN_LIST,
        remoteAddress: "198.51.100.1",
        headers: { authorization: `Bearer ${token}`, "x-forwarded-for": "203.0.113.9" },
      });
      expect(forwarded.statusCode).toBe(401);
    });

    it("drops tessera:admin and tessera:scim at the next use once the owner leaves the admin group", async () => {
      const owner = await newUser();
      await setAdmin(owner.id, true);
      const { token } = await pat(owner.id, ["tessera:admin", "tessera:scim"]);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);
      expect((await get(SCIM_USERS, token)).statusCode).toBe(200);
      await setAdmin(owner.id, false);
      const admin = await get(ADMIN_LIST, token);
      expect(admin.statusCode).toBe(403);
      expect(String(admin.headers["www-authenticate"])).toContain("insufficient_scope");
      expect((await get(SCIM_USERS, token)).statusCode).toBe(403);
      await setAdmin(owner.id, true);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);
    });

    it("refuses the tokens of a user disabled through SCIM, and announces it on the feed", async () => {
      const { token: scimKey } = await serviceKey(["tessera:scim"]);
      const victim = await newUser();
      await setAdmin(victim.id, true);
      const { token, apiToken } = await pat(victim.id, ["tessera:admin"]);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);
      const { cursor } = await feed();
      const patch = await t.app.inject({
        method: "PATCH",
        url: `${SCIM_USERS}/${victim.id}`,
        headers: { authorization: `Bearer ${scimKey}`, "content-type": "application/scim+json" },
        payload: JSON.stringify({
          schemas: [SCIM_PATCH],
          Operations: [{ op: "replace", path: "active", value: false }],
        }),
      });
      expect(patch.statusCode, patch.body).toBe(200);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(401);
      const { events } = await feed(cursor);
      expect(events).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: "sub", value: victim.id }),
          expect.objectContaining({ type: "jti", value: apiToken.id }),
        ]),
      );
    });

    it("refuses the keys of a disabled and of a deleted service account", async () => {
      const one = await serviceKey(["tessera:admin"]);
      expect((await get(ADMIN_LIST, one.token)).statusCode).toBe(200);
      expect((await adminCall("POST", `/admin/service-accounts/${one.account.id}/disable`)).statusCode).toBe(
        200,
      );
      expect((await get(ADMIN_LIST, one.token)).statusCode).toBe(401);
      const two = await serviceKey(["tessera:scim"]);
      expect((await get(SCIM_USERS, two.token)).statusCode).toBe(200);
      expect((await adminCall("DELETE", `/admin/service-accounts/${two.account.id}`)).statusCode).toBe(204);
      expect((await get(SCIM_USERS, two.token)).statusCode).toBe(401);
    });

    it("still accepts stored admin tokens and the bootstrap token", async () => {
      const minted = await createAdminToken(
        { repository: adminTokensRepository(t.ctx.storage.db), clock: t.clock },
        { name: "ops" },
      );
      expect((await get(ADMIN_LIST, minted.token)).statusCode).toBe(200);
      expect((await get(ADMIN_LIST, TEST_ADMIN_TOKEN)).statusCode).toBe(200);
      expect((await get(ADMIN_LIST, flip(minted.token))).statusCode).toBe(401);
    });
  });

  describe("admin API for API tokens", () => {
    it("creates a token whose secret is in the 201 answer only, never in list or get", async () => {
      const created = await adminCall("POST", "/admin/api-tokens", {
        kind: "personal",
        name: "reporting",
        ownerId: bob,
        scopes: ["read"],
        resources: [API],
        expiresIn: 3600,
        allowedIps: ["10.0.0.0/8"],
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.headers["cache-control"]).toBe("no-store");
      const { token, apiToken } = created.json() as { token: string; apiToken: Record<string, unknown> };
      expect(token).toMatch(/^tsr_pat_[0-9A-Za-z]{49}$/);
      expect(apiToken).toMatchObject({
        kind: "personal",
        name: "reporting",
        ownerId: bob,
        scopes: ["read"],
        resources: [API],
        allowedIps: ["10.0.0.0/8"],
        expiresAt: t.clock.now() + 3_600_000,
        createdBy: "admin:bootstrap",
        revokedAt: null,
      });
      expect(Object.keys(apiToken)).not.toContain("tokenHash");
      const id = apiToken.id as string;
      const list = await adminCall("GET", `${ADMIN_LIST}?ownerId=${bob}`);
      expect(list.statusCode).toBe(200);
      expect(list.json().apiTokens.map((x: { id: string }) => x.id)).toContain(id);
      const one = await adminCall("GET", `${ADMIN_LIST}/${id}`);
      expect(one.json()).toMatchObject({ id, name: "reporting" });
      for (const response of [list, one]) {
        expect(response.body).not.toContain(token);
        expect(response.body).not.toContain(token.slice(8, 30));
        expect(response.body).not.toContain(sha256(token));
      }
      const all = await adminCall("GET", ADMIN_LIST);
      expect(all.body).not.toContain(token);
      expect(all.body).not.toContain(sha256(token));
    });

    it("filters the list by kind and owner", async () => {
      const key = await serviceKey([]);
      const services = (await adminCall("GET", `${ADMIN_LIST}?kind=service`)).json().apiTokens as {
        kind: string;
        id: string;
      }[];
      expect(services.every((x) => x.kind === "service")).toBe(true);
      expect(services.map((x) => x.id)).toContain(key.apiToken.id);
      const mine = (await adminCall("GET", `${ADMIN_LIST}?ownerId=${key.account.id}`)).json().apiTokens;
      expect(mine.map((x: { id: string }) => x.id)).toEqual([key.apiToken.id]);
      expect((await adminCall("GET", `${ADMIN_LIST}?kind=admin`)).statusCode).toBe(400);
    });

    it("revokes with DELETE at once; a second DELETE is a no-op and an unknown id is 404", async () => {
      const { token, apiToken } = await pat(ada, ["tessera:admin"]);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(200);
      const gone = await adminCall("DELETE", `${ADMIN_LIST}/${apiToken.id}`);
      expect(gone.statusCode).toBe(204);
      expect((await get(ADMIN_LIST, token)).statusCode).toBe(401);
      expect((await adminCall("DELETE", `${ADMIN_LIST}/${apiToken.id}`)).statusCode).toBe(204);
      const unknown = await adminCall("DELETE", `${ADMIN_LIST}/no-such-token`);
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toMatchObject({ error: "api_token_not_found" });
      expect((await adminCall("GET", `${ADMIN_LIST}/no-such-token`)).statusCode).toBe(404);
      expect((await adminCall("GET", `${ADMIN_LIST}/${apiToken.id}`)).json()).toMatchObject({
        revokedAt: t.clock.now(),
        revokedReason: "revoked",
      });
    });

    it("refuses tessera:admin for a user outside the admin group, and lifetimes past the maximum", async () => {
      const base = { kind: "personal", name: "x", ownerId: bob, scopes: [] as string[] };
      const cases: [Record<string, unknown>, number, string][] = [
        [{ scopes: ["tessera:admin"] }, 400, "invalid_scope"],
        [{ scopes: ["tessera:scim"] }, 400, "invalid_scope"],
        [{ scopes: ["nope"] }, 400, "invalid_scope"],
        [{ expiresIn: t.config.apiTokenMaxLifetime + 1 }, 400, "invalid_request"],
        [{ expiresIn: null }, 400, "invalid_request"],
        [{ expiresIn: 59 }, 400, "invalid_request"],
        [{ allowedIps: ["10.0.0.0/40"] }, 400, "invalid_request"],
        [{ ownerId: "no-such-user" }, 400, "invalid_request"],
        [{ kind: "service", ownerId: "no-such-account" }, 404, "service_account_not_found"],
        [{ kind: "admin" }, 400, "invalid_request"],
        [{ extra: true }, 400, "invalid_request"],
      ];
      for (const [change, status, error] of cases) {
        const response = await adminCall("POST", ADMIN_LIST, { ...base, ...change });
        expect([response.statusCode, response.json().error], JSON.stringify(change)).toEqual([status, error]);
        expect(response.body).not.toMatch(/tsr_pat_/);
      }
      const before = await t.ctx.apiTokens.list({ ownerId: bob });
      expect(before.every((x) => !x.scopes.includes("tessera:admin"))).toBe(true);
      const ok = await adminCall("POST", ADMIN_LIST, { ...base, ownerId: ada, scopes: ["tessera:admin"] });
      expect(ok.statusCode).toBe(201);
    });
  });

  describe("admin API for service accounts", () => {
    it("creates, reads, lists, disables and deletes a service account; duplicate names are 409", async () => {
      const created = await adminCall("POST", "/admin/service-accounts", {
        name: "Nightly-Export",
        description: "exports",
        ownerUserId: ada,
        ownerGroupId: adminGroupId,
      });
      expect(created.statusCode, created.body).toBe(201);
      const account = created.json() as { id: string; name: string };
      expect(account).toMatchObject({ name: "Nightly-Export", ownerUserId: ada, disabledAt: null });
      const duplicate = await adminCall("POST", "/admin/service-accounts", { name: "nightly-export" });
      expect(duplicate.statusCode).toBe(409);
      expect(duplicate.json()).toMatchObject({ error: "service_account_exists" });

      expect((await adminCall("GET", `/admin/service-accounts/${account.id}`)).json()).toMatchObject(account);
      // The path takes an id, not a name.
      expect((await adminCall("GET", "/admin/service-accounts/nightly-export")).statusCode).toBe(404);
      expect((await adminCall("GET", "/admin/service-accounts/no-such-account")).statusCode).toBe(404);
      const list = (await adminCall("GET", "/admin/service-accounts")).json().serviceAccounts;
      expect(list.map((a: { id: string }) => a.id)).toContain(account.id);

      const key = await adminCall("POST", ADMIN_LIST, {
        kind: "service",
        name: "export-key",
        ownerId: account.id,
        scopes: ["tessera:scim"],
      });
      expect(key.statusCode, key.body).toBe(201);
      const secret = key.json().token as string;
      expect(secret).toMatch(/^tsr_svc_/);
      expect((await adminCall("GET", `/admin/service-accounts/${account.id}`)).body).not.toContain(secret);
      expect((await get(SCIM_USERS, secret)).statusCode).toBe(200);

      const disabled = await adminCall("POST", `/admin/service-accounts/${account.id}/disable`);
      expect(disabled.statusCode).toBe(200);
      expect(disabled.json().disabledAt).toBe(t.clock.now());
      expect((await get(SCIM_USERS, secret)).statusCode).toBe(401);
      const refused = await adminCall("POST", ADMIN_LIST, {
        kind: "service",
        name: "after",
        ownerId: account.id,
        scopes: [],
      });
      expect(refused.statusCode).toBe(404);
      expect((await adminCall("POST", "/admin/service-accounts/no-such-account/disable")).statusCode).toBe(
        404,
      );

      expect((await adminCall("DELETE", `/admin/service-accounts/${account.id}`)).statusCode).toBe(204);
      expect((await adminCall("DELETE", `/admin/service-accounts/${account.id}`)).statusCode).toBe(404);
      expect((await adminCall("GET", `/admin/service-accounts/${account.id}`)).statusCode).toBe(404);
    });

    it("finds an account by its id even when another account is named after that id", async () => {
      const target = (await adminCall("POST", "/admin/service-accounts", { name: "target-by-id" })).json();
      const impostor = await adminCall("POST", "/admin/service-accounts", { name: target.id });
      expect(impostor.statusCode).toBe(201);
      await t.ctx.storage.db
        .updateTable("service_accounts")
        .set({ description: "moved" })
        .where("id", "=", target.id)
        .execute();
      expect((await adminCall("GET", `/admin/service-accounts/${target.id}`)).json()).toMatchObject({
        id: target.id,
        name: "target-by-id",
      });
    });

    it("refuses bad service-account input", async () => {
      for (const body of [
        {},
        { name: "" },
        { name: "x", extra: 1 },
        { name: "x", ownerUserId: "no-such-user" },
      ]) {
        const response = await adminCall("POST", "/admin/service-accounts", body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
      }
    });
  });

  describe("introspection", () => {
    function introspect(token: string, auth: ClientAuth) {
      return form("/introspect", { token }, basic(auth)).then((r) => {
        expect(r.statusCode).toBe(200);
        return r.json() as Record<string, unknown>;
      });
    }

    it("shows a live personal token to a resource server it names, with kind, id and allowed IPs", async () => {
      const { token, apiToken } = await pat(bob, ["read", "write"], {
        resources: [API],
        allowedIps: ["10.0.0.0/8"],
        expiresIn: 7200,
      });
      const answer = await introspect(token, rs);
      const bobUser = (await t.ctx.accounts.users.get(bob))!;
      expect(answer).toEqual({
        active: true,
        token_type: "Bearer",
        scope: "read write",
        sub: bob,
        username: bobUser.userName,
        aud: API,
        iss: ISSUER,
        iat: Math.floor(apiToken.createdAt / 1000),
        exp: Math.floor((apiToken.createdAt + 7_200_000) / 1000),
        jti: apiToken.id,
        tessera_token_kind: "personal",
        tessera_allowed_ips: ["10.0.0.0/8"],
      });
      // The introspecting server is not the bearer: its own address is not checked against the list.
      expect(await introspect(token, stranger)).toEqual({ active: false });
    });

    it("shows a service key without a username, and hides tokens that name no resource server", async () => {
      const key = await t.ctx.apiTokens.create({
        kind: "service",
        name: "k",
        ownerId: (await t.ctx.serviceAccounts.create({ name: "introspected", actor: "t" })).id,
        scopes: ["read"],
        resources: [API],
        createdBy: "test",
      });
      const answer = await introspect(key.token, rs);
      expect(answer).toMatchObject({ active: true, tessera_token_kind: "service", jti: key.apiToken.id });
      expect(answer.username).toBeUndefined();
      expect(answer.tessera_allowed_ips).toBeUndefined();
      const bare = await pat(ada, ["tessera:admin"]);
      expect(await introspect(bare.token, rs)).toEqual({ active: false });
      expect(await introspect(bare.token, stranger)).toEqual({ active: false });
    });

    it("answers inactive for a revoked, expired, tampered or unknown token", async () => {
      const revoked = await pat(bob, ["read"], { resources: [API] });
      await t.ctx.apiTokens.revoke(revoked.apiToken.id, { actor: "t" });
      expect(await introspect(revoked.token, rs)).toEqual({ active: false });
      const expiring = await pat(bob, ["read"], { resources: [API], expiresIn: 60 });
      expect((await introspect(expiring.token, rs)).active).toBe(true);
      expect(await introspect(flip(expiring.token), rs)).toEqual({ active: false });
      t.clock.advance(60_000);
      expect(await introspect(expiring.token, rs)).toEqual({ active: false });
      expect(await introspect(generateOpaqueToken({ prefix: "tsr_pat_", checksum: true }), rs)).toEqual({
        active: false,
      });
    });
  });

  describe("revocation feed", () => {
    it("is advertised in discovery and needs an authenticated confidential client", async () => {
      const discovery = (await t.app.inject({ url: "/.well-known/openid-configuration" })).json();
      expect(discovery.tessera_revocations_endpoint).toBe(`${ISSUER}/revocations`);
      const anonymous = await t.app.inject({ url: "/revocations" });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ error: "invalid_client" });
      const wrong = await t.app.inject({
        url: "/revocations",
        headers: { authorization: basic({ id: rs.id, secret: "wrong" }) },
      });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.headers["www-authenticate"]).toBe('Basic realm="tessera"');
      const ok = await t.app.inject({ url: "/revocations", headers: { authorization: basic(rs) } });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers["cache-control"]).toBe("no-store");
      expect(ok.json().interval_ms).toBe(t.config.revocationPollInterval);
    });

    it("carries API token revocations, with cursor semantics: overlap behind the cursor, nothing older", async () => {
      const a = await pat(bob, []);
      const b = await pat(bob, []);
      const start = await feed();
      expect(start.cursor).toBe(String(t.clock.now()));
      await t.ctx.apiTokens.revoke(a.apiToken.id, { actor: "t" });
      t.clock.advance(10_000);
      await adminCall("DELETE", `${ADMIN_LIST}/${b.apiToken.id}`);
      const values = (r: { events: { value: string }[] }) =>
        r.events.map((e) => e.value).filter((v) => v === a.apiToken.id || v === b.apiToken.id);

      const first = await feed(start.cursor);
      expect(values(first)).toEqual([a.apiToken.id, b.apiToken.id]);
      expect(first.events.find((e) => e.value === a.apiToken.id)).toMatchObject({
        type: "jti",
        at: Number(start.cursor),
      });
      expect(first.cursor).toBe(String(t.clock.now()));

      t.clock.advance(10_000);
      // The next read starts 5 s behind the cursor: b (10 s before now) again, a (20 s before) no more.
      const second = await feed(first.cursor);
      expect(values(second)).toEqual([b.apiToken.id]);
      // An event whose transaction committed late (its time is behind the cursor) is still seen.
      await t.ctx.storage.db
        .insertInto("revocation_events")
        .values({
          id: "late-event",
          type: "jti",
          value: "late-token",
          at: Number(second.cursor) - 3000,
          keep_until: Number(second.cursor) + 60_000,
        })
        .execute();
      t.clock.advance(10_000);
      const third = await feed(second.cursor);
      expect(values(third)).toEqual([]);
      expect(third.events.map((e) => e.value)).toContain("late-token");
      // A cursor that is not one is read as "from the start".
      expect(values(await feed("not-a-cursor"))).toEqual([a.apiToken.id, b.apiToken.id]);
    });

    it("carries the jti of a JWT access token revoked at /revoke", async () => {
      const grant = await form(
        "/token",
        { grant_type: "client_credentials", scope: "read", resource: API },
        basic(machine),
      );
      expect(grant.statusCode, grant.body).toBe(200);
      const accessToken = grant.json().access_token as string;
      const claims = JSON.parse(Buffer.from(accessToken.split(".")[1]!, "base64url").toString()) as {
        jti: string;
      };
      const { cursor } = await feed();
      // Another client cannot revoke it (200, nothing changes, no event).
      expect((await form("/revoke", { token: accessToken }, basic(stranger))).statusCode).toBe(200);
      expect((await feed(cursor)).events.map((e) => e.value)).not.toContain(claims.jti);
      expect((await form("/revoke", { token: accessToken }, basic(machine))).statusCode).toBe(200);
      const { events } = await feed(cursor);
      expect(events.filter((e) => e.value === claims.jti)).toEqual([
        expect.objectContaining({ type: "jti", value: claims.jti }),
      ]);
    });
  });

  describe("follow-ups: feed by POST, admin group by name, introspection and last use, leak attribution", () => {
    it("serves the feed by POST for a client_secret_post resource server", async () => {
      const { client, secret } = await t.ctx.oauth.clients.create({
        name: "Post RS",
        grantTypes: ["client_credentials"],
        scope: "",
        resources: [API],
        authMethod: "client_secret_post",
      });
      const a = await pat(bob, []);
      const { cursor } = await feed();
      await t.ctx.apiTokens.revoke(a.apiToken.id, { actor: "t" });
      const answer = await form("/revocations", {
        client_id: client.id,
        client_secret: secret!,
        since: cursor,
      });
      expect(answer.statusCode, answer.body).toBe(200);
      expect(answer.json().events.map((e: { value: string }) => e.value)).toContain(a.apiToken.id);
      const wrong = await form("/revocations", {
        client_id: client.id,
        client_secret: "wrong",
        since: cursor,
      });
      expect(wrong.statusCode).toBe(401);
    });

    it("keeps the last address a bearer used when a resource server introspects the token", async () => {
      const token = await pat(bob, ["read"], { resources: [API] });
      expect((await get("/scim/v2/Users", token.token, "198.51.100.7")).statusCode).toBe(403);
      const lastUse = () =>
        t.ctx.storage.db
          .selectFrom("api_tokens")
          .select(["last_used_ip", "last_used_at"])
          .where("id", "=", token.apiToken.id)
          .executeTakeFirstOrThrow();
      await vi.waitFor(async () => expect((await lastUse()).last_used_ip).toBe("198.51.100.7"), {
        timeout: 5000,
      });
      t.clock.advance(61_000);
      const answer = await form("/introspect", { token: token.token }, basic(rs));
      expect(answer.json().active).toBe(true);
      await vi.waitFor(async () => expect(Number((await lastUse()).last_used_at)).toBe(t.clock.now()), {
        timeout: 5000,
      });
      expect((await lastUse()).last_used_ip).toBe("198.51.100.7");
    });

    it("alerts a service account's owning user, and no user for a client_credentials token", async () => {
      const owner = await newUser();
      const account = await t.ctx.serviceAccounts.create({
        name: `owned-${owner.id}`,
        ownerUserId: owner.id,
        actor: "t",
      });
      const key = await t.ctx.apiTokens.create({
        kind: "service",
        name: "k",
        ownerId: account.id,
        scopes: [],
        createdBy: "t",
      });
      const { client, secret } = await t.ctx.oauth.clients.create({
        name: "Opaque machine",
        grantTypes: ["client_credentials"],
        scope: "read",
        resources: [API],
        accessTokenFormat: "opaque",
      });
      const grant = await form(
        "/token",
        { grant_type: "client_credentials", scope: "read", resource: API },
        basic({ id: client.id, secret: secret! }),
      );
      const opaque = grant.json().access_token as string;
      expect(opaque).toMatch(/^tsr_at_/);
      const report = await reportLeak({ tokens: [key.token, opaque] });
      expect(report.json()).toEqual({ received: 2, recognised: 2, revoked: 2 });
      await t.ctx.accounts.audit.flush();
      const events = await t.ctx.storage.db
        .selectFrom("audit_events")
        .select(["user_id", "details"])
        .where("type", "=", "token.leak_reported")
        .execute();
      const details = events.map((e) => ({ userId: e.user_id, details: JSON.parse(String(e.details)) }));
      expect(details).toContainEqual({
        userId: owner.id,
        details: expect.objectContaining({ kind: "service", serviceAccountId: account.id }),
      });
      expect(details).toContainEqual({
        userId: null,
        details: expect.objectContaining({ kind: "access", clientId: client.id }),
      });
    });
  });

  describe("leaked-token endpoint", () => {
    it("revokes a personal token, a service key, an admin token, a refresh token and a session; answers only counts", async () => {
      const victim = await newUser({ password: true });
      await setAdmin(victim.id, true);
      const personal = await pat(victim.id, ["tessera:admin"]);
      const service = await serviceKey(["tessera:scim"]);
      const admin = await createAdminToken(
        { repository: adminTokensRepository(t.ctx.storage.db), clock: t.clock },
        { name: "leaky" },
      );
      const page = await signIn(victim.userName);
      const session = page.cookies.get(SESSION_COOKIE)!;
      expect(session).toMatch(/^tsr_ses_/);
      const config = await discover(t.app, ISSUER, webApp.id, webApp.secret);
      const oauthTokens = await codeFlowTokens(config, page, CALLBACK, "openid offline_access");
      const refresh = oauthTokens.refresh_token!;
      expect(refresh).toMatch(/^tsr_rt_/);
      const badChecksum = flip(generateOpaqueToken({ prefix: "tsr_pat_", checksum: true }));
      const unknown = generateOpaqueToken({ prefix: "tsr_pat_", checksum: true });
      const before = await t.ctx.accounts.audit.list({ userId: victim.id, type: "token.leak_reported" });
      expect(before).toEqual([]);
      const { cursor } = await feed();

      const response = await reportLeak({
        tokens: [
          personal.token,
          service.token,
          admin.token,
          refresh,
          session,
          badChecksum,
          unknown,
          "password123",
          personal.token,
        ],
        source: "https://paste.example.test/abc",
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers["cache-control"]).toBe("no-store");
      expect(response.json()).toEqual({ received: 9, recognised: 6, revoked: 5 });
      for (const value of [personal.token, service.token, admin.token, refresh, session]) {
        expect(response.body).not.toContain(value);
      }

      expect((await get(ADMIN_LIST, personal.token)).statusCode).toBe(401);
      expect((await get(SCIM_USERS, service.token)).statusCode).toBe(401);
      expect((await get(ADMIN_LIST, admin.token)).statusCode).toBe(401);
      expect((await form("/introspect", { token: refresh }, basic(webApp))).json()).toEqual({
        active: false,
      });
      const account = await page.get("/account");
      expect(account.statusCode).toBe(303);
      expect(String(account.headers.location)).toMatch(/^\/login/);
      // The refresh token's whole family died, its access token included: resource servers hear of both.
      const accessJti = (
        JSON.parse(Buffer.from(oauthTokens.access_token.split(".")[1]!, "base64url").toString()) as {
          jti: string;
        }
      ).jti;
      const announced = (await feed(cursor)).events.map((e) => e.value);
      expect(announced).toEqual(
        expect.arrayContaining([personal.apiToken.id, service.apiToken.id, accessJti]),
      );

      const alerts = await t.ctx.accounts.audit.list({ userId: victim.id, type: "token.leak_reported" });
      expect(alerts.map((e) => e.details.kind).sort()).toEqual(["personal", "refresh", "session"]);
      for (const alert of alerts) {
        expect(alert).toMatchObject({
          actor: "leak-report",
          ip: "203.0.113.50",
          details: { source: "https://paste.example.test/abc" },
        });
      }
      const all = await t.ctx.accounts.audit.list({ type: "token.leak_reported" });
      const fromThisReport = all.filter((e) => e.details.source === "https://paste.example.test/abc");
      expect(
        fromThisReport.filter((e) => e.details.kind === "service" || e.details.kind === "admin"),
      ).toHaveLength(2);
      expect(fromThisReport.find((e) => e.details.kind === "service")?.details.serviceAccountId).toBe(
        service.account.id,
      );
      expect(JSON.stringify(all)).not.toContain(personal.token);

      // Reported again: recognised, nothing left to revoke.
      const again = await reportLeak({ tokens: [personal.token, service.token] });
      expect(again.json()).toEqual({ received: 2, recognised: 2, revoked: 0 });
    });

    it("revokes a leaked client secret, registration access token and initial access token", async () => {
      const { token: initial } = await t.ctx.oauth.initialTokens.create({});
      const { token: spareInitial } = await t.ctx.oauth.initialTokens.create({});
      const registered = await t.app.inject({
        method: "POST",
        url: "/register",
        headers: { authorization: `Bearer ${initial}` },
        payload: { client_name: "Leaky", grant_types: ["client_credentials"] },
      });
      expect(registered.statusCode, registered.body).toBe(201);
      const meta = registered.json() as {
        client_id: string;
        client_secret: string;
        registration_access_token: string;
      };
      const leakyAuth = { id: meta.client_id, secret: meta.client_secret };
      expect((await form("/token", { grant_type: "client_credentials" }, basic(leakyAuth))).statusCode).toBe(
        200,
      );

      const response = await reportLeak({
        tokens: [meta.client_secret, meta.registration_access_token, spareInitial],
        source: "https://paste.example.test/client",
      });
      expect(response.json()).toEqual({ received: 3, recognised: 3, revoked: 3 });

      const refused = await form("/token", { grant_type: "client_credentials" }, basic(leakyAuth));
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error).toBe("invalid_client");
      const managed = await t.app.inject({
        url: `/register/${meta.client_id}`,
        headers: { authorization: `Bearer ${meta.registration_access_token}` },
      });
      expect(managed.statusCode).toBe(401);
      const another = await t.app.inject({
        method: "POST",
        url: "/register",
        headers: { authorization: `Bearer ${spareInitial}` },
        payload: { client_name: "Other", grant_types: ["client_credentials"] },
      });
      expect(another.statusCode).toBe(401);
      const alerts = (await t.ctx.accounts.audit.list({ type: "token.leak_reported" })).filter(
        (e) => e.details.source === "https://paste.example.test/client",
      );
      expect(alerts.map((e) => e.details.kind).sort()).toEqual([
        "client_secret",
        "initial_access_token",
        "registration_token",
      ]);
      expect(alerts.find((e) => e.details.kind === "client_secret")?.details.clientId).toBe(meta.client_id);
      // An administrator rotates the secret to get a working one.
      const fresh = await t.ctx.oauth.clients.rotateSecret(meta.client_id);
      const works = await form(
        "/token",
        { grant_type: "client_credentials" },
        basic({ id: meta.client_id, secret: fresh }),
      );
      expect(works.statusCode).toBe(200);
      // Reported again: nothing left to revoke.
      expect((await reportLeak({ tokens: [meta.client_secret] })).json()).toEqual({
        received: 1,
        recognised: 1,
        revoked: 0,
      });
    });

    it("accepts GitHub secret scanning's array format", async () => {
      const owner = await newUser();
      const { token } = await pat(owner.id, []);
      const response = await reportLeak([
        {
          token,
          type: "tessera_personal_access_token",
          url: "https://github.com/o/r/blob/x/.env",
          source: "content",
        },
        { token: "ghp_notours", type: "other", url: "https://github.com/o/r", source: "content" },
      ]);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({ received: 2, recognised: 1, revoked: 1 });
      expect(await t.ctx.apiTokens.authenticate(token)).toBeUndefined();
      const alerts = await t.ctx.accounts.audit.list({ userId: owner.id, type: "token.leak_reported" });
      expect(alerts).toHaveLength(1);
      expect(alerts[0]?.details).toMatchObject({
        kind: "personal",
        source: "https://github.com/o/r/blob/x/.env",
      });
    });

    it("does not recognise a value whose checksum is wrong, even when the true token is live", async () => {
      const owner = await newUser();
      const { token } = await pat(owner.id, []);
      const response = await reportLeak({ tokens: [flip(token), `${token}x`, token.slice(0, -1)] });
      expect(response.json()).toEqual({ received: 3, recognised: 0, revoked: 0 });
      expect(await t.ctx.apiTokens.authenticate(token)).toBeDefined();
    });

    it("takes at most 100 values, and refuses an empty or malformed report", async () => {
      const hundred = Array.from({ length: 100 }, () =>
        generateOpaqueToken({ prefix: "tsr_pat_", checksum: true }),
      );
      const ok = await reportLeak({ tokens: hundred });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ received: 100, recognised: 100, revoked: 0 });
      for (const body of [
        { tokens: [...hundred, "one more"] },
        Array.from({ length: 101 }, () => ({ token: "x" })),
        { tokens: [] },
        [],
        { tokens: [""] },
        { tokens: ["x".repeat(513)] },
        { token: "x" },
        { tokens: ["a"], extra: 1 },
        [{ type: "no token" }],
      ]) {
        const refused = await reportLeak(body);
        expect(refused.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      }
    });
  });

  describe("account pages", () => {
    function tokenOn(page: LightMyRequestResponse): string | undefined {
      return /value="(tsr_pat_[0-9A-Za-z]{49})"/.exec(page.body)?.[1];
    }

    it("sends a signed-out browser to sign in", async () => {
      const response = await t.app.inject({ url: "/account/tokens" });
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe("/login?return_to=%2Faccount%2Ftokens");
    });

    it("creates a token after the password, shows it once, lists it without the secret, and revokes it", async () => {
      const owner = await newUser({ password: true });
      const page = await signIn(owner.userName, "192.0.2.44");
      const list = await page.get("/account/tokens");
      expect(list.statusCode).toBe(200);
      expect(list.body).toContain("You have no active API tokens.");
      // Not in the admin group: Tessera's scopes are not offered; the resource server's are.
      expect(list.body).not.toContain('value="tessera:admin"');
      expect(list.body).toContain('value="read"');
      expect(list.body).toContain(`value="${API}"`);
      expect(list.body).toContain('<option value="90" selected>');
      expect(list.body).not.toContain('<option value="0"');

      const created = await page.post("/account/tokens", {
        name: "laptop <script>",
        scope: "read",
        resource: API,
        expires_in_days: "30",
        allowed_ips: "192.0.2.0/24, 2001:db8::/32",
      });
      expect(created.statusCode, created.body.slice(0, 500)).toBe(201);
      expect(created.headers["cache-control"]).toBe("no-store");
      const token = tokenOn(created)!;
      expect(token).toBeDefined();
      expect(created.body).toContain("laptop &lt;script&gt;");
      expect(created.body).toContain("it will not be shown again");
      const [stored] = await t.ctx.apiTokens.list({ ownerId: owner.id });
      expect(stored).toMatchObject({
        name: "laptop <script>",
        scopes: ["read"],
        resources: [API],
        allowedIps: ["192.0.2.0/24", "2001:db8::/32"],
        expiresAt: t.clock.now() + 30 * 86_400_000,
        createdBy: `user:${owner.id}`,
      });
      expect(await t.ctx.apiTokens.authenticate(token, { ip: "192.0.2.1" })).toBeDefined();

      const after = await page.get("/account/tokens");
      expect(after.body).toContain("laptop &lt;script&gt;");
      expect(after.body).not.toContain("<script>");
      expect(after.body).not.toContain(token);
      expect(after.body).toContain(`action="/account/tokens/${stored!.id}/revoke"`);

      const forged = await page.post(`/account/tokens/${stored!.id}/revoke`, {}, { csrf: false });
      expect(forged.statusCode).toBe(403);
      expect(await t.ctx.apiTokens.authenticate(token, { ip: "192.0.2.1" })).toBeDefined();
      const revoked = await page.post(`/account/tokens/${stored!.id}/revoke`, {});
      expect(revoked.statusCode).toBe(303);
      expect(revoked.headers.location).toBe("/account/tokens?done=token-revoked");
      expect(await t.ctx.apiTokens.authenticate(token, { ip: "192.0.2.1" })).toBeUndefined();
      const final = await page.get("/account/tokens?done=token-revoked");
      expect(final.body).toContain("The token is revoked.");
      expect(final.body).not.toContain("laptop &lt;script&gt;");
    });

    it("sends a stale sign-in to step-up, and refuses creation without the CSRF token", async () => {
      const owner = await newUser({ password: true });
      const page = await signIn(owner.userName);
      await page.get("/account/tokens");
      const fields = { name: "x", expires_in_days: "7" };
      // A sign-in older than the step-up age: confirm it is you first, then the same form works.
      t.clock.advance((t.config.stepUpMaxAge + 1) * 1000);
      const stale = await page.post("/account/tokens", fields);
      expect(stale.statusCode).toBe(303);
      expect(stale.headers.location).toBe("/login/step-up?return_to=%2Faccount%2Ftokens");
      expect(tokenOn(stale)).toBeUndefined();
      expect(await t.ctx.apiTokens.list({ ownerId: owner.id })).toEqual([]);
      const stepUp = await page.post("/login/step-up", { password: PASSWORD, return_to: "/account/tokens" });
      expect(stepUp.statusCode).toBe(303);
      expect(stepUp.headers.location).toBe("/account/tokens");
      const forged = await page.post("/account/tokens", fields, { csrf: false });
      expect(forged.statusCode).toBe(403);
      const foreign = await page.post("/account/tokens", fields, {
        headers: { origin: "https://evil.example.test" },
      });
      expect(foreign.statusCode).toBe(403);
      expect(await t.ctx.apiTokens.list({ ownerId: owner.id })).toEqual([]);
      const fresh = await page.post("/account/tokens", fields);
      expect(fresh.statusCode).toBe(201);
      expect(tokenOn(fresh)).toMatch(/^tsr_pat_/);
    });

    it("refuses Tessera's scopes for a non-admin and an expiry past the maximum, showing the form again", async () => {
      const owner = await newUser({ password: true });
      const page = await signIn(owner.userName);
      await page.get("/account/tokens");
      const admin = await page.post("/account/tokens", {
        name: "x",
        scope: "tessera:admin",
        expires_in_days: "7",
      });
      expect(admin.statusCode).toBe(400);
      expect(admin.body).toContain("Only administrators");
      expect(admin.body).toContain('action="/account/tokens"');
      const forever = await page.post("/account/tokens", {
        name: "x",
        expires_in_days: "0",
      });
      expect(forever.statusCode).toBe(400);
      const tooLong = await page.post("/account/tokens", {
        name: "x",
        expires_in_days: "400",
      });
      expect(tooLong.statusCode).toBe(400);
      // Not a whole number of days: refused, never replaced by the 90-day default.
      for (const days of ["7.5", "-1", "soon", "", "1e2"]) {
        const odd = await page.post("/account/tokens", {
          name: "x",
          expires_in_days: days,
        });
        expect(odd.statusCode, days).toBe(400);
        expect(odd.body).toContain("Choose when the token expires.");
      }
      expect(await t.ctx.apiTokens.list({ ownerId: owner.id })).toEqual([]);
      // Without the field at all: the 90-day default.
      const plain = await page.post("/account/tokens", { name: "x" });
      expect(plain.statusCode).toBe(201);
      expect((await t.ctx.apiTokens.list({ ownerId: owner.id }))[0]?.expiresAt).toBe(
        t.clock.now() + 90 * 86_400_000,
      );
    });

    it("offers Tessera's scopes to an admin-group member", async () => {
      const page = await signIn((await t.ctx.accounts.users.get(ada))!.userName);
      const list = await page.get("/account/tokens");
      expect(list.body).toContain('value="tessera:admin"');
      expect(list.body).toContain('value="tessera:scim"');
      const created = await page.post("/account/tokens", {
        name: "admin script",
        scope: "tessera:admin",
        expires_in_days: "7",
      });
      expect(created.statusCode).toBe(201);
      expect((await get(ADMIN_LIST, tokenOn(created)!)).statusCode).toBe(200);
    });

    it("revokes only the user's own tokens: another user's id changes nothing", async () => {
      const owner = await newUser({ password: true });
      const other = await pat(bob, []);
      const page = await signIn(owner.userName);
      await page.get("/account/tokens");
      const response = await page.post(`/account/tokens/${other.apiToken.id}/revoke`, {});
      expect(response.statusCode).toBe(303);
      expect(await t.ctx.apiTokens.authenticate(other.token)).toBeDefined();
      expect((await t.ctx.apiTokens.get(other.apiToken.id))?.revokedAt).toBeNull();
      // Service keys are not the user's either.
      const key = await serviceKey([]);
      await page.post(`/account/tokens/${key.apiToken.id}/revoke`, {});
      expect(await t.ctx.apiTokens.authenticate(key.token)).toBeDefined();
    });
  });
});
