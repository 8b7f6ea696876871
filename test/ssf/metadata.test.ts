/**
 * The Transmitter Configuration Metadata (SSF 1.0 §7): its place, its members, and that every endpoint it
 * names answers; the transmitter's resource server exists for receivers' tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTransmitter } from "../../src/ssf/index.js";
import { ssfStreamsRepository } from "../../src/storage/repositories/ssf-streams.js";
import type { TestApp } from "../helpers/app.js";
import { createTestApp } from "../helpers/app.js";
import { createSsfApp, ISSUER, SSF_AUDIENCE } from "./helpers.js";

describe("SSF transmitter metadata", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createSsfApp("sqlite");
  });
  afterAll(async () => {
    await t.close();
  });

  it("is served at /.well-known/ssf-configuration with every member the transmitter supports", async () => {
    const response = await t.app.inject({ method: "GET", url: "/.well-known/ssf-configuration" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.headers["access-control-allow-origin"]).toBe("*");
    expect(response.json()).toStrictEqual({
      spec_version: "1_0",
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      delivery_methods_supported: ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"],
      configuration_endpoint: `${ISSUER}/ssf/stream`,
      status_endpoint: `${ISSUER}/ssf/status`,
      add_subject_endpoint: `${ISSUER}/ssf/subjects/add`,
      remove_subject_endpoint: `${ISSUER}/ssf/subjects/remove`,
      verification_endpoint: `${ISSUER}/ssf/verify`,
      authorization_schemes: [{ spec_urn: "urn:ietf:rfc:6749" }],
      default_subjects: "ALL",
      tessera_ssf_resource: SSF_AUDIENCE,
      tessera_ssf_scopes: ["ssf.manage", "ssf.read"],
      tessera_events_supported: [
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
        "https://schemas.openid.net/secevent/caep/event-type/credential-change",
        "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
        "https://schemas.openid.net/secevent/risc/event-type/account-purged",
      ],
    });
  });

  it("names endpoints that exist on this server and ask for a bearer token", async () => {
    const metadata = (await t.app.inject({ method: "GET", url: "/.well-known/ssf-configuration" })).json();
    const jwks = await t.app.inject({ method: "GET", url: new URL(metadata.jwks_uri).pathname });
    expect(jwks.statusCode).toBe(200);
    expect(jwks.json().keys.length).toBeGreaterThan(0);
    for (const name of [
      "configuration_endpoint",
      "status_endpoint",
      "add_subject_endpoint",
      "remove_subject_endpoint",
      "verification_endpoint",
    ]) {
      const url = new URL(metadata[name]);
      const response = await t.app.inject({ method: "POST", url: url.pathname, payload: {} });
      expect(response.statusCode, name).toBe(401);
      expect(response.headers["www-authenticate"], name).toBe('Bearer realm="tessera-ssf"');
    }
  });

  it("registers the transmitter as a resource server with its two scopes", async () => {
    expect(await t.ctx.oauth.clients.getResourceServer(SSF_AUDIENCE)).toMatchObject({
      audience: SSF_AUDIENCE,
      name: "Tessera Shared Signals transmitter",
      scopes: ["ssf.manage", "ssf.read"],
    });
  });

  it("starts when another instance registered the resource server first (its cache still says missing)", async () => {
    const clients = t.ctx.oauth.clients;
    const second = createTransmitter({
      repository: ssfStreamsRepository(t.ctx.storage.db),
      clock: t.clock,
      log: t.ctx.log,
      issuer: ISSUER,
      keys: t.ctx.keys,
      masterKey: t.ctx.masterKey,
      oauth: {
        issuer: t.ctx.oauth.issuer,
        clients: {
          get: (id) => clients.get(id),
          // A cached miss, as an instance that looked before the other one registered it would have.
          getResourceServer: async () => undefined,
          createResourceServer: (input) => clients.createResourceServer(input),
          listResourceServers: () => clients.listResourceServers(),
        },
      },
      outbound: async () => new Response(null, { status: 500 }),
      checkDestination: async () => {},
    });
    await expect(second.ensureResourceServer()).resolves.toBeUndefined();
    expect((await clients.listResourceServers()).filter((s) => s.audience === SSF_AUDIENCE)).toHaveLength(1);
    await second.close();
  });

  it("is also served under the issuer's path when the issuer has one (SSF 1.0 §7.2)", async () => {
    const tenant = await createTestApp({
      env: { TESSERA_ISSUER: "https://id.example.test/tenant-a", TESSERA_OUTBOUND_ALLOW_PRIVATE: "false" },
    });
    try {
      for (const path of ["/.well-known/ssf-configuration/tenant-a", "/.well-known/ssf-configuration"]) {
        const response = await tenant.app.inject({ method: "GET", url: path });
        expect(response.statusCode, path).toBe(200);
        expect(response.json().issuer).toBe("https://id.example.test/tenant-a");
        expect(response.json().configuration_endpoint).toBe("https://id.example.test/tenant-a/ssf/stream");
      }
    } finally {
      await tenant.close();
    }
  });
});
