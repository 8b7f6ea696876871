/**
 * Every OAuth endpoint answers arbitrary input with a 2xx/3xx/4xx, never a 500: random parameters (known names
 * and junk, repeated or not), random content types and bodies, random Authorization headers, with and without
 * a signed-in session.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";

const ISSUER = "https://id.example.test";
const NAMES = [
  "grant_type",
  "code",
  "redirect_uri",
  "code_verifier",
  "refresh_token",
  "scope",
  "resource",
  "client_id",
  "client_secret",
  "client_assertion",
  "client_assertion_type",
  "token",
  "token_type_hint",
  "response_type",
  "code_challenge",
  "code_challenge_method",
  "state",
  "nonce",
  "prompt",
  "max_age",
  "request",
  "request_uri",
  "id_token_hint",
  "post_logout_redirect_uri",
  "user_code",
  "device_code",
  "decision",
  "csrf",
  "access_token",
  "login_hint",
];

describe("OAuth endpoints under arbitrary input", () => {
  let t: TestApp;
  let clientId: string;
  let basic: string;
  let page: PageClient;

  beforeAll(async () => {
    t = await createTestApp({ env: { TESSERA_ISSUER: ISSUER, LOG_LEVEL: "error" } });
    await t.ctx.accounts.users.create(
      { userName: "pat", password: "correct horse battery staple 42" },
      { actor: "test", authority: "admin" as const },
    );
    const { client, secret } = await t.ctx.oauth.clients.create({
      name: "Fuzz",
      redirectUris: ["https://app.example.test/cb"],
      grantTypes: [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
      ],
    });
    clientId = client.id;
    basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString("base64")}`;
    page = new PageClient(t.app, ISSUER);
    await page.get("/login");
    await page.post("/login", { username: "pat", password: "correct horse battery staple 42" });
  });
  afterAll(async () => {
    await t.close();
  });

  const value = () =>
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "",
        "S256",
        "plain",
        "code",
        "none",
        "openid",
        "allow",
        "urn:ietf:params:oauth:grant-type:device_code",
      ),
      fc.constant("https://app.example.test/cb"),
      fc.string({ maxLength: 5000 }),
    );
  const params = fc.array(
    fc.tuple(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 10 })), value()),
    {
      maxLength: 8,
    },
  );

  it("POST endpoints with random forms, JSON and content types", async () => {
    const paths = [
      "/token",
      "/introspect",
      "/revoke",
      "/par",
      "/device_authorization",
      "/register",
      "/device",
      "/device/confirm",
      "/authorize",
      "/authorize/consent",
      "/end-session",
      "/end-session/confirm",
      "/userinfo",
      "/login",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        params,
        fc.constantFrom(
          "application/x-www-form-urlencoded",
          "application/json",
          "text/plain",
          "multipart/form-data",
          "",
        ),
        fc.oneof(
          fc.constant(undefined),
          fc.constant(basic),
          fc.constant(`Bearer ${TEST_ADMIN_TOKEN}`),
          fc.string({ maxLength: 60 }).map((s) => `Basic ${s}`),
          fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`),
        ),
        fc.boolean(),
        async (path, fields, type, authorization, signedIn) => {
          const body =
            type === "application/json"
              ? JSON.stringify(Object.fromEntries(fields))
              : new URLSearchParams(fields).toString();
          const headers: Record<string, string> = { origin: ISSUER };
          if (type) headers["content-type"] = type;
          if (authorization) headers.authorization = authorization.replace(/[^\t\x20-\x7e]/g, "");
          if (signedIn)
            Object.assign(headers, { cookie: [...page.cookies].map(([k, v]) => `${k}=${v}`).join("; ") });
          const response = await t.app.inject({ method: "POST", url: path, headers, payload: body });
          expect(response.statusCode, `${path} ${response.body.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("GET endpoints with random query strings", async () => {
    const paths = [
      "/authorize",
      "/authorize/continue",
      "/userinfo",
      "/end-session",
      "/device",
      `/register/${clientId}`,
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), params, fc.boolean(), async (path, fields, signedIn) => {
        const query = new URLSearchParams(fields).toString();
        const headers: Record<string, string> = {};
        if (signedIn) headers.cookie = [...page.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
        const response = await t.app.inject({ url: `${path}?${query}`, headers });
        expect(response.statusCode, `${path}?${query.slice(0, 200)}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });
});
