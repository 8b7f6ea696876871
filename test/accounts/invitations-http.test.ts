/**
 * Invitations over HTTP: the admin API (`/admin/invitations`, its OpenAPI description, who may call it, every
 * refusal) on SQLite and PostgreSQL, and the acceptance page (`/invitations/accept`) with the form client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutboxMailer } from "../../src/mail/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { invitationToken } from "./sign-up-helpers.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const SESSION = "__Host-tessera_session";

interface InvitationJson {
  id: string;
  email: string;
  groups: string[];
  status: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  acceptedAt: number | null;
  userId: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
  mailed?: boolean;
}

function api(t: TestApp) {
  return (
    method: "GET" | "POST" | "DELETE",
    url: string,
    body?: unknown,
    token: string | null = TEST_ADMIN_TOKEN,
  ) =>
    t.app.inject({
      method,
      url,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
}

describe.each(DIALECTS)("admin API /admin/invitations on %s", (dialect) => {
  let t: TestApp;
  let call: ReturnType<typeof api>;
  let outbox: OutboxMailer;
  let groupId: string;
  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    call = api(t);
    outbox = t.ctx.mailer as OutboxMailer;
    groupId = (
      await t.ctx.accounts.groups.create({ displayName: "Staff" }, { actor: "test", authority: "admin" })
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  it("invites: 201 with id, expiresAt and status; the link goes to the address only; audited with the admin", async () => {
    const created = await call("POST", "/admin/invitations", {
      email: "new.hire@example.test",
      groups: [groupId],
      expiresIn: 86_400,
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers["cache-control"]).toBe("no-store");
    const body = created.json<InvitationJson>();
    expect(body).toMatchObject({
      email: "new.hire@example.test",
      groups: [groupId],
      status: "pending",
      createdBy: "admin:bootstrap",
      mailed: true,
      acceptedAt: null,
      userId: null,
    });
    expect(body.expiresAt - body.createdAt).toBe(86_400_000);
    expect(created.body).not.toContain("tsr_inv_");
    const token = invitationToken(outbox.messages.filter((m) => m.to === "new.hire@example.test").at(-1));
    expect(created.body).not.toContain(token);

    const events = await t.ctx.accounts.audit.list({ type: "invitation.created" });
    expect(events.find((e) => e.details.invitationId === body.id)).toMatchObject({
      actor: "admin:bootstrap",
      ip: "127.0.0.1",
    });

    const read = await call("GET", `/admin/invitations/${body.id}`);
    expect(read.statusCode).toBe(200);
    const { mailed: _mailed, ...stored } = body;
    expect(read.json()).toEqual(stored);
    const list = await call("GET", "/admin/invitations?status=pending");
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({
      total: 1,
      startIndex: 1,
      nextStartIndex: null,
      invitations: [{ id: body.id }],
    });
  });

  it("revokes: 204, audited with the admin; again 204; unknown 404; accepted 409", async () => {
    const { id } = (
      await call("POST", "/admin/invitations", { email: "revoke.me@example.test" })
    ).json<InvitationJson>();
    const revoked = await call("DELETE", `/admin/invitations/${id}`);
    expect(revoked.statusCode).toBe(204);
    expect((await call("GET", `/admin/invitations/${id}`)).json()).toMatchObject({
      status: "revoked",
      revokedBy: "admin:bootstrap",
    });
    expect((await call("DELETE", `/admin/invitations/${id}`)).statusCode).toBe(204);
    const events = (await t.ctx.accounts.audit.list({ type: "invitation.revoked" })).filter(
      (e) => e.details.invitationId === id,
    );
    expect(events).toMatchObject([{ actor: "admin:bootstrap" }]);
    const unknown = await call("DELETE", "/admin/invitations/no-such-invitation");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: "invitation_not_found" });
    expect((await call("GET", "/admin/invitations/no-such-invitation")).statusCode).toBe(404);

    const accepted = (
      await call("POST", "/admin/invitations", { email: "accepted@example.test" })
    ).json<InvitationJson>();
    const token = invitationToken(outbox.messages.filter((m) => m.to === "accepted@example.test").at(-1));
    await t.ctx.onboarding.invitations.accept(token, { password: PASSWORD }, { ip: null, userAgent: null });
    const refused = await call("DELETE", `/admin/invitations/${accepted.id}`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: "invitation_accepted" });
  });

  it("refuses bad requests with stable codes", async () => {
    await t.ctx.accounts.users.create(
      { userName: "existing", emails: [{ value: "existing@example.test", type: null, primary: true }] },
      { actor: "test", authority: "admin" },
    );
    const cases: [unknown, number, string][] = [
      [{}, 400, "invalid_request"],
      [{ email: "no-at-sign" }, 400, "invalid_request"],
      [{ email: "a@example.test", role: "admin" }, 400, "invalid_request"],
      [{ email: "a@example.test", groups: ["missing-group"] }, 400, "invalid_request"],
      [{ email: "a@example.test", groups: ["bad id!"] }, 400, "invalid_request"],
      [{ email: "a@example.test", expiresIn: 10 }, 400, "invalid_request"],
      [{ email: "a@example.test", expiresIn: 99_999_999 }, 400, "invalid_request"],
      [{ email: "a@example.test\u0000" }, 400, "invalid_request"],
      [{ email: "EXISTING@example.test" }, 409, "email_taken"],
    ];
    for (const [body, status, error] of cases) {
      const response = await call("POST", "/admin/invitations", body);
      expect(response.statusCode, JSON.stringify(body)).toBe(status);
      expect(response.json(), JSON.stringify(body)).toMatchObject({ error });
    }
    expect(outbox.messages.filter((m) => m.to.startsWith("a@"))).toHaveLength(0);
    expect((await call("GET", "/admin/invitations?status=unknown")).statusCode).toBe(400);
  });

  it("without admin credentials: 401; with a token lacking tessera:admin: 403; nothing created", async () => {
    const before = (await call("GET", "/admin/invitations")).json<{ total: number }>().total;
    const anonymous = await call("POST", "/admin/invitations", { email: "sneaky@example.test" }, null);
    expect(anonymous.statusCode).toBe(401);
    const wrong = await call(
      "POST",
      "/admin/invitations",
      { email: "sneaky@example.test" },
      "not-a-real-token",
    );
    expect(wrong.statusCode).toBe(401);
    const account = await t.ctx.serviceAccounts.create({ name: `scim-${dialect}`, actor: "test" });
    const { token } = await t.ctx.apiTokens.create({
      kind: "service",
      name: "scim",
      ownerId: account.id,
      scopes: ["tessera:scim"],
      createdBy: "test",
    });
    for (const [method, url] of [
      ["POST", "/admin/invitations"],
      ["GET", "/admin/invitations"],
      ["DELETE", "/admin/invitations/whatever"],
    ] as const) {
      const response = await call(
        method,
        url,
        method === "POST" ? { email: "sneaky@example.test" } : undefined,
        token,
      );
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json()).toMatchObject({ error: "insufficient_scope" });
    }
    expect((await call("GET", "/admin/invitations")).json<{ total: number }>().total).toBe(before);
    expect(outbox.messages.filter((m) => m.to === "sneaky@example.test")).toHaveLength(0);
  });

  it("is in the OpenAPI document with its schemas", async () => {
    const doc = (await t.app.inject({ url: "/openapi.json" })).json<{
      paths: Record<
        string,
        Record<string, { tags: string[]; summary: string; responses: Record<string, unknown> }>
      >;
      tags: { name: string }[];
    }>();
    expect(Object.keys(doc.paths["/admin/invitations"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/admin/invitations/{id}"] ?? {}).sort()).toEqual(["delete", "get"]);
    const post = doc.paths["/admin/invitations"]!.post!;
    expect(post.tags).toEqual(["invitations"]);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "403", "409"]));
    expect(doc.tags.map((tag) => tag.name)).toContain("invitations");
  });
});

describe("the invitation page", () => {
  let t: TestApp;
  let outbox: OutboxMailer;
  let staff: string;
  beforeAll(async () => {
    // Self-service sign-up is off (the default): invitations work all the same.
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER } });
    outbox = t.ctx.mailer as OutboxMailer;
    staff = (
      await t.ctx.accounts.groups.create({ displayName: "Staff" }, { actor: "test", authority: "admin" })
    ).id;
  });
  afterAll(async () => {
    await t.close();
  });

  async function invite(email: string, groups: string[] = []): Promise<{ id: string; token: string }> {
    const response = await api(t)("POST", "/admin/invitations", { email, groups });
    expect(response.statusCode).toBe(201);
    const token = invitationToken(outbox.messages.filter((m) => m.to === email).at(-1));
    return { id: response.json<InvitationJson>().id, token };
  }

  it("accepts: the form shows the address and groups, then the account is created, signed in and in the groups", async () => {
    expect(t.ctx.onboarding.signUp.enabled).toBe(false);
    const { token } = await invite("grace@example.test", [staff]);
    const client = new PageClient(t.app, ISSUER);
    const page = await client.get(`/invitations/accept?token=${token}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("grace@example.test");
    expect(page.body).toContain("You will join: Staff.");
    expect(page.body).toContain('value="grace@example.test"');
    expect(String(page.headers["content-security-policy"])).toContain("default-src 'none'");
    expect(client.lastCsrf).toBeDefined();
    const done = await client.post("/invitations/accept", {
      token,
      username: "grace",
      new_password: PASSWORD,
      confirm_password: PASSWORD,
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe("/account");
    expect(client.cookies.get(SESSION)).toBeDefined();
    const user = await t.ctx.accounts.users.findByUserName("grace");
    expect(user?.groups.map((g) => g.displayName)).toEqual(["Staff"]);
    expect(user?.emails).toEqual([{ value: "grace@example.test", type: null, primary: true }]);
    const adminView = await api(t)("GET", `/admin/users/${user!.id}`);
    expect(adminView.json()).toMatchObject({ groups: [{ displayName: "Staff" }] });
  });

  it("shows each refusal next to its field and keeps the link live", async () => {
    await t.ctx.accounts.users.create({ userName: "taken-name" }, { actor: "test", authority: "admin" });
    const { token } = await invite("alan@example.test");
    const client = new PageClient(t.app, ISSUER);
    await client.get(`/invitations/accept?token=${token}`);
    const cases: [Record<string, string>, string, number, string][] = [
      [{ new_password: "short one", confirm_password: "short one" }, "new_password", 400, "at least 15"],
      [
        { new_password: "qwertyuiopasdfgh", confirm_password: "qwertyuiopasdfgh" },
        "new_password",
        400,
        "breached",
      ],
      [
        {
          username: "alan-turing",
          new_password: "alan-turing machine 1936",
          confirm_password: "alan-turing machine 1936",
        },
        "new_password",
        400,
        "user name",
      ],
      [{ new_password: PASSWORD, confirm_password: "different" }, "confirm_password", 400, "do not match"],
      [
        { username: "Taken-Name", new_password: PASSWORD, confirm_password: PASSWORD },
        "username",
        409,
        "taken",
      ],
    ];
    for (const [form, id, status, text] of cases) {
      const response = await client.post("/invitations/accept", { token, username: "alan", ...form });
      expect(response.statusCode, id).toBe(status);
      const input = new RegExp(`<input[^>]*\\bid="${id}"[^>]*>`).exec(response.body)?.[0] ?? "";
      expect(input, id).toContain('aria-invalid="true"');
      expect(input, id).toContain(`${id}-error`);
      expect(response.body, id).toMatch(new RegExp(`id="${id}-error"><strong>Error:</strong> [^<]*${text}`));
    }
    const forged = await client.post(
      "/invitations/accept",
      { token, username: "alan", new_password: PASSWORD, confirm_password: PASSWORD },
      { csrf: false },
    );
    expect(forged.statusCode).toBe(403);
    expect(await t.ctx.accounts.users.findByEmail("alan@example.test")).toEqual([]);
    const done = await client.post("/invitations/accept", {
      token,
      username: "alan",
      new_password: PASSWORD,
      confirm_password: PASSWORD,
    });
    expect(done.statusCode).toBe(303);
  });

  it("refuses revoked, used, expired and forged links with one page", async () => {
    const revoked = await invite("revoked@example.test");
    await api(t)("DELETE", `/admin/invitations/${revoked.id}`);
    const used = await invite("used@example.test");
    await t.ctx.onboarding.invitations.accept(
      used.token,
      { password: PASSWORD },
      { ip: null, userAgent: null },
    );
    const expired = await invite("expired@example.test");
    t.clock.advance(7 * 24 * 3600_000);
    for (const token of [revoked.token, used.token, expired.token, `tsr_inv_${"B".repeat(49)}`, "garbage"]) {
      const client = new PageClient(t.app, ISSUER);
      const page = await client.get(`/invitations/accept?token=${token}`);
      expect(page.statusCode).toBe(400);
      expect(page.body).toContain("Invitation not valid");
      await client.get("/login");
      const posted = await client.post("/invitations/accept", {
        token,
        username: "late",
        new_password: PASSWORD,
        confirm_password: PASSWORD,
      });
      expect(posted.statusCode).toBe(400);
      expect(posted.body).toContain("Invitation not valid");
    }
    expect(await t.ctx.accounts.users.findByUserName("late")).toBeUndefined();
  });
});
