/**
 * The admin REST API (`/admin/...`) and its OpenAPI document (`/openapi.json`), on SQLite and PostgreSQL:
 * every resource's happy path and each refusal (401, 400 in the error format, 404, 409), disabling a user
 * ending what they hold, client secrets shown once, and the document covering every admin route.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientIdTakenError } from "../../src/oauth/clients.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { codeFlowTokens, discover } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://rp.example.test/cb";
const PASSWORD = "correct horse battery staple 42";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Every route Fastify knows under `/admin`, read from `printRoutes` (method, path with `:params`). */
function registeredAdminRoutes(app: FastifyInstance): { method: Method; path: string }[] {
  const routes: { method: Method; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join("");
    if (!path.startsWith("/admin")) continue;
    for (const method of (match[3] ?? "").split(", ").filter(Boolean)) {
      if (method !== "HEAD") routes.push({ method: method as Method, path });
    }
  }
  return routes;
}

describe.each(DIALECTS)("admin API on %s", (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
  });
  afterAll(async () => {
    await t.close();
  });

  const api = (method: Method, url: string, body?: unknown, token: string | null = TEST_ADMIN_TOKEN) =>
    t.app.inject({
      method,
      url,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  /** A refusal in the one error format: exactly `error` and `error_description`. */
  function expectError(res: { statusCode: number; json(): unknown }, status: number, code: string) {
    expect(res.statusCode).toBe(status);
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
    expect(body.error).toBe(code);
    expect(typeof body.error_description).toBe("string");
  }

  async function createUser(userName: string, extra: Record<string, unknown> = {}) {
    const res = await api("POST", "/admin/users", { userName, ...extra });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; userName: string; version: number };
  }

  describe("authorisation", () => {
    it("every admin route refuses a request without a token: 401 unauthorized with a Bearer challenge", async () => {
      const routes = registeredAdminRoutes(t.app);
      expect(routes.length).toBeGreaterThanOrEqual(25);
      for (const { method, path } of routes) {
        const res = await api(method, path.replaceAll(/:[A-Za-z]+/g, "x1"), undefined, null);
        expect(res.statusCode, `${method} ${path}`).toBe(401);
        expect(res.headers["www-authenticate"]).toBe('Bearer realm="tessera-admin"');
        expectError(res, 401, "unauthorized");
      }
    });

    it("every admin route refuses a wrong token: 401 invalid_token", async () => {
      for (const { method, path } of registeredAdminRoutes(t.app)) {
        const res = await api(method, path.replaceAll(/:[A-Za-z]+/g, "x1"), undefined, "wrong-token-123");
        expect(res.statusCode, `${method} ${path}`).toBe(401);
        expect(res.headers["www-authenticate"]).toContain('error="invalid_token"');
        expectError(res, 401, "invalid_token");
      }
    });

    it("refuses before reading the body: a bad body without a token is a 401, not a 400", async () => {
      const res = await api("POST", "/admin/users", { nonsense: true }, null);
      expectError(res, 401, "unauthorized");
    });
  });

  describe("users", () => {
    it("creates a user (201, Location) without ever answering the password", async () => {
      const res = await api("POST", "/admin/users", {
        userName: "alice",
        displayName: "Alice Liddell",
        emails: [{ value: "alice@example.test", type: "work", primary: true }],
        password: PASSWORD,
      });
      expect(res.statusCode).toBe(201);
      const user = res.json();
      expect(res.headers.location).toBe(`/admin/users/${user.id}`);
      expect(user).toMatchObject({
        userName: "alice",
        displayName: "Alice Liddell",
        active: true,
        hasPassword: true,
        emails: [{ value: "alice@example.test", type: "work", primary: true }],
        groups: [],
        version: 1,
      });
      expect(res.body).not.toContain(PASSWORD);
      expect(res.body).not.toContain("argon2");
      const read = await api("GET", `/admin/users/${user.id}`);
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual(user);
    });

    it("refuses a duplicate userName, whatever its case: 409 user_exists (on create and on rename)", async () => {
      expectError(await api("POST", "/admin/users", { userName: "ALICE" }), 409, "user_exists");
      const bob = await createUser("bob");
      expectError(await api("PATCH", `/admin/users/${bob.id}`, { userName: "Alice" }), 409, "user_exists");
    });

    it("refuses bad bodies with 400 invalid_request in the error format", async () => {
      expectError(await api("POST", "/admin/users", {}), 400, "invalid_request");
      expectError(await api("POST", "/admin/users", { userName: "x", role: "root" }), 400, "invalid_request");
      expectError(
        await api("POST", "/admin/users", { userName: "x", emails: "x@y" }),
        400,
        "invalid_request",
      );
      expectError(await api("POST", "/admin/users", { userName: "a\u0000b" }), 400, "invalid_request");
      expectError(await api("POST", "/admin/users", [1, 2]), 400, "invalid_request");
      const bob = await api("GET", "/admin/users?userName=bob");
      const id = bob.json().users[0].id as string;
      expectError(await api("PATCH", `/admin/users/${id}`, {}), 400, "invalid_request");
      expectError(await api("PATCH", `/admin/users/${id}`, { password: PASSWORD }), 400, "invalid_request");
      expectError(await api("GET", "/admin/users?count=5000"), 400, "invalid_request");
      expectError(await api("GET", "/admin/users?sort=userName"), 400, "invalid_request");
    });

    it("applies the domain's rules: a weak password is 400 password_rejected, two primary e-mails 400", async () => {
      expectError(
        await api("POST", "/admin/users", { userName: "weak", password: "password" }),
        400,
        "password_rejected",
      );
      expect((await api("GET", "/admin/users?userName=weak")).json().total).toBe(0);
      const bob = (await api("GET", "/admin/users?userName=bob")).json().users[0];
      const twoPrimaries = [
        { value: "a@example.test", primary: true },
        { value: "b@example.test", primary: true },
      ];
      expectError(
        await api("PATCH", `/admin/users/${bob.id}`, { emails: twoPrimaries }),
        400,
        "invalid_request",
      );
    });

    it("answers 404 user_not_found for an unknown id, and 400 for a malformed one", async () => {
      const unknown = "00000000-0000-4000-8000-000000000000";
      expectError(await api("GET", `/admin/users/${unknown}`), 404, "user_not_found");
      expectError(await api("PATCH", `/admin/users/${unknown}`, { displayName: "x" }), 404, "user_not_found");
      expectError(
        await api("PUT", `/admin/users/${unknown}/password`, { password: PASSWORD }),
        404,
        "user_not_found",
      );
      expectError(await api("DELETE", `/admin/users/${unknown}`), 404, "user_not_found");
      expectError(await api("GET", "/admin/users/a%00b"), 400, "invalid_request");
    });

    it("patches only the fields sent and bumps the version", async () => {
      const carol = await createUser("carol", { displayName: "Carol", givenName: "Carol" });
      const res = await api("PATCH", `/admin/users/${carol.id}`, {
        displayName: "Carol K.",
        emails: [{ value: "carol@example.test" }],
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        userName: "carol",
        displayName: "Carol K.",
        givenName: "Carol",
        emails: [{ value: "carol@example.test", type: null, primary: false }],
        version: carol.version + 1,
      });
      const cleared = await api("PATCH", `/admin/users/${carol.id}`, { displayName: null });
      expect(cleared.json()).toMatchObject({ displayName: null, givenName: "Carol" });
    });

    it("lists a page at a time, with total and nextStartIndex, filtered by userName", async () => {
      for (const n of [1, 2, 3, 4, 5]) {
        // Lists are in creation order; users created in the same millisecond would be ordered by id.
        t.clock.advance(1);
        await createUser(`page-${n}`);
      }
      const first = await api("GET", "/admin/users?userNameStartsWith=PAGE-&count=2");
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({ total: 5, startIndex: 1, nextStartIndex: 3 });
      expect(first.json().users.map((u: { userName: string }) => u.userName)).toEqual(["page-1", "page-2"]);
      const last = await api("GET", "/admin/users?userNameStartsWith=page-&startIndex=5&count=2");
      expect(last.json()).toMatchObject({ total: 5, startIndex: 5, nextStartIndex: null });
      expect(last.json().users).toHaveLength(1);
      const exact = await api("GET", "/admin/users?userName=Page-3");
      expect(exact.json().users.map((u: { userName: string }) => u.userName)).toEqual(["page-3"]);
      const onlyTotal = await api("GET", "/admin/users?userNameStartsWith=page-&count=0");
      expect(onlyTotal.json()).toMatchObject({ total: 5, users: [], nextStartIndex: null });
    });

    it("sets a password through the policy (204); the user can sign in with it", async () => {
      const dave = await createUser("dave");
      expectError(
        await api("PUT", `/admin/users/${dave.id}/password`, { password: "short" }),
        400,
        "password_rejected",
      );
      const set = await api("PUT", `/admin/users/${dave.id}/password`, { password: PASSWORD });
      expect(set.statusCode).toBe(204);
      expect(set.body).toBe("");
      const page = new PageClient(t.app, ISSUER);
      await page.get("/login");
      const signIn = await page.post("/login", { username: "dave", password: PASSWORD });
      expect(signIn.statusCode).toBe(303);
      expect((await api("GET", `/admin/users/${dave.id}`)).json()).toMatchObject({ hasPassword: true });
    });

    it("deletes a user (204); then it is 404", async () => {
      const erin = await createUser("erin");
      expect((await api("DELETE", `/admin/users/${erin.id}`)).statusCode).toBe(204);
      expectError(await api("GET", `/admin/users/${erin.id}`), 404, "user_not_found");
      expectError(await api("DELETE", `/admin/users/${erin.id}`), 404, "user_not_found");
    });
  });

  describe("disabling a user", () => {
    it("ends their sessions, refuses their tokens and their sign-in; enabling lets them back in", async () => {
      const pat = await createUser("pat", { password: PASSWORD });
      const created = await api("POST", "/admin/clients", {
        name: "Relying party",
        redirectUris: [CALLBACK],
        firstParty: true,
      });
      const { client, secret } = created.json() as { client: { id: string }; secret: string };
      const config = await discover(t.app, ISSUER, client.id, secret);
      const page = new PageClient(t.app, ISSUER);
      const tokens = await codeFlowTokens(config, page, CALLBACK, "openid profile");
      expect(tokens.refresh_token).toBeDefined();
      const basic = `Basic ${Buffer.from(`${client.id}:${secret}`).toString("base64")}`;
      const form = (url: string, fields: Record<string, string>) =>
        t.app.inject({
          method: "POST",
          url,
          headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
          payload: new URLSearchParams(fields).toString(),
        });
      expect((await form("/introspect", { token: tokens.access_token })).json().active).toBe(true);
      expect((await page.get("/session")).statusCode).toBe(200);
      expect((await api("GET", `/admin/users/${pat.id}/sessions`)).json().sessions).toHaveLength(1);

      const disabled = await api("PATCH", `/admin/users/${pat.id}`, { active: false });
      expect(disabled.statusCode).toBe(200);
      expect(disabled.json().active).toBe(false);

      expect((await api("GET", `/admin/users/${pat.id}/sessions`)).json().sessions).toEqual([]);
      expect((await page.get("/session")).statusCode).toBe(401);
      expect((await form("/introspect", { token: tokens.access_token })).json().active).toBe(false);
      const refresh = await form("/token", {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token as string,
      });
      expect(refresh.statusCode).toBe(400);
      expect(refresh.json().error).toBe("invalid_grant");
      const again = new PageClient(t.app, ISSUER);
      await again.get("/login");
      expect((await again.post("/login", { username: "pat", password: PASSWORD })).statusCode).toBe(401);
      await t.ctx.accounts.audit.flush();
      const audit = await t.ctx.storage.db
        .selectFrom("audit_events")
        .select(["actor"])
        .where("type", "=", "user.disabled")
        .where("user_id", "=", pat.id)
        .execute();
      expect(audit).toEqual([{ actor: "admin:bootstrap" }]);

      expect((await api("PATCH", `/admin/users/${pat.id}`, { active: true })).json().active).toBe(true);
      await again.get("/login");
      expect((await again.post("/login", { username: "pat", password: PASSWORD })).statusCode).toBe(303);
    });
  });

  describe("sessions", () => {
    it("lists a user's sessions without tokens, ends one (204), then all (count)", async () => {
      const frank = await createUser("frank", { password: PASSWORD });
      const sessions = t.ctx.accounts.sessions;
      const one = await sessions.create({
        userId: frank.id,
        amr: ["pwd"],
        remember: false,
        userAgent: "curl/8",
      });
      const two = await sessions.create({ userId: frank.id, amr: ["pwd"], remember: true });
      const three = await sessions.create({ userId: frank.id, amr: ["pwd"], remember: false });
      const list = await api("GET", `/admin/users/${frank.id}/sessions`);
      expect(list.statusCode).toBe(200);
      expect(list.json().sessions).toHaveLength(3);
      expect(list.json().sessions.find((s: { id: string }) => s.id === one.session.id)).toMatchObject({
        amr: ["pwd"],
        remember: false,
        userAgent: "curl/8",
      });
      for (const { token } of [one, two, three]) expect(list.body).not.toContain(token);

      const ended = await api("DELETE", `/admin/users/${frank.id}/sessions/${one.session.id}`);
      expect(ended.statusCode).toBe(204);
      expect(await sessions.check(one.token)).toBeUndefined();
      expect(await sessions.check(two.token)).toBeDefined();
      expectError(
        await api("DELETE", `/admin/users/${frank.id}/sessions/${one.session.id}`),
        404,
        "session_not_found",
      );

      const all = await api("DELETE", `/admin/users/${frank.id}/sessions`);
      expect(all.json()).toEqual({ revoked: 2 });
      expect(await sessions.check(two.token)).toBeUndefined();
      expect(await sessions.check(three.token)).toBeUndefined();
      expect((await api("GET", `/admin/users/${frank.id}/sessions`)).json().sessions).toEqual([]);
    });

    it("does not end another user's session through the wrong user's path: 404", async () => {
      const gina = await createUser("gina");
      const hank = await createUser("hank");
      const { token, session } = await t.ctx.accounts.sessions.create({
        userId: gina.id,
        amr: ["pwd"],
        remember: false,
      });
      expectError(
        await api("DELETE", `/admin/users/${hank.id}/sessions/${session.id}`),
        404,
        "session_not_found",
      );
      expect(await t.ctx.accounts.sessions.check(token)).toBeDefined();
    });

    it("answers 404 user_not_found for an unknown user", async () => {
      expectError(await api("GET", "/admin/users/nobody/sessions"), 404, "user_not_found");
      expectError(await api("DELETE", "/admin/users/nobody/sessions"), 404, "user_not_found");
    });
  });

  describe("groups", () => {
    it("creates, reads, lists, changes members, renames and deletes a group", async () => {
      const ivy = await createUser("ivy");
      const jon = await createUser("jon");
      const created = await api("POST", "/admin/groups", { displayName: "Operators", members: [ivy.id] });
      expect(created.statusCode).toBe(201);
      const group = created.json();
      expect(created.headers.location).toBe(`/admin/groups/${group.id}`);
      expect(group.members).toEqual([{ id: ivy.id, userName: "ivy" }]);
      expect((await api("GET", `/admin/users/${ivy.id}`)).json().groups).toEqual([
        { id: group.id, displayName: "Operators" },
      ]);

      const patched = await api("PATCH", `/admin/groups/${group.id}`, {
        addMembers: [jon.id],
        removeMembers: [ivy.id],
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ displayName: "Operators", members: [{ id: jon.id }] });
      const renamed = await api("PATCH", `/admin/groups/${group.id}`, { displayName: "Ops" });
      expect(renamed.json()).toMatchObject({ displayName: "Ops", members: [{ id: jon.id }] });

      const listed = await api("GET", "/admin/groups?displayName=ops");
      expect(listed.json()).toMatchObject({ total: 1, groups: [{ id: group.id }] });
      expect((await api("GET", `/admin/groups/${group.id}`)).json()).toEqual(renamed.json());

      expect((await api("DELETE", `/admin/groups/${group.id}`)).statusCode).toBe(204);
      expectError(await api("GET", `/admin/groups/${group.id}`), 404, "group_not_found");
      expect((await api("GET", `/admin/users/${jon.id}`)).json().groups).toEqual([]);
    });

    it("refuses a duplicate name (409 group_exists), unknown members and ambiguous patches (400)", async () => {
      const kim = await createUser("kim");
      const group = (await api("POST", "/admin/groups", { displayName: "Auditors" })).json();
      expectError(await api("POST", "/admin/groups", { displayName: "AUDITORS" }), 409, "group_exists");
      expectError(
        await api("POST", "/admin/groups", { displayName: "Ghosts", members: ["no-such-user"] }),
        400,
        "invalid_request",
      );
      expectError(
        await api("PATCH", `/admin/groups/${group.id}`, { addMembers: ["no-such-user"] }),
        400,
        "invalid_request",
      );
      expectError(
        await api("PATCH", `/admin/groups/${group.id}`, { addMembers: [kim.id], removeMembers: [kim.id] }),
        400,
        "invalid_request",
      );
      expectError(
        await api("PATCH", `/admin/groups/${group.id}`, { members: [kim.id] }),
        400,
        "invalid_request",
      );
      expectError(await api("PATCH", "/admin/groups/nope", { displayName: "x" }), 404, "group_not_found");
      expectError(await api("DELETE", "/admin/groups/nope"), 404, "group_not_found");
    });
  });

  describe("clients", () => {
    it("answers 409 client_exists to concurrent registrations of one client id: exactly one wins", async () => {
      const body = { id: "racer", name: "Racer", redirectUris: ["https://racer.example.test/cb"] };
      const answers = await Promise.all(Array.from({ length: 6 }, () => api("POST", "/admin/clients", body)));
      const statuses = answers.map((a) => a.statusCode).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
      for (const a of answers.filter((x) => x.statusCode === 409))
        expect(a.json().error).toBe("client_exists");
      // The race itself (both past the look-up): the database's unique key decides, and the loser's error is the
      // one the route answers 409 for.
      const input = { id: "racer-2", name: "Racer 2", redirectUris: ["https://racer.example.test/cb"] };
      const both = await Promise.allSettled([
        t.ctx.oauth.clients.create(input),
        t.ctx.oauth.clients.create(input),
      ]);
      expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      const lost = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(lost.reason).toBeInstanceOf(ClientIdTakenError);
    });

    it("answers a confidential client's secret once at creation, never in list or read", async () => {
      const res = await api("POST", "/admin/clients", {
        name: "Billing",
        redirectUris: ["https://billing.example.test/cb"],
        scopes: ["openid", "profile"],
      });
      expect(res.statusCode).toBe(201);
      const { client, secret } = res.json();
      expect(res.headers.location).toBe(`/admin/clients/${client.id}`);
      expect(secret).toMatch(/^tsr_cs_/);
      expect(client).toMatchObject({
        name: "Billing",
        authMethod: "client_secret_basic",
        scopes: ["openid", "profile"],
        grantTypes: ["authorization_code", "refresh_token"],
        jwks: null,
      });
      expect(client).not.toHaveProperty("secret");
      for (const url of ["/admin/clients", `/admin/clients/${client.id}`]) {
        const read = await api("GET", url);
        expect(read.statusCode).toBe(200);
        expect(read.body).not.toContain(secret);
        expect(read.body).not.toMatch(/"secret"/);
      }
      const rows = await t.ctx.storage.db.selectFrom("oauth_clients").selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(secret);
      await expect(
        t.ctx.oauth.clients.authenticate({ method: "client_secret_basic", clientId: client.id, secret }),
      ).resolves.toMatchObject({ id: client.id });
    });

    it("rotates the secret: the new one works, the old one stops at once", async () => {
      const { client, secret: old } = (
        await api("POST", "/admin/clients", { name: "Rotating", redirectUris: ["https://r.example.test/cb"] })
      ).json();
      const res = await api("POST", `/admin/clients/${client.id}/rotate-secret`);
      expect(res.statusCode).toBe(200);
      const { secret } = res.json();
      expect(secret).toMatch(/^tsr_cs_/);
      expect(secret).not.toBe(old);
      const authenticate = (s: string) =>
        t.ctx.oauth.clients.authenticate({ method: "client_secret_basic", clientId: client.id, secret: s });
      await expect(authenticate(secret)).resolves.toMatchObject({ id: client.id });
      await expect(authenticate(old)).rejects.toMatchObject({ code: "invalid_client" });
    });

    it("a public client gets no secret and has none to rotate: 409 client_has_no_secret", async () => {
      const res = await api("POST", "/admin/clients", {
        name: "Mobile",
        authMethod: "none",
        redirectUris: ["com.example.app:/cb"],
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).not.toHaveProperty("secret");
      const { client } = res.json();
      expectError(
        await api("POST", `/admin/clients/${client.id}/rotate-secret`),
        409,
        "client_has_no_secret",
      );
    });

    it("patches the fields sent, keeps the others, and validates the result like a registration", async () => {
      const { client } = (
        await api("POST", "/admin/clients", {
          name: "Portal",
          redirectUris: ["https://portal.example.test/cb"],
          firstParty: true,
          accessTokenTtl: 600,
        })
      ).json();
      const res = await api("PATCH", `/admin/clients/${client.id}`, {
        name: "Portal 2",
        redirectUris: ["https://portal.example.test/cb2"],
        backchannelLogoutUri: "https://portal.example.test/logout",
        dpopBound: true,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({
        id: client.id,
        dpopBound: true,
        name: "Portal 2",
        redirectUris: ["https://portal.example.test/cb2"],
        firstParty: true,
        accessTokenTtl: 600,
        backchannelLogoutUri: "https://portal.example.test/logout",
      });
      expect((await api("GET", `/admin/clients/${client.id}`)).json()).toEqual(res.json());
      expectError(
        await api("PATCH", `/admin/clients/${client.id}`, { redirectUris: ["http://evil.example.test/cb"] }),
        400,
        "invalid_redirect_uri",
      );
      expectError(
        await api("PATCH", `/admin/clients/${client.id}`, { authMethod: "none" }),
        400,
        "invalid_client_metadata",
      );
      expectError(
        await api("PATCH", `/admin/clients/${client.id}`, { accessTokenTtl: 86_400 }),
        400,
        "invalid_client_metadata",
      );
      expectError(await api("PATCH", `/admin/clients/${client.id}`, { secret: "x" }), 400, "invalid_request");
      expect((await api("GET", `/admin/clients/${client.id}`)).json()).toEqual(res.json());
    });

    it("refuses invalid metadata (400), a duplicate id (409 client_exists), unknown ids (404)", async () => {
      expectError(
        await api("POST", "/admin/clients", { name: "No redirect" }),
        400,
        "invalid_client_metadata",
      );
      expectError(
        await api("POST", "/admin/clients", {
          name: "Bad",
          redirectUris: ["https://x.example.test/cb#frag"],
        }),
        400,
        "invalid_redirect_uri",
      );
      expectError(
        await api("POST", "/admin/clients", { name: "Bad", grantTypes: ["password"] }),
        400,
        "invalid_request",
      );
      const body = { id: "fixed-client", name: "Fixed", redirectUris: ["https://f.example.test/cb"] };
      expect((await api("POST", "/admin/clients", body)).statusCode).toBe(201);
      expectError(await api("POST", "/admin/clients", body), 409, "client_exists");
      expectError(await api("GET", "/admin/clients/no-such-client"), 404, "client_not_found");
      expectError(
        await api("PATCH", "/admin/clients/no-such-client", { name: "x" }),
        404,
        "client_not_found",
      );
      expectError(await api("POST", "/admin/clients/no-such-client/rotate-secret"), 404, "client_not_found");
      expect((await api("DELETE", "/admin/clients/fixed-client")).statusCode).toBe(204);
      expectError(await api("DELETE", "/admin/clients/fixed-client"), 404, "client_not_found");
      expectError(await api("GET", "/admin/clients/fixed-client"), 404, "client_not_found");
    });
  });

  describe("resource servers", () => {
    const audience = "https://api.example.test/v1";
    const path = `/admin/resource-servers/${encodeURIComponent(audience)}`;

    it("registers, reads (audience percent-encoded), lists and deletes a resource server", async () => {
      const res = await api("POST", "/admin/resource-servers", {
        audience,
        name: "Orders API",
        scopes: ["orders:read", "orders:write"],
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers.location).toBe(path);
      expect(res.json()).toEqual({ audience, name: "Orders API", scopes: ["orders:read", "orders:write"] });
      expect((await api("GET", path)).json()).toEqual(res.json());
      expect((await api("GET", "/admin/resource-servers")).json().resourceServers).toContainEqual(res.json());
      expect((await api("DELETE", path)).statusCode).toBe(204);
      expectError(await api("GET", path), 404, "resource_server_not_found");
      expectError(await api("DELETE", path), 404, "resource_server_not_found");
    });

    it("refuses a duplicate audience (409), a relative one and unknown fields (400)", async () => {
      const body = { audience: "https://api.example.test/dup", scopes: ["a"] };
      const created = await api("POST", "/admin/resource-servers", body);
      expect(created.json().name).toBe(body.audience);
      expectError(await api("POST", "/admin/resource-servers", body), 409, "resource_server_exists");
      expectError(
        await api("POST", "/admin/resource-servers", { audience: "not a uri" }),
        400,
        "invalid_client_metadata",
      );
      expectError(
        await api("POST", "/admin/resource-servers", { audience: "https://x.example.test", scope: "a" }),
        400,
        "invalid_request",
      );
    });
  });

  describe("signing keys", () => {
    it("still lists keys at GET /admin/keys, with their documented fields only", async () => {
      const res = await api("GET", "/admin/keys");
      expect(res.statusCode).toBe(200);
      const { keys } = res.json() as { keys: Record<string, unknown>[] };
      expect(keys).toHaveLength(6);
      for (const key of keys) {
        expect(Object.keys(key).sort()).toEqual(
          ["activatedAt", "alg", "createdAt", "expiresAt", "kid", "retiredAt", "status"].sort(),
        );
      }
    });
  });

  describe("/openapi.json", () => {
    type Operation = {
      summary?: string;
      tags?: string[];
      security?: unknown;
      parameters?: { name: string; in: string; required?: boolean }[];
      requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
      responses?: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
    };
    let doc: {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Operation>>;
      components: { securitySchemes: Record<string, unknown> };
    };

    beforeAll(async () => {
      const res = await t.app.inject({ url: "/openapi.json" });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      doc = res.json();
    });

    it("is an OpenAPI 3.1 document with a bearer security scheme, served without credentials", () => {
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(doc.info.title).toBeTruthy();
      expect(doc.info.version).toBeTruthy();
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    });

    it("describes every admin route Fastify serves, each with summary, tags, security and responses", () => {
      const routes = registeredAdminRoutes(t.app);
      for (const { method, path } of routes) {
        const openapiPath = path.replaceAll(/:([A-Za-z]+)/g, "{$1}");
        const operation = doc.paths[openapiPath]?.[method.toLowerCase()];
        expect(operation, `${method} ${path} is missing`).toBeDefined();
        const where = `${method} ${path}`;
        expect(operation?.summary, where).toBeTruthy();
        expect(operation?.tags?.length, where).toBeGreaterThan(0);
        expect(operation?.security, where).toEqual([{ bearer: [] }]);
        const statuses = Object.keys(operation?.responses ?? {});
        expect(
          statuses.some((s) => /^2\d\d$/.test(s)),
          where,
        ).toBe(true);
        expect(statuses, where).toContain("401");
        expect(statuses, where).toContain("403");
        expect(statuses, where).toContain("400");
        for (const name of [...openapiPath.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1])) {
          expect(operation?.parameters, where).toContainEqual(
            expect.objectContaining({ name, in: "path", required: true }),
          );
        }
        const body = operation?.requestBody?.content["application/json"]?.schema;
        if (body) expect(body.additionalProperties, `${where} body`).toBe(false);
        for (const status of statuses.filter((s) => /^[45]/.test(s))) {
          expect(operation?.responses?.[status]?.content?.["application/json"]?.schema, where).toMatchObject({
            required: ["error", "error_description"],
          });
        }
      }
      const documented = Object.entries(doc.paths)
        .filter(([p]) => p.startsWith("/admin/"))
        .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
      expect(documented).toHaveLength(routes.length);
    });

    it("leaves out routes outside /admin unless their schemas are tagged", () => {
      for (const path of ["/openapi.json", "/token", "/authorize", "/scim/v2/Users", "/session", "/login"]) {
        expect(doc.paths[path], path).toBeUndefined();
      }
      for (const [path, operations] of Object.entries(doc.paths)) {
        if (path.startsWith("/admin/")) continue;
        for (const operation of Object.values(operations))
          expect(operation.tags?.length, path).toBeGreaterThan(0);
      }
    });

    it("has only schemas that compile as JSON Schema 2020-12 (the dialect of OpenAPI 3.1)", async () => {
      const { Ajv2020 } = await import("ajv/dist/2020.js");
      const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
      let compiled = 0;
      const compile = (schema: unknown) => {
        ajv.compile(schema as object);
        compiled++;
      };
      for (const operations of Object.values(doc.paths)) {
        for (const operation of Object.values(operations)) {
          for (const parameter of operation.parameters ?? []) {
            compile((parameter as unknown as { schema: unknown }).schema);
          }
          for (const media of Object.values(operation.requestBody?.content ?? {})) compile(media.schema);
          for (const response of Object.values(operation.responses ?? {})) {
            for (const media of Object.values(response.content ?? {})) compile(media.schema);
          }
        }
      }
      expect(compiled).toBeGreaterThan(50);
    });
  });
});
