/**
 * The identity-provider admin API (`/admin/identity-providers`), against a real upstream OpenID provider
 * (oidc-provider on 127.0.0.1): create, read, change, remove, the OpenAPI entry, the audit trail, secrets sealed
 * at rest — and the refusals: no or a non-admin credential, bad input, a bad issuer, a private address without
 * `allowPrivateNetwork`, an unknown id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../helpers/app.js";
import { type OidcUpstream, startOidcUpstream } from "./upstreams.js";

const SECRET = "upstream-client-secret-0123456789";

describe("identity providers through the admin API", () => {
  let t: TestApp;
  let upstream: OidcUpstream;

  beforeAll(async () => {
    [t, upstream] = await Promise.all([createTestApp(), startOidcUpstream()]);
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  const call = (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    url: string,
    body?: unknown,
    token = TEST_ADMIN_TOKEN,
  ) =>
    t.app.inject({
      method,
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });

  const generic = (extra: Record<string, unknown> = {}) => ({
    displayName: "Corp SSO",
    issuer: upstream.issuer,
    clientId: "tessera",
    clientSecret: SECRET,
    allowPrivateNetwork: true,
    ...extra,
  });

  it("creates a generic OpenID Connect provider and answers its id and redirect URI", async () => {
    const res = await call("POST", "/admin/identity-providers", generic());
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.id).toMatch(/^idp_[A-Za-z0-9]+$/);
    expect(body.redirectUri).toBe(`${t.config.issuer}/federation/${body.id}/callback`);
    expect(res.headers.location).toBe(`/admin/identity-providers/${body.id}`);
    expect(body).toMatchObject({
      kind: "oidc",
      displayName: "Corp SSO",
      issuer: upstream.issuer,
      clientAuth: "client_secret_basic",
      hasClientSecret: true,
      publicJwk: null,
      jit: false,
      trustEmail: false,
      satisfiesMfa: false,
      enabled: true,
      scopes: ["openid", "email", "profile"],
    });
    // Never the secret, in any answer.
    expect(res.body).not.toContain(SECRET);
    const list = await call("GET", "/admin/identity-providers");
    expect(list.statusCode).toBe(200);
    expect(list.json().identityProviders.map((p: { id: string }) => p.id)).toContain(body.id);
    expect(list.body).not.toContain(SECRET);
    const one = await call("GET", `/admin/identity-providers/${body.id}`);
    expect(one.json().id).toBe(body.id);
    expect(one.body).not.toContain(SECRET);
  });

  it("seals the client secret at rest with the master key", async () => {
    const created = (
      await call("POST", "/admin/identity-providers", generic({ displayName: "Sealed" }))
    ).json();
    const row = await t.ctx.storage.db
      .selectFrom("identity_providers")
      .selectAll()
      .where("id", "=", created.id)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(SECRET);
    expect(row.client_secret_sealed).toMatch(/^v1\./);
    expect(
      t.ctx.masterKey
        .open(row.client_secret_sealed as string, `identity-provider:${created.id}:client-secret`)
        .toString(),
    ).toBe(SECRET);
  });

  it("audits changes with the administrator as actor and no secret", async () => {
    const created = (
      await call("POST", "/admin/identity-providers", generic({ displayName: "Audited" }))
    ).json();
    const patched = await call("PATCH", `/admin/identity-providers/${created.id}`, {
      jit: true,
      clientSecret: "another-secret-value-42",
      groupMapping: { engineers: "Engineering" },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ jit: true, groupMapping: { engineers: "Engineering" } });
    const removed = await call("DELETE", `/admin/identity-providers/${created.id}`);
    expect(removed.statusCode).toBe(204);
    expect((await call("GET", `/admin/identity-providers/${created.id}`)).statusCode).toBe(404);
    await t.ctx.accounts.audit.flush();
    const events = (await t.ctx.accounts.audit.list({ limit: 200 })).filter(
      (e) => (e.details as { providerId?: string }).providerId === created.id,
    );
    expect(events.map((e) => e.type).sort()).toEqual(["idp.created", "idp.deleted", "idp.updated"]);
    for (const e of events) expect(e.actor).toBe("admin:bootstrap");
    expect(JSON.stringify(events)).not.toContain("another-secret-value-42");
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });

  it("generates a private_key_jwt key and shows only its public half", async () => {
    const res = await call("POST", "/admin/identity-providers", {
      displayName: "Key auth",
      issuer: upstream.issuer,
      clientId: "tessera-jwt",
      clientAuth: "private_key_jwt",
      allowPrivateNetwork: true,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.hasClientSecret).toBe(false);
    expect(body.publicJwk).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    expect(body.publicJwk.d).toBeUndefined();
    expect(body.jwksUri).toBe(`${t.config.issuer}/federation/${body.id}/jwks.json`);
    const jwks = await t.app.inject({ method: "GET", url: `/federation/${body.id}/jwks.json` });
    expect(jwks.json().keys).toEqual([body.publicJwk]);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(Object.keys(doc.paths["/admin/identity-providers"])).toEqual(
      expect.arrayContaining(["get", "post"]),
    );
    expect(Object.keys(doc.paths["/admin/identity-providers/{id}"])).toEqual(
      expect.arrayContaining(["get", "patch", "delete"]),
    );
    const post = doc.paths["/admin/identity-providers"].post;
    expect(post.requestBody.content["application/json"].schema.properties).toHaveProperty("clientSecret");
    expect(post.responses["201"].content["application/json"].schema.properties).not.toHaveProperty(
      "clientSecret",
    );
  });

  describe("refuses", () => {
    it("a request without credentials", async () => {
      const res = await call("POST", "/admin/identity-providers", generic(), "");
      expect(res.statusCode).toBe(401);
      expect((await call("GET", "/admin/identity-providers", undefined, "")).statusCode).toBe(401);
    });

    it("a credential without the admin scope (a SCIM provisioning key)", async () => {
      const account = await t.ctx.serviceAccounts.create({ name: "hr-sync", actor: "test" });
      const { token } = await t.ctx.apiTokens.create({
        kind: "service",
        name: "scim",
        ownerId: account.id,
        scopes: ["tessera:scim"],
        createdBy: "test",
      });
      const res = await call("POST", "/admin/identity-providers", generic(), token);
      expect(res.statusCode).toBe(403);
      expect((await call("GET", "/admin/identity-providers", undefined, token)).statusCode).toBe(403);
    });

    it("an issuer that is not an https URL", async () => {
      for (const issuer of [
        "not a url",
        "http://idp.example.com",
        "https://user:pw@idp.example.com",
        "https://idp.example.com/?a=1",
      ]) {
        const res = await call("POST", "/admin/identity-providers", generic({ issuer }));
        expect(res.statusCode, issuer).toBe(400);
        expect(res.json().error).toBe("invalid_request");
      }
    });

    it("an issuer that is no OpenID provider", async () => {
      const res = await call(
        "POST",
        "/admin/identity-providers",
        generic({ issuer: `${upstream.issuer}/nothing-here` }),
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error_description).toMatch(/refused/);
    });

    it("an internal provider (loopback) without allowPrivateNetwork", async () => {
      const res = await call("POST", "/admin/identity-providers", generic({ allowPrivateNetwork: false }));
      expect(res.statusCode).toBe(400);
      expect(res.json().error_description).toMatch(/allowPrivateNetwork/);
      // Nothing was stored.
      const names = (await call("GET", "/admin/identity-providers"))
        .json()
        .identityProviders.map((p: { displayName: string }) => p.displayName);
      expect(names.filter((n: string) => n === "Corp SSO")).toHaveLength(1);
    });

    it("turning allowPrivateNetwork off for an internal provider", async () => {
      const created = (
        await call("POST", "/admin/identity-providers", generic({ displayName: "Internal" }))
      ).json();
      const res = await call("PATCH", `/admin/identity-providers/${created.id}`, {
        allowPrivateNetwork: false,
      });
      expect(res.statusCode).toBe(400);
      expect((await call("GET", `/admin/identity-providers/${created.id}`)).json().allowPrivateNetwork).toBe(
        true,
      );
    });

    it("missing or unknown fields, and a missing secret", async () => {
      expect(
        (await call("POST", "/admin/identity-providers", { displayName: "x", issuer: upstream.issuer }))
          .statusCode,
      ).toBe(400);
      expect((await call("POST", "/admin/identity-providers", generic({ colour: "blue" }))).statusCode).toBe(
        400,
      );
      const { clientSecret: _omit, ...noSecret } = generic();
      const res = await call("POST", "/admin/identity-providers", noSecret);
      expect(res.statusCode).toBe(400);
      expect(res.json().error_description).toMatch(/clientSecret/);
    });

    it("a claim mapping to an unknown attribute, and Google with an issuer of its own", async () => {
      expect(
        (await call("POST", "/admin/identity-providers", generic({ claimMapping: { admin: "is_admin" } })))
          .statusCode,
      ).toBe(400);
      expect(
        (
          await call("POST", "/admin/identity-providers", {
            kind: "google",
            clientId: "x",
            clientSecret: "y",
            issuer: upstream.issuer,
          })
        ).statusCode,
      ).toBe(400);
    });

    it("an unknown provider id", async () => {
      expect((await call("GET", "/admin/identity-providers/idp_nothing")).statusCode).toBe(404);
      expect((await call("PATCH", "/admin/identity-providers/idp_nothing", { jit: true })).statusCode).toBe(
        404,
      );
      expect((await call("DELETE", "/admin/identity-providers/idp_nothing")).statusCode).toBe(404);
    });
  });
});
