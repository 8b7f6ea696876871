/**
 * Every domain event type reaches a webhook receiver from its real entry point — the admin API, SCIM, the
 * sign-in page, the token endpoint, the leak-report endpoint — and every delivery verifies with the
 * `standardwebhooks` package (the specification's reference implementation): signature, `webhook-id` (the
 * event id), `webhook-timestamp`. Subscriptions filter; a rolled-back change has no event; with the outbox
 * off nothing is written. On SQLite and PostgreSQL.
 */
import { createHash, randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DOMAIN_EVENT_TYPES } from "../../src/events/index.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { basicAuth, runAuthorization } from "../helpers/oauth.js";
import {
  ADMIN,
  bodies,
  createEventsApp,
  type EventsApp,
  type Receiver,
  registerWebhook,
  startReceiver,
  type VerifiedWebhook,
  verifyWebhook,
} from "./helpers.js";

const ISSUER = "https://id.example.test";
const API = "https://api.example.test";
const CALLBACK = "https://app.example.test/callback";
const PASSWORD = "correct horse battery staple 42";
const SESSION_COOKIE = "__Host-tessera_session";
const SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

describe.each(DIALECTS)("webhooks from every entry point (%s)", (dialect) => {
  let t: EventsApp;
  let receiver: Receiver;
  let filtered: Receiver;
  let all: { id: string; secret: string };
  let some: { id: string; secret: string };
  let ips = 0;
  const page = () => new PageClient(t.app, ISSUER, `192.0.2.${(ips++ % 250) + 1}`);

  beforeAll(async () => {
    receiver = await startReceiver();
    filtered = await startReceiver();
    t = await createEventsApp({
      dialect,
      env: { TESSERA_ISSUER: ISSUER, TESSERA_REFRESH_GRACE_WINDOW: "0" },
    });
    all = await registerWebhook(t.app, receiver.url, ["*"]);
    some = await registerWebhook(t.app, filtered.url, ["user.deleted", "key.rotated"]);
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await filtered?.close();
  });

  const api = (method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", url: string, payload?: unknown) =>
    t.app.inject({
      method,
      url,
      headers: {
        ...ADMIN,
        ...(payload === undefined
          ? {}
          : { "content-type": url.startsWith("/scim/") ? "application/scim+json" : "application/json" }),
      },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  const form = (url: string, fields: Record<string, string>, authorization?: string) =>
    t.app.inject({
      method: "POST",
      url,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(authorization ? { authorization } : {}),
      },
      payload: new URLSearchParams(fields).toString(),
    });

  /** Every delivery received so far, verified with the endpoint's secret. */
  const verified = (from: Receiver, secret: string): VerifiedWebhook[] =>
    from.received.map((request) => verifyWebhook(secret, request));

  const waitForEvent = (type: string, match: (data: Record<string, unknown>) => boolean = () => true) =>
    receiver.waitFor((received) => bodies(received).some((b) => b.type === type && match(b.data)));

  async function signIn(
    userName: string,
    password = PASSWORD,
  ): Promise<{ cookie: string; sessionId: string; browser: PageClient }> {
    const browser = page();
    await browser.get("/login");
    const response = await browser.post("/login", { username: userName, password });
    expect(response.statusCode, response.body).toBe(303);
    const cookie = browser.cookies.get(SESSION_COOKIE) as string;
    const session = await t.app.inject({
      url: "/session",
      headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
    });
    expect(session.statusCode).toBe(200);
    return { cookie, sessionId: session.json().session.id as string, browser };
  }

  it("delivers each event type, signed, with the event id as webhook-id", async () => {
    // user.created (admin API)
    const created = await api("POST", "/admin/users", {
      userName: "ada",
      password: PASSWORD,
      emails: [{ value: "ada@example.test", type: "work", primary: true }],
    });
    expect(created.statusCode, created.body).toBe(201);
    const ada = created.json().id as string;

    // user.updated (SCIM)
    const renamed = await api("PATCH", `/scim/v2/Users/${ada}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: "replace", path: "displayName", value: "Ada L." }],
    });
    expect(renamed.statusCode, renamed.body).toBe(200);

    // signin.failed, then signin.throttled (the sign-in page)
    const { sessionId: firstSession } = await signIn("ada");
    const attacker = page();
    await attacker.get("/login");
    const wrong = await attacker.post("/login", { username: "ada", password: "not the password at all" });
    expect(wrong.statusCode).toBe(401);
    let throttled = false;
    for (let i = 0; i < 10 && !throttled; i++) {
      const attempt = await attacker.post("/login", { username: "nobody", password: "wrong password here" });
      throttled = attempt.statusCode === 429;
    }
    expect(throttled).toBe(true);

    // user.disabled with session.ended (SCIM), user.enabled (admin API)
    const disabled = await api("PATCH", `/scim/v2/Users/${ada}`, {
      schemas: [SCIM_PATCH],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    expect(disabled.statusCode, disabled.body).toBe(200);
    const enabled = await api("PATCH", `/admin/users/${ada}`, { active: true });
    expect(enabled.statusCode, enabled.body).toBe(200);

    // credential.changed: password (admin API), TOTP and recovery codes (their domain operations, as the
    // account pages call them), then an administrator's MFA reset (admin API)
    const password = await api("PUT", `/admin/users/${ada}/password`, { password: `${PASSWORD} again` });
    expect(password.statusCode, password.body).toBe(204);
    const by = { actor: `user:${ada}` };
    const enrolment = await t.ctx.mfa.totp.beginEnrolment({ id: ada, userName: "ada" }, by);
    const code = new TOTP({ secret: Secret.fromBase32(enrolment.secret) }).generate();
    expect(await t.ctx.mfa.totp.confirmEnrolment(ada, code, by)).toBe(true);
    await t.ctx.mfa.recoveryCodes.generate(ada, by);
    const reset = await api("DELETE", `/admin/users/${ada}/mfa`);
    expect(reset.statusCode, reset.body).toBe(200);

    // api_token.created, api_token.revoked (admin API), api_token.leaked (the leak-report endpoint)
    const account = await api("POST", "/admin/service-accounts", { name: "robot" });
    expect(account.statusCode, account.body).toBe(201);
    const mint = () =>
      api("POST", "/admin/api-tokens", {
        kind: "service",
        name: "key",
        ownerId: account.json().id,
        scopes: ["tessera:scim"],
      });
    const first = await mint();
    expect(first.statusCode, first.body).toBe(201);
    expect((await api("DELETE", `/admin/api-tokens/${first.json().apiToken.id}`)).statusCode).toBe(204);
    const second = await mint();
    const leak = await t.app.inject({
      method: "POST",
      url: "/api-tokens/leaked",
      payload: { tokens: [second.json().token] },
    });
    expect(leak.statusCode, leak.body).toBe(200);
    expect(leak.json().revoked).toBe(1);

    // key.rotated (admin API)
    const rotated = await api("POST", "/admin/keys/rotate", { alg: "ES256", force: true });
    expect(rotated.statusCode, rotated.body).toBe(200);

    // refresh_token.reused (the token endpoint): a rotated refresh token presented again
    await t.ctx.oauth.clients.createResourceServer({ audience: API, name: "API", scope: "read" });
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "App",
      redirectUris: [CALLBACK],
      scope: "openid offline_access read",
      resources: [API],
      firstParty: true,
    });
    const clientAuth = basicAuth({ id: client.id, secret: secret as string });
    const { browser, sessionId: oauthSession } = await signIn("ada", `${PASSWORD} again`);
    const verifier = randomBytes(32).toString("base64url");
    const authorize = new URL("/authorize", ISSUER);
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: CALLBACK,
      scope: "openid read",
      state: "s",
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();
    const callback = await runAuthorization(browser, authorize, {
      userName: "ada",
      password: `${PASSWORD} again`,
    });
    const tokens = await form(
      "/token",
      {
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") as string,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
      },
      clientAuth,
    );
    expect(tokens.statusCode, tokens.body).toBe(200);
    const refresh = tokens.json().refresh_token as string;
    expect(
      (await form("/token", { grant_type: "refresh_token", refresh_token: refresh }, clientAuth)).statusCode,
    ).toBe(200);
    const reuse = await form("/token", { grant_type: "refresh_token", refresh_token: refresh }, clientAuth);
    expect(reuse.statusCode, reuse.body).toBe(400);

    // user.deleted, with session.ended for the session still open (admin API)
    expect((await api("DELETE", `/admin/users/${ada}`)).statusCode).toBe(204);

    // Deliveries are concurrent, so not in order: wait for the last change's session.ended too.
    await receiver.waitFor((received) => {
      const seen = new Set(bodies(received).map((b) => b.type));
      const deletedSession = bodies(received).some(
        (b) => b.type === "session.ended" && b.data.reason === "user_deleted",
      );
      return deletedSession && DOMAIN_EVENT_TYPES.every((type) => seen.has(type));
    });
    // In the order the events happened (ids sort by time), not the order concurrent deliveries arrived in.
    const events = verified(receiver, all.secret).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const type of DOMAIN_EVENT_TYPES) expect(events.map((e) => e.type)).toContain(type);

    // webhook-id is the event id (`evt_…`), one per event; each timestamp is the attempt's, in seconds.
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const event of events) {
      expect(event.id).toMatch(/^evt_[0-9a-z]{10}[0-9a-f]{16}$/);
      expect(Math.abs(event.timestamp - Date.now() / 1000)).toBeLessThan(300);
    }

    const of = (type: string) => events.filter((e) => e.type === type).map((e) => e.data);
    expect(of("user.created")).toEqual([{ userId: ada, userName: "ada", actor: "admin:bootstrap" }]);
    expect(of("user.updated")[0]).toMatchObject({ userId: ada, userName: "ada" });
    expect(String(of("user.updated")[0]?.actor)).toMatch(/^scim:/);
    expect(of("user.disabled")).toEqual([expect.objectContaining({ userId: ada })]);
    expect(of("user.enabled")).toEqual([{ userId: ada, actor: "admin:bootstrap" }]);
    expect(of("signin.failed")).toContainEqual({
      userId: ada,
      reason: "wrong_password",
      ip: expect.any(String),
    });
    expect(of("signin.failed")).toContainEqual({
      userId: null,
      reason: "unknown_user",
      ip: expect.any(String),
    });
    expect(of("signin.throttled").length).toBeGreaterThan(0);
    // The session signed in first ended when the user was disabled; the OAuth one when the user was deleted.
    expect(of("session.ended")).toContainEqual({
      userId: ada,
      sessionId: firstSession,
      reason: "user_disabled",
    });
    expect(of("session.ended")).toContainEqual({
      userId: ada,
      sessionId: oauthSession,
      reason: "user_deleted",
    });
    const credentials = of("credential.changed").map((d) => `${d.credential}:${d.change}`);
    expect(credentials).toEqual(
      expect.arrayContaining([
        "password:update",
        "totp:create",
        "recovery_codes:create",
        "totp:reset",
        "recovery_codes:reset",
      ]),
    );
    expect(of("api_token.created")).toHaveLength(2);
    expect(of("api_token.revoked")).toEqual([
      expect.objectContaining({ tokenId: first.json().apiToken.id, reason: "revoked", kind: "service" }),
    ]);
    expect(of("api_token.leaked")).toEqual([
      expect.objectContaining({ tokenId: second.json().apiToken.id, reason: "leaked" }),
    ]);
    expect(of("key.rotated")).toEqual([
      expect.objectContaining({ alg: "ES256", published: rotated.json().results[0].published }),
    ]);
    expect(of("refresh_token.reused")).toEqual([
      { userId: ada, familyId: expect.any(String), clientId: client.id },
    ]);
    expect(of("user.deleted")).toEqual([{ userId: ada, userName: "ada", actor: "admin:bootstrap" }]);
    // No secret travels: not the API tokens, not the password.
    const raw = receiver.received.map((r) => r.body).join("\n");
    expect(raw).not.toContain(first.json().token);
    expect(raw).not.toContain(PASSWORD);

    // The filtered endpoint got exactly its two types, verified with its own secret (and not with the other's).
    await filtered.waitFor((received) => received.length >= 2);
    expect(
      verified(filtered, some.secret)
        .map((e) => e.type)
        .sort(),
    ).toEqual(["key.rotated", "user.deleted"]);
    expect(() => verifyWebhook(all.secret, filtered.received[0]!)).toThrow();
    // The same event reached both endpoints under the same webhook-id.
    const deletedId = (list: VerifiedWebhook[]) => list.find((e) => e.type === "user.deleted")?.id;
    expect(deletedId(verified(filtered, some.secret))).toBe(deletedId(events));
  });

  it("lists each delivery as delivered in the admin API, under its event id", async () => {
    await waitForEvent("user.deleted");
    const response = await api("GET", `/admin/webhooks/${some.id}/deliveries`);
    expect(response.statusCode).toBe(200);
    const deliveries = response.json().deliveries as { eventId: string; state: string; attempts: number }[];
    const ids = filtered.received.map((r) => r.headers["webhook-id"]);
    expect(deliveries.map((d) => d.eventId).sort()).toEqual([...ids].sort());
    for (const delivery of deliveries) expect(delivery).toMatchObject({ state: "delivered", attempts: 1 });
  });

  it("a change that fails inside its transaction leaves no event", async () => {
    // A trigger that fails the outbox INSERT of one user's creation: the last statement of the transaction
    // that already inserted the user and its e-mails.
    const db = t.ctx.storage.db;
    const { sql } = await import("kysely");
    if (dialect === "sqlite") {
      await sql`create trigger fail_rollback after insert on event_outbox when new.data like '%rollback-me%'
        begin select raise(abort, 'refused by the test'); end`.execute(db);
    } else {
      await sql`create or replace function fail_rollback() returns trigger language plpgsql as $$
        begin if new.data like '%rollback-me%' then raise exception 'refused by the test'; end if; return new; end $$`.execute(
        db,
      );
      await sql`create trigger fail_rollback after insert on event_outbox for each row execute function fail_rollback()`.execute(
        db,
      );
    }
    const failed = await api("POST", "/admin/users", { userName: "rollback-me" });
    expect(failed.statusCode).toBe(500);
    expect(
      (await api("GET", "/scim/v2/Users?filter=userName%20eq%20%22rollback-me%22")).json().totalResults,
    ).toBe(0);
    // A later change's event arrives; the rolled-back one never does.
    const later = await api("POST", "/admin/users", { userName: "after-rollback" });
    expect(later.statusCode).toBe(201);
    await waitForEvent("user.created", (data) => data.userName === "after-rollback");
    expect(bodies(receiver.received).filter((b) => b.data.userName === "rollback-me")).toEqual([]);
    const stored = await db.selectFrom("event_outbox").select("data").execute();
    expect(stored.filter((row) => row.data.includes("rollback-me"))).toEqual([]);
  });
});

describe("with the outbox off (createServices option)", () => {
  it("changes are made and no event is written or sent", async () => {
    const receiver = await startReceiver();
    const t = await createEventsApp({ services: { outbox: false } });
    try {
      await registerWebhook(t.app, receiver.url);
      const created = await t.app.inject({
        method: "POST",
        url: "/admin/users",
        headers: ADMIN,
        payload: { userName: "quiet" },
      });
      expect(created.statusCode).toBe(201);
      expect(
        (await t.app.inject({ url: `/admin/users/${created.json().id}`, headers: ADMIN })).statusCode,
      ).toBe(200);
      await t.ctx.events.dispatcher.dispatchNow();
      expect(await t.ctx.storage.db.selectFrom("event_outbox").selectAll().execute()).toEqual([]);
      expect(receiver.received).toEqual([]);
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});
