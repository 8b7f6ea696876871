/**
 * SQLite on a full file system: a write that fails for lack of space answers 503 with Retry-After in the
 * endpoint's format (never a 500), `/readyz` says not ready while writes fail, nothing is half-written, and
 * both recover by themselves once there is space again. Mounts a small tmpfs of its own (needs root).
 *
 * What happens underneath (WAL mode): a transaction's statements succeed (their pages stay in memory) and its
 * COMMIT fails with SQLITE_FULL, after which SQLite has already rolled the transaction back; reads go on
 * working.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageUnavailable, openStorage, type Storage } from "../../src/storage/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { basicAuth, codeFlowTokens, discover } from "../helpers/oauth.js";
import { mountSmallFileSystem, type SmallFileSystem } from "../helpers/small-filesystem.js";

const ISSUER = "https://id.example.test";
const CALLBACK = "https://app.example.test/cb";
const PASSWORD = "correct horse battery staple 42";
const SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User";

describe("SQLite storage on a full disk", () => {
  let disk: SmallFileSystem;
  let storage: Storage;

  beforeAll(async () => {
    disk = mountSmallFileSystem("2m");
    storage = await openStorage(`${disk.dir}/storage.db`);
    await sql`create table notes (id integer primary key, body text not null)`.execute(storage.db);
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(storage.db);
  });
  afterAll(async () => {
    await storage?.close().catch(() => undefined);
    disk?.remove();
  });

  const insertTwo = () =>
    storage.db.transaction().execute(async (trx) => {
      await sql`insert into notes (body) values (${"one"})`.execute(trx);
      await sql`insert into notes (body) values (${"two"})`.execute(trx);
    });
  const count = async () =>
    Number((await sql<{ n: number }>`select count(*) as n from notes`.execute(storage.db)).rows[0]?.n);

  it("fails writes with SQLITE_FULL (never the ROLLBACK's error), keeps reads, and recovers", async () => {
    disk.fill();
    // The COMMIT fails and SQLite rolls the transaction back itself; Kysely's ROLLBACK must not replace the error.
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await insertTwo().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toMatchObject({ code: "SQLITE_FULL", message: "database or disk is full" });
      expect(isStorageUnavailable(error)).toBe(true);
    }
    await expect(storage.probeWrite()).rejects.toMatchObject({ code: "SQLITE_FULL" });
    const background = await storage.backgroundWriter
      ?.write("insert into notes (body) values (?)", [["three"]])
      .catch((thrown: unknown) => thrown);
    expect(background).toMatchObject({ code: "SQLITE_FULL" });
    expect(isStorageUnavailable(background)).toBe(true);
    await expect(storage.ping()).resolves.toBeUndefined();
    expect(await count()).toBe(0);

    disk.free();
    await expect(storage.probeWrite()).resolves.toBeUndefined();
    await insertTwo();
    expect(await storage.backgroundWriter?.write("insert into notes (body) values (?)", [["three"]])).toBe(
      true,
    );
    expect(await count()).toBe(3);
  });
});

describe("SQLite on a full disk, over HTTP", () => {
  let disk: SmallFileSystem;
  let t: TestApp;
  let web: { id: string; secret: string };
  let refreshToken: string;

  beforeAll(async () => {
    disk = mountSmallFileSystem("4m");
    t = await createTestApp({
      env: { DATABASE_URL: `${disk.dir}/tessera.db`, TESSERA_ISSUER: ISSUER },
    });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: PASSWORD },
      { actor: "test", authority: "admin" as const },
    );
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "Web",
      redirectUris: [CALLBACK],
      firstParty: true,
    });
    web = { id: client.id, secret: secret as string };
    const page = new PageClient(t.app, ISSUER);
    const config = await discover(t.app, ISSUER, web.id, web.secret);
    const tokens = await codeFlowTokens(config, page, CALLBACK, "openid offline_access");
    refreshToken = tokens.refresh_token as string;
    expect(refreshToken).toMatch(/^tsr_rt_/);
  }, 60_000);
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    disk?.remove();
  });

  const admin = (method: "GET" | "POST", url: string, payload?: object) =>
    t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      ...(payload ? { payload } : {}),
    });
  const scimCreate = (userName: string) =>
    t.app.inject({
      method: "POST",
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, "content-type": "application/scim+json" },
      payload: JSON.stringify({
        schemas: [SCIM_USER],
        userName,
        emails: [{ value: `${userName}@example.test` }],
      }),
    });
  const refresh = () =>
    t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(web) },
      payload: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }).toString(),
    });
  const register = (name: string) =>
    admin("POST", "/register", {
      client_name: name,
      grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_basic",
    });
  const counts = async () => {
    const db = t.ctx.storage.db;
    const count = async (table: "users" | "user_emails" | "oauth_clients" | "refresh_tokens") =>
      Number((await db.selectFrom(table).select(db.fn.countAll().as("n")).executeTakeFirstOrThrow()).n);
    return {
      users: await count("users"),
      emails: await count("user_emails"),
      clients: await count("oauth_clients"),
      refreshTokens: await count("refresh_tokens"),
    };
  };
  const userNames = async () =>
    (await t.ctx.storage.db.selectFrom("users").select("user_name").orderBy("user_name").execute()).map(
      (row) => row.user_name,
    );
  const expectUnavailable = (
    response: Awaited<ReturnType<typeof admin>>,
    format: "oauth" | "scim" = "oauth",
  ) => {
    expect(response.statusCode, response.body).toBe(503);
    expect(response.headers["retry-after"]).toBe("5");
    if (format === "scim") {
      expect(response.json()).toMatchObject({
        schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
        status: "503",
      });
    } else {
      expect(response.json()).toMatchObject({ error: "temporarily_unavailable" });
    }
  };

  it("answers 503 with Retry-After, is not ready, writes nothing half-way, and recovers by itself", async () => {
    expect((await admin("POST", "/admin/users", { userName: "before" })).statusCode).toBe(201);
    expect((await t.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    // Write the audit queue, then empty the WAL and give its space back: a WAL that already holds space takes
    // writes into that space even on a full file system, and would hide the outage until it has to grow.
    await t.ctx.accounts.audit.flush();
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(t.ctx.storage.db);
    const before = await counts();
    disk.fill();

    // Twice: the connection is usable after a failed COMMIT (no transaction left open, no 500 the second time).
    for (let attempt = 0; attempt < 2; attempt++) {
      expectUnavailable(
        await admin("POST", "/admin/users", {
          userName: "during",
          emails: [{ value: "during@example.test" }],
        }),
      );
    }
    expectUnavailable(await scimCreate("scim-during"), "scim");
    expectUnavailable(await refresh());
    expectUnavailable(await register("during"));
    const notReady = await t.app.inject({ url: "/readyz" });
    expect(notReady.statusCode, notReady.body).toBe(503);
    expect(notReady.headers["retry-after"]).toBe("5");
    expect(notReady.json()).toEqual({ status: "unavailable", checks: { database: "fail" } });
    // Reads go on working.
    expect((await admin("GET", "/admin/users")).statusCode).toBe(200);
    expect(await counts()).toEqual(before);
    expect(t.logs()).not.toContain("cannot rollback");
    expect(t.logs()).not.toContain("unhandled error");

    disk.free();
    const ready = await t.app.inject({ url: "/readyz" });
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json()).toEqual({ status: "ok", checks: { database: "ok" } });
    // Nothing of the failed requests was written: the same requests now succeed as if first sent.
    expect(await counts()).toEqual(before);
    expect(await userNames()).toEqual(["before", "pat"]);
    const created = await admin("POST", "/admin/users", {
      userName: "during",
      emails: [{ value: "during@example.test" }],
    });
    expect(created.statusCode, created.body).toBe(201);
    expect((await scimCreate("scim-during")).statusCode).toBe(201);
    // The refresh token was not rotated by the failed request: it is still the current one, not a replay.
    const rotated = await refresh();
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().refresh_token).toMatch(/^tsr_rt_/);
    expect((await register("after")).statusCode).toBe(201);
    expect(await userNames()).toEqual(["before", "during", "pat", "scim-during"]);
    const after = await counts();
    expect(after.users).toBe(before.users + 2);
    expect(after.emails).toBe(before.emails + 2);
    expect(after.clients).toBe(before.clients + 1);
    await t.ctx.accounts.audit.flush();
    const createdEvents = await t.ctx.accounts.audit.list({ type: "user.created" });
    expect(createdEvents.map((event) => event.details?.userName).sort()).toEqual([
      "before",
      "during",
      "pat",
      "scim-during",
    ]);
  }, 60_000);
});
