/**
 * Token exchange (RFC 8693) as a client sees it: openid-client's generic grant against Tessera's token endpoint
 * (over `app.inject()`), every issued token verified with `jose` and the published JWKS, on SQLite and
 * PostgreSQL. Subject tokens come from the real authorization-code grant.
 *
 * Covered: delegation (`act` naming the client or the actor token's subject, nested chains, the depth limit),
 * down-scoping and audience change, impersonation allowed and refused, DPoP-bound subject tokens, lifetime,
 * introspection, audit, discovery, and every refusal: client without the grant or public, unknown or unlisted
 * audience, widening scope, expired, revoked, foreign and malformed subject tokens, a disabled user, the user's
 * cut-off, unsupported token types.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/oauth/clients.js";
import type { TokenResponse } from "../../src/oauth/token-endpoint.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover } from "../helpers/oauth.js";
import { API, CALLBACK, createOAuthFixture, ISSUER, type OAuthFixture, proof, proofKey } from "./fixture.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const LEDGER = "https://ledger.example.test";
const REPORTS = "https://reports.example.test";
const UNLISTED = "https://unlisted.example.test";

type Registered = { client: Client; secret: string };

describe.each(DIALECTS)("token exchange (RFC 8693) on %s", (dialect) => {
  let f: OAuthFixture;
  /** The user's app: its tokens are for the orders API and the ledger. */
  let frontend: Registered;
  /** The orders API's backend: a resource server (API) that may exchange for the ledger and reports. */
  let service: Registered;
  /** The ledger's backend: may exchange what it receives for reports. */
  let ledger: Registered;
  /** Allowed to impersonate. */
  let impersonator: Registered;
  /** Has the grant, but is not the API: tokens for the API are not addressed to it. */
  let outsider: Registered;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  const configs = new Map<string, oidc.Configuration>();

  const register = async (input: Parameters<OAuthFixture["client"]>[0]): Promise<Registered> => {
    const { client, secret } = await f.client(input);
    return { client, secret: secret as string };
  };

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    const { clients } = f.oauth;
    await clients.createResourceServer({
      audience: LEDGER,
      name: "Ledger",
      scope: "ledger:read ledger:write",
    });
    await clients.createResourceServer({ audience: REPORTS, name: "Reports", scope: "reports:read" });
    await clients.createResourceServer({ audience: UNLISTED, name: "Unlisted", scope: "ledger:read" });
    frontend = await register({
      name: "Frontend",
      scope: "openid offline_access orders:read ledger:read reports:read",
      resources: [API, LEDGER, REPORTS],
    });
    service = await register({
      name: "Orders service",
      grantTypes: ["authorization_code", "client_credentials", GRANT],
      scope: "openid orders:read ledger:read ledger:write reports:read",
      resources: [API],
      tokenExchangeAudiences: [LEDGER, REPORTS],
    });
    ledger = await register({
      name: "Ledger service",
      redirectUris: [],
      grantTypes: [GRANT],
      scope: "reports:read",
      resources: [LEDGER],
      tokenExchangeAudiences: [REPORTS],
    });
    impersonator = await register({
      name: "Support console",
      redirectUris: [],
      grantTypes: [GRANT],
      scope: "ledger:read",
      resources: [API],
      tokenExchangeAudiences: [LEDGER],
      tokenExchangeImpersonation: true,
    });
    outsider = await register({
      name: "Outsider",
      redirectUris: [],
      grantTypes: [GRANT],
      scope: "ledger:read",
      resources: [UNLISTED],
      tokenExchangeAudiences: [LEDGER],
    });
    jwks = createLocalJWKSet((await f.t.app.inject({ url: "/.well-known/jwks.json" })).json());
  });
  afterAll(async () => {
    await f.close();
  });

  async function config(who: Registered): Promise<oidc.Configuration> {
    let found = configs.get(who.client.id);
    if (!found) {
      found = await discover(f.t.app, ISSUER, who.client.id, who.secret);
      configs.set(who.client.id, found);
    }
    return found;
  }

  /** An access token of `user` (default: the fixture's) issued by the authorization-code grant. */
  async function userToken(
    options: {
      client?: Registered;
      scope?: string;
      resources?: string[];
      userId?: string;
      dpopJkt?: string;
    } = {},
  ): Promise<TokenResponse> {
    const client = options.client ?? frontend;
    const code = await f.code(
      client.client,
      {
        scope: options.scope ?? "openid orders:read ledger:read",
        resource: (options.resources ?? [API, LEDGER]) as unknown as string,
      },
      f.user(options.userId === undefined ? {} : { userId: options.userId }),
    );
    return f.oauth.tokens.grant(
      client.client,
      f.codeParams(code),
      options.dpopJkt === undefined ? {} : { dpopJkt: options.dpopJkt },
    );
  }

  /** A token exchange request through openid-client's generic grant. */
  async function exchange(who: Registered, params: Record<string, string> | URLSearchParams) {
    return oidc.genericGrantRequest(await config(who), GRANT, params);
  }

  const subject = (token: string, extra: Record<string, string> = {}) => ({
    subject_token: token,
    subject_token_type: ACCESS,
    ...extra,
  });

  async function refused(promise: Promise<unknown>, error: string, description?: RegExp) {
    const failure = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure, `expected ${error}`).toBeInstanceOf(oidc.ResponseBodyError);
    expect(failure).toMatchObject({ error, status: 400 });
    if (description) expect((failure as oidc.ResponseBodyError).error_description).toMatch(description);
  }

  /** An exchange for the ledger and the reports API with both their scopes. */
  const toLedgerAndReports = (token: string) => {
    const params = new URLSearchParams(subject(token, { scope: "ledger:read reports:read" }));
    params.append("resource", LEDGER);
    params.append("resource", REPORTS);
    return params;
  };

  const verify = (token: string, audience: string) =>
    jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience,
      typ: "at+jwt",
      currentDate: new Date(f.t.clock.now()),
    });

  async function newUser(userName: string): Promise<string> {
    return (
      await f.t.ctx.accounts.users.create(
        { userName, password: "correct horse battery staple 42" },
        { actor: "test", authority: "admin" as const },
      )
    ).id;
  }

  it("is advertised in discovery's grant_types_supported", async () => {
    const meta = (await config(service)).serverMetadata();
    expect(meta.grant_types_supported).toContain(GRANT);
  });

  describe("delegation", () => {
    it("issues a down-scoped token for the ledger that names the service as actor (act)", async () => {
      const user = await userToken();
      const answer = await exchange(
        service,
        subject(user.access_token, { resource: LEDGER, scope: "ledger:read" }),
      );
      expect(answer).toMatchObject({
        issued_token_type: ACCESS,
        token_type: "bearer",
        scope: "ledger:read",
      });
      expect(answer.refresh_token).toBeUndefined();
      expect(answer.id_token).toBeUndefined();
      const { payload, protectedHeader } = await verify(answer.access_token, LEDGER);
      expect(protectedHeader.typ).toBe("at+jwt");
      const original = decodeJwt(user.access_token);
      expect(payload).toMatchObject({
        iss: ISSUER,
        sub: f.userId,
        aud: LEDGER,
        client_id: service.client.id,
        scope: "ledger:read",
        act: { sub: service.client.id },
        auth_time: original.auth_time,
        acr: original.acr,
        amr: original.amr,
      });
      expect(payload.jti).not.toBe(original.jti);
      expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(
        service.client.accessTokenTtl,
      );
      expect(payload.exp as number).toBeLessThanOrEqual(original.exp as number);
      expect(answer.expires_in).toBe((payload.exp as number) - (payload.iat as number));
    });

    it("takes the target from `audience` as well as `resource`, and defaults to the first one it may use", async () => {
      const user = await userToken();
      const byAudience = await exchange(service, subject(user.access_token, { audience: LEDGER }));
      expect((await verify(byAudience.access_token, LEDGER)).payload.aud).toBe(LEDGER);
      const byDefault = await exchange(service, subject(user.access_token));
      expect((await verify(byDefault.access_token, LEDGER)).payload.aud).toBe(LEDGER);
      // Without `scope`: every scope of the subject token the client may ask for and the ledger accepts.
      expect(byDefault.scope).toBe("ledger:read");
    });

    it("names several targets when asked (resource repeated, and audience)", async () => {
      const user = await userToken({
        scope: "openid ledger:read reports:read",
        resources: [API, LEDGER, REPORTS],
      });
      const params = new URLSearchParams(subject(user.access_token, { scope: "ledger:read reports:read" }));
      params.append("resource", LEDGER);
      params.append("audience", REPORTS);
      const answer = await exchange(service, params);
      const { payload } = await verify(answer.access_token, REPORTS);
      expect(payload.aud).toEqual([LEDGER, REPORTS]);
      expect(payload.scope).toBe("ledger:read reports:read");
    });

    it("names the actor token's subject as actor when an actor_token is sent", async () => {
      const operator = await newUser("operator");
      // The operator signed in to the service itself: the actor token was issued to the exchanging client.
      const actorToken = await userToken({
        client: service,
        userId: operator,
        scope: "openid orders:read",
        resources: [API],
      });
      const user = await userToken();
      const answer = await exchange(
        service,
        subject(user.access_token, {
          resource: LEDGER,
          actor_token: actorToken.access_token,
          actor_token_type: ACCESS,
        }),
      );
      const { payload } = await verify(answer.access_token, LEDGER);
      expect(payload).toMatchObject({ sub: f.userId, client_id: service.client.id, act: { sub: operator } });
    });

    it("names a service as actor through its own client_credentials token", async () => {
      const own = await f.oauth.tokens.grant(service.client, { grant_type: "client_credentials" });
      const user = await userToken();
      const answer = await exchange(
        service,
        subject(user.access_token, { actor_token: own.access_token, actor_token_type: ACCESS }),
      );
      expect((await verify(answer.access_token, LEDGER)).payload.act).toEqual({ sub: service.client.id });
    });

    it("nests the earlier actor when a delegated token is exchanged again (RFC 8693 §4.1)", async () => {
      const user = await userToken();
      const first = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      const user2 = await userToken({
        scope: "openid ledger:read reports:read",
        resources: [API, LEDGER, REPORTS],
      });
      const withReports = await exchange(service, toLedgerAndReports(user2.access_token));
      // The ledger service received `withReports` (addressed to it, among others) and calls the reports API.
      const second = await exchange(
        ledger,
        subject(withReports.access_token, { resource: REPORTS, scope: "reports:read" }),
      );
      const { payload } = await verify(second.access_token, REPORTS);
      expect(payload).toMatchObject({
        sub: f.userId,
        client_id: ledger.client.id,
        scope: "reports:read",
        act: { sub: ledger.client.id, act: { sub: service.client.id } },
      });
      // The first token carried no reports scope: the ledger service cannot widen it.
      await refused(exchange(ledger, subject(first.access_token, { resource: REPORTS })), "invalid_scope");
    });

    it("refuses a delegation chain of more than five actors", async () => {
      // The service exchanges the user's token, then the token it got (issued to it), again and again.
      let token = (await userToken()).access_token;
      for (let depth = 1; depth <= 5; depth++) {
        token = (await exchange(service, subject(token, { resource: LEDGER }))).access_token;
        let act = decodeJwt(token).act as { act?: unknown } | undefined;
        let n = 0;
        while (act) {
          n++;
          act = act.act as typeof act;
        }
        expect(n).toBe(depth);
      }
      await refused(exchange(service, subject(token, { resource: LEDGER })), "invalid_request", /at most 5/);
    });

    it("shows act through introspection, to the token's client and to the resource server it is for", async () => {
      const user = await userToken();
      const answer = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      const asClient = await oidc.tokenIntrospection(await config(service), answer.access_token);
      expect(asClient).toMatchObject({
        active: true,
        sub: f.userId,
        client_id: service.client.id,
        aud: LEDGER,
        scope: "ledger:read",
        act: { sub: service.client.id },
      });
      // The ledger service's registered resources include the token's audience.
      const asLedger = await oidc.tokenIntrospection(await config(ledger), answer.access_token);
      expect(asLedger).toMatchObject({ active: true, act: { sub: service.client.id } });
    });

    it("audits each exchange (oauth.token_exchanged) without the tokens", async () => {
      const user = await userToken();
      const answer = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      const jti = decodeJwt(answer.access_token).jti;
      const events = await f.t.ctx.accounts.audit.list({ type: "oauth.token_exchanged", limit: 100 });
      const event = events.find((e) => e.details.jti === jti);
      expect(event).toMatchObject({
        outcome: "success",
        userId: f.userId,
        actor: `client:${service.client.id}`,
        details: {
          client_id: service.client.id,
          subject_client_id: frontend.client.id,
          audience: LEDGER,
          scope: "ledger:read",
          impersonation: false,
          act_sub: service.client.id,
        },
      });
      expect(JSON.stringify(event)).not.toContain(user.access_token);
      expect(JSON.stringify(event)).not.toContain(answer.access_token);
    });
  });

  describe("impersonation", () => {
    it("issues a token without act to a client allowed to impersonate", async () => {
      const user = await userToken();
      const answer = await exchange(
        impersonator,
        subject(user.access_token, { resource: LEDGER, tessera_impersonate: "true" }),
      );
      const { payload } = await verify(answer.access_token, LEDGER);
      expect(payload).toMatchObject({ sub: f.userId, client_id: impersonator.client.id, aud: LEDGER });
      expect(payload.act).toBeUndefined();
      const events = await f.t.ctx.accounts.audit.list({ type: "oauth.token_exchanged", limit: 100 });
      expect(events.find((e) => e.details.jti === payload.jti)?.details).toMatchObject({
        impersonation: true,
        act_sub: null,
      });
    });

    it("delegates by default, also for a client allowed to impersonate", async () => {
      const user = await userToken();
      const answer = await exchange(impersonator, subject(user.access_token, { resource: LEDGER }));
      expect((await verify(answer.access_token, LEDGER)).payload.act).toEqual({
        sub: impersonator.client.id,
      });
    });

    it("refuses impersonation to a client not allowed it (unauthorized_client)", async () => {
      const user = await userToken();
      await refused(
        exchange(service, subject(user.access_token, { resource: LEDGER, tessera_impersonate: "true" })),
        "unauthorized_client",
        /impersonate/,
      );
    });

    it("refuses impersonation with an actor token, and a value other than true or false", async () => {
      const user = await userToken();
      await refused(
        exchange(
          impersonator,
          subject(user.access_token, {
            tessera_impersonate: "true",
            actor_token: user.access_token,
            actor_token_type: ACCESS,
          }),
        ),
        "invalid_request",
      );
      await refused(
        exchange(impersonator, subject(user.access_token, { tessera_impersonate: "yes" })),
        "invalid_request",
      );
    });

    it("keeps an earlier actor: impersonating a delegated token does not erase act", async () => {
      const user = await userToken();
      const delegated = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      // A client allowed to impersonate, given a delegated token addressed to it (the ledger), adds no actor
      // but keeps the one there.
      const console2 = await register({
        name: "Ledger console",
        redirectUris: [],
        grantTypes: [GRANT],
        scope: "ledger:read",
        resources: [LEDGER],
        tokenExchangeAudiences: [LEDGER],
        tokenExchangeImpersonation: true,
      });
      const again = await exchange(
        console2,
        subject(delegated.access_token, { resource: LEDGER, tessera_impersonate: "true" }),
      );
      expect((await verify(again.access_token, LEDGER)).payload.act).toEqual({ sub: service.client.id });
    });
  });

  describe("refusals", () => {
    it("refuses a client without the grant (unauthorized_client)", async () => {
      const user = await userToken();
      await refused(exchange(frontend, subject(user.access_token)), "unauthorized_client");
    });

    it("refuses a public client (unauthorized_client), which cannot be registered with the grant either", async () => {
      const user = await userToken();
      const spa = await discover(f.t.app, ISSUER, f.spa.client.id, undefined);
      await expect(oidc.genericGrantRequest(spa, GRANT, subject(user.access_token))).rejects.toMatchObject({
        error: "unauthorized_client",
      });
      await expect(
        f.oauth.clients.create({
          name: "Public",
          authMethod: "none",
          redirectUris: [CALLBACK],
          grantTypes: [GRANT],
        }),
      ).rejects.toMatchObject({ code: "invalid_client_metadata" });
    });

    it.each([
      ["a scope the subject token was not granted", "service", LEDGER, "ledger:write", /not granted/],
      ["a scope off the client's list", "ledger", REPORTS, "ledger:read", /may not ask/],
      ["an OpenID Connect scope", "service", LEDGER, "openid", /OpenID Connect/],
      ["a scope the target does not accept", "service", LEDGER, "orders:read", /accepts/],
    ])("refuses widening: %s (invalid_scope)", async (_name, who, resource, scope, description) => {
      const user = await userToken();
      await refused(
        exchange(who === "service" ? service : ledger, subject(user.access_token, { resource, scope })),
        "invalid_scope",
        description,
      );
    });

    it("refuses when no scope of the subject token may go to the target (invalid_scope)", async () => {
      const user = await userToken({ scope: "openid orders:read", resources: [API] });
      await refused(exchange(service, subject(user.access_token, { resource: LEDGER })), "invalid_scope");
    });

    it.each([
      ["an unknown resource", { resource: "https://nowhere.example.test" }],
      ["an unknown audience", { audience: "nowhere" }],
      ["a registered resource server off the client's list", { resource: UNLISTED }],
      ["a resource that is not an absolute URI", { resource: "ledger" }],
      ["the client's own resource, not on its exchange list", { resource: API }],
    ])("refuses %s (invalid_target)", async (_name, target) => {
      const user = await userToken();
      await refused(exchange(service, subject(user.access_token, target)), "invalid_target");
    });

    it("refuses a subject token that is not addressed to the client (invalid_request)", async () => {
      const user = await userToken();
      // Issued to the frontend for the API and the ledger: the outsider is neither.
      await refused(
        exchange(outsider, subject(user.access_token, { resource: LEDGER })),
        "invalid_request",
        /subject_token/,
      );
    });

    it("refuses a client's own token as subject: there is no user to act for (invalid_request)", async () => {
      const own = await f.oauth.tokens.grant(service.client, { grant_type: "client_credentials" });
      await refused(exchange(service, subject(own.access_token)), "invalid_request", /subject_token/);
    });

    it("refuses a revoked subject token, and revocation reaches what was exchanged from it", async () => {
      const user = await userToken({
        scope: "openid ledger:read reports:read",
        resources: [API, LEDGER, REPORTS],
      });
      const exchanged = await exchange(service, toLedgerAndReports(user.access_token));
      const again = await exchange(ledger, subject(exchanged.access_token, { resource: REPORTS }));
      await oidc.tokenRevocation(await config(frontend), user.access_token);
      await refused(exchange(service, subject(user.access_token)), "invalid_request", /revoked/);
      expect((await oidc.tokenIntrospection(await config(service), exchanged.access_token)).active).toBe(
        false,
      );
      expect((await oidc.tokenIntrospection(await config(ledger), again.access_token)).active).toBe(false);
    });

    it("ending the subject's grant (disconnecting the app) ends the exchanged tokens", async () => {
      const user = await userToken({ scope: "openid offline_access ledger:read" });
      expect(user.refresh_token).toBeDefined();
      const exchanged = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      expect((await oidc.tokenIntrospection(await config(service), exchanged.access_token)).active).toBe(
        true,
      );
      await f.oauth.tokens.revokeUserClient(f.userId, frontend.client.id);
      expect((await oidc.tokenIntrospection(await config(service), exchanged.access_token)).active).toBe(
        false,
      );
      await refused(exchange(service, subject(user.access_token)), "invalid_request");
    });

    it("refuses the tokens of a disabled user, and the exchanged ones stop working", async () => {
      const userId = await newUser("sam");
      const user = await userToken({ userId });
      const exchanged = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      await f.t.ctx.accounts.users.setActive(userId, false, { actor: "test", authority: "admin" });
      await refused(exchange(service, subject(user.access_token)), "invalid_request");
      expect((await oidc.tokenIntrospection(await config(service), exchanged.access_token)).active).toBe(
        false,
      );
    });

    it("the user's cut-off (all sessions revoked) reaches subject and exchanged tokens alike", async () => {
      const userId = await newUser("kim");
      const user = await userToken({ userId });
      const exchanged = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      await f.t.ctx.accounts.access.end({ type: "all_sessions_revoked", userId }, { actor: "test" });
      await refused(exchange(service, subject(user.access_token)), "invalid_request");
      expect((await oidc.tokenIntrospection(await config(service), exchanged.access_token)).active).toBe(
        false,
      );
    });

    it.each([
      ["a refresh token type", { subject_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }],
      ["an ID token type", { subject_token_type: "urn:ietf:params:oauth:token-type:id_token" }],
      ["a JWT type", { subject_token_type: "urn:ietf:params:oauth:token-type:jwt" }],
      ["an unknown type", { subject_token_type: "access_token" }],
      ["no subject_token_type", { subject_token_type: "" }],
      [
        "a requested refresh token",
        { requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" },
      ],
      ["an actor_token without actor_token_type", { actor_token: "x" }],
      ["an actor_token_type without actor_token", { actor_token_type: ACCESS }],
    ])("refuses %s (invalid_request)", async (_name, params) => {
      const user = await userToken();
      const body = { ...subject(user.access_token), ...params } as Record<string, string>;
      for (const [k, v] of Object.entries(body)) if (v === "") delete body[k];
      await refused(exchange(service, body), "invalid_request");
    });

    it("refuses a malformed, forged or non-access subject token (invalid_request)", async () => {
      const user = await userToken({ scope: "openid offline_access ledger:read" });
      const [header, payload] = user.access_token.split(".");
      const forged = `${header}.${payload}.${"A".repeat(86)}`;
      for (const token of ["not-a-token", forged, user.refresh_token as string, user.id_token as string]) {
        await refused(exchange(service, subject(token)), "invalid_request", /subject_token/);
      }
      await refused(exchange(service, { subject_token_type: ACCESS }), "invalid_request", /subject_token/);
    });

    it("refuses an actor token that is not addressed to the client (invalid_request)", async () => {
      const user = await userToken();
      // Issued to the service, for the ledger: neither is the impersonator (registered for the API).
      const someoneElses = await exchange(service, subject(user.access_token, { resource: LEDGER }));
      await refused(
        exchange(
          impersonator,
          subject(user.access_token, { actor_token: someoneElses.access_token, actor_token_type: ACCESS }),
        ),
        "invalid_request",
        /actor_token/,
      );
    });
  });

  describe("DPoP-bound subject tokens", () => {
    async function post(who: Registered, params: Record<string, string>, dpop?: string) {
      const basic = Buffer.from(`${who.client.id}:${who.secret}`).toString("base64");
      return f.t.app.inject({
        method: "POST",
        url: "/token",
        headers: {
          authorization: `Basic ${basic}`,
          "content-type": "application/x-www-form-urlencoded",
          ...(dpop === undefined ? {} : { dpop }),
        },
        payload: new URLSearchParams({ grant_type: GRANT, ...params }).toString(),
      });
    }

    it("refuses one without a proof of its key, and binds the new token to that key", async () => {
      const key = await proofKey();
      const other = await proofKey();
      const user = await userToken({ dpopJkt: key.jkt });
      expect(user.token_type).toBe("DPoP");
      const params = subject(user.access_token, { resource: LEDGER });
      const bare = await post(service, params);
      expect(bare.statusCode).toBe(400);
      expect(bare.json().error).toBe("invalid_dpop_proof");
      const wrongKey = await post(service, params, await proof(other, f.t.clock.now(), { path: "/token" }));
      expect(wrongKey.json().error).toBe("invalid_dpop_proof");
      const bound = await post(service, params, await proof(key, f.t.clock.now(), { path: "/token" }));
      expect(bound.statusCode, bound.body).toBe(200);
      expect(bound.json()).toMatchObject({ token_type: "DPoP", issued_token_type: ACCESS });
      const { payload } = await verify(bound.json().access_token, LEDGER);
      expect(payload.cnf).toEqual({ jkt: key.jkt });
    });
  });

  describe("lifetime", () => {
    it("never outlives the subject token, and an expired subject token is refused", async () => {
      const start = f.t.clock.now();
      try {
        const user = await userToken();
        const subjectExp = decodeJwt(user.access_token).exp as number;
        // 100 seconds before the subject token expires.
        f.t.clock.set(subjectExp * 1000 - 100_000);
        const answer = await exchange(service, subject(user.access_token, { resource: LEDGER }));
        const { payload } = await verify(answer.access_token, LEDGER);
        expect(payload.exp as number).toBeLessThanOrEqual(subjectExp);
        expect(answer.expires_in).toBeLessThanOrEqual(100);
        expect(answer.expires_in).toBeGreaterThan(90);
        // Past its expiry.
        f.t.clock.set(subjectExp * 1000 + 1000);
        await refused(exchange(service, subject(user.access_token)), "invalid_request", /expired/);
      } finally {
        f.t.clock.set(start);
      }
    });
  });
});
