/**
 * A database outage is a 503 with Retry-After (OAuth's `temporarily_unavailable`), never a 500 or a hang, and
 * Tessera recovers without a restart once the database is back. Uses a private PostgreSQL it stops and starts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageUnavailable } from "../../src/storage/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { basicAuth } from "../helpers/oauth.js";
import { createPrivatePostgres, type PrivatePostgres } from "../helpers/private-postgres.js";

describe("isStorageUnavailable", () => {
  it("recognises outages of both drivers, and nothing else", () => {
    for (const code of [
      "ECONNREFUSED",
      "57P01",
      "57P03",
      "08006",
      "53100",
      "SQLITE_FULL",
      "SQLITE_IOERR_WRITE",
    ]) {
      expect(isStorageUnavailable(Object.assign(new Error("x"), { code })), code).toBe(true);
    }
    expect(isStorageUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isStorageUnavailable(new Error("database or disk is full"))).toBe(true);
    for (const code of ["23505", "42P01", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_ERROR", undefined]) {
      expect(isStorageUnavailable(Object.assign(new Error("x"), { code })), String(code)).toBe(false);
    }
    expect(isStorageUnavailable("ECONNREFUSED")).toBe(false);
  });
});

describe("a PostgreSQL outage over HTTP", () => {
  let pg: PrivatePostgres;
  let t: TestApp;
  let rs: { id: string; secret: string };
  let access: string;

  beforeAll(async () => {
    pg = createPrivatePostgres(55_000 + Math.floor(Math.random() * 1000));
    pg.start();
    t = await createTestApp({ env: { DATABASE_URL: pg.url } });
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "service",
      grantTypes: ["client_credentials"],
      scope: "",
      resources: [],
    });
    rs = { id: client.id, secret: secret as string };
    const token = await t.app.inject({
      method: "POST",
      url: "/token",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(rs) },
      payload: new URLSearchParams({ grant_type: "client_credentials" }).toString(),
    });
    expect(token.statusCode, token.body).toBe(200);
    access = token.json().access_token;
  }, 120_000);
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    pg?.remove();
  });

  const introspect = () =>
    t.app.inject({
      method: "POST",
      url: "/introspect",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(rs) },
      payload: new URLSearchParams({ token: access }).toString(),
    });
  const adminUsers = () =>
    t.app.inject({ url: "/admin/users", headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });

  it("answers 503 with Retry-After while the database is down, and recovers without a restart", async () => {
    expect((await adminUsers()).statusCode).toBe(200);
    pg.stop();
    const started = Date.now();
    const admin = await adminUsers();
    expect(admin.statusCode, admin.body).toBe(503);
    expect(admin.headers["retry-after"]).toBeDefined();
    expect(admin.json().error).toBe("temporarily_unavailable");
    for (const answer of [
      await t.app.inject({
        method: "POST",
        url: "/token",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basicAuth(rs) },
        payload: new URLSearchParams({ grant_type: "client_credentials" }).toString(),
      }),
      await introspect(),
    ]) {
      // The client cache may still know the client (5 s): then signing works and the database is not needed;
      // otherwise the answer is OAuth's temporarily_unavailable. Never a 500.
      expect([200, 503], answer.body).toContain(answer.statusCode);
      if (answer.statusCode === 503) {
        expect(answer.json().error).toBe("temporarily_unavailable");
        expect(answer.headers["retry-after"]).toBe("5");
      }
    }
    const scim = await t.app.inject({
      url: "/scim/v2/Users",
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(scim.statusCode).toBe(503);
    expect(scim.json()).toMatchObject({ status: "503" });
    expect(scim.headers["retry-after"]).toBe("5");
    const ready = await t.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    // Bounded: no request waited for a connection timeout to expire several times over.
    expect(Date.now() - started).toBeLessThan(20_000);
    pg.start();
    expect((await adminUsers()).statusCode).toBe(200);
    expect((await introspect()).json().active).toBe(true);
  }, 120_000);
});
