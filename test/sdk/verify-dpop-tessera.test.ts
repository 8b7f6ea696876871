/**
 * End to end: a DPoP-bound token issued by a real, listening Tessera to openid-client, presented by
 * openid-client's `fetchProtectedResource` (its own proofs) to a resource server that uses the SDK's fetch
 * adapter. Proves that Tessera's binding, openid-client's proofs and the SDK's checks agree.
 */
import { createServer, type Server } from "node:http";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequestVerifier, errorResponse } from "../../src/sdk/verify/fetch.js";
import { createVerifier, VerifyError } from "../../src/sdk/verify/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";
import { freePort } from "../helpers/tls-server.js";

describe("DPoP from Tessera through openid-client to the SDK", () => {
  let t: TestApp;
  let issuer: string;
  let api: Server;
  let apiOrigin: string;
  let verifier: ReturnType<typeof createVerifier>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await createTestApp({ env: { TESSERA_ISSUER: issuer } });
    await t.app.listen({ port, host: "127.0.0.1" });
    const apiPort = await freePort();
    apiOrigin = `http://127.0.0.1:${apiPort}`;
    await t.ctx.oauth.clients.createResourceServer({
      audience: apiOrigin,
      name: "API",
      scope: "orders:read",
    });
    const rs = await t.ctx.oauth.clients.create({
      name: "API",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      resources: [apiOrigin],
    });
    const job = await t.ctx.oauth.clients.create({
      name: "Job",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scope: "orders:read",
      resources: [apiOrigin],
    });
    verifier = createVerifier({
      issuer,
      audience: apiOrigin,
      clientId: rs.client.id,
      clientSecret: rs.secret as string,
      dpop: "required",
      publicOrigin: apiOrigin,
    });
    const check = createRequestVerifier(verifier, { scopes: ["orders:read"] });
    api = createServer(async (req, res) => {
      const request = new Request(`${apiOrigin}${req.url}`, {
        method: req.method,
        headers: Object.entries(req.headers).flatMap(([k, v]) =>
          v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, x]),
        ),
      });
      let response: Response;
      try {
        const claims = await check(request);
        response = Response.json({ sub: claims.sub, jkt: claims.cnf?.jkt });
      } catch (error) {
        if (!(error instanceof VerifyError)) throw error;
        response = errorResponse(error);
      }
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    await new Promise<void>((resolve) => api.listen(apiPort, "127.0.0.1", resolve));
    config = await oidc.discovery(
      new URL(issuer),
      job.client.id,
      {},
      oidc.ClientSecretBasic(job.secret as string),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
  });

  afterAll(async () => {
    verifier?.close();
    await new Promise((resolve) => api?.close(resolve));
    await t?.close();
  });

  it("accepts the bound token with openid-client's proof, and refuses it as a bearer token", async () => {
    t.clock.set(Date.now());
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const tokens = await oidc.clientCredentialsGrant(
      config,
      { scope: "orders:read", resource: apiOrigin },
      { DPoP },
    );
    expect(tokens.token_type).toBe("dpop");
    const url = new URL(`${apiOrigin}/orders?page=1`);
    const ok = await oidc.fetchProtectedResource(
      config,
      tokens.access_token,
      url,
      "GET",
      undefined,
      undefined,
      {
        DPoP,
      },
    );
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ jkt: await DPoP.calculateThumbprint() });

    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/DPoP/);

    // A plain bearer token from the same client: this API requires DPoP.
    const plain = await oidc.clientCredentialsGrant(config, { scope: "orders:read", resource: apiOrigin });
    const refused = await fetch(url, { headers: { authorization: `Bearer ${plain.access_token}` } });
    expect(refused.status).toBe(401);
  });
});
