/**
 * What each kind of upstream provider needs and gets by default.
 *
 * - `oidc`: any OpenID Connect provider, configured by its issuer (discovery finds the rest).
 * - `google`: OpenID Connect at `https://accounts.google.com`.
 * - `entra`: Microsoft Entra ID at `https://login.microsoftonline.com/{tenant}/v2.0`; `tenant` is a directory
 *   id (single tenant) or `common` / `organizations` / `consumers` (multi-tenant: each ID token's `iss` names the
 *   user's own tenant, checked against the token's `tid`; `allowedTenants` can narrow it).
 * - `github`: OAuth 2.0 without an ID token: the code flow at `{issuer}/login/oauth/…`, then the REST API
 *   (`GET /user`, `GET /user/emails`) at `apiUrl`. Both base URLs are settings, so tests (or GitHub Enterprise)
 *   can point elsewhere.
 */

export type ProviderKind = "oidc" | "google" | "entra" | "github";
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt";

export const PROVIDER_KINDS: readonly ProviderKind[] = ["oidc", "google", "entra", "github"];
export const CLIENT_AUTH_METHODS: readonly ClientAuthMethod[] = [
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
];

/** Which upstream claim carries each attribute Tessera maps. */
export interface ClaimMapping {
  userName: string;
  name: string;
  givenName: string;
  familyName: string;
  email: string;
  emailVerified: string;
  groups: string;
}

export const DEFAULT_CLAIM_MAPPING: ClaimMapping = {
  userName: "preferred_username",
  name: "name",
  givenName: "given_name",
  familyName: "family_name",
  email: "email",
  emailVerified: "email_verified",
  groups: "groups",
};

export interface Preset {
  displayName: string;
  /** Fixed issuer, or undefined when the administrator gives it (or, for Entra, the tenant). */
  issuer?: string;
  scopes: string[];
  clientAuth: ClientAuthMethod;
  apiUrl?: string;
}

export const PRESETS: Record<ProviderKind, Preset> = {
  oidc: { displayName: "", scopes: ["openid", "email", "profile"], clientAuth: "client_secret_basic" },
  google: {
    displayName: "Google",
    issuer: "https://accounts.google.com",
    scopes: ["openid", "email", "profile"],
    clientAuth: "client_secret_basic",
  },
  entra: {
    displayName: "Microsoft",
    scopes: ["openid", "email", "profile"],
    clientAuth: "client_secret_post",
  },
  github: {
    displayName: "GitHub",
    issuer: "https://github.com",
    apiUrl: "https://api.github.com",
    scopes: ["read:user", "user:email"],
    clientAuth: "client_secret_post",
  },
};

export const ENTRA_ORIGIN = "https://login.microsoftonline.com";

/** Entra's issuer for a tenant (`common`, `organizations`, `consumers` or a directory id). */
export function entraIssuer(tenant: string): string {
  return `${ENTRA_ORIGIN}/${tenant}/v2.0`;
}

/** A directory (tenant) id: a GUID. */
export const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entra issuers whose ID tokens name the user's own tenant (multi-tenant applications). */
export function isMultiTenantEntra(issuer: string): boolean {
  return /^https:\/\/login\.microsoftonline\.com\/(common|organizations|consumers)\/v2\.0$/.test(issuer);
}
