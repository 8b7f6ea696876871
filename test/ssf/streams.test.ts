/**
 * Stream management (SSF 1.0 §8.1) over HTTP, on SQLite and PostgreSQL: create, read, list, update (PATCH),
 * replace (PUT), delete, status, subjects and verification, and every refusal: no token, a bad or revoked token,
 * a token for another audience or for a user, a missing scope, another receiver's stream, malformed bodies,
 * bad push URLs and destinations the outbound guard refuses.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { basicAuth } from "../helpers/oauth.js";
import {
  ACCOUNT_DISABLED,
  ALL_EVENTS,
  CREDENTIAL_CHANGE,
  call,
  createReceiverClient,
  createSsfApp,
  ISSUER,
  POLL,
  PUSH,
  queued,
  type ReceiverClient,
  receiverToken,
  SESSION_REVOKED,
  SSF_AUDIENCE,
} from "./helpers.js";

const RECEIVER_URL = "https://receiver.example.test/events";

describe.each(DIALECTS)("SSF stream management (%s)", (dialect) => {
  let t: TestApp;
  let alice: ReceiverClient;
  let bob: ReceiverClient;
  let aliceToken: string;
  let bobToken: string;

  beforeAll(async () => {
    t = await createSsfApp(dialect);
    alice = await createReceiverClient(t, { name: "Alice's API" });
    bob = await createReceiverClient(t, { name: "Bob's API" });
    aliceToken = await receiverToken(t, alice);
    bobToken = await receiverToken(t, bob);
  });
  afterEach(async () => {
    // Each test starts with no streams for Alice and Bob (a receiver may have ten at most).
    for (const bearer of [aliceToken, bobToken]) {
      for (const { stream_id } of (await call(t, "GET", "/ssf/stream", bearer)).json() as {
        stream_id: string;
      }[]) {
        expect((await call(t, "DELETE", `/ssf/stream?stream_id=${stream_id}`, bearer)).statusCode).toBe(204);
      }
    }
  });
  afterAll(async () => {
    await t.close();
  });

  /** A push stream of Alice's (the URL is a name only: nothing is pushed in these tests). */
  async function createPushStream(token = aliceToken, extra: Record<string, unknown> = {}) {
    // The guard resolves the host: a literal public address needs no DNS.
    const response = await call(t, "POST", "/ssf/stream", token, {
      delivery: {
        method: PUSH,
        endpoint_url: "https://93.184.215.14/events",
        authorization_header: "Bearer r3c3iver",
      },
      events_requested: [SESSION_REVOKED, CREDENTIAL_CHANGE, "urn:example:not-supported"],
      description: "Alice's stream",
      ...extra,
    });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  describe("create and read", () => {
    it("creates a push stream: 201 with the full configuration, the authorization header never shown", async () => {
      const config = await createPushStream();
      expect(config).toStrictEqual({
        stream_id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
        iss: ISSUER,
        aud: alice.id,
        delivery: { method: PUSH, endpoint_url: "https://93.184.215.14/events" },
        events_supported: ALL_EVENTS,
        events_requested: [SESSION_REVOKED, CREDENTIAL_CHANGE, "urn:example:not-supported"],
        events_delivered: [SESSION_REVOKED, CREDENTIAL_CHANGE],
        min_verification_interval: 10,
        description: "Alice's stream",
      });
      const read = await call(t, "GET", `/ssf/stream?stream_id=${config.stream_id}`, aliceToken);
      expect(read.statusCode).toBe(200);
      expect(read.headers["cache-control"]).toBe("no-store");
      expect(read.json()).toStrictEqual(config);
      expect(read.body).not.toContain("r3c3iver");
    });

    it("keeps the push authorization header sealed at rest", async () => {
      const config = await createPushStream();
      const row = await t.ctx.storage.db
        .selectFrom("ssf_streams")
        .selectAll()
        .where("id", "=", config.stream_id)
        .executeTakeFirstOrThrow();
      expect(row.authorization_sealed).toMatch(/^v1\./);
      expect(row.authorization_sealed).not.toContain("r3c3iver");
    });

    it("creates a poll stream when no delivery is given, with Tessera's per-stream poll URL", async () => {
      const response = await call(t, "POST", "/ssf/stream", aliceToken, {});
      expect(response.statusCode).toBe(201);
      const config = response.json();
      expect(config).toStrictEqual({
        stream_id: expect.any(String),
        iss: ISSUER,
        aud: alice.id,
        delivery: { method: POLL, endpoint_url: `${ISSUER}/ssf/poll/${config.stream_id}` },
        events_supported: ALL_EVENTS,
        // Nothing requested, nothing delivered (the delivered set is a subset of the requested one).
        events_delivered: [],
        min_verification_interval: 10,
      });
    });

    it("lists only the caller's own streams", async () => {
      const first = await createPushStream();
      const second = (await call(t, "POST", "/ssf/stream", aliceToken, {})).json();
      const bobs = await createPushStream(bobToken);
      const list = await call(t, "GET", "/ssf/stream", bobToken);
      expect(list.statusCode).toBe(200);
      expect(list.json()).toStrictEqual([bobs]);
      const alices = (await call(t, "GET", "/ssf/stream", aliceToken)).json() as { stream_id: string }[];
      expect(alices.map((s) => s.stream_id).sort()).toEqual([first.stream_id, second.stream_id].sort());
    });

    it("answers 404 for a stream id that does not exist", async () => {
      const response = await call(t, "GET", "/ssf/stream?stream_id=nope", aliceToken);
      expect(response.statusCode).toBe(404);
      expect(response.json().error).toBe("not_found");
    });
  });

  describe("update, replace, delete", () => {
    it("PATCH changes what is present and keeps the rest; echoed transmitter values are accepted", async () => {
      const config = await createPushStream();
      const response = await call(t, "PATCH", "/ssf/stream", aliceToken, {
        stream_id: config.stream_id,
        description: "renamed",
        iss: ISSUER,
        aud: alice.id,
        events_supported: [...ALL_EVENTS].reverse(),
        events_delivered: config.events_delivered,
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toStrictEqual({ ...config, description: "renamed" });
    });

    it("PATCH of events_requested changes events_delivered", async () => {
      const config = await createPushStream();
      const response = await call(t, "PATCH", "/ssf/stream", aliceToken, {
        stream_id: config.stream_id,
        events_requested: [ACCOUNT_DISABLED],
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().events_delivered).toEqual([ACCOUNT_DISABLED]);
    });

    it("PUT replaces: receiver-supplied properties left out are deleted, no delivery means poll", async () => {
      const config = await createPushStream();
      const response = await call(t, "PUT", "/ssf/stream", aliceToken, { stream_id: config.stream_id });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toStrictEqual({
        stream_id: config.stream_id,
        iss: ISSUER,
        aud: alice.id,
        delivery: { method: POLL, endpoint_url: `${ISSUER}/ssf/poll/${config.stream_id}` },
        events_supported: ALL_EVENTS,
        events_delivered: [],
        min_verification_interval: 10,
      });
      // What was read can be written back as it is (the poll URL is echoed, not chosen).
      const again = await call(t, "PUT", "/ssf/stream", aliceToken, response.json());
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json()).toStrictEqual(response.json());
    });

    it("DELETE answers 204, then the stream is gone with its queued SETs", async () => {
      // A poll stream: its SETs wait here instead of being pushed somewhere.
      const config = (await call(t, "POST", "/ssf/stream", aliceToken, {})).json();
      await t.ctx.ssf.requestVerification(
        { clientId: alice.id, scopes: ["ssf.manage"], alg: "EdDSA" },
        { stream_id: config.stream_id },
      );
      expect(await queued(t, config.stream_id)).toHaveLength(1);
      const deleted = await call(t, "DELETE", `/ssf/stream?stream_id=${config.stream_id}`, aliceToken);
      expect(deleted.statusCode).toBe(204);
      expect((await call(t, "GET", `/ssf/stream?stream_id=${config.stream_id}`, aliceToken)).statusCode).toBe(
        404,
      );
      expect(await queued(t, config.stream_id)).toEqual([]);
      expect(
        (await call(t, "DELETE", `/ssf/stream?stream_id=${config.stream_id}`, aliceToken)).statusCode,
      ).toBe(404);
    });

    it("refuses a PATCH whose transmitter-supplied value differs, or with an unknown property", async () => {
      const config = await createPushStream();
      for (const body of [
        { stream_id: config.stream_id, events_delivered: [ACCOUNT_DISABLED] },
        { stream_id: config.stream_id, aud: "someone-else" },
        { stream_id: config.stream_id, iss: "https://evil.example" },
        { stream_id: config.stream_id, min_verification_interval: 1 },
        { stream_id: config.stream_id, descripton: "typo" },
        { description: "no stream id" },
      ]) {
        const response = await call(t, "PATCH", "/ssf/stream", aliceToken, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().error).toBe("invalid_request");
      }
      expect(
        (await call(t, "GET", `/ssf/stream?stream_id=${config.stream_id}`, aliceToken)).json(),
      ).toStrictEqual(config);
    });
  });

  describe("status", () => {
    it("reads and changes the status: enabled, paused (with a reason), disabled, enabled", async () => {
      const { stream_id } = await createPushStream();
      const read = await call(t, "GET", `/ssf/status?stream_id=${stream_id}`, aliceToken);
      expect(read.statusCode).toBe(200);
      expect(read.json()).toStrictEqual({ stream_id, status: "enabled" });
      const paused = await call(t, "POST", "/ssf/status", aliceToken, {
        stream_id,
        status: "paused",
        reason: "maintenance",
      });
      expect(paused.statusCode).toBe(200);
      expect(paused.json()).toStrictEqual({ stream_id, status: "paused", reason: "maintenance" });
      expect((await call(t, "GET", `/ssf/status?stream_id=${stream_id}`, aliceToken)).json()).toStrictEqual({
        stream_id,
        status: "paused",
        reason: "maintenance",
      });
      expect(
        (await call(t, "POST", "/ssf/status", aliceToken, { stream_id, status: "disabled" })).json(),
      ).toEqual({
        stream_id,
        status: "disabled",
      });
      expect(
        (await call(t, "POST", "/ssf/status", aliceToken, { stream_id, status: "enabled" })).json(),
      ).toEqual({
        stream_id,
        status: "enabled",
      });
    });

    it("refuses an unknown status", async () => {
      const { stream_id } = await createPushStream();
      for (const status of ["stopped", "", 1, null]) {
        const response = await call(t, "POST", "/ssf/status", aliceToken, { stream_id, status });
        expect(response.statusCode).toBe(400);
      }
      expect((await call(t, "GET", `/ssf/status?stream_id=${stream_id}`, aliceToken)).json().status).toBe(
        "enabled",
      );
    });
  });

  describe("subjects and verification", () => {
    const subject = (sub: string) => ({ format: "iss_sub", iss: ISSUER, sub });

    it("adds (200) and removes (204) iss_sub subjects, also as a complex subject's user", async () => {
      const { stream_id } = await createPushStream();
      const removed = await call(t, "POST", "/ssf/subjects/remove", aliceToken, {
        stream_id,
        subject: subject("u1"),
      });
      expect(removed.statusCode).toBe(204);
      expect(removed.body).toBe("");
      const rows = await t.ctx.storage.db
        .selectFrom("ssf_stream_subjects")
        .select("subject")
        .where("stream_id", "=", stream_id)
        .execute();
      expect(rows).toEqual([{ subject: "u1" }]);
      const added = await call(t, "POST", "/ssf/subjects/add", aliceToken, {
        stream_id,
        subject: { format: "complex", user: subject("u1") },
        verified: true,
      });
      expect(added.statusCode).toBe(200);
      expect(added.body).toBe("");
      const after = await t.ctx.storage.db
        .selectFrom("ssf_stream_subjects")
        .select("subject")
        .where("stream_id", "=", stream_id)
        .execute();
      expect(after).toEqual([]);
    });

    it("refuses subjects it cannot match to a user", async () => {
      const { stream_id } = await createPushStream();
      for (const bad of [
        { format: "email", email: "a@example.test" },
        { format: "iss_sub", iss: "https://other.example", sub: "u1" },
        { format: "iss_sub", iss: ISSUER },
        { format: "complex", user: subject("u1"), session: { format: "opaque", id: "s" } },
        "u1",
      ]) {
        const response = await call(t, "POST", "/ssf/subjects/remove", aliceToken, {
          stream_id,
          subject: bad,
        });
        expect(response.statusCode, JSON.stringify(bad)).toBe(400);
      }
    });

    it("queues a verification event (204) and answers 429 within min_verification_interval", async () => {
      const { stream_id } = (await call(t, "POST", "/ssf/stream", aliceToken, {})).json();
      const first = await call(t, "POST", "/ssf/verify", aliceToken, { stream_id, state: "abc" });
      expect(first.statusCode).toBe(204);
      const again = await call(t, "POST", "/ssf/verify", aliceToken, { stream_id, state: "def" });
      expect(again.statusCode).toBe(429);
      expect(again.headers["retry-after"]).toBe("10");
      expect(again.json().error).toBe("too_many_attempts");
      const sets = await queued(t, stream_id);
      expect(sets).toHaveLength(1);
      expect(JSON.parse(sets[0]?.claims as string).events).toEqual({
        "https://schemas.openid.net/secevent/ssf/event-type/verification": { state: "abc" },
      });
      t.clock.advance(10_000);
      expect((await call(t, "POST", "/ssf/verify", aliceToken, { stream_id })).statusCode).toBe(204);
    });
  });

  describe("refusals: who may call", () => {
    it("answers 401 with a Bearer challenge without a token, or with another scheme", async () => {
      for (const headers of [{}, { authorization: basicAuth(alice) }, { authorization: "Bearer" }]) {
        const response = await t.app.inject({ method: "GET", url: "/ssf/stream", headers });
        expect(response.statusCode).toBe(401);
        expect(response.headers["www-authenticate"]).toBe('Bearer realm="tessera-ssf"');
        expect(response.json().error).toBe("unauthorized");
      }
    });

    it("answers 401 invalid_token for a forged, a revoked, or a user's token", async () => {
      const revoked = await receiverToken(t, alice);
      const revocation = await t.app.inject({
        method: "POST",
        url: "/revoke",
        headers: { authorization: basicAuth(alice), "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ token: revoked }).toString(),
      });
      expect(revocation.statusCode).toBe(200);
      const users = await t.ctx.accounts.users.create(
        { userName: `u-${dialect}` },
        { actor: "test", authority: "admin" },
      );
      const { token: userToken } = await t.ctx.oauth.issuer.mintAccessToken({
        clientId: alice.id,
        subject: { userId: users.id, authTime: t.clock.now(), acr: "urn:tessera:acr:password", amr: ["pwd"] },
        scopes: ["ssf.manage"],
        audience: [SSF_AUDIENCE],
        ttl: 300,
      });
      const [header, payload] = aliceToken.split(".");
      const forged = `${header}.${payload}.${"A".repeat(86)}`;
      for (const token of [forged, revoked, userToken, "not-a-token"]) {
        const response = await call(t, "GET", "/ssf/stream", token);
        expect(response.statusCode).toBe(401);
        expect(response.headers["www-authenticate"]).toBe(
          'Bearer realm="tessera-ssf", error="invalid_token"',
        );
        expect(response.json().error).toBe("invalid_token");
      }
    });

    it("answers 401 invalid_token for a token addressed to another resource server", async () => {
      const api = "https://api.example.test";
      await t.ctx.oauth.clients.createResourceServer({
        audience: `${api}/${dialect}`,
        name: "API",
        scope: "read",
      });
      const client = await createReceiverClient(t, {
        scope: "read ssf.manage",
        resources: [`${api}/${dialect}`, SSF_AUDIENCE],
      });
      const token = await receiverToken(t, client, { resource: `${api}/${dialect}`, scope: "read" });
      const response = await call(t, "GET", "/ssf/stream", token);
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe("invalid_token");
    });

    it("answers 403 insufficient_scope when a read-only token tries to change anything", async () => {
      const reader = await createReceiverClient(t, { scope: "ssf.read" });
      const token = await receiverToken(t, reader);
      const listed = await call(t, "GET", "/ssf/stream", token);
      expect(listed.statusCode).toBe(200);
      for (const [method, url] of [
        ["POST", "/ssf/stream"],
        ["PATCH", "/ssf/stream"],
        ["PUT", "/ssf/stream"],
        ["DELETE", "/ssf/stream?stream_id=x"],
        ["POST", "/ssf/status"],
        ["POST", "/ssf/subjects/add"],
        ["POST", "/ssf/subjects/remove"],
        ["POST", "/ssf/verify"],
      ] as const) {
        const response = await call(t, method, url, token, method === "DELETE" ? undefined : {});
        expect(response.statusCode, `${method} ${url}`).toBe(403);
        expect(response.headers["www-authenticate"]).toBe(
          'Bearer realm="tessera-ssf", error="insufficient_scope", scope="ssf.manage"',
        );
        expect(response.json().error).toBe("insufficient_scope");
      }
      expect((await call(t, "GET", "/ssf/stream", token)).json()).toEqual([]);
    });

    it("never shows, changes or deletes another receiver's stream: 404 for every operation", async () => {
      const config = await createPushStream();
      const id = config.stream_id;
      for (const [method, url, body] of [
        ["GET", `/ssf/stream?stream_id=${id}`, undefined],
        ["PATCH", "/ssf/stream", { stream_id: id, description: "mine now" }],
        ["PUT", "/ssf/stream", { stream_id: id }],
        ["DELETE", `/ssf/stream?stream_id=${id}`, undefined],
        ["GET", `/ssf/status?stream_id=${id}`, undefined],
        ["POST", "/ssf/status", { stream_id: id, status: "disabled" }],
        [
          "POST",
          "/ssf/subjects/remove",
          { stream_id: id, subject: { format: "iss_sub", iss: ISSUER, sub: "u" } },
        ],
        ["POST", "/ssf/verify", { stream_id: id }],
        ["POST", `/ssf/poll/${id}`, { returnImmediately: true }],
      ] as const) {
        const response = await call(t, method, url, bobToken, body);
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(response.json().error).toBe("not_found");
      }
      expect((await call(t, "GET", `/ssf/stream?stream_id=${id}`, aliceToken)).json()).toStrictEqual(config);
      expect((await call(t, "GET", `/ssf/status?stream_id=${id}`, aliceToken)).json().status).toBe("enabled");
      expect(await queued(t, id)).toEqual([]);
    });
  });

  describe("refusals: what may be configured", () => {
    it("refuses malformed bodies and delivery settings", async () => {
      for (const body of [
        [],
        { delivery: { method: "urn:example:carrier-pigeon" } },
        { delivery: { method: PUSH } },
        { delivery: { method: PUSH, endpoint_url: "not a url" } },
        { delivery: { method: PUSH, endpoint_url: "ftp://93.184.215.14/events" } },
        { delivery: { method: PUSH, endpoint_url: "https://user:pw@93.184.215.14/events" } },
        { delivery: { method: PUSH, endpoint_url: "https://93.184.215.14/events#frag" } },
        {
          delivery: {
            method: PUSH,
            endpoint_url: RECEIVER_URL,
            authorization_header: "Bearer a\r\nX-Evil: 1",
          },
        },
        { delivery: { method: PUSH, endpoint_url: RECEIVER_URL, extra: true } },
        { delivery: { method: POLL, endpoint_url: "https://receiver.example.test/poll" } },
        { events_requested: "all" },
        { events_requested: [1] },
        { description: "x".repeat(1025) },
        { stream_id: "chosen" },
        { iss: ISSUER },
      ]) {
        const response = await call(t, "POST", "/ssf/stream", aliceToken, body);
        expect(response.statusCode, JSON.stringify(body)).toBe(400);
        expect(response.json().error).toBe("invalid_request");
      }
    });

    it("refuses push URLs the outbound guard refuses: loopback, private, link-local", async () => {
      for (const url of [
        "http://127.0.0.2:8080/events",
        "https://10.1.2.3/events",
        "https://192.168.0.10/events",
        "http://169.254.169.254/latest/meta-data",
        "https://[::1]/events",
        "https://0.0.0.0/events",
      ]) {
        const response = await call(t, "POST", "/ssf/stream", aliceToken, {
          delivery: { method: PUSH, endpoint_url: url },
        });
        expect(response.statusCode, url).toBe(400);
        expect(response.json().error_description).toMatch(/not a destination Tessera may send to/);
      }
    });

    it("refuses more than 10 streams per receiver (403)", async () => {
      const carol = await createReceiverClient(t, { name: "Carol" });
      const token = await receiverToken(t, carol);
      for (let i = 0; i < 10; i++)
        expect((await call(t, "POST", "/ssf/stream", token, {})).statusCode).toBe(201);
      const eleventh = await call(t, "POST", "/ssf/stream", token, {});
      expect(eleventh.statusCode).toBe(403);
      expect(eleventh.json().error).toBe("forbidden_change");
      expect((await call(t, "GET", "/ssf/stream", token)).json()).toHaveLength(10);
    });
  });
});

describe("SSF push URLs in production", () => {
  it("refuses loopback receivers when private addresses are not allowed, and accepts them in development", async () => {
    const production = await createSsfApp("sqlite", {
      NODE_ENV: "production",
      TESSERA_MASTER_KEY: "07".repeat(32),
      TESSERA_OUTBOUND_ALLOW_PRIVATE: "false",
    });
    const development = await createSsfApp("sqlite", {
      NODE_ENV: "development",
      TESSERA_OUTBOUND_ALLOW_PRIVATE: "false",
    });
    try {
      for (const [app, expected] of [
        [production, 400],
        [development, 201],
      ] as const) {
        const client = await createReceiverClient(app);
        const token = await receiverToken(app, client);
        const response = await call(app, "POST", "/ssf/stream", token, {
          delivery: { method: PUSH, endpoint_url: "http://127.0.0.1:9/events" },
        });
        expect(response.statusCode, response.body).toBe(expected);
      }
    } finally {
      await production.close();
      await development.close();
    }
  });
});
