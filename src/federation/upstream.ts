/**
 * Talking to upstream OpenID Connect providers, on openid-client (v6) — never a hand-written token check.
 *
 * - Every request (discovery, JWKS, token, userinfo) goes through the outbound guard (src/outbound/) via
 *   openid-client's `customFetch`; a provider with `allowPrivateNetwork` may reach private and loopback
 *   addresses, others only what the global policy allows. Plain http only towards loopback (the guard's rule),
 *   so openid-client's https-only check is relaxed for http issuers alone.
 * - Discovery: the metadata must name the configured issuer (openid-client's check; Entra's multi-tenant
 *   issuers are the one exception it makes, and then each ID token's `iss` must be
 *   `https://login.microsoftonline.com/{tid}/v2.0` for the token's own `tid`).
 * - Authorization: code flow, PKCE S256, `state`, `nonce`. The response's `iss` (RFC 9207) must be the issuer
 *   when present, and present when the provider advertises `authorization_response_iss_parameter_supported`
 *   (mix-up defence): checked here explicitly for a clear reason, and again by openid-client.
 * - The ID token is validated by openid-client (signature from the provider's JWKS, `iss`, `aud`, `exp`, `nonce`).
 *   Userinfo, when the provider has the endpoint, must be about the same `sub`.
 * - Tokens never leave this module: the caller gets the claims only.
 */
import { importPKCS8 } from "jose";
import * as oidc from "openid-client";
import type { Logger } from "../observability/log.js";
import {
  createOutboundFetch,
  type OutboundFetch,
  type OutboundLookup,
  type OutboundPolicy,
  OutboundRefusedError,
} from "../outbound/index.js";
import { FederationError, FederationSignInError } from "./errors.js";
import { fetchGitHubAccount, gitHubConfiguration } from "./github.js";
import { ENTRA_ORIGIN, isMultiTenantEntra, TENANT_ID } from "./presets.js";
import type { IdentityProvider, ProbeResult, ProviderSecrets } from "./providers.js";

/** What an upstream said about the person, after every check; no token. */
export interface UpstreamAccount {
  /** Stable id of the account at this provider (Entra multi-tenant: `{tid}/{sub}`). */
  subject: string;
  claims: Record<string, unknown>;
}

export interface OutboundSettings {
  policy: OutboundPolicy;
  log?: Logger;
  /** Tests: resolve names elsewhere, trust another CA. */
  lookup?: OutboundLookup;
  ca?: string | readonly string[];
  timeoutMs?: number;
}

export interface AuthorizationInput {
  state: string;
  nonce: string;
  codeChallenge: string;
  loginHint?: string;
}

export interface Upstreams {
  probe(provider: IdentityProvider, secrets: ProviderSecrets): Promise<ProbeResult>;
  authorizationUrl(
    provider: IdentityProvider,
    secrets: ProviderSecrets,
    input: AuthorizationInput,
  ): Promise<URL>;
  exchange(
    provider: IdentityProvider,
    secrets: ProviderSecrets,
    callback: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<UpstreamAccount>;
  /** The upstream's RP-initiated logout URL, when it has one. */
  endSessionUrl(
    provider: IdentityProvider,
    secrets: ProviderSecrets,
    postLogoutRedirectUri: string,
  ): Promise<URL | undefined>;
}

const CACHE_MS = 10 * 60_000;

/** openid-client's fetch, carried out by the outbound guard. */
function adaptFetch(outbound: OutboundFetch): oidc.CustomFetch {
  return (url, options) => {
    const body = options.body;
    if (body instanceof ReadableStream) throw new TypeError("streamed request bodies are not sent upstream");
    return outbound(url, {
      method: options.method,
      headers: options.headers,
      body: body instanceof ArrayBuffer ? new Uint8Array(body) : (body ?? null),
      redirect: "manual",
      ...(options.signal ? { signal: options.signal } : {}),
    });
  };
}

function describeRefusal(error: OutboundRefusedError): string {
  return error.reason === "address"
    ? `${error.message} For an internal provider, set allowPrivateNetwork.`
    : error.message;
}

/** A short reason for an administrator, from a failed probe (never the upstream's body). */
function describeFailure(error: unknown): string {
  // openid-client wraps what the fetch threw: the guard's refusal may be a cause or two down.
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundRefusedError) return describeRefusal(e);
  }
  if (error instanceof OutboundRefusedError) {
    return error.reason === "address"
      ? `${error.message} For an internal provider, set allowPrivateNetwork.`
      : error.message;
  }
  const code = (error as { code?: unknown }).code;
  if (code === "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED" || /issuer/i.test(String((error as Error).message))) {
    return "its discovery document names another issuer.";
  }
  if (code === "OAUTH_RESPONSE_IS_NOT_CONFORM" || code === "OAUTH_RESPONSE_IS_NOT_JSON") {
    return "it has no OpenID Connect discovery document there.";
  }
  return "it could not be reached or did not answer as an OpenID provider.";
}

export function createUpstreams(deps: { outbound: OutboundSettings }): Upstreams {
  const { outbound } = deps;
  const configs = new Map<string, { key: string; at: number; config: Promise<oidc.Configuration> }>();

  function fetchFor(provider: IdentityProvider): OutboundFetch {
    return createOutboundFetch({
      policy: provider.allowPrivateNetwork ? { ...outbound.policy, allowPrivate: true } : outbound.policy,
      ...(outbound.log ? { log: outbound.log } : {}),
      ...(outbound.lookup ? { lookup: outbound.lookup } : {}),
      ...(outbound.ca ? { ca: outbound.ca } : {}),
      timeoutMs: outbound.timeoutMs ?? 10_000,
    });
  }

  async function clientAuth(provider: IdentityProvider, secrets: ProviderSecrets): Promise<oidc.ClientAuth> {
    switch (provider.clientAuth) {
      case "client_secret_basic":
        return oidc.ClientSecretBasic(secrets.clientSecret);
      case "client_secret_post":
        return oidc.ClientSecretPost(secrets.clientSecret);
      case "private_key_jwt": {
        if (!secrets.privateKey) throw new FederationError("invalid_request", "The provider has no key.");
        const key = await importPKCS8(secrets.privateKey, "RS256");
        return oidc.PrivateKeyJwt({ key, ...(secrets.kid ? { kid: secrets.kid } : {}) });
      }
    }
  }

  async function buildConfiguration(
    provider: IdentityProvider,
    secrets: ProviderSecrets,
  ): Promise<oidc.Configuration> {
    const customFetch = adaptFetch(fetchFor(provider));
    const insecure = provider.issuer.startsWith("http:");
    const auth = await clientAuth(provider, secrets);
    if (provider.kind === "github") {
      const config = gitHubConfiguration(provider, auth);
      config[oidc.customFetch] = customFetch;
      if (insecure) oidc.allowInsecureRequests(config);
      return config;
    }
    return oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, auth, {
      [oidc.customFetch]: customFetch,
      ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      timeout: 10,
    });
  }

  /** The provider's configuration, discovered once per 10 minutes and per change of the provider. */
  function configuration(provider: IdentityProvider, secrets: ProviderSecrets): Promise<oidc.Configuration> {
    const key = `${provider.updatedAt}`;
    const cached = configs.get(provider.id);
    const now = Date.now();
    if (cached && cached.key === key && now - cached.at < CACHE_MS) return cached.config;
    const config = buildConfiguration(provider, secrets);
    configs.set(provider.id, { key, at: now, config });
    // A failed discovery is not cached: the next sign-in tries again.
    config.catch(() => {
      if (configs.get(provider.id)?.config === config) configs.delete(provider.id);
    });
    return config;
  }

  function checkResponseIssuer(config: oidc.Configuration, callback: URL): void {
    const metadata = config.serverMetadata();
    const iss = callback.searchParams.get("iss");
    if (iss !== null) {
      if (iss !== metadata.issuer) throw new FederationSignInError("iss_mismatch");
    } else if (metadata.authorization_response_iss_parameter_supported === true) {
      throw new FederationSignInError("iss_missing");
    }
  }

  return {
    async probe(provider, secrets) {
      try {
        const config = await buildConfiguration(provider, secrets);
        const endpoint = config.serverMetadata().authorization_endpoint;
        if (!endpoint) throw new Error("no authorization endpoint");
        configs.set(provider.id, {
          key: `${provider.updatedAt}`,
          at: Date.now(),
          config: Promise.resolve(config),
        });
        return { authorizationEndpoint: endpoint };
      } catch (error) {
        throw new FederationError(
          "invalid_request",
          `The provider at ${provider.issuer} was refused: ${describeFailure(error)}`,
        );
      }
    },

    async authorizationUrl(provider, secrets, input) {
      let config: oidc.Configuration;
      try {
        config = await configuration(provider, secrets);
      } catch (error) {
        throw new FederationSignInError("upstream_unreachable", describeFailure(error));
      }
      const parameters: Record<string, string> = {
        redirect_uri: provider.redirectUri,
        scope: provider.scopes.join(" "),
        state: input.state,
        code_challenge: input.codeChallenge,
        code_challenge_method: "S256",
      };
      if (provider.kind !== "github") parameters.nonce = input.nonce;
      if (input.loginHint) parameters.login_hint = input.loginHint;
      return oidc.buildAuthorizationUrl(config, parameters);
    },

    async exchange(provider, secrets, callback, checks) {
      let config: oidc.Configuration;
      try {
        config = await configuration(provider, secrets);
      } catch (error) {
        throw new FederationSignInError("upstream_unreachable", describeFailure(error));
      }
      checkResponseIssuer(config, callback);
      let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
      try {
        tokens = await oidc.authorizationCodeGrant(
          config,
          callback,
          provider.kind === "github"
            ? { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state }
            : {
                pkceCodeVerifier: checks.codeVerifier,
                expectedState: checks.state,
                expectedNonce: checks.nonce,
              },
        );
      } catch (error) {
        throw new FederationSignInError("response_refused", errorDetail(error));
      }
      if (provider.kind === "github") {
        try {
          return await fetchGitHubAccount(provider, fetchFor(provider), tokens.access_token);
        } catch (error) {
          throw new FederationSignInError("response_refused", errorDetail(error));
        }
      }
      const idClaims = tokens.claims();
      if (!idClaims || typeof idClaims.sub !== "string" || idClaims.sub === "") {
        throw new FederationSignInError("subject_missing");
      }
      let claims: Record<string, unknown> = { ...idClaims };
      if (config.serverMetadata().userinfo_endpoint) {
        try {
          const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
          // The ID token's own claims win (signed, and about this very sign-in).
          claims = { ...userinfo, ...idClaims };
        } catch (error) {
          throw new FederationSignInError("response_refused", `userinfo: ${errorDetail(error)}`);
        }
      }
      let subject = idClaims.sub;
      if (config.serverMetadata().issuer.startsWith(`${ENTRA_ORIGIN}/`) && isEntraTemplate(config)) {
        subject = `${entraTenantOf(idClaims, provider)}/${idClaims.sub}`;
      }
      return { subject, claims };
    },

    async endSessionUrl(provider, secrets, postLogoutRedirectUri) {
      if (provider.kind === "github") return undefined;
      try {
        const config = await configuration(provider, secrets);
        if (!config.serverMetadata().end_session_endpoint) return undefined;
        return oidc.buildEndSessionUrl(config, {
          client_id: provider.clientId,
          post_logout_redirect_uri: postLogoutRedirectUri,
        });
      } catch {
        return undefined;
      }
    },
  };
}

/** Whether the discovered issuer is Entra's `{tenantid}` template (a multi-tenant application). */
function isEntraTemplate(config: oidc.Configuration): boolean {
  return config.serverMetadata().issuer.includes("{tenantid}");
}

/**
 * The tenant of an Entra ID token from a multi-tenant issuer. openid-client has already required
 * `iss === https://login.microsoftonline.com/{tid}/v2.0`; here `tid` must be a directory id, and one of the
 * provider's `allowedTenants` when it lists some.
 */
export function entraTenantOf(
  claims: Record<string, unknown>,
  provider: Pick<IdentityProvider, "allowedTenants" | "issuer">,
): string {
  const tid = claims.tid;
  if (typeof tid !== "string" || !TENANT_ID.test(tid))
    throw new FederationSignInError("tenant_not_allowed", "no tid");
  if (claims.iss !== `${ENTRA_ORIGIN}/${tid}/v2.0`)
    throw new FederationSignInError("iss_mismatch", "iss ≠ tid");
  const tenant = tid.toLowerCase();
  if (provider.allowedTenants.length > 0 && !provider.allowedTenants.includes(tenant)) {
    throw new FederationSignInError("tenant_not_allowed", `tenant ${tenant}`);
  }
  if (!isMultiTenantEntra(provider.issuer))
    throw new FederationSignInError("iss_mismatch", "not multi-tenant");
  return tenant;
}

function errorDetail(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  return [e.code, e.message, e.cause?.code, e.cause?.message].filter((x) => typeof x === "string").join(": ");
}
