/**
 * Microsoft Entra ID's multi-tenant issuer, through the real code path: openid-client recognises Entra by its
 * origin, so a simulated Entra answers as `https://login.microsoftonline.com` — an HTTPS server on 127.0.0.1:443
 * with a certificate for that name, reached through the outbound guard with a test resolver and CA. Its discovery
 * document names the `{tenantid}` template issuer, as Entra's does for `organizations`; its ID tokens (signed with
 * jose) carry a tenant each.
 *
 * Asserted: a token whose `iss` names its own `tid` signs in (the upstream account is `{tid}/{sub}`); a token
 * whose `iss` names another tenant than its `tid`, and a tenant outside `allowedTenants`, are refused.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFederation, type Federation } from "../../src/federation/index.js";
import { identityProvidersRepository, linkedIdentitiesRepository } from "../../src/storage/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";

const ENTRA = "https://login.microsoftonline.com";
const TENANT_A = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B = "9188040d-6c67-4c5b-b112-36a304b66dad";
const CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e";

interface NextToken {
  tid: string;
  iss: string;
  sub: string;
}

describe("Entra ID multi-tenant sign-in (simulated login.microsoftonline.com)", () => {
  let t: TestApp;
  let server: Server;
  let dir: string;
  let ca: string;
  let federation: Federation;
  let next: NextToken;
  const nonces = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tessera-entra-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=login.microsoftonline.com",
        "-addext",
        "subjectAltName=DNS:login.microsoftonline.com",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    ca = readFileSync(join(dir, "cert.pem"), "utf8");
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "entra-key", alg: "RS256", use: "sig" };
    server = createServer({ cert: ca, key: readFileSync(join(dir, "key.pem")) }, async (req, res) => {
      const url = new URL(req.url ?? "/", ENTRA);
      const json = (body: unknown) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (url.pathname === "/organizations/v2.0/.well-known/openid-configuration") {
        json({
          issuer: `${ENTRA}/{tenantid}/v2.0`,
          authorization_endpoint: `${ENTRA}/organizations/oauth2/v2.0/authorize`,
          token_endpoint: `${ENTRA}/organizations/oauth2/v2.0/token`,
          jwks_uri: `${ENTRA}/organizations/discovery/v2.0/keys`,
          response_types_supported: ["code"],
          subject_types_supported: ["pairwise"],
          id_token_signing_alg_values_supported: ["RS256"],
        });
      } else if (url.pathname === "/organizations/discovery/v2.0/keys") {
        json({ keys: [jwk] });
      } else if (url.pathname === "/organizations/oauth2/v2.0/token" && req.method === "POST") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const code = new URLSearchParams(body).get("code") ?? "";
        const idToken = await new SignJWT({ tid: next.tid, nonce: nonces.get(code), name: "Entra User" })
          .setProtectedHeader({ alg: "RS256", kid: "entra-key" })
          .setIssuer(next.iss)
          .setSubject(next.sub)
          .setAudience(CLIENT_ID)
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(privateKey);
        json({
          access_token: "entra-access-token",
          token_type: "Bearer",
          expires_in: 300,
          id_token: idToken,
        });
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(443, "127.0.0.1", resolve);
    });
    t = await createTestApp();
    federation = createFederation({
      repositories: {
        providers: identityProvidersRepository(t.ctx.storage.db),
        links: linkedIdentitiesRepository(t.ctx.storage.db, t.ctx.storage.dialect),
      },
      accounts: t.ctx.accounts,
      audit: t.ctx.accounts.audit,
      masterKey: t.ctx.masterKey,
      clock: t.ctx.clock,
      issuer: t.config.issuer,
      // The name resolves to the simulation; the guard still checks the address (allowed by the setting).
      outbound: {
        policy: { allowPrivate: false, development: false },
        lookup: async () => [{ address: "127.0.0.1", family: 4 }],
        ca,
      },
      countPasskeys: async () => 0,
      invitations: t.ctx.onboarding.invitations,
    });
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function signIn(providerId: string, token: NextToken) {
    next = token;
    const binding = federation.signIn.newBrowserBinding();
    const url = await federation.signIn.start({
      providerId,
      intent: "signin",
      returnTo: null,
      browserBinding: binding,
    });
    expect(url.origin + url.pathname).toBe(`${ENTRA}/organizations/oauth2/v2.0/authorize`);
    const code = `code-${nonces.size}`;
    nonces.set(code, url.searchParams.get("nonce") ?? "");
    return federation.signIn.callback({
      providerId,
      query: new URLSearchParams({ code, state: url.searchParams.get("state") ?? "" }).toString(),
      browserBinding: binding,
      currentUserId: undefined,
      client: { ip: null, userAgent: null },
    });
  }

  it("signs in a user whose token names their own tenant, as tenant and subject", async () => {
    const provider = await federation.providers.create(
      {
        kind: "entra",
        tenant: "organizations",
        clientId: CLIENT_ID,
        clientSecret: "s",
        jit: true,
        allowPrivateNetwork: true,
      },
      { actor: "test", authority: "admin" },
    );
    expect(provider.issuer).toBe(`${ENTRA}/organizations/v2.0`);
    const outcome = await signIn(provider.id, {
      tid: TENANT_A,
      iss: `${ENTRA}/${TENANT_A}/v2.0`,
      sub: "user-1",
    });
    expect(outcome.kind).toBe("signed-in");
    const link = await linkedIdentitiesRepository(t.ctx.storage.db, t.ctx.storage.dialect).find(
      provider.id,
      `${TENANT_A}/user-1`,
    );
    expect(link?.user_id).toBe(outcome.kind === "signed-in" ? outcome.userId : "");
  });

  it("refuses a token whose iss names another tenant than its tid", async () => {
    const provider = (await federation.providers.list()).find((p) => p.kind === "entra")!;
    await expect(
      signIn(provider.id, { tid: TENANT_A, iss: `${ENTRA}/${TENANT_B}/v2.0`, sub: "user-2" }),
    ).rejects.toMatchObject({ reason: "response_refused" });
  });

  it("refuses a tenant outside allowedTenants", async () => {
    const provider = (await federation.providers.list()).find((p) => p.kind === "entra")!;
    await federation.providers.update(
      provider.id,
      { allowedTenants: [TENANT_A] },
      { actor: "test", authority: "admin" },
    );
    await expect(
      signIn(provider.id, { tid: TENANT_B, iss: `${ENTRA}/${TENANT_B}/v2.0`, sub: "user-3" }),
    ).rejects.toMatchObject({ reason: "tenant_not_allowed" });
    const again = await signIn(provider.id, {
      tid: TENANT_A,
      iss: `${ENTRA}/${TENANT_A}/v2.0`,
      sub: "user-1",
    });
    expect(again.kind).toBe("signed-in");
  });
});
