/**
 * GitHub: OAuth 2.0 without an ID token (GitHub is no OpenID provider for people).
 *
 * - The code flow runs on openid-client with GitHub's endpoints given, not discovered: `{issuer}/login/oauth/
 *   authorize` and `…/access_token` (PKCE S256 and `state` as for every provider).
 * - Who signed in comes from the REST API with the access token: `GET {apiUrl}/user` (the numeric `id` is the
 *   subject: a login can be renamed and reused, an id cannot) and `GET {apiUrl}/user/emails`, where only the
 *   primary address GitHub marks `verified` counts as verified.
 * - Both requests go through the outbound guard; the token is used for these two requests and dropped.
 */
import * as oidc from "openid-client";
import type { OutboundFetch } from "../outbound/index.js";
import type { IdentityProvider } from "./providers.js";
import type { UpstreamAccount } from "./upstream.js";

export function gitHubConfiguration(provider: IdentityProvider, auth: oidc.ClientAuth): oidc.Configuration {
  return new oidc.Configuration(
    {
      issuer: provider.issuer,
      authorization_endpoint: `${provider.issuer}/login/oauth/authorize`,
      token_endpoint: `${provider.issuer}/login/oauth/access_token`,
    },
    provider.clientId,
    undefined,
    auth,
  );
}

interface GitHubEmail {
  email?: unknown;
  primary?: unknown;
  verified?: unknown;
}

async function getJson(fetch: OutboundFetch, url: string, accessToken: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: {
      authorization: `Bearer ${accessToken}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      "user-agent": "Tessera",
    },
    redirect: "error",
  });
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`GitHub API answered ${response.status} for ${new URL(url).pathname}`);
  }
  return response.json();
}

export async function fetchGitHubAccount(
  provider: IdentityProvider,
  fetch: OutboundFetch,
  accessToken: string,
): Promise<UpstreamAccount> {
  const api = provider.apiUrl ?? "https://api.github.com";
  const user = (await getJson(fetch, `${api}/user`, accessToken)) as Record<string, unknown>;
  if (typeof user.id !== "number" || !Number.isSafeInteger(user.id)) {
    throw new Error("GitHub user has no numeric id");
  }
  const emails = await getJson(fetch, `${api}/user/emails`, accessToken);
  const list = Array.isArray(emails) ? (emails as GitHubEmail[]) : [];
  const primary = list.find((e) => e.primary === true && typeof e.email === "string");
  const claims: Record<string, unknown> = {
    sub: String(user.id),
    preferred_username: typeof user.login === "string" ? user.login : undefined,
    name: typeof user.name === "string" ? user.name : undefined,
    email: primary?.email,
    email_verified: primary?.verified === true,
  };
  return { subject: String(user.id), claims };
}
