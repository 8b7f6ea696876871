/**
 * No credential obtains, directly or through a chain of steps, a right with more authority than its own
 * (src/access/policy.ts). The chain found by the security review — a SCIM-only credential creates a user with a
 * password, puts it in the admin group, signs in as it and mints a `tessera:admin` token — and its variants,
 * tried with every kind of credential: a SCIM personal token, a SCIM service key, a narrow personal token, a
 * non-administrator's session, and an admin token (the positive control).
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";

const ISSUER = "https://id.example.test";
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "an entirely different passphrase 77";
const API = "https://api.example.test";
const BY = { actor: "test", authority: "admin" as const };

describe.each(DIALECTS)("privilege escalation on %s", (dialect) => {
  let t: TestApp;
  let adminId: string;
  let count = 0;
  /** The credentials under test, by kind. */
  const credentials: Record<string, string> = {};

  const call = (
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    url: string,
    token: string,
    body?: unknown,
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined
          ? {}
          : { "content-type": url.startsWith("/scim") ? "application/scim+json" : "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  async function signIn(userName: string, password = PASSWORD) {
    const page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    const response = await page.post("/login", { username: userName, password });
    return { page, response };
  }

  async function newUser(options: { admin?: boolean; email?: string } = {}) {
    count += 1;
    const user = await t.ctx.accounts.users.create(
      {
        userName: `person${count}`,
        password: PASSWORD,
        ...(options.email ? { emails: [{ value: options.email, type: "work", primary: true }] } : {}),
      },
      BY,
    );
    if (options.admin) await t.ctx.accounts.administrators.grant(user.id, BY);
    return user;
  }

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "read" });
    const admin = await newUser({ admin: true, email: "boss@example.test" });
    adminId = admin.id;
    const scimPat = await t.ctx.apiTokens.create({
      kind: "personal",
      name: "hr-sync",
      ownerId: adminId,
      scopes: ["tessera:scim"],
      createdBy: "test",
    });
    credentials["SCIM personal token"] = scimPat.token;
    const account = await t.ctx.serviceAccounts.create({ name: "hr-system", actor: "test" });
    const scimKey = await t.ctx.apiTokens.create({
      kind: "service",
      name: "hr",
      ownerId: account.id,
      scopes: ["tessera:scim"],
      createdBy: "test",
    });
    credentials["SCIM service key"] = scimKey.token;
    const someone = await newUser();
    const narrow = await t.ctx.apiTokens.create({
      kind: "personal",
      name: "narrow",
      ownerId: someone.id,
      scopes: ["read"],
      resources: [API],
      createdBy: "test",
    });
    credentials["narrow personal token"] = narrow.token;
  });
  afterAll(async () => {
    await t.close();
  });

  describe.each(["SCIM personal token", "SCIM service key"])("with a %s", (kind) => {
    it("the whole chain ends without administrative access", async () => {
      const token = credentials[kind]!;
      // 1. SCIM creates a user with a password it chose.
      const userName = `mallory-${kind.replace(/\W/g, "")}`;
      const created = await call("POST", "/scim/v2/Users", token, {
        schemas: [USER],
        userName,
        password: PASSWORD,
      });
      expect(created.statusCode, created.body).toBe(201);
      const mallory = created.json().id as string;
      // 2. …puts it in a group named like the old admin group (allowed: groups confer no Tessera right).
      const group = await call("POST", "/scim/v2/Groups", token, {
        schemas: [GROUP],
        displayName: `tessera-admins ${kind}`,
        members: [{ value: mallory }],
      });
      expect(group.statusCode, group.body).toBe(201);
      const legacy = await call("POST", "/scim/v2/Groups", token, {
        schemas: [GROUP],
        displayName: kind === "SCIM personal token" ? "tessera-admins" : "Tessera-Admins ",
        members: [{ value: mallory }],
      });
      expect([201, 409]).toContain(legacy.statusCode);
      expect(await t.ctx.accounts.administrators.isAdministrator(mallory)).toBe(false);
      // 3. …signs in as it.
      const { page, response } = await signIn(userName);
      expect(response.statusCode).toBe(303);
      // 4. …and tries to mint a token with Tessera's scopes: refused, nothing created.
      await page.get("/account/tokens");
      for (const scope of ["tessera:admin", "tessera:scim"]) {
        const minted = await page.post("/account/tokens", { name: "x", scope, expires_in_days: "7" });
        expect(minted.statusCode).toBe(400);
        expect(minted.body).toContain("Only administrators");
      }
      expect(await t.ctx.apiTokens.list({ ownerId: mallory })).toEqual([]);
      // The session is no admin credential either.
      const viaCookie = await page.get("/admin/users");
      expect(viaCookie.statusCode).toBe(401);
      // 5. The SCIM credential cannot grant the right through the admin API.
      const grant = await call("PUT", `/admin/users/${mallory}/admin`, token);
      expect(grant.statusCode).toBe(403);
      expect(grant.json().error).toBe("insufficient_scope");
      expect((await call("GET", "/admin/users", token)).statusCode).toBe(403);
      expect(await t.ctx.accounts.administrators.isAdministrator(mallory)).toBe(false);
    });

    it("cannot take over an administrator's account (password, user name, e-mail, re-enabling)", async () => {
      const token = credentials[kind]!;
      const email = `admin${count + 1}@example.test`;
      const admin = await newUser({ admin: true, email });
      const current = (await call("GET", `/scim/v2/Users/${admin.id}`, token)).json();
      const { meta: _meta, ...resource } = current;
      const attempts: [string, string, unknown][] = [
        ["PUT", "password", { ...resource, password: NEW_PASSWORD }],
        ["PUT", "userName", { ...resource, userName: `${admin.userName}-x` }],
        ["PUT", "emails", { ...resource, emails: [{ value: "attacker@evil.test", primary: true }] }],
        [
          "PATCH",
          "password",
          { schemas: [PATCH], Operations: [{ op: "replace", path: "password", value: NEW_PASSWORD }] },
        ],
        [
          "PATCH",
          "emails",
          {
            schemas: [PATCH],
            Operations: [{ op: "add", path: "emails", value: [{ value: "attacker@evil.test" }] }],
          },
        ],
      ];
      for (const [method, what, body] of attempts) {
        const answer = await call(method as "PUT" | "PATCH", `/scim/v2/Users/${admin.id}`, token, body);
        expect(answer.statusCode, `${method} ${what}: ${answer.body}`).toBe(403);
        expect(answer.json().status).toBe("403");
      }
      // Nothing changed: the old password still signs in, the new one does not; the e-mail is the admin's.
      expect((await signIn(admin.userName, NEW_PASSWORD)).response.statusCode).not.toBe(303);
      expect((await signIn(admin.userName)).response.statusCode).toBe(303);
      const after = await t.ctx.accounts.users.get(admin.id);
      expect(after?.emails.map((e) => e.value)).toEqual([email]);
      expect(after?.userName).toBe(admin.userName);
      // Offboarding stays possible: SCIM may disable an administrator…
      const disable = await call("PATCH", `/scim/v2/Users/${admin.id}`, token, {
        schemas: [PATCH],
        Operations: [{ op: "replace", path: "active", value: false }],
      });
      expect(disable.statusCode, disable.body).toBe(200);
      // …but not enable one again (that would revive a possibly compromised admin account).
      const enable = await call("PATCH", `/scim/v2/Users/${admin.id}`, token, {
        schemas: [PATCH],
        Operations: [{ op: "replace", path: "active", value: true }],
      });
      expect(enable.statusCode).toBe(403);
      expect((await t.ctx.accounts.users.get(admin.id))?.active).toBe(false);
      // An administrator may.
      const byAdmin = await call("PATCH", `/admin/users/${admin.id}`, TEST_ADMIN_TOKEN, { active: true });
      expect(byAdmin.statusCode, byAdmin.body).toBe(200);
      // Harmless attributes of an administrator stay SCIM's to manage.
      const rename = await call("PATCH", `/scim/v2/Users/${admin.id}`, token, {
        schemas: [PATCH],
        Operations: [{ op: "replace", path: "displayName", value: "The Boss" }],
      });
      expect(rename.statusCode, rename.body).toBe(200);
    });

    it("cannot redirect an administrator's password reset to itself", async () => {
      const token = credentials[kind]!;
      const admin = await newUser({ admin: true, email: `reset${count}@example.test` });
      const answer = await call("PATCH", `/scim/v2/Users/${admin.id}`, token, {
        schemas: [PATCH],
        Operations: [
          { op: "replace", path: "emails", value: [{ value: "attacker@evil.test", primary: true }] },
        ],
      });
      expect(answer.statusCode).toBe(403);
      expect(await t.ctx.accounts.users.findByEmail("attacker@evil.test")).toEqual([]);
    });

    it("may still manage ordinary users' passwords and e-mails", async () => {
      const token = credentials[kind]!;
      const user = await newUser({ email: `plain${count}@example.test` });
      const answer = await call("PATCH", `/scim/v2/Users/${user.id}`, token, {
        schemas: [PATCH],
        Operations: [{ op: "replace", path: "password", value: NEW_PASSWORD }],
      });
      expect(answer.statusCode, answer.body).toBe(200);
      expect((await signIn(user.userName, NEW_PASSWORD)).response.statusCode).toBe(303);
    });
  });

  it("a narrow personal token reaches neither SCIM nor the admin API", async () => {
    const token = credentials["narrow personal token"]!;
    expect((await call("GET", "/scim/v2/Users", token)).statusCode).toBe(403);
    expect((await call("POST", "/scim/v2/Users", token, { schemas: [USER], userName: "x" })).statusCode).toBe(
      403,
    );
    expect((await call("GET", "/admin/users", token)).statusCode).toBe(403);
    expect((await call("PUT", `/admin/users/${adminId}/admin`, token)).statusCode).toBe(403);
  });

  it("a non-administrator's session is offered no Tessera scope and cannot mint one", async () => {
    const user = await newUser();
    const { page } = await signIn(user.userName);
    const form = await page.get("/account/tokens");
    expect(form.body).not.toContain('value="tessera:admin"');
    expect(form.body).not.toContain('value="tessera:scim"');
    const minted = await page.post("/account/tokens", {
      name: "x",
      scope: "tessera:scim",
      expires_in_days: "7",
    });
    expect(minted.statusCode).toBe(400);
    expect(await t.ctx.apiTokens.list({ ownerId: user.id })).toEqual([]);
  });

  it("the right is granted and removed only explicitly, audited, and a removed admin's token loses it", async () => {
    const user = await newUser();
    const granted = await call("PUT", `/admin/users/${user.id}/admin`, TEST_ADMIN_TOKEN);
    expect(granted.statusCode, granted.body).toBe(204);
    expect((await call("PUT", `/admin/users/${user.id}/admin`, TEST_ADMIN_TOKEN)).json().error).toBe(
      "already_admin",
    );
    // Now an administrator: the page offers and mints Tessera's scopes.
    const { page } = await signIn(user.userName);
    expect((await page.get("/account/tokens")).body).toContain('value="tessera:admin"');
    const minted = await page.post("/account/tokens", {
      name: "ops",
      scope: "tessera:admin",
      expires_in_days: "7",
    });
    expect(minted.statusCode, minted.body.slice(0, 300)).toBe(201);
    const token = /(tsr_pat_[A-Za-z0-9_]+)/.exec(minted.body)?.[1] as string;
    expect(token).toBeDefined();
    expect((await call("GET", "/admin/users", token)).statusCode).toBe(200);
    // Removed: the same token loses the scope at its next use.
    const removed = await call("DELETE", `/admin/users/${user.id}/admin`, TEST_ADMIN_TOKEN);
    expect(removed.statusCode).toBe(204);
    expect((await call("GET", "/admin/users", token)).statusCode).toBe(403);
    expect((await call("DELETE", `/admin/users/${user.id}/admin`, TEST_ADMIN_TOKEN)).json().error).toBe(
      "not_admin",
    );
    await t.ctx.accounts.audit.flush();
    const events = await t.ctx.accounts.audit.list({ userId: user.id });
    const types = events.map((e) => e.type);
    expect(types).toContain("admin.granted");
    expect(types).toContain("admin.revoked");
    expect(events.find((e) => e.type === "admin.granted")?.actor).toBe("admin:bootstrap");
  });

  it("the domain refuses a grant without administrator authority, whatever the entry point", async () => {
    const user = await newUser();
    for (const authority of ["provisioning", "self"] as const) {
      await expect(
        t.ctx.accounts.administrators.grant(user.id, { actor: "x", authority }),
      ).rejects.toMatchObject({ code: "forbidden_change", status: 403 });
    }
    expect(await t.ctx.accounts.administrators.isAdministrator(user.id)).toBe(false);
  });

  it("a user cannot make themself an administrator by creating a group in any case or spacing", async () => {
    const user = await newUser();
    for (const name of ["tessera-admins", "TESSERA-ADMINS", "admins", "administrators"]) {
      await t.ctx.accounts.groups
        .create({ displayName: name, members: [user.id] }, BY)
        .catch(() => undefined);
    }
    expect(await t.ctx.apiTokens.isAdmin(user.id)).toBe(false);
  });
});
