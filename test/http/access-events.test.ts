/**
 * The access-ending events (src/access/revocation.ts, `ACCESS_RULES`), each through every entry point that causes
 * it, proved over HTTP on SQLite and PostgreSQL.
 *
 * Every test signs a fresh user in to an OAuth client through the pages (a browser-ish `PageClient`), obtains a
 * grant without `offline_access`, one with it and an authorization code left unredeemed, triggers the event
 * through its entry point and asserts what the event's row says, only through HTTP:
 * - an ended grant: its refresh token gets 400 `invalid_grant` at POST /token, and both tokens introspect
 *   `{"active": false}` at POST /introspect (the access token asked by the resource server it is addressed to,
 *   the refresh token by its own client: the only caller that may ever see a refresh token as active);
 * - what the row keeps: offline grants and other sessions (`sessions: "listed"`, `grants: "of-sessions"`), the
 *   current browser session (`sessions: "others"`), the session and other grants (`grants: "family"`);
 * - an ended session: the old cookie gets 401 at GET /session and a redirect to /login at GET /account, and
 *   its unredeemed code gets `invalid_grant`;
 * - `user_disabled` / `user_deleted`: the user's personal API token is refused (introspection, admin API, SCIM),
 *   and re-enabling the user (or re-creating the user name) brings nothing back.
 * Before each event the signed-in state is checked live, so no refusal afterwards is vacuous.
 */
import { createHash, randomBytes } from "node:crypto";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { OutboxMailer } from "../../src/mail/index.js";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { PageClient } from "../helpers/browser-ish.js";
import { DIALECTS } from "../helpers/databases.js";
import { basicAuth, runAuthorization, startFormReceiver } from "../helpers/oauth.js";

const ISSUER = "https://id.example.test";
const API = "https://api.example.test";
const CALLBACK = "https://app.example.test/callback";
const PASSWORD = "correct horse battery staple 42";
const NEW_PASSWORD = "a different long passphrase 58";
const SESSION_COOKIE = "__Host-tessera_session";
const SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";

interface ClientAuth {
  id: string;
  secret: string;
}
interface Alice {
  id: string;
  userName: string;
  email: string;
}
interface Grant {
  access: string;
  refresh: string;
  idToken: string;
}
/** One browser signed in to the app: its session, the two grants it obtained and a code not yet redeemed. */
interface SignedIn {
  page: PageClient;
  /** The session cookie's value at sign-in (kept: a page drops a cookie the server cleared). */
  cookie: string;
  sessionId: string;
  grant: Grant;
  offline: Grant;
  /** An offline_access authorization code the app has not redeemed yet. */
  pending: PendingCode;
}
interface PendingCode {
  code: string;
  verifier: string;
  client: ClientAuth;
}

describe.each(DIALECTS)("access-ending events over HTTP (%s)", (dialect) => {
  let t: TestApp;
  let app: ClientAuth;
  let rs: ClientAuth;
  let bcl: ClientAuth;
  let receiver: Awaited<ReturnType<typeof startFormReceiver>>;
  let received: URLSearchParams[];
  let users = 0;
  let ips = 0;

  beforeAll(async () => {
    receiver = await startFormReceiver();
    received = receiver.received;
    // The back-channel receiver is on loopback, which outbound requests reach only when allowed.
    t = await createTestApp({
      dialect,
      env: { TESSERA_ISSUER: ISSUER, TESSERA_OUTBOUND_ALLOW_PRIVATE: "127.0.0.1/32" },
    });
    const { clients } = t.ctx.oauth;
    await clients.createResourceServer({ audience: API, name: "API", scope: "read write" });
    const created = async (input: Parameters<typeof clients.create>[0]) => {
      const { client, secret } = await clients.create(input);
      return { id: client.id, secret: secret as string };
    };
    app = await created({
      name: "App",
      redirectUris: [CALLBACK],
      scope: "openid offline_access read",
      resources: [API],
      firstParty: true,
    });
    rs = await created({
      name: "API server",
      grantTypes: ["client_credentials"],
      scope: "",
      resources: [API],
    });
    bcl = await created({
      name: "App with back-channel logout",
      redirectUris: [CALLBACK],
      scope: "openid read",
      resources: [API],
      backchannelLogoutUri: `${receiver.url}/backchannel`,
      firstParty: true,
    });
  });
  afterAll(async () => {
    await t?.close();
    await receiver.close();
  });

  // ---- HTTP plumbing ---------------------------------------------------------------------------------------

  function form(url: string, fields: Record<string, string>, authorization?: string) {
    return t.app.inject({
      method: "POST",
      url,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(authorization ? { authorization } : {}),
      },
      payload: new URLSearchParams(fields).toString(),
    });
  }

  function api(
    method: "GET" | "PATCH" | "PUT" | "POST" | "DELETE",
    url: string,
    body?: unknown,
    token = TEST_ADMIN_TOKEN,
  ) {
    const json = url.startsWith("/scim/") ? "application/scim+json" : "application/json";
    return t.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": json }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  }

  const withCookie = (url: string, cookie: string) =>
    t.app.inject({ method: "GET", url, headers: { cookie: `${SESSION_COOKIE}=${cookie}` } });

  /** A browser of its own address (sign-in and reset throttles are per address). */
  const newPage = () => new PageClient(t.app, ISSUER, `192.0.2.${(ips++ % 250) + 1}`);

  // ---- the user and the sign-in ------------------------------------------------------------------------------

  async function newAlice(options: { administrator?: boolean } = {}): Promise<Alice> {
    users++;
    const userName = `alice${users}`;
    const email = `alice${users}@example.test`;
    const user = await t.ctx.accounts.users.create(
      { userName, password: PASSWORD, emails: [{ value: email, type: "work", primary: true }] },
      { actor: "test", authority: "admin" as const },
    );
    if (options.administrator) {
      await t.ctx.accounts.administrators.grant(user.id, { actor: "test", authority: "admin" });
    }
    return { id: user.id, userName, email };
  }

  /** The browser part of the code flow (PKCE) for `scope` in the page's session: a code not yet redeemed. */
  async function authorizationCode(
    page: PageClient,
    alice: Alice,
    scope: string,
    client = app,
  ): Promise<PendingCode> {
    const verifier = randomBytes(32).toString("base64url");
    const url = new URL("/authorize", ISSUER);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: CALLBACK,
      scope,
      state: randomBytes(8).toString("hex"),
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();
    const callback = await runAuthorization(page, url, { userName: alice.userName, password: PASSWORD });
    const code = callback.searchParams.get("code");
    expect(code, callback.href).toBeTruthy();
    return { code: code as string, verifier, client };
  }

  const redeem = (pending: PendingCode) =>
    form(
      "/token",
      {
        grant_type: "authorization_code",
        code: pending.code,
        redirect_uri: CALLBACK,
        code_verifier: pending.verifier,
      },
      basicAuth(pending.client),
    );

  /** The whole code flow: the code redeemed at POST /token. */
  async function authorize(page: PageClient, alice: Alice, scope: string, client = app): Promise<Grant> {
    const response = await redeem(await authorizationCode(page, alice, scope, client));
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { access_token: string; refresh_token?: string; id_token: string };
    expect(body.refresh_token).toBeTruthy();
    return { access: body.access_token, refresh: body.refresh_token as string, idToken: body.id_token };
  }

  /**
   * Signs alice in to the app in a new browser: a session, a grant without offline_access and one with it,
   * all checked live before anything ends them, and a code for another offline grant left unredeemed.
   */
  async function signIn(alice: Alice, page = newPage()): Promise<SignedIn> {
    await page.get("/login");
    const response = await page.post("/login", { username: alice.userName, password: PASSWORD });
    expect(response.statusCode, response.body).toBe(303);
    const cookie = page.cookies.get(SESSION_COOKIE) as string;
    const session = await withCookie("/session", cookie);
    expect(session.statusCode).toBe(200);
    const grant = await authorize(page, alice, "openid read");
    const offline = await authorize(page, alice, "openid offline_access read");
    for (const g of [grant, offline]) await expectLiveTokens(g);
    const pending = await authorizationCode(page, alice, "openid offline_access read");
    return { page, cookie, sessionId: session.json().session.id, grant, offline, pending };
  }

  // ---- what is alive, what is dead ----------------------------------------------------------------------------

  async function introspect(token: string, as: ClientAuth): Promise<Record<string, unknown>> {
    const response = await form("/introspect", { token }, basicAuth(as));
    expect(response.statusCode, response.body).toBe(200);
    return response.json();
  }

  const refreshWith = (refresh: string, client = app) =>
    form("/token", { grant_type: "refresh_token", refresh_token: refresh }, basicAuth(client));

  async function expectLiveTokens(grant: { access: string; refresh: string }, client = app) {
    expect(await introspect(grant.access, rs)).toMatchObject({ active: true, aud: API });
    expect(await introspect(grant.refresh, client)).toMatchObject({
      active: true,
      token_type: "refresh_token",
    });
  }

  /** The grant works: both tokens introspect active and the refresh token refreshes (answers the new pair). */
  async function expectGrantWorks(grant: Grant, client = app): Promise<Grant> {
    await expectLiveTokens(grant, client);
    const response = await refreshWith(grant.refresh, client);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { access_token: string; refresh_token: string };
    const next = { access: body.access_token, refresh: body.refresh_token, idToken: grant.idToken };
    await expectLiveTokens(next, client);
    return next;
  }

  /** The grant is ended: refresh refused with invalid_grant, both tokens introspect inactive. */
  async function expectGrantEnded(grant: { access: string; refresh: string }, client = app) {
    expect(await introspect(grant.access, rs)).toEqual({ active: false });
    expect(await introspect(grant.refresh, client)).toEqual({ active: false });
    const response = await refreshWith(grant.refresh, client);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error: "invalid_grant" });
  }

  /** A code not redeemed before its session or its user's grants ended can no longer start a grant. */
  async function expectCodeRefused(pending: PendingCode) {
    const response = await redeem(pending);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error: "invalid_grant" });
  }

  async function expectCodeRedeems(pending: PendingCode) {
    const response = await redeem(pending);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { access_token: string; refresh_token: string };
    await expectLiveTokens({ access: body.access_token, refresh: body.refresh_token }, pending.client);
  }

  async function expectSessionLive(cookie: string) {
    expect((await withCookie("/session", cookie)).statusCode).toBe(200);
    expect((await withCookie("/account", cookie)).statusCode).toBe(200);
  }

  async function expectSessionEnded(cookie: string) {
    const session = await withCookie("/session", cookie);
    expect(session.statusCode).toBe(401);
    expect(session.json()).toMatchObject({ error: "unauthorized" });
    const account = await withCookie("/account", cookie);
    expect(account.statusCode).toBe(303);
    expect(String(account.headers.location)).toMatch(/^\/login\?/);
  }

  /** sessions "listed", grants "of-sessions": that sign-in ends; its offline grant and other sessions do not. */
  async function expectOnlyThatSignInEnded(ended: SignedIn, other: SignedIn) {
    await expectSessionEnded(ended.cookie);
    await expectGrantEnded(ended.grant);
    await expectCodeRefused(ended.pending);
    await expectGrantWorks(ended.offline);
    await expectSessionLive(other.cookie);
    await expectGrantWorks(other.grant);
    await expectGrantWorks(other.offline);
    await expectCodeRedeems(other.pending);
  }

  /** sessions "all", grants "all": every session and every grant of the user, offline ones included. */
  async function expectEverythingEnded(signedIn: readonly SignedIn[]) {
    for (const s of signedIn) {
      await expectSessionEnded(s.cookie);
      await expectGrantEnded(s.grant);
      await expectGrantEnded(s.offline);
      await expectCodeRefused(s.pending);
    }
  }

  /**
   * sessions "others", grants "all": the other browser is signed out, every grant dies (the current session's
   * too), and the current session keeps working: after the one-second cut-off it obtains tokens that work.
   */
  async function expectOthersEndedCurrentKept(current: SignedIn, other: SignedIn, alice: Alice) {
    await expectSessionEnded(other.cookie);
    for (const g of [other.grant, other.offline, current.grant, current.offline]) await expectGrantEnded(g);
    for (const code of [other.pending, current.pending]) await expectCodeRefused(code);
    const cookie = current.page.cookies.get(SESSION_COOKIE) as string;
    await expectSessionLive(cookie);
    // The user's cut-off is the next whole second: an access token minted in the event's second is refused
    // (fail closed); one second later the same session gets tokens that work.
    const sameSecond = await authorize(current.page, alice, "openid read");
    expect(await introspect(sameSecond.access, rs)).toEqual({ active: false });
    t.clock.advance(1000);
    await expectGrantWorks(await authorize(current.page, alice, "openid offline_access read"));
  }

  // ---- API tokens, reset links, admin calls --------------------------------------------------------------------

  /** A personal token with Tessera's scopes (alice is an administrator) and a resource server's scope. */
  async function personalToken(alice: Alice): Promise<string> {
    const { token } = await t.ctx.apiTokens.create({
      kind: "personal",
      name: "script",
      ownerId: alice.id,
      scopes: ["tessera:admin", "tessera:scim", "read"],
      resources: [API],
      createdBy: "test",
    });
    await expectApiTokenWorks(token, alice);
    return token;
  }

  async function expectApiTokenWorks(token: string, alice: Alice) {
    expect(await introspect(token, rs)).toMatchObject({
      active: true,
      sub: alice.id,
      scope: expect.any(String),
    });
    expect((await api("GET", "/admin/users?count=1", undefined, token)).statusCode).toBe(200);
    expect((await api("GET", "/scim/v2/Users?count=1", undefined, token)).statusCode).toBe(200);
  }

  async function expectApiTokenRefused(token: string) {
    expect(await introspect(token, rs)).toEqual({ active: false });
    const admin = await api("GET", "/admin/users?count=1", undefined, token);
    expect(admin.statusCode).toBe(401);
    expect(String(admin.headers["www-authenticate"])).toContain('error="invalid_token"');
    const scim = await api("GET", "/scim/v2/Users?count=1", undefined, token);
    expect(scim.statusCode).toBe(401);
    expect(String(scim.headers["www-authenticate"])).toContain('error="invalid_token"');
  }

  /** Asks for a reset link through the forgot-password page; answers its path (live: the form shows). */
  async function resetLink(alice: Alice): Promise<string> {
    const outbox = t.ctx.mailer as OutboxMailer;
    const mine = () => outbox.messages.filter((m) => m.to === alice.email);
    const before = mine().length;
    const page = newPage();
    await page.get("/password/forgot");
    expect((await page.post("/password/forgot", { username: alice.email })).statusCode).toBe(200);
    await vi.waitFor(() => expect(mine().length).toBe(before + 1), { timeout: 5000 });
    const link = /https:\/\/id\.example\.test(\/password\/reset\?token=\S+)/.exec(mine().at(-1)!.text)?.[1];
    expect(link).toBeTruthy();
    expect((await page.get(link as string)).statusCode).toBe(200);
    return link as string;
  }

  async function expectResetLinkDead(link: string) {
    expect((await newPage().get(link)).statusCode).toBe(400);
  }

  async function reEnable(alice: Alice) {
    const response = await api("PATCH", `/admin/users/${alice.id}`, { active: true });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().active).toBe(true);
  }

  // ---- the rows ---------------------------------------------------------------------------------------------

  describe("signed_out: ends that session and its sign-in's grants without offline_access", () => {
    it("signed_out via POST /logout (sign-out page)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      await a.page.get("/account");
      const out = await a.page.post("/logout", {});
      expect(out.statusCode).toBe(200);
      expect(out.body).toContain("You are signed out.");
      await expectOnlyThatSignInEnded(a, b);
    });

    it("signed_out also ends an access token that came without a refresh token (client without the grant)", async () => {
      const { client, secret } = await t.ctx.oauth.clients.create({
        name: "No refresh",
        redirectUris: [CALLBACK],
        scope: "openid read",
        resources: [API],
        grantTypes: ["authorization_code"],
        firstParty: true,
      });
      const noRefresh = { id: client.id, secret: secret as string };
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const redeemed = async (page: PageClient) => {
        const response = await redeem(await authorizationCode(page, alice, "openid read", noRefresh));
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json().refresh_token).toBeUndefined();
        return response.json().access_token as string;
      };
      const mine = await redeemed(a.page);
      const theirs = await redeemed(b.page);
      expect((await introspect(mine, rs)).active).toBe(true);
      await a.page.get("/account");
      expect((await a.page.post("/logout", {})).statusCode).toBe(200);
      expect(await introspect(mine, rs)).toEqual({ active: false });
      // The other browser's sign-in keeps its token.
      expect((await introspect(theirs, rs)).active).toBe(true);
    });

    it("signed_out via the OIDC end-session endpoint (id_token_hint of this sign-in)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const out = await a.page.get(`/end-session?id_token_hint=${a.grant.idToken}`);
      expect(out.statusCode).toBe(200);
      expect(out.body).toContain("You are signed out");
      await expectOnlyThatSignInEnded(a, b);
    });

    it("signed_out via the OIDC end-session endpoint's confirmation (no id_token_hint)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const ask = await a.page.get(`/end-session?client_id=${app.id}`);
      expect(ask.statusCode).toBe(200);
      expect(ask.body).toContain('action="/end-session/confirm"');
      const out = await a.page.post("/end-session/confirm", { client_id: app.id });
      expect(out.statusCode).toBe(200);
      expect(out.body).toContain("You are signed out");
      await expectOnlyThatSignInEnded(a, b);
    });
  });

  describe("sessions_revoked: ends the listed session and its sign-in's grants without offline_access", () => {
    it("sessions_revoked via POST /account/sessions/:id/revoke (from the user's other browser)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      await b.page.get("/account/sessions");
      const revoked = await b.page.post(`/account/sessions/${a.sessionId}/revoke`, {});
      expect(revoked.statusCode).toBe(303);
      expect(revoked.headers.location).toBe("/account/sessions?done=session-revoked");
      await expectOnlyThatSignInEnded(a, b);
    });

    it("sessions_revoked via DELETE /admin/users/:id/sessions/:sessionId (admin API)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const response = await api("DELETE", `/admin/users/${alice.id}/sessions/${a.sessionId}`);
      expect(response.statusCode, response.body).toBe(204);
      await expectOnlyThatSignInEnded(a, b);
    });

    it("sessions_revoked via a leaked session token reported to POST /api-tokens/leaked", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const response = await t.app.inject({
        method: "POST",
        url: "/api-tokens/leaked",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ tokens: [a.cookie], source: "test" }),
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({ received: 1, recognised: 1, revoked: 1 });
      await expectOnlyThatSignInEnded(a, b);
    });
  });

  describe("session_replaced: a new sign-in in the same browser ends the old session's grants", () => {
    it("session_replaced via signing in again in the same browser", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      await a.page.get("/login?prompt=login");
      const again = await a.page.post("/login", { username: alice.userName, password: PASSWORD });
      expect(again.statusCode, again.body).toBe(303);
      const replacement = a.page.cookies.get(SESSION_COOKIE) as string;
      expect(replacement).not.toBe(a.cookie);
      const now = await withCookie("/session", replacement);
      expect(now.statusCode).toBe(200);
      expect(now.json().session.id).not.toBe(a.sessionId);
      await expectOnlyThatSignInEnded(a, b);
    });
  });

  describe("signed_out_others / password_changed: other sessions and every grant end, this browser stays", () => {
    it("signed_out_others via POST /account/sessions/revoke-others", async () => {
      const alice = await newAlice();
      const other = await signIn(alice);
      const current = await signIn(alice);
      await current.page.get("/account/sessions");
      const response = await current.page.post("/account/sessions/revoke-others", {});
      expect(response.statusCode).toBe(303);
      expect(response.headers.location).toBe("/account/sessions?done=others-revoked");
      await expectOthersEndedCurrentKept(current, other, alice);
    });

    it("password_changed via the account page's password change with sign_out_others (reset links end too)", async () => {
      const alice = await newAlice();
      const other = await signIn(alice);
      const current = await signIn(alice);
      const link = await resetLink(alice);
      expect((await current.page.get("/account/password")).statusCode).toBe(200);
      const response = await current.page.post("/account/password", {
        current_password: PASSWORD,
        new_password: NEW_PASSWORD,
        confirm_password: NEW_PASSWORD,
        sign_out_others: "on",
      });
      expect(response.statusCode, response.body).toBe(303);
      expect(response.headers.location).toBe("/account?done=password-changed");
      await expectOthersEndedCurrentKept(current, other, alice);
      await expectResetLinkDead(link);
    });
  });

  describe("password_reset / all_sessions_revoked / mfa_reset: every session and every grant end", () => {
    it("password_reset via completing the e-mailed reset link (POST /password/reset)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const link = await resetLink(alice);
      const page = newPage();
      await page.get(link);
      const token = new URL(link, ISSUER).searchParams.get("token") as string;
      const done = await page.post("/password/reset", {
        token,
        new_password: NEW_PASSWORD,
        confirm_password: NEW_PASSWORD,
      });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.body).toContain("every device was signed out");
      await expectEverythingEnded([a, b]);
      await expectResetLinkDead(link);
    });

    it("all_sessions_revoked via DELETE /admin/users/:id/sessions", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const response = await api("DELETE", `/admin/users/${alice.id}/sessions`);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({ revoked: 2 });
      await expectEverythingEnded([a, b]);
    });

    it("mfa_reset via DELETE /admin/users/:id/mfa (admin API)", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const response = await api("DELETE", `/admin/users/${alice.id}/mfa`);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toMatchObject({ totp: false, recoveryCodesLeft: 0, securityKeys: [] });
      await expectEverythingEnded([a, b]);
    });
  });

  describe("user_disabled: everything ends, API tokens are revoked, re-enabling brings nothing back", () => {
    /** Signs alice in twice, gives her a personal token, disables her through `disable`, checks the row. */
    async function proveUserDisabled(disable: (alice: Alice) => Promise<void>) {
      const alice = await newAlice({ administrator: true });
      const a = await signIn(alice);
      const b = await signIn(alice);
      const token = await personalToken(alice);
      const link = await resetLink(alice);
      await disable(alice);
      await expectEverythingEnded([a, b]);
      await expectApiTokenRefused(token);
      await expectResetLinkDead(link);

      await reEnable(alice);
      t.clock.advance(1000);
      await expectEverythingEnded([a, b]);
      await expectApiTokenRefused(token);
      await expectResetLinkDead(link);
      // Re-enabled for real: a new sign-in gets a session and tokens that work, a new API token works.
      const fresh = await signIn(alice);
      await expectSessionLive(fresh.cookie);
      await expectApiTokenWorks(await personalToken(alice), alice);
    }

    it("user_disabled via PATCH /admin/users/:id {active:false} (admin API)", async () => {
      await proveUserDisabled(async (alice) => {
        const response = await api("PATCH", `/admin/users/${alice.id}`, { active: false });
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json().active).toBe(false);
      });
    });

    it("user_disabled via SCIM PUT /scim/v2/Users/:id with active=false", async () => {
      await proveUserDisabled(async (alice) => {
        const current = await api("GET", `/scim/v2/Users/${alice.id}`);
        expect(current.statusCode).toBe(200);
        const { meta: _meta, groups: _groups, ...user } = current.json();
        const response = await api("PUT", `/scim/v2/Users/${alice.id}`, { ...user, active: false });
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json().active).toBe(false);
      });
    });

    it("user_disabled via SCIM PATCH /scim/v2/Users/:id replace active=false", async () => {
      await proveUserDisabled(async (alice) => {
        const response = await api("PATCH", `/scim/v2/Users/${alice.id}`, {
          schemas: [SCIM_PATCH],
          Operations: [{ op: "replace", path: "active", value: false }],
        });
        expect(response.statusCode, response.body).toBe(200);
        expect(response.json().active).toBe(false);
      });
    });

    it("user_disabled via the CLI's `users disable` (users.setActive(id, false) as actor cli)", async () => {
      await proveUserDisabled(async (alice) => {
        const user = await t.ctx.accounts.users.setActive(alice.id, false, {
          actor: "cli",
          authority: "admin",
        });
        expect(user.active).toBe(false);
      });
    });
  });

  describe("user_deleted: everything ends, API tokens are revoked, nothing comes back", () => {
    async function proveUserDeleted(remove: (alice: Alice) => Promise<void>) {
      const alice = await newAlice({ administrator: true });
      const a = await signIn(alice);
      const b = await signIn(alice);
      const token = await personalToken(alice);
      await remove(alice);
      expect((await api("GET", `/admin/users/${alice.id}`)).statusCode).toBe(404);
      await expectEverythingEnded([a, b]);
      await expectApiTokenRefused(token);

      // Nothing to re-enable; a new account with the same user name and e-mail inherits nothing.
      expect((await api("PATCH", `/admin/users/${alice.id}`, { active: true })).statusCode).toBe(404);
      const again = await api("POST", "/scim/v2/Users", {
        schemas: [SCIM_USER],
        userName: alice.userName,
        emails: [{ value: alice.email, type: "work", primary: true }],
        active: true,
      });
      expect(again.statusCode, again.body).toBe(201);
      expect(again.json().id).not.toBe(alice.id);
      t.clock.advance(1000);
      await expectEverythingEnded([a, b]);
      await expectApiTokenRefused(token);
    }

    it("user_deleted via DELETE /admin/users/:id (admin API)", async () => {
      await proveUserDeleted(async (alice) => {
        const response = await api("DELETE", `/admin/users/${alice.id}`);
        expect(response.statusCode, response.body).toBe(204);
      });
    });

    it("user_deleted via SCIM DELETE /scim/v2/Users/:id", async () => {
      await proveUserDeleted(async (alice) => {
        const response = await api("DELETE", `/scim/v2/Users/${alice.id}`);
        expect(response.statusCode, response.body).toBe(204);
      });
    });
  });

  describe("refresh_reused / refresh_leaked: that refresh-token family ends, nothing else", () => {
    it("refresh_reused via presenting a rotated refresh token after the grace window", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const rotated = await expectGrantWorks(a.grant);
      t.clock.advance(t.config.refreshGraceWindow * 1000 + 1000);
      const reuse = await refreshWith(a.grant.refresh);
      expect(reuse.statusCode, reuse.body).toBe(400);
      expect(reuse.json()).toMatchObject({ error: "invalid_grant" });
      // The whole family: the successor pair and the first access token.
      await expectGrantEnded(rotated);
      expect(await introspect(a.grant.access, rs)).toEqual({ active: false });
      // Nothing else: the session, its offline grant and pending code, the other browser.
      await expectSessionLive(a.cookie);
      await expectGrantWorks(a.offline);
      await expectCodeRedeems(a.pending);
      await expectSessionLive(b.cookie);
      await expectGrantWorks(b.grant);
    });

    it("refresh_leaked via reporting a refresh token to POST /api-tokens/leaked", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      const b = await signIn(alice);
      const response = await t.app.inject({
        method: "POST",
        url: "/api-tokens/leaked",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify([
          { token: a.offline.refresh, type: "tessera_refresh_token", url: "https://x.test" },
        ]),
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({ received: 1, recognised: 1, revoked: 1 });
      // That family (an offline one: the rule ends it whatever its scope); nothing else.
      await expectGrantEnded(a.offline);
      await expectSessionLive(a.cookie);
      await expectGrantWorks(a.grant);
      await expectCodeRedeems(a.pending);
      await expectSessionLive(b.cookie);
      await expectGrantWorks(b.offline);
    });
  });

  describe("back-channel logout", () => {
    it("user_disabled (admin API) posts a logout token for the ended session to the client that registered one", async () => {
      const alice = await newAlice();
      const a = await signIn(alice);
      await authorize(a.page, alice, "openid read", bcl);
      await t.ctx.oauth.logout.idle();
      received.length = 0;
      const response = await api("PATCH", `/admin/users/${alice.id}`, { active: false });
      expect(response.statusCode, response.body).toBe(200);
      await t.ctx.oauth.logout.idle();
      expect(received).toHaveLength(1);
      const jwks = (await t.app.inject({ url: "/.well-known/jwks.json" })).json();
      const { payload, protectedHeader } = await jwtVerify(
        received[0]?.get("logout_token") as string,
        createLocalJWKSet(jwks),
        { issuer: ISSUER, audience: bcl.id, typ: "logout+jwt", currentDate: new Date(t.clock.now()) },
      );
      expect(protectedHeader.typ).toBe("logout+jwt");
      expect(payload).toMatchObject({ sub: alice.id, sid: a.sessionId, events: { [BACKCHANNEL_EVENT]: {} } });
      await expectEverythingEnded([a]);
    });
  });
});
