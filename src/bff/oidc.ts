/**
 * The BFF's side of OpenID Connect, through openid-client: discovery (lazy, retried after a failure), the
 * authorization request (PKCE S256, state, nonce; PAR when Tessera advertises it), the code exchange,
 * refresh, revocation and the end-session URL.
 *
 * - The client is confidential (`client_secret_basic`).
 * - `allowInsecureRequests` only when configured (an http issuer in tests or local development).
 * - With a DPoP key (`BFF_DPOP`), every token request, PAR and userinfo carry a proof through openid-client's
 *   DPoP handle, so Tessera binds the access tokens to the key (RFC 9449); the proxy proves with the same key.
 */
import { createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import * as oidc from "openid-client";
import type { BffConfig } from "./config.js";
import type { TokenSet } from "./sessions.js";

export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
}

export interface OidcClient {
  configuration(): Promise<oidc.Configuration>;
  startLogin(returnTo: string): Promise<{ url: URL; pending: PendingLogin }>;
  finishLogin(
    callbackUrl: URL,
    pending: PendingLogin,
  ): Promise<{ tokens: TokenSet; claims: Record<string, unknown> }>;
  refresh(refreshToken: string): Promise<TokenSet>;
  revoke(token: string, hint: "refresh_token" | "access_token"): Promise<void>;
  endSessionUrl(idToken: string | null): Promise<string>;
}

/** A refresh token that Tessera will never accept again. */
export function isDeadGrant(error: unknown): boolean {
  return error instanceof oidc.ResponseBodyError && error.error === "invalid_grant";
}

function toTokenSet(response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers): TokenSet {
  const claims = response.claims();
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    idToken: response.id_token,
    expiresIn: response.expiresIn(),
    claims: claims ? { ...claims } : undefined,
  };
}

/** A node KeyObject as the WebCrypto key pair openid-client's DPoP handle signs with. */
type DpopKeyPair = Parameters<typeof oidc.getDPoPHandle>[1];

async function cryptoKeyPair(privateKey: KeyObject): Promise<DpopKeyPair> {
  const algorithm =
    privateKey.asymmetricKeyType === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
  return {
    privateKey: (await webcrypto.subtle.importKey(
      "pkcs8",
      privateKey.export({ type: "pkcs8", format: "der" }),
      algorithm,
      false,
      ["sign"],
    )) as DpopKeyPair["privateKey"],
    publicKey: (await webcrypto.subtle.importKey(
      "spki",
      createPublicKey(privateKey).export({ type: "spki", format: "der" }),
      algorithm,
      true,
      ["verify"],
    )) as DpopKeyPair["publicKey"],
  };
}

export function createOidcClient(config: BffConfig, options: { fetch?: typeof fetch } = {}): OidcClient {
  let discovered: Promise<oidc.Configuration> | undefined;
  let dpopHandle: Promise<oidc.DPoPHandle> | undefined;
  /** openid-client's options for a request that must carry a proof; empty without DPoP. */
  async function withDpop(c: oidc.Configuration): Promise<{ DPoP?: oidc.DPoPHandle }> {
    if (config.dpopKey === undefined) return {};
    const key = config.dpopKey;
    dpopHandle ??= cryptoKeyPair(key).then((pair) => oidc.getDPoPHandle(c, pair));
    return { DPoP: await dpopHandle };
  }
  const redirectUri = `${config.publicUrl}/bff/callback`;

  function configuration(): Promise<oidc.Configuration> {
    discovered ??= oidc
      .discovery(
        new URL(config.issuer),
        config.clientId,
        { client_secret: config.clientSecret },
        oidc.ClientSecretBasic(config.clientSecret),
        {
          ...(options.fetch ? { [oidc.customFetch]: options.fetch } : {}),
          execute: config.allowInsecure ? [oidc.allowInsecureRequests] : [],
        },
      )
      .catch((error: unknown) => {
        discovered = undefined;
        throw error;
      });
    return discovered;
  }

  return {
    configuration,
    async startLogin(returnTo) {
      const c = await configuration();
      const pending: PendingLogin = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        codeVerifier: oidc.randomPKCECodeVerifier(),
        returnTo,
      };
      const parameters: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: config.scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: "S256",
        state: pending.state,
        nonce: pending.nonce,
        ...(config.resource ? { resource: config.resource } : {}),
      };
      const dpop = await withDpop(c);
      if (dpop.DPoP) parameters.dpop_jkt = await dpop.DPoP.calculateThumbprint();
      const url = c.serverMetadata().pushed_authorization_request_endpoint
        ? await oidc.buildAuthorizationUrlWithPAR(c, parameters, dpop)
        : oidc.buildAuthorizationUrl(c, parameters);
      return { url, pending };
    },
    async finishLogin(callbackUrl, pending) {
      const c = await configuration();
      const dpop = await withDpop(c);
      const response = await oidc.authorizationCodeGrant(
        c,
        callbackUrl,
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        undefined,
        dpop,
      );
      const tokens = toTokenSet(response);
      let claims: Record<string, unknown> = { ...(tokens.claims ?? {}) };
      // Userinfo adds the profile claims an ID token may leave out; the ID token's own claims win.
      if (c.serverMetadata().userinfo_endpoint && typeof claims.sub === "string") {
        const userinfo = await oidc.fetchUserInfo(c, tokens.accessToken, claims.sub, dpop);
        claims = { ...userinfo, ...claims };
      }
      return { tokens, claims };
    },
    async refresh(refreshToken) {
      const c = await configuration();
      return toTokenSet(await oidc.refreshTokenGrant(c, refreshToken, undefined, await withDpop(c)));
    },
    async revoke(token, hint) {
      await oidc.tokenRevocation(await configuration(), token, { token_type_hint: hint });
    },
    async endSessionUrl(idToken) {
      const c = await configuration();
      if (!c.serverMetadata().end_session_endpoint) return `${config.publicUrl}/`;
      return oidc
        .buildEndSessionUrl(c, {
          post_logout_redirect_uri: `${config.publicUrl}/`,
          ...(idToken ? { id_token_hint: idToken } : { client_id: config.clientId }),
        })
        .toString();
    },
  };
}
