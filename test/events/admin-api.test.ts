/**
 * The webhooks admin API: what it refuses (no credential, a credential without `tessera:admin`, bad URLs,
 * unknown event types, destinations the outbound guard refuses in production), and what it does (the secret
 * shown once and never again, changes, secret rotation with both signatures for a while, deletion, audit,
 * OpenAPI). Development mode's plain-http loopback receivers work. On SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS } from "../helpers/databases.js";
import {
  ADMIN,
  bodies,
  createEventsApp,
  type EventsApp,
  type Receiver,
  registerWebhook,
  startReceiver,
  verifyWebhook,
} from "./helpers.js";

const ROUTES: { method: "GET" | "POST" | "PATCH" | "DELETE"; url: string; payload?: unknown }[] = [
  { method: "GET", url: "/admin/webhooks" },
  { method: "POST", url: "/admin/webhooks", payload: { url: "https://example.com/hook", events: ["*"] } },
  { method: "GET", url: "/admin/webhooks/x" },
  { method: "PATCH", url: "/admin/webhooks/x", payload: { enabled: false } },
  { method: "DELETE", url: "/admin/webhooks/x" },
  { method: "POST", url: "/admin/webhooks/x/rotate-secret" },
  { method: "GET", url: "/admin/webhooks/x/deliveries" },
  { method: "GET", url: "/admin/webhooks/x/deliveries/y" },
  { method: "POST", url: "/admin/webhooks/x/deliveries/y/redeliver" },
];

describe.each(DIALECTS)("webhooks admin API (%s)", (dialect) => {
  let t: EventsApp;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await createEventsApp({ dialect });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  const post = (payload: unknown, headers: Record<string, string> = ADMIN) =>
    t.app.inject({ method: "POST", url: "/admin/webhooks", headers, payload: payload as object });

  it("refuses every route without a credential (401) and with one that lacks tessera:admin (403)", async () => {
    const account = await t.ctx.serviceAccounts.create({ name: "scim-robot", actor: "test" });
    const { token } = await t.ctx.apiTokens.create({
      kind: "service",
      name: "scim only",
      ownerId: account.id,
      scopes: ["tessera:scim"],
      createdBy: "test",
    });
    for (const route of ROUTES) {
      const options = {
        method: route.method,
        url: route.url,
        ...(route.payload ? { payload: route.payload } : {}),
      };
      const none = await t.app.inject(options as never);
      expect(none.statusCode, `${route.method} ${route.url}`).toBe(401);
      const scim = await t.app.inject({ ...options, headers: { authorization: `Bearer ${token}` } } as never);
      expect(scim.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(scim.json().error).toBe("insufficient_scope");
    }
    expect(await t.ctx.webhooks.list()).toEqual([]);
  });

  it("refuses URLs that are not absolute http(s), carry credentials or a fragment, or need https", async () => {
    for (const url of [
      "not a url",
      "/relative/hook",
      "ftp://example.com/hook",
      "https://user:secret@example.com/hook",
      `${receiver.url}#fragment`,
      // Plain http reaches loopback only (and only where loopback is allowed).
      "http://93.184.216.34/hook",
      `https://example.com/${"x".repeat(2100)}`,
    ]) {
      const response = await post({ url, events: ["*"] });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error, url).toBe("invalid_request");
    }
    expect(await t.ctx.webhooks.list()).toEqual([]);
  });

  it("refuses unknown event types, an empty list, missing fields and unknown ones", async () => {
    for (const payload of [
      { url: receiver.url, events: ["user.created", "user.exploded"] },
      { url: receiver.url, events: ["USER.CREATED"] },
      { url: receiver.url, events: [] },
      { url: receiver.url },
      { events: ["*"] },
      { url: receiver.url, events: ["*"], secret: "whsec_mine" },
    ]) {
      const response = await post(payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error).toBe("invalid_request");
    }
    // The domain refuses the same when reached without the HTTP schema (the CLI's path).
    await expect(
      t.ctx.webhooks.create({ url: receiver.url, events: ["user.exploded"] }, { actor: "cli" }),
    ).rejects.toMatchObject({ code: "invalid_request", status: 400 });
    expect(await t.ctx.webhooks.list()).toEqual([]);
  });

  it("answers unknown endpoints and deliveries with 404", async () => {
    const { id } = await registerWebhook(t.app, receiver.url, ["user.deleted"]);
    const cases = [
      { method: "GET", url: "/admin/webhooks/nope" },
      { method: "PATCH", url: "/admin/webhooks/nope", payload: { enabled: false } },
      { method: "DELETE", url: "/admin/webhooks/nope" },
      { method: "POST", url: "/admin/webhooks/nope/rotate-secret" },
      { method: "GET", url: "/admin/webhooks/nope/deliveries" },
      { method: "GET", url: `/admin/webhooks/${id}/deliveries/nope` },
      { method: "POST", url: `/admin/webhooks/${id}/deliveries/nope/redeliver` },
    ] as const;
    for (const c of cases) {
      const response = await t.app.inject({ ...c, headers: ADMIN } as never);
      expect(response.statusCode, `${c.method} ${c.url}`).toBe(404);
      expect(response.json().error).toBe("not_found");
    }
    expect(
      (await t.app.inject({ method: "DELETE", url: `/admin/webhooks/${id}`, headers: ADMIN })).statusCode,
    ).toBe(204);
  });

  it("shows the secret once, changes, rotates (two signatures for a while), disables and deletes", async () => {
    const created = await post({
      url: receiver.url,
      events: ["user.created", "user.created", "user.deleted"],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.headers["cache-control"]).toBe("no-store");
    const endpoint = created.json();
    expect(endpoint).toMatchObject({
      url: receiver.url,
      events: ["user.created", "user.deleted"],
      enabled: true,
    });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(endpoint.secret.slice(6), "base64")).toHaveLength(32);

    // Never shown again, nor stored in the clear.
    const listed = await t.app.inject({ url: "/admin/webhooks", headers: ADMIN });
    const one = await t.app.inject({ url: `/admin/webhooks/${endpoint.id}`, headers: ADMIN });
    for (const response of [listed, one]) {
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toContain(endpoint.secret);
      expect(response.body).not.toContain('"secret"');
    }
    const row = await t.ctx.storage.db
      .selectFrom("webhook_endpoints")
      .selectAll()
      .where("id", "=", endpoint.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(endpoint.secret.slice(6));

    const patched = await t.app.inject({
      method: "PATCH",
      url: `/admin/webhooks/${endpoint.id}`,
      headers: ADMIN,
      payload: { events: ["*"] },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().events).toEqual(["*"]);
    const refused = await t.app.inject({
      method: "PATCH",
      url: `/admin/webhooks/${endpoint.id}`,
      headers: ADMIN,
      payload: { url: "http://93.184.216.34/hook" },
    });
    expect(refused.statusCode).toBe(400);

    const rotated = await t.app.inject({
      method: "POST",
      url: `/admin/webhooks/${endpoint.id}/rotate-secret`,
      headers: ADMIN,
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const newSecret = rotated.json().secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(endpoint.secret);
    const user = await t.app.inject({
      method: "POST",
      url: "/admin/users",
      headers: ADMIN,
      payload: { userName: "rot" },
    });
    expect(user.statusCode).toBe(201);
    const received = await receiver.waitFor((all) => bodies(all).some((b) => b.data.userName === "rot"));
    const delivery = received.find((r) => r.body.includes('"userName":"rot"'));
    // Both the new and (during the grace period) the old secret verify it: it carries one signature each.
    expect(String(delivery!.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verifyWebhook(newSecret, delivery!).type).toBe("user.created");
    expect(verifyWebhook(endpoint.secret, delivery!).type).toBe("user.created");

    const disabled = await t.app.inject({
      method: "PATCH",
      url: `/admin/webhooks/${endpoint.id}`,
      headers: ADMIN,
      payload: { enabled: false },
    });
    expect(disabled.json().enabled).toBe(false);
    await t.app.inject({
      method: "POST",
      url: "/admin/users",
      headers: ADMIN,
      payload: { userName: "unheard" },
    });
    const marker = await registerWebhook(t.app, receiver.url, ["user.deleted"]);
    await t.app.inject({ method: "DELETE", url: `/admin/users/${user.json().id}`, headers: ADMIN });
    // The marker endpoint's delivery arrives; the disabled endpoint got nothing for "unheard" meanwhile.
    await receiver.waitFor((received) => bodies(received).some((b) => b.type === "user.deleted"));
    expect(bodies(receiver.received).filter((b) => b.data.userName === "unheard")).toEqual([]);

    expect(
      (await t.app.inject({ method: "DELETE", url: `/admin/webhooks/${endpoint.id}`, headers: ADMIN }))
        .statusCode,
    ).toBe(204);
    expect((await t.app.inject({ url: `/admin/webhooks/${endpoint.id}`, headers: ADMIN })).statusCode).toBe(
      404,
    );
    await t.ctx.webhooks.remove(marker.id, { actor: "test" });

    // Audited with the administrator as actor, naming the URL's origin only; no secret in the logs.
    const audit = await t.ctx.accounts.audit.list({ limit: 100 });
    const mine = audit.filter((e) => e.type.startsWith("webhook.") && e.details.webhookId === endpoint.id);
    expect(mine.map((e) => e.type).sort()).toEqual([
      "webhook.created",
      "webhook.deleted",
      "webhook.secret_rotated",
      "webhook.updated",
      "webhook.updated",
    ]);
    for (const event of mine) expect(event.actor).toBe("admin:bootstrap");
    expect(mine.find((e) => e.type === "webhook.created")?.details.origin).toBe(new URL(receiver.url).origin);
    expect(JSON.stringify(mine)).not.toContain("/hook");
    expect(t.logs()).not.toContain(endpoint.secret);
    expect(t.logs()).not.toContain(newSecret);
  });

  it("documents every webhook route in the OpenAPI document", async () => {
    const document = (await t.app.inject({ url: "/openapi.json" })).json() as {
      paths: Record<string, Record<string, { summary?: string; security?: unknown }>>;
    };
    const expected = {
      "/admin/webhooks": ["get", "post"],
      "/admin/webhooks/{id}": ["delete", "get", "patch"],
      "/admin/webhooks/{id}/rotate-secret": ["post"],
      "/admin/webhooks/{id}/deliveries": ["get"],
      "/admin/webhooks/{id}/deliveries/{deliveryId}": ["get"],
      "/admin/webhooks/{id}/deliveries/{deliveryId}/redeliver": ["post"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(document.paths[path] ?? {}).sort(), path).toEqual(methods);
      for (const method of methods) expect(document.paths[path]?.[method]?.summary, path).toBeTruthy();
    }
  });
});

describe("webhook destinations by run mode", () => {
  it("production: private, loopback, link-local destinations and plain http are refused", async () => {
    const t = await createEventsApp({
      env: {
        NODE_ENV: "production",
        TESSERA_ISSUER: "https://id.example.test",
        TESSERA_MASTER_KEY: "07".repeat(32),
        TESSERA_OUTBOUND_ALLOW_PRIVATE: "false",
      },
    });
    try {
      for (const url of [
        "https://10.0.0.5/hook",
        "https://192.168.1.10/hook",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hook",
        "http://127.0.0.1:8080/hook",
      ]) {
        const response = await t.app.inject({
          method: "POST",
          url: "/admin/webhooks",
          headers: ADMIN,
          payload: { url, events: ["*"] },
        });
        expect(response.statusCode, url).toBe(400);
        expect(response.json().error_description, url).toMatch(/refused/);
      }
      expect(await t.ctx.webhooks.list()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("development: a plain-http loopback receiver can be registered and receives deliveries", async () => {
    const receiver = await startReceiver();
    const t = await createEventsApp({
      env: { NODE_ENV: "development", TESSERA_OUTBOUND_ALLOW_PRIVATE: "false" },
    });
    try {
      const local = `http://localhost:${receiver.port}/dev-hook`;
      const { secret } = await registerWebhook(t.app, local, ["user.created"]);
      await t.app.inject({
        method: "POST",
        url: "/admin/users",
        headers: ADMIN,
        payload: { userName: "dev" },
      });
      const [delivery] = await receiver.waitFor((received) => received.length >= 1);
      expect(verifyWebhook(secret, delivery!).data.userName).toBe("dev");
      // Still no private network in development: only loopback.
      const refused = await t.app.inject({
        method: "POST",
        url: "/admin/webhooks",
        headers: ADMIN,
        payload: { url: "http://10.0.0.5/hook", events: ["*"] },
      });
      expect(refused.statusCode).toBe(400);
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});
