import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

describe("request bodies: every bad body is a JSON 4xx, never a 500", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_BODY_LIMIT: "2048" } });
  });
  afterAll(async () => {
    await t.close();
  });

  const rotate = (headers: Record<string, string>, payload: string) =>
    t.app.inject({ method: "POST", url: "/admin/keys/rotate", headers: { ...admin, ...headers }, payload });

  it("malformed JSON → 400 invalid_request", async () => {
    const res = await rotate({ "content-type": "application/json" }, '{"alg": "EdDSA",');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: "invalid_request",
      error_description: "The body is not valid JSON.",
    });
  });

  it("a JSON body that is not an object → 400", async () => {
    const res = await rotate({ "content-type": "application/json" }, "[1,2]");
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
  });

  it("an unknown or ill-typed field → 400", async () => {
    expect((await rotate({ "content-type": "application/json" }, '{"alg":"HS256"}')).statusCode).toBe(400);
    expect((await rotate({ "content-type": "application/json" }, '{"extra":1}')).statusCode).toBe(400);
  });

  it("prototype poisoning in JSON → 400", async () => {
    const res = await rotate({ "content-type": "application/json" }, '{"__proto__":{"force":true}}');
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_request");
  });

  it("a wrong content type → 415 unsupported_media_type", async () => {
    const res = await rotate({ "content-type": "text/plain" }, "alg=EdDSA");
    expect(res.statusCode).toBe(415);
    expect(res.json().error).toBe("unsupported_media_type");
  });

  it("a body over the limit → 413 request_too_large (JSON and form)", async () => {
    const big = "x".repeat(4096);
    const json = await rotate({ "content-type": "application/json" }, JSON.stringify({ alg: big }));
    expect(json.statusCode).toBe(413);
    expect(json.json().error).toBe("request_too_large");
    const form = await rotate({ "content-type": "application/x-www-form-urlencoded" }, `alg=${big}`);
    expect(form.statusCode).toBe(413);
  });

  it("form bodies are parsed (and malformed percent-encoding is refused, not crashed on)", async () => {
    const ok = await rotate({ "content-type": "application/x-www-form-urlencoded" }, "alg=ES256&force=true");
    expect(ok.statusCode).toBe(200);
    expect(ok.json().results[0]).toMatchObject({ alg: "ES256", rotated: true });
    const bad = await rotate({ "content-type": "application/x-www-form-urlencoded" }, "alg=%E0%A4%A&force=%");
    expect(bad.statusCode).toBe(400);
  });

  it("property: arbitrary bodies and content types never produce a 5xx", async () => {
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/x-www-form-urlencoded",
      "text/plain",
      "multipart/form-data; boundary=x",
      "application/xml",
      "",
      "application/json; charset=latin1",
    );
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc.string({ unit: "binary" }),
      fc.constantFrom(
        '{"alg":"EdDSA","force":"yes"}',
        '{"force":null}',
        "alg=EdDSA&alg=ES256",
        "force[]=1",
        "%%%",
        "{}",
      ),
    );
    await fc.assert(
      fc.asyncProperty(contentType, body, async (type, payload) => {
        const headers: Record<string, string> = type ? { "content-type": type } : {};
        const res = await rotate(headers, payload);
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode >= 400) expect(typeof res.json().error).toBe("string");
      }),
      { numRuns: 300 },
    );
  });
});

describe("JSON bodies must be UTF-8 (RFC 8259 §8.1): other bytes are a 400, never stored as U+FFFD", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** `json` with `text` spliced in as raw bytes: C3 28 is a UTF-8 lead byte followed by "(", not UTF-8. */
  const withBytes = (json: string, bytes: number[]) => {
    const [before, after] = json.split("@@") as [string, string];
    return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
  };
  const post = (url: string, payload: Buffer, type = "application/json") =>
    t.app.inject({ method: "POST", url, headers: { ...admin, "content-type": type }, payload });

  it.each([
    ["a lead byte without its continuation", [0xc3, 0x28]],
    ["a lone continuation byte", [0x80]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a surrogate encoded in UTF-8", [0xed, 0xa0, 0x80]],
    ["a truncated sequence at the end of a string", [0xe2, 0x82]],
    ["a Latin-1 byte", [0xe9]],
  ])("refuses %s at /register and /admin/users (invalid_request)", async (_name, bytes) => {
    const register = await post(
      "/register",
      withBytes('{"client_name":"x@@","redirect_uris":["https://rp.example.test/cb"]}', bytes),
    );
    const user = await post("/admin/users", withBytes('{"userName":"u@@"}', bytes));
    for (const response of [register, user]) {
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: "invalid_request",
        error_description: "The JSON body is not valid UTF-8.",
      });
    }
    expect((await t.ctx.oauth.clients.list()).map((c) => c.name)).not.toContain("x\ufffd(");
  });

  it("refuses it at /scim/v2/Users too (in SCIM's error format)", async () => {
    const response = await post(
      "/scim/v2/Users",
      withBytes('{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"s@@"}', [0xc3, 0x28]),
    );
    expect(response.statusCode).toBe(400);
    const listed = await t.app.inject({ url: "/scim/v2/Users", headers: admin });
    expect(listed.body).not.toContain("\ufffd");
  });

  it("still accepts UTF-8, multi-byte characters and all", async () => {
    const response = await post(
      "/admin/users",
      Buffer.from(JSON.stringify({ userName: "zoë", displayName: "Zoë 🌍" })),
    );
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ userName: "zoë", displayName: "Zoë 🌍" });
  });
});

describe("logs never carry secrets", () => {
  it("redacts credentials in headers and query strings", async () => {
    const t = await createTestApp();
    try {
      const secret = "tsr_SECRET_VALUE_do_not_log_123";
      await t.app.inject({
        url: `/healthz?code=${secret}&access_token=${secret}&state=visible-state`,
        headers: { authorization: `Bearer ${secret}`, cookie: `__Host-session=${secret}` },
      });
      await t.app.inject({ url: `/admin/keys`, headers: { authorization: `Bearer ${secret}` } });
      await t.app.inject({
        method: "POST",
        url: "/admin/keys/rotate",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        payload: JSON.stringify({ password: secret }),
      });
      t.ctx.log.info(
        { headers: { authorization: `Bearer ${secret}` }, body: { password: secret } },
        "domain log",
      );
      const logs = t.logs();
      expect(logs).toContain("/healthz?code=[REDACTED]&access_token=[REDACTED]&state=visible-state");
      expect(logs).toContain("domain log");
      expect(logs).not.toContain(secret);
    } finally {
      await t.close();
    }
  });
});
