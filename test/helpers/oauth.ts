/** Helpers for OAuth tests: openid-client over `app.inject()`, and a page client that walks the browser part. */
import type { FastifyInstance } from "fastify";
import * as oidc from "openid-client";
import { expect } from "vitest";
import type { PageClient } from "./browser-ish.js";

/** A `fetch` for openid-client that answers from the in-process app (no socket). */
export function injectFetch(app: FastifyInstance): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    let payload: string | undefined;
    if (init.body instanceof URLSearchParams) payload = init.body.toString();
    else if (typeof init.body === "string") payload = init.body;
    const response = await app.inject({
      method: (init.method ?? "GET") as "GET",
      url: url.pathname + url.search,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) out.append(name, v);
    }
    const status = response.statusCode;
    return new Response(status === 204 || status === 304 ? null : response.rawPayload, {
      status,
      headers: out,
    });
  }) as typeof fetch;
}

export async function discover(
  app: FastifyInstance,
  issuer: string,
  clientId: string,
  secret: string | undefined,
): Promise<oidc.Configuration> {
  return oidc.discovery(
    new URL(issuer),
    clientId,
    secret === undefined ? {} : { client_secret: secret },
    secret === undefined ? oidc.None() : oidc.ClientSecretBasic(secret),
    { [oidc.customFetch]: injectFetch(app), execute: [] },
  );
}

/**
 * Follows an authorization URL like a browser would: redirects within Tessera, the sign-in form when asked,
 * the consent form when shown (allow or deny). Answers the final redirect to the client.
 */
export async function runAuthorization(
  page: PageClient,
  authorizationUrl: URL,
  options: { userName?: string; password?: string; consent?: "allow" | "deny" } = {},
): Promise<URL> {
  let response = await page.get(authorizationUrl.pathname + authorizationUrl.search);
  for (let hops = 0; hops < 10; hops++) {
    if (response.statusCode === 303 || response.statusCode === 302) {
      const location = new URL(String(response.headers.location), authorizationUrl);
      if (location.origin !== authorizationUrl.origin) return location;
      response = await page.get(location.pathname + location.search);
      continue;
    }
    expect(response.statusCode, response.body).toBe(200);
    if (response.body.includes('action="/login"')) {
      const returnTo = /name="return_to" value="([^"]+)"/.exec(response.body)?.[1]?.replaceAll("&amp;", "&");
      response = await page.post("/login", {
        username: options.userName ?? "pat",
        password: options.password ?? "correct horse battery staple 42",
        ...(returnTo === undefined ? {} : { return_to: returnTo }),
      });
      continue;
    }
    if (response.body.includes('action="/authorize/consent"')) {
      const request = /name="request" value="([^"]+)"/.exec(response.body)?.[1] as string;
      response = await page.post("/authorize/consent", { request, decision: options.consent ?? "allow" });
      continue;
    }
    throw new Error(`unexpected page: ${response.body.slice(0, 300)}`);
  }
  throw new Error("too many redirects");
}

/**
 * The whole code flow as openid-client runs it: PKCE, the browser part through `runAuthorization` (sign-in
 * and consent as needed), the code exchange with state (and, asked for, nonce) checked.
 */
export async function codeFlow(
  config: oidc.Configuration,
  page: PageClient,
  redirectUri: string,
  scope: string,
  options: { nonce?: boolean } = {},
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = options.nonce ? oidc.randomNonce() : undefined;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    ...(nonce === undefined ? {} : { nonce }),
  });
  const callback = await runAuthorization(page, url);
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    ...(nonce === undefined ? {} : { expectedNonce: nonce }),
  });
  return { tokens, callback };
}

/** `codeFlow`, answering the tokens only. */
export async function codeFlowTokens(
  config: oidc.Configuration,
  page: PageClient,
  redirectUri: string,
  scope: string,
): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  return (await codeFlow(config, page, redirectUri, scope)).tokens;
}

/** `client_secret_basic` (RFC 6749 §2.3.1: id and secret form-encoded before base64). */
export function basicAuth(client: { id: string; secret: string }): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString("base64")}`;
}

/** A local HTTP server that records each form body posted to it (back-channel logout receivers). */
export async function startFormReceiver(): Promise<{
  url: string;
  received: URLSearchParams[];
  close(): Promise<void>;
}> {
  const { createServer } = await import("node:http");
  const received: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push(new URLSearchParams(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
