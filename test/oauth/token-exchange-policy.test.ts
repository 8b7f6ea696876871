/**
 * Where a client's token exchange policy (RFC 8693) is set, on SQLite and PostgreSQL: the admin API (and its
 * OpenAPI document), dynamic registration (RFC 7591/7592: confidential clients may register the grant, never the
 * policy), and the `tessera clients token-exchange` command. Each path ends with a real exchange through
 * openid-client's generic grant, or its refusal.
 */
import { decodeJwt } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClientsCommand } from "../../src/cli/clients.js";
import type { Client } from "../../src/oauth/clients.js";
import { TEST_ADMIN_TOKEN } from "../helpers/app.js";
import { DIALECTS } from "../helpers/databases.js";
import { discover } from "../helpers/oauth.js";
import { API, createOAuthFixture, ISSUER, type OAuthFixture } from "./fixture.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const LEDGER = "https://ledger.example.test";

describe.each(DIALECTS)("token exchange policy on %s", (dialect) => {
  let f: OAuthFixture;
  let frontend: Client;

  beforeAll(async () => {
    f = await createOAuthFixture(dialect);
    await f.oauth.clients.createResourceServer({ audience: LEDGER, name: "Ledger", scope: "ledger:read" });
    frontend = (
      await f.client({ name: "Frontend", scope: "openid orders:read ledger:read", resources: [API, LEDGER] })
    ).client;
  });
  afterAll(async () => {
    await f.close();
  });

  const api = (
    method: "GET" | "POST" | "PATCH" | "PUT",
    url: string,
    body?: unknown,
    bearer = TEST_ADMIN_TOKEN,
  ) =>
    f.t.app.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  /** A user token from the frontend, for the API and the ledger. */
  async function userToken(): Promise<string> {
    const code = await f.code(frontend, {
      scope: "openid orders:read ledger:read",
      resource: [API, LEDGER] as unknown as string,
    });
    return (await f.oauth.tokens.grant(frontend, f.codeParams(code))).access_token;
  }

  async function exchange(id: string, secret: string, params: Record<string, string>) {
    const config = await discover(f.t.app, ISSUER, id, secret);
    return oidc.genericGrantRequest(config, GRANT, {
      subject_token: await userToken(),
      subject_token_type: ACCESS,
      ...params,
    });
  }

  describe("admin API", () => {
    it("creates, reads and changes a client's policy, and the token endpoint follows it", async () => {
      const created = await api("POST", "/admin/clients", {
        name: "Orders service",
        grantTypes: [GRANT],
        scopes: ["ledger:read"],
        resources: [API],
        tokenExchangeAudiences: [LEDGER],
        tokenExchangeImpersonation: true,
      });
      expect(created.statusCode, created.body).toBe(201);
      const { client, secret } = created.json() as { client: Client; secret: string };
      expect(client).toMatchObject({
        grantTypes: [GRANT],
        tokenExchangeAudiences: [LEDGER],
        tokenExchangeImpersonation: true,
      });
      expect((await api("GET", `/admin/clients/${client.id}`)).json()).toMatchObject({
        tokenExchangeAudiences: [LEDGER],
        tokenExchangeImpersonation: true,
      });
      const impersonated = await exchange(client.id, secret, {
        resource: LEDGER,
        tessera_impersonate: "true",
      });
      expect(decodeJwt(impersonated.access_token)).toMatchObject({ aud: LEDGER, sub: f.userId });
      expect(decodeJwt(impersonated.access_token).act).toBeUndefined();

      const changed = await api("PATCH", `/admin/clients/${client.id}`, {
        tokenExchangeImpersonation: false,
      });
      expect(changed.json()).toMatchObject({
        tokenExchangeImpersonation: false,
        tokenExchangeAudiences: [LEDGER],
      });
      await expect(
        exchange(client.id, secret, { resource: LEDGER, tessera_impersonate: "true" }),
      ).rejects.toMatchObject({ error: "unauthorized_client" });

      // null: the client's resources (the API only, whose scopes it has none of).
      const reset = await api("PATCH", `/admin/clients/${client.id}`, { tokenExchangeAudiences: null });
      expect(reset.json()).toMatchObject({ tokenExchangeAudiences: null });
      await expect(exchange(client.id, secret, { resource: LEDGER })).rejects.toMatchObject({
        error: "invalid_target",
      });

      const withoutGrant = await api("PATCH", `/admin/clients/${client.id}`, {
        grantTypes: ["client_credentials"],
        tokenExchangeAudiences: [LEDGER],
      });
      expect(withoutGrant.statusCode).toBe(200);
      await expect(exchange(client.id, secret, { resource: LEDGER })).rejects.toMatchObject({
        error: "unauthorized_client",
      });
    });

    it("refuses an audience that is not an absolute URI, and the grant for a public client", async () => {
      const badAudience = await api("POST", "/admin/clients", {
        name: "Bad",
        grantTypes: [GRANT],
        tokenExchangeAudiences: ["ledger"],
      });
      expect(badAudience.statusCode).toBe(400);
      expect(badAudience.json().error).toBe("invalid_client_metadata");
      const publicClient = await api("POST", "/admin/clients", {
        name: "Public",
        authMethod: "none",
        redirectUris: ["https://app.example.test/cb"],
        grantTypes: ["authorization_code", GRANT],
      });
      expect(publicClient.statusCode).toBe(400);
      expect(publicClient.json().error).toBe("invalid_client_metadata");
    });

    it("documents the policy fields in the OpenAPI document", async () => {
      const doc = (await f.t.app.inject({ url: "/openapi.json" })).json();
      const post = doc.paths["/admin/clients"].post;
      const body = post.requestBody.content["application/json"].schema.properties;
      expect(body.tokenExchangeAudiences).toMatchObject({ type: ["array", "null"] });
      expect(body.tokenExchangeImpersonation).toMatchObject({ type: "boolean" });
      expect(body.grantTypes.items.enum).toContain(GRANT);
      const answer = doc.paths["/admin/clients/{id}"].get.responses["200"].content["application/json"].schema;
      expect(answer.required).toEqual(
        expect.arrayContaining(["tokenExchangeAudiences", "tokenExchangeImpersonation"]),
      );
    });
  });

  describe("dynamic registration", () => {
    const register = (body: unknown) =>
      f.t.app.inject({
        method: "POST",
        url: "/register",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        payload: JSON.stringify(body),
      });

    it("registers a confidential client with the grant; it may exchange for the resource servers it may use", async () => {
      const answer = await register({
        client_name: "Agent",
        grant_types: [GRANT],
        token_endpoint_auth_method: "client_secret_basic",
        // Unknown metadata (RFC 7591 §2): a client cannot give itself the right to impersonate.
        token_exchange_impersonation: true,
      });
      expect(answer.statusCode, answer.body).toBe(201);
      const body = answer.json();
      expect(body.grant_types).toEqual([GRANT]);
      const registered = (await f.oauth.clients.get(body.client_id)) as Client;
      expect(registered).toMatchObject({ tokenExchangeImpersonation: false, tokenExchangeAudiences: null });

      // Registration names no resources: no user's token is addressed to it yet (RFC 8693 §2.2.2).
      await expect(exchange(body.client_id, body.client_secret, {})).rejects.toMatchObject({
        error: "invalid_request",
      });
      // An administrator lets it use the ledger.
      const patched = await api("PATCH", `/admin/clients/${body.client_id}`, {
        resources: [LEDGER],
        scopes: ["ledger:read"],
      });
      expect(patched.statusCode, patched.body).toBe(200);
      const tokens = await exchange(body.client_id, body.client_secret, { scope: "ledger:read" });
      expect(tokens.issued_token_type).toBe(ACCESS);
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        aud: LEDGER,
        scope: "ledger:read",
        client_id: body.client_id,
        act: { sub: body.client_id },
      });
      // Asking for impersonation stays refused.
      await expect(
        exchange(body.client_id, body.client_secret, { tessera_impersonate: "true" }),
      ).rejects.toMatchObject({ error: "unauthorized_client" });
    });

    it("keeps an administrator's policy across an RFC 7592 replacement", async () => {
      const body = (
        await register({
          client_name: "Agent 2",
          grant_types: [GRANT],
          token_endpoint_auth_method: "client_secret_post",
        })
      ).json();
      await f.oauth.clients.setTokenExchange(body.client_id, { audiences: [LEDGER], impersonation: true });
      const replaced = await api(
        "PUT",
        `/register/${body.client_id}`,
        {
          client_id: body.client_id,
          client_name: "Agent 2, renamed",
          grant_types: [GRANT],
          token_endpoint_auth_method: "client_secret_post",
        },
        body.registration_access_token,
      );
      expect(replaced.statusCode, replaced.body).toBe(200);
      expect(await f.oauth.clients.get(body.client_id)).toMatchObject({
        name: "Agent 2, renamed",
        tokenExchangeAudiences: [LEDGER],
        tokenExchangeImpersonation: true,
      });
    });

    it("refuses the grant to a public client (invalid_client_metadata)", async () => {
      const answer = await register({
        client_name: "Public agent",
        redirect_uris: ["https://agent.example.test/cb"],
        grant_types: ["authorization_code", GRANT],
        token_endpoint_auth_method: "none",
      });
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ error: "invalid_client_metadata" });
    });
  });

  describe("tessera clients token-exchange", () => {
    async function cli(words: string[], flags: Record<string, string | boolean>) {
      let out = "";
      const code = await runClientsCommand(f.t.ctx, words, flags, (text) => {
        out += text;
      });
      return { code, out };
    }

    it("creates a client with a policy, then allows, narrows and denies the grant", async () => {
      const created = await cli(["clients", "create", "Reporting job"], {
        "grant-types": "client_credentials,token-exchange",
        scope: "ledger:read",
        resources: API,
        "token-exchange-audiences": LEDGER,
        json: true,
      });
      expect(created.code).toBe(0);
      const { id, secret, grantTypes, tokenExchangeAudiences } = JSON.parse(created.out);
      expect(grantTypes).toEqual(["client_credentials", GRANT]);
      expect(tokenExchangeAudiences).toEqual([LEDGER]);
      expect(decodeJwt((await exchange(id, secret, {})).access_token).act).toEqual({ sub: id });

      const denied = await cli(["clients", "token-exchange", id], { deny: true });
      expect(denied.out).toContain("not allowed");
      await expect(exchange(id, secret, {})).rejects.toMatchObject({ error: "unauthorized_client" });

      const allowed = await cli(["clients", "token-exchange", id], {
        allow: true,
        impersonation: "yes",
        audiences: "resources",
        json: true,
      });
      expect(JSON.parse(allowed.out)).toEqual({
        clientId: id,
        allowed: true,
        audiences: [API],
        audiencesFromResources: true,
        impersonation: true,
      });
      // Its exchange audiences are now its resources: the API, not the ledger.
      await expect(exchange(id, secret, { resource: LEDGER })).rejects.toMatchObject({
        error: "invalid_target",
      });
      expect((await f.oauth.clients.get(id))?.grantTypes).toEqual(["client_credentials", GRANT]);
    });

    it("refuses the grant for a public client and a bad --impersonation value", async () => {
      await expect(
        cli(["clients", "token-exchange", f.spa.client.id], { allow: true }),
      ).rejects.toMatchObject({
        code: "invalid_client_metadata",
      });
      await expect(
        cli(["clients", "token-exchange", f.web.client.id], { impersonation: "maybe" }),
      ).rejects.toThrow(/yes or no/);
      await expect(
        cli(["clients", "token-exchange", "no-such-client"], { allow: true }),
      ).rejects.toMatchObject({
        code: "invalid_client_metadata",
      });
    });
  });
});
