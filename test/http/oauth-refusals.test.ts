/**
 * What the OAuth endpoints refuse, and how: PKCE missing, `plain` or wrong; redirect URI variants; code
 * replay; refresh reuse and family revocation; concurrent refresh; expired and tampered tokens; `alg: none`
 * and key confusion at userinfo and introspection; malformed requests answered with the RFC error, never 500.
 */
import { createHash, createHmac, generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { runAuthorization } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const PASSWORD = "correct horse battery staple 42";
const CALLBACK = "https://app.example.test/callback";
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"; // RFC 7636 Appendix B
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe.each(DIALECTS)("OAuth refusals on %s", (dialect) => {
  let t: TestApp;
  let userId: string;
  let client: { id: string; secret: string };
  let basic: string;

  beforeAll(async () => {
    t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
    userId = (
      await t.ctx.accounts.users.create(
        { userName: "pat", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
    const created = await t.ctx.oauth.clients.create({
      name: "Web App",
      redirectUris: [CALLBACK, "http://127.0.0.1/cb"],
      firstParty: true,
    });
    client = { id: created.client.id, secret: created.secret as string };
    basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString("base64")}`;
  });
  afterAll(async () => {
    await t.close();
  });

  function authorizeUrl(params: Record<string, string | undefined>): string {
    const query = new URLSearchParams();
    const all: Record<string, string | undefined> = {
      response_type: "code",
      client_id: client.id,
      redirect_uri: CALLBACK,
      scope: "openid offline_access",
      state: "st-1",
      code_challenge: CHALLENGE,
      code_challenge_method: "S256",
      ...params,
    };
    for (const [k, v] of Object.entries(all)) if (v !== undefined) query.set(k, v);
    return `/authorize?${query.toString()}`;
  }

  async function code(
    page = new PageClient(t.app, ISSUER),
    params: Record<string, string> = {},
  ): Promise<string> {
    const callback = await runAuthorization(page, new URL(ISSUER + authorizeUrl(params)));
    const value = callback.searchParams.get("code");
    expect(value, callback.toString()).toBeTruthy();
    return value as string;
  }

  async function token(form: Record<string, string>, auth: string | null = basic) {
    return t.app.inject({
      method: "POST",
      url: "/token",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(auth === null ? {} : { authorization: auth }),
      },
      payload: new URLSearchParams(form).toString(),
    });
  }

  async function pair() {
    const response = await token({
      grant_type: "authorization_code",
      code: await code(),
      redirect_uri: CALLBACK,
      code_verifier: VERIFIER,
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { access_token: string; refresh_token: string; id_token: string };
  }

  async function introspect(value: string) {
    const response = await t.app.inject({
      method: "POST",
      url: "/introspect",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      payload: new URLSearchParams({ token: value }).toString(),
    });
    expect(response.statusCode).toBe(200);
    return response.json() as { active: boolean };
  }

  async function userinfo(value: string) {
    return t.app.inject({ url: "/userinfo", headers: { authorization: `Bearer ${value}` } });
  }

  describe("authorization endpoint", () => {
    it.each([
      ["a prefix of the registered URI", "https://app.example.test/call"],
      ["a longer path", "https://app.example.test/callback/extra"],
      ["an added query", "https://app.example.test/callback?x=1"],
      ["another port", "https://app.example.test:8443/callback"],
      ["another scheme", "http://app.example.test/callback"],
      ["another host", "https://evil.example.test/callback"],
      ["upper-case host", "https://APP.example.test/callback"],
      ["a trailing slash", "https://app.example.test/callback/"],
      ["a fragment", "https://app.example.test/callback#x"],
      ["a non-loopback host on http with a port", "http://localhost:8080/cb"],
      ["the default port written out", "https://app.example.test:443/callback"],
      ["an upper-case scheme", "HTTPS://app.example.test/callback"],
      ["a tab the URL parser would drop", "https://app.example.test/call\tback"],
      ["a leading space the URL parser would trim", " https://app.example.test/callback"],
      ["the default port on a loopback URI", "http://127.0.0.1:80/cb"],
      ["a zero-padded port on a loopback URI", "http://127.0.0.1:049152/cb"],
    ])("shows an error page and never redirects for %s", async (_name, redirectUri) => {
      const response = await t.app.inject({ url: authorizeUrl({ redirect_uri: redirectUri }) });
      expect(response.statusCode).toBe(400);
      expect(response.headers.location).toBeUndefined();
      expect(response.headers["content-type"]).toMatch(/^text\/html/);
      expect(response.body).toContain("redirect_uri");
    });

    it("redirects to the registered text itself, its query kept as written", async () => {
      const registered = "https://app.example.test/cb?tenant=a%20b&x=~&flag";
      const created = await t.ctx.oauth.clients.create({
        name: "Query",
        redirectUris: [registered],
        firstParty: true,
      });
      const page = new PageClient(t.app, ISSUER);
      const callback = await runAuthorization(
        page,
        new URL(ISSUER + authorizeUrl({ client_id: created.client.id, redirect_uri: registered })),
      );
      const location = callback.toString();
      expect(location.startsWith(`${registered}&code=`)).toBe(true);
      expect(callback.searchParams.get("iss")).toBe(ISSUER);
      // An error goes to the same text.
      const error = await page.get(
        authorizeUrl({ client_id: created.client.id, redirect_uri: registered, prompt: "bogus" }),
      );
      expect(String(error.headers.location).startsWith(`${registered}&error=invalid_request`)).toBe(true);
    });

    it("never redirects to a stored URI that is not in its serialised form (registered before the rule)", async () => {
      const legacy = "https://APP.example.test/callback";
      const created = await t.ctx.oauth.clients.create({ name: "Legacy", redirectUris: [CALLBACK] });
      await t.ctx.storage.db
        .updateTable("oauth_clients")
        .set({ redirect_uris: JSON.stringify([legacy]) })
        .where("id", "=", created.client.id)
        .execute();
      t.clock.advance(6_000); // past the client cache
      const response = await t.app.inject({
        url: authorizeUrl({ client_id: created.client.id, redirect_uri: legacy }),
      });
      expect(response.statusCode).toBe(400);
      expect(response.headers.location).toBeUndefined();
    });

    it("accepts any port on a registered loopback URI, and only there", async () => {
      const response = await t.app.inject({
        url: authorizeUrl({ redirect_uri: "http://127.0.0.1:49152/cb" }),
      });
      expect(response.statusCode).toBe(303);
      expect(String(response.headers.location)).toMatch(/^\/login\?/);
      const path = await t.app.inject({ url: authorizeUrl({ redirect_uri: "http://127.0.0.1:49152/cb2" }) });
      expect(path.statusCode).toBe(400);
    });

    it("shows an error page for an unknown client, a missing one, or a repeated parameter", async () => {
      for (const url of [
        authorizeUrl({ client_id: "unknown-client" }),
        authorizeUrl({ client_id: undefined }),
        `${authorizeUrl({})}&client_id=${client.id}`,
      ]) {
        const response = await t.app.inject({ url });
        expect(response.statusCode).toBe(400);
        expect(response.headers.location).toBeUndefined();
      }
    });

    it.each([
      ["PKCE missing", { code_challenge: undefined, code_challenge_method: undefined }, "invalid_request"],
      ["PKCE method missing (no plain default)", { code_challenge_method: undefined }, "invalid_request"],
      ["PKCE plain", { code_challenge_method: "plain", code_challenge: VERIFIER }, "invalid_request"],
      ["a challenge of the wrong shape", { code_challenge: "short" }, "invalid_request"],
      ["response_type token (implicit)", { response_type: "token" }, "unsupported_response_type"],
      ["response_type id_token", { response_type: "id_token" }, "unsupported_response_type"],
      ["a scope outside the client's list", { scope: "openid admin" }, "invalid_scope"],
      ["a malformed scope", { scope: 'openid "quoted"' }, "invalid_scope"],
      ["a resource not allowed", { resource: "https://api.example.test" }, "invalid_target"],
      ["an unknown prompt", { prompt: "bogus" }, "invalid_request"],
      ["prompt none with login", { prompt: "none login" }, "invalid_request"],
      ["a bad max_age", { max_age: "-1" }, "invalid_request"],
      ["a request object", { request: "eyJhbGciOiJub25lIn0.e30." }, "request_not_supported"],
      ["response_mode fragment", { response_mode: "fragment" }, "invalid_request"],
    ])("redirects %s back as an error with state and iss", async (_name, params, error) => {
      const response = await t.app.inject({
        url: authorizeUrl(params as Record<string, string | undefined>),
      });
      expect(response.statusCode).toBe(303);
      const location = new URL(String(response.headers.location));
      expect(location.origin + location.pathname).toBe(CALLBACK);
      expect(location.searchParams.get("error")).toBe(error);
      expect(location.searchParams.get("state")).toBe("st-1");
      expect(location.searchParams.get("iss")).toBe(ISSUER);
      expect(location.searchParams.get("code")).toBeNull();
    });

    it("passes login_hint on to the sign-in page, escaped", async () => {
      const response = await t.app.inject({ url: authorizeUrl({ login_hint: 'pat"><b>' }) });
      const location = String(response.headers.location);
      expect(new URL(location, ISSUER).searchParams.get("login_hint")).toBe('pat"><b>');
      const page = await t.app.inject({ url: location });
      expect(page.body).toContain('value="pat&quot;&gt;&lt;b&gt;"');
      expect(page.body).not.toContain("<b>");
    });

    it("answers prompt=none without a session with login_required", async () => {
      const response = await t.app.inject({ url: authorizeUrl({ prompt: "none" }) });
      const location = new URL(String(response.headers.location));
      expect(location.searchParams.get("error")).toBe("login_required");
    });

    it("asks a signed-in user to sign in again for prompt=login and for an exceeded max_age", async () => {
      const page = new PageClient(t.app, ISSUER);
      await code(page);
      const fresh = await page.get(authorizeUrl({}));
      expect(String(fresh.headers.location)).toMatch(/^https:\/\/app\.example\.test\/callback\?code=/);
      const login = await page.get(authorizeUrl({ prompt: "login" }));
      expect(String(login.headers.location)).toMatch(/^\/login\?/);
      expect(String(login.headers.location)).toContain("prompt=login");
      // Signing in again completes it (once: the new session counts as the fresh sign-in).
      const again = await runAuthorization(page, new URL(ISSUER + authorizeUrl({ prompt: "login" })));
      expect(again.searchParams.get("code")).toBeTruthy();
      t.clock.advance(120_000);
      const old = await page.get(authorizeUrl({ max_age: "60" }));
      expect(String(old.headers.location)).toMatch(/^\/login\?/);
      const recentEnough = await page.get(authorizeUrl({ max_age: "3600" }));
      expect(String(recentEnough.headers.location)).toMatch(/^https:\/\/app\.example\.test\/callback\?code=/);
    });
  });

  describe("token endpoint", () => {
    it("refuses a wrong PKCE verifier, a missing one, and a different redirect_uri", async () => {
      const value = await code();
      const wrong = await token({
        grant_type: "authorization_code",
        code: value,
        redirect_uri: CALLBACK,
        code_verifier: `${VERIFIER.slice(0, -1)}A`,
      });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json().error).toBe("invalid_grant");
      const missing = await token({ grant_type: "authorization_code", code: value, redirect_uri: CALLBACK });
      expect(missing.json().error).toBe("invalid_request");
      const otherUri = await token({
        grant_type: "authorization_code",
        code: value,
        redirect_uri: "http://127.0.0.1/cb",
        code_verifier: VERIFIER,
      });
      expect(otherUri.json().error).toBe("invalid_grant");
    });

    it.each([
      ["a wrong PKCE verifier", { code_verifier: `${VERIFIER.slice(0, -1)}A` }],
      ["a different redirect_uri", { redirect_uri: "http://127.0.0.1/cb" }],
    ])("burns the code after %s: the right verifier then fails too", async (_name, wrong) => {
      const form = {
        grant_type: "authorization_code",
        code: await code(),
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      };
      const failed = await token({ ...form, ...wrong });
      expect(failed.statusCode).toBe(400);
      expect(failed.json().error).toBe("invalid_grant");
      const right = await token(form);
      expect(right.statusCode).toBe(400);
      expect(right.json().error).toBe("invalid_grant");
    });

    it("revokes what a code issued when a wrong verifier follows its redemption", async () => {
      const form = {
        grant_type: "authorization_code",
        code: await code(),
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      };
      const first = await token(form);
      expect(first.statusCode).toBe(200);
      const { access_token, refresh_token } = first.json();
      const wrong = await token({ ...form, code_verifier: "B".repeat(43) });
      expect(wrong.json().error).toBe("invalid_grant");
      expect((await introspect(access_token)).active).toBe(false);
      expect((await introspect(refresh_token)).active).toBe(false);
    });

    it("refuses an expired code", async () => {
      const value = await code();
      t.clock.advance(61_000);
      const response = await token({
        grant_type: "authorization_code",
        code: value,
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      });
      expect(response.json().error).toBe("invalid_grant");
    });

    it("refuses a replayed code and revokes what its first redemption issued", async () => {
      const value = await code();
      const form = {
        grant_type: "authorization_code",
        code: value,
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      };
      const first = await token(form);
      expect(first.statusCode).toBe(200);
      const { access_token, refresh_token } = first.json();
      expect((await introspect(access_token)).active).toBe(true);
      const replay = await token(form);
      expect(replay.statusCode).toBe(400);
      expect(replay.json().error).toBe("invalid_grant");
      expect((await introspect(access_token)).active).toBe(false);
      expect((await introspect(refresh_token)).active).toBe(false);
      const refresh = await token({ grant_type: "refresh_token", refresh_token });
      expect(refresh.json().error).toBe("invalid_grant");
      const events = await t.ctx.accounts.audit.list({ userId, type: "oauth.code_replayed" });
      expect(events.length).toBeGreaterThan(0);
    });

    it("refuses another client's code and refresh token", async () => {
      const other = await t.ctx.oauth.clients.create({ name: "Other", redirectUris: [CALLBACK] });
      const otherBasic = `Basic ${Buffer.from(`${other.client.id}:${other.secret}`).toString("base64")}`;
      const value = await code();
      const response = await token(
        { grant_type: "authorization_code", code: value, redirect_uri: CALLBACK, code_verifier: VERIFIER },
        otherBasic,
      );
      expect(response.json().error).toBe("invalid_grant");
      const { refresh_token } = await pair();
      const stolen = await token({ grant_type: "refresh_token", refresh_token }, otherBasic);
      expect(stolen.json().error).toBe("invalid_grant");
    });

    it("answers a retry inside the grace window with the same pair, and reuse after it by revoking the family", async () => {
      const { refresh_token } = await pair();
      const first = await token({ grant_type: "refresh_token", refresh_token });
      expect(first.statusCode).toBe(200);
      const retry = await token({ grant_type: "refresh_token", refresh_token });
      expect(retry.statusCode).toBe(200);
      expect(retry.json()).toEqual(first.json());
      const successor = first.json().refresh_token as string;
      t.clock.advance(11_000);
      const reuse = await token({ grant_type: "refresh_token", refresh_token });
      expect(reuse.statusCode).toBe(400);
      expect(reuse.json().error).toBe("invalid_grant");
      // The whole family died: the successor and its access token too.
      expect((await introspect(successor)).active).toBe(false);
      expect((await introspect(first.json().access_token)).active).toBe(false);
      expect((await token({ grant_type: "refresh_token", refresh_token: successor })).json().error).toBe(
        "invalid_grant",
      );
      const events = await t.ctx.accounts.audit.list({ userId, type: "oauth.refresh_reused" });
      expect(events.at(0)?.outcome).toBe("failure");
    });

    it("never mints two successors: 50 concurrent refreshes of one token all get the same one, which works", async () => {
      const { refresh_token } = await pair();
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => token({ grant_type: "refresh_token", refresh_token })),
      );
      const successes = answers
        .filter((a) => a.statusCode === 200)
        .map((a) => a.json().refresh_token as string);
      expect(successes.length).toBe(50);
      expect(new Set(successes).size).toBe(1);
      // One live token in the family: the successor (the original is rotated, nothing else was minted).
      const successorRow = await t.ctx.oauth.tokens.findRefreshToken(successes[0] as string);
      const family = await t.ctx.storage.db
        .selectFrom("refresh_tokens")
        .select(["id", "rotated_at"])
        .where("family_id", "=", successorRow?.family_id as string)
        .execute();
      expect(family).toHaveLength(2);
      expect(family.filter((row) => row.rotated_at === null).map((row) => row.id)).toEqual([
        successorRow?.id,
      ]);
      const next = await token({ grant_type: "refresh_token", refresh_token: successes[0] as string });
      expect(next.statusCode).toBe(200);
      expect((await introspect(next.json().access_token)).active).toBe(true);
    });

    it("refuses bad client authentication with 401 invalid_client", async () => {
      const wrongSecret = `Basic ${Buffer.from(`${client.id}:tsr_cs_wrong`).toString("base64")}`;
      const response = await token({ grant_type: "client_credentials" }, wrongSecret);
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe("invalid_client");
      expect(response.headers["www-authenticate"]).toMatch(/^Basic/);
      const post = await token(
        { grant_type: "client_credentials", client_id: client.id, client_secret: "x" },
        null,
      );
      expect(post.statusCode).toBe(401);
      const none = await token({ grant_type: "client_credentials" }, null);
      expect(none.statusCode).toBe(401);
      // A confidential client cannot pretend to be public.
      const asPublic = await token(
        { grant_type: "authorization_code", client_id: client.id, code: "x", redirect_uri: CALLBACK },
        null,
      );
      expect(asPublic.statusCode).toBe(401);
      const both = await token({ grant_type: "client_credentials", client_secret: client.secret });
      expect(both.json().error).toBe("invalid_request");
    });

    it("refuses unsupported grants and non-form bodies", async () => {
      expect(
        (await token({ grant_type: "password", username: "pat", password: PASSWORD })).json().error,
      ).toBe("unsupported_grant_type");
      expect((await token({ grant_type: "implicit" })).json().error).toBe("unsupported_grant_type");
      expect((await token({})).json().error).toBe("invalid_request");
      const json = await t.app.inject({
        method: "POST",
        url: "/token",
        headers: { "content-type": "application/json", authorization: basic },
        payload: JSON.stringify({ grant_type: "client_credentials" }),
      });
      expect(json.statusCode).toBe(400);
      expect(json.json().error).toBe("invalid_request");
      const repeated = await t.app.inject({
        method: "POST",
        url: "/token",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
        payload: "grant_type=refresh_token&grant_type=client_credentials",
      });
      expect(repeated.json().error).toBe("invalid_request");
    });

    it("answers any form body with a 4xx OAuth error, never a 500", async () => {
      const key = fc.constantFrom(
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
        "resource",
        "client_id",
        "client_secret",
      );
      const value = fc.oneof(
        fc.constantFrom("authorization_code", "refresh_token", "client_credentials", "tsr_rt_x", CALLBACK),
        fc.string({ maxLength: 60 }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(key, value), { maxLength: 6 }),
          fc.boolean(),
          async (fields, withAuth) => {
            const body = new URLSearchParams(fields).toString();
            const response = await t.app.inject({
              method: "POST",
              url: "/token",
              headers: {
                "content-type": "application/x-www-form-urlencoded",
                ...(withAuth ? { authorization: basic } : {}),
              },
              payload: body,
            });
            expect([200, 400, 401]).toContain(response.statusCode);
            if (response.statusCode !== 200) expect(typeof response.json().error).toBe("string");
          },
        ),
        { numRuns: 150 },
      );
    });
  });

  describe("userinfo and introspection", () => {
    it("refuse alg none, key confusion, tampered and expired tokens", async () => {
      const { access_token } = await pair();
      const [header, payload, signature] = access_token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
      const none = `${b64({ alg: "none", typ: "at+jwt" })}.${payload}.`;
      const jwks = (await t.app.inject({ url: "/.well-known/jwks.json" })).json() as {
        keys: { kid: string }[];
      };
      const kid = JSON.parse(Buffer.from(header, "base64url").toString()).kid;
      const publicJwk = jwks.keys.find((k) => k.kid === kid);
      const hsHeader = b64({ alg: "HS256", typ: "at+jwt", kid });
      const hmac = createHmac("sha256", JSON.stringify(publicJwk))
        .update(`${hsHeader}.${payload}`)
        .digest("base64url");
      const confused = `${hsHeader}.${payload}.${hmac}`;
      const tampered = `${header}.${b64({ ...claims, scope: "openid admin" })}.${signature}`;
      const { privateKey } = generateKeyPairSync("ed25519");
      const { sign } = await import("node:crypto");
      const foreignHeader = b64({ alg: "EdDSA", typ: "at+jwt", kid });
      const foreign = `${foreignHeader}.${payload}.${sign(null, Buffer.from(`${foreignHeader}.${payload}`), privateKey).toString("base64url")}`;
      for (const bad of [none, confused, tampered, foreign, "not.a.jwt", `${access_token}x`]) {
        const info = await userinfo(bad);
        expect(info.statusCode).toBe(401);
        expect(info.headers["www-authenticate"]).toMatch(/error="invalid_token"/);
        expect((await introspect(bad)).active).toBe(false);
      }
      expect((await userinfo(access_token)).statusCode).toBe(200);
      t.clock.advance(901_000);
      expect((await userinfo(access_token)).statusCode).toBe(401);
      expect((await introspect(access_token)).active).toBe(false);
    });

    it("answers 401 without a token, 403 insufficient_scope for a token without openid, and never reads the query", async () => {
      const missing = await t.app.inject({ url: "/userinfo" });
      expect(missing.statusCode).toBe(401);
      expect(missing.headers["www-authenticate"]).toBe('Bearer realm="tessera"');
      const { access_token } = await pair();
      const inQuery = await t.app.inject({ url: `/userinfo?access_token=${access_token}` });
      expect(inQuery.statusCode).toBe(401);
      const service = await t.ctx.oauth.clients.create({
        name: "svc",
        grantTypes: ["client_credentials"],
        scope: "",
      });
      const serviceBasic = `Basic ${Buffer.from(`${service.client.id}:${service.secret}`).toString("base64")}`;
      const cc = await token({ grant_type: "client_credentials" }, serviceBasic);
      expect(cc.statusCode, cc.body).toBe(200);
      const info = await userinfo(cc.json().access_token);
      expect(info.statusCode).toBe(403);
      expect(info.headers["www-authenticate"]).toMatch(/error="insufficient_scope"/);
    });

    it("stops honouring a disabled user's tokens at once", async () => {
      const other = await t.ctx.accounts.users.create(
        { userName: "sam", password: PASSWORD },
        { actor: "test", authority: "admin" as const },
      );
      const page = new PageClient(t.app, ISSUER);
      const callback = await runAuthorization(page, new URL(ISSUER + authorizeUrl({})), { userName: "sam" });
      const response = await token({
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") as string,
        redirect_uri: CALLBACK,
        code_verifier: VERIFIER,
      });
      const { access_token, refresh_token } = response.json();
      expect((await introspect(access_token)).active).toBe(true);
      await t.ctx.accounts.users.setActive(other.id, false, { actor: "test", authority: "admin" as const });
      expect((await introspect(access_token)).active).toBe(false);
      expect((await introspect(refresh_token)).active).toBe(false);
      expect((await userinfo(access_token)).statusCode).toBe(401);
      expect((await token({ grant_type: "refresh_token", refresh_token })).json().error).toBe(
        "invalid_grant",
      );
    });

    it("refuses introspection to public clients", async () => {
      const pub = await t.ctx.oauth.clients.create({
        name: "public",
        authMethod: "none",
        redirectUris: ["http://127.0.0.1/cb"],
      });
      const response = await t.app.inject({
        method: "POST",
        url: "/introspect",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: new URLSearchParams({ token: "x", client_id: pub.client.id }).toString(),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe("invalid_client");
    });
  });

  it("computes the RFC 7636 Appendix B challenge the way the server checks it", () => {
    expect(createHash("sha256").update(VERIFIER).digest("base64url")).toBe(CHALLENGE);
  });
});
