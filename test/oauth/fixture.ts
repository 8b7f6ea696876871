/**
 * A domain-level fixture for src/oauth: a real application context (`createTestApp`) whose `ctx.oauth` the
 * tests call directly, with a user, a resource server and a few clients, and helpers that walk the
 * authorization endpoint's domain steps to a code and make DPoP proofs.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from "jose";
import { expect } from "vitest";
import type { SignedInUser } from "../../src/oauth/authorize.js";
import type { Client, ClientInput } from "../../src/oauth/clients.js";
import type { OAuth } from "../../src/oauth/index.js";
import type { DialectName } from "../../src/storage/index.js";
import { createTestApp, type TestApp } from "../helpers/app.js";

export const ISSUER = "https://id.example.test";
export const CALLBACK = "https://app.example.test/callback";
export const API = "https://api.example.test";
export const PASSWORD = "correct horse battery staple 42";
/** RFC 7636 Appendix B. */
export const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
export const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

export interface OAuthFixture {
  t: TestApp;
  oauth: OAuth;
  userId: string;
  /** A confidential first-party web client (authorization_code + refresh_token, the API as resource). */
  web: { client: Client; secret: string };
  /** A public first-party client (`none`). */
  spa: { client: Client };
  /** Registers another client (first-party, redirecting to CALLBACK, unless `input` says otherwise). */
  client(input: Partial<ClientInput>): Promise<{ client: Client; secret: string | undefined }>;
  /** The user as signed in to a session, for the authorization endpoint's steps. */
  user(overrides?: Partial<SignedInUser>): SignedInUser;
  /** Walks the authorization endpoint's domain steps for `client` and answers the code it issues. */
  code(client: Client, params?: Record<string, string>, user?: SignedInUser): Promise<string>;
  /** The token request of a code, as a client sends it. */
  codeParams(code: string, overrides?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export async function createOAuthFixture(dialect: DialectName): Promise<OAuthFixture> {
  const t = await createTestApp({ dialect, env: { TESSERA_ISSUER: ISSUER } });
  const oauth = t.ctx.oauth;
  const userId = (
    await t.ctx.accounts.users.create(
      {
        userName: "pat",
        password: PASSWORD,
        emails: [{ value: "pat@example.test", type: "work", primary: true }],
      },
      { actor: "test", authority: "admin" as const },
    )
  ).id;
  await oauth.clients.createResourceServer({ audience: API, name: "API", scope: "orders:read orders:write" });
  const web = await oauth.clients.create({
    name: "Web",
    redirectUris: [CALLBACK],
    firstParty: true,
    scope: "openid profile email offline_access orders:read",
    resources: [API],
  });
  const spa = await oauth.clients.create({
    name: "SPA",
    authMethod: "none",
    redirectUris: [CALLBACK],
    firstParty: true,
  });
  const user = (overrides: Partial<SignedInUser> = {}): SignedInUser => ({
    userId,
    sessionId: "session-1",
    authTime: t.clock.now(),
    amr: ["pwd"],
    ...overrides,
  });
  return {
    t,
    oauth,
    userId,
    web: { client: web.client, secret: web.secret as string },
    spa: { client: spa.client },
    client: (input) =>
      oauth.clients.create({ name: "Another", redirectUris: [CALLBACK], firstParty: true, ...input }),
    user,
    async code(client, params = {}, signedIn = user()) {
      const { stored } = await oauth.authorization.start({
        response_type: "code",
        client_id: client.id,
        redirect_uri: CALLBACK,
        scope: "openid offline_access",
        state: "st-1",
        code_challenge: CHALLENGE,
        code_challenge_method: "S256",
        ...params,
      });
      const step = await oauth.authorization.step(stored, client, signedIn);
      expect(step.kind).toBe("redirect");
      const callback = new URL((step as { to: string }).to);
      const code = callback.searchParams.get("code");
      expect(code, callback.toString()).toBeTruthy();
      return code as string;
    },
    codeParams: (code, overrides = {}) => ({
      grant_type: "authorization_code",
      code,
      redirect_uri: CALLBACK,
      code_verifier: VERIFIER,
      ...overrides,
    }),
    close: () => t.close(),
  };
}

export interface ProofKey {
  privateKey: KeyObject;
  jwk: JWK;
  jkt: string;
}

export async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

/** A DPoP proof (RFC 9449 §4.2) for `path` at the issuer, made at `now` (epoch ms). */
export function proof(
  key: ProofKey,
  now: number,
  target: { method?: string; path: string; ath?: string },
): Promise<string> {
  return new SignJWT({
    htm: target.method ?? "POST",
    htu: `${ISSUER}${target.path}`,
    iat: Math.floor(now / 1000),
    jti: randomUUID(),
    ...(target.ath === undefined ? {} : { ath: target.ath }),
  })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
    .sign(key.privateKey);
}

/** Expects `promise` to fail with this OAuth error code (RFC 6749 §5.2 and friends). */
export async function expectOAuthError(promise: Promise<unknown>, code: string, message?: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toMatchObject({ code });
  if (message) expect((error as Error).message).toMatch(message);
}
