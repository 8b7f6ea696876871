/**
 * Identity providers as the administrator manages them (admin API, CLI): create, read, change, remove.
 *
 * - Input is checked here, once, for every entry point: the issuer is an https URL (plain http only on a
 *   loopback host, for development and tests) without credentials, query or fragment; display names, claim
 *   names, group mappings, domains and tenants are bounded text.
 * - Before a provider is stored (and when its issuer or network setting changes) it is probed through the
 *   outbound guard: OpenID Connect discovery must succeed and name the same issuer (Entra's multi-tenant
 *   issuers excepted, as openid-client allows). An unreachable issuer, one on a private address without
 *   `allowPrivateNetwork`, or one that is not an OpenID provider is refused with a clear 400.
 * - Secrets are sealed with the master key, bound to the provider (AAD `identity-provider:<id>:…`): the client
 *   secret, and for `private_key_jwt` a key pair Tessera generates (RS256); only its public JWK is ever shown.
 * - Group mapping targets Tessera groups by name; it can never confer the administrator right, which is no group
 *   (src/access/policy.ts).
 * - Every change is audited (`idp.created`, `idp.updated`, `idp.deleted`) with the acting administrator, and
 *   never with a secret.
 */
import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from "jose";
import type { Actor } from "../accounts/index.js";
import type { AuditLog } from "../audit/index.js";
import type { MasterKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { IdentityProviderRow, IdentityProvidersRepository } from "../storage/index.js";
import { FederationError, providerNotFound } from "./errors.js";
import {
  CLIENT_AUTH_METHODS,
  type ClaimMapping,
  type ClientAuthMethod,
  DEFAULT_CLAIM_MAPPING,
  entraIssuer,
  PRESETS,
  PROVIDER_KINDS,
  type ProviderKind,
  TENANT_ID,
} from "./presets.js";

export interface IdentityProvider {
  id: string;
  kind: ProviderKind;
  displayName: string;
  issuer: string;
  clientId: string;
  clientAuth: ClientAuthMethod;
  hasClientSecret: boolean;
  /** For `private_key_jwt`: the public key to register at the upstream. */
  publicJwk: JWK | null;
  scopes: string[];
  /** Just-in-time provisioning: a first sign-in by someone unknown creates their account. */
  jit: boolean;
  /** Use the upstream's e-mail for matching existing accounts, when the upstream says it is verified. */
  trustEmail: boolean;
  /** A sign-in here satisfies Tessera's second-factor requirement. */
  satisfiesMfa: boolean;
  enabled: boolean;
  /** Requests to this upstream may reach private (and loopback) addresses. */
  allowPrivateNetwork: boolean;
  /** Signing out of Tessera also sends the browser to the upstream's end_session_endpoint. */
  upstreamLogout: boolean;
  claimMapping: ClaimMapping;
  /** Upstream group → Tessera group displayName. */
  groupMapping: Record<string, string>;
  /** Home-realm discovery: e-mail domains whose users go straight to this provider. */
  allowedDomains: string[];
  /** Entra multi-tenant: the tenants (directory ids) allowed; empty: any. */
  allowedTenants: string[];
  /** GitHub: the REST API's base URL. */
  apiUrl: string | null;
  authorizationEndpoint: string | null;
  /** Tessera's callback, to register at the upstream. */
  redirectUri: string;
  createdAt: number;
  updatedAt: number;
}

export interface IdentityProviderInput {
  kind?: ProviderKind;
  displayName?: string;
  issuer?: string;
  /** Entra: the tenant (`common`, `organizations`, `consumers` or a directory id) when no issuer is given. */
  tenant?: string;
  clientId?: string;
  clientSecret?: string;
  clientAuth?: ClientAuthMethod;
  scopes?: string[];
  jit?: boolean;
  trustEmail?: boolean;
  satisfiesMfa?: boolean;
  enabled?: boolean;
  allowPrivateNetwork?: boolean;
  upstreamLogout?: boolean;
  claimMapping?: Partial<ClaimMapping>;
  groupMapping?: Record<string, string>;
  allowedDomains?: string[];
  allowedTenants?: string[];
  apiUrl?: string;
}

/** The provider's secrets, opened: only the upstream client (upstream.ts) uses them. */
export interface ProviderSecrets {
  clientSecret: string | undefined;
  /** PKCS#8 PEM. */
  privateKey: string | undefined;
  kid: string | undefined;
}

/** What the probe found out about an upstream (upstream.ts). */
export interface ProbeResult {
  authorizationEndpoint: string;
}

export interface ProviderAdmin {
  create(input: IdentityProviderInput, by: Actor): Promise<IdentityProvider>;
  list(): Promise<IdentityProvider[]>;
  get(id: string): Promise<IdentityProvider | undefined>;
  update(id: string, input: IdentityProviderInput, by: Actor): Promise<IdentityProvider>;
  delete(id: string, by: Actor): Promise<void>;
  /** The provider and its row, for the sign-in flow. */
  record(id: string): Promise<{ provider: IdentityProvider; secrets: () => ProviderSecrets } | undefined>;
  /** Records what discovery found (the sign-in page's CSP uses it). */
  rememberAuthorizationEndpoint(id: string, endpoint: string): Promise<void>;
}

export interface ProviderAdminDeps {
  repository: IdentityProvidersRepository;
  masterKey: MasterKey;
  clock: Clock;
  audit: AuditLog;
  /** Tessera's issuer: callbacks are `{issuer}/federation/{id}/callback`. */
  issuer: string;
  /** Checks that the upstream answers as a provider of its kind should (through the outbound guard). */
  probe(provider: IdentityProvider, secrets: ProviderSecrets): Promise<ProbeResult>;
}

const CONTROL = /\p{Cc}/u;
const MAX_TEXT = 256;
const CLAIM_NAME = /^[A-Za-z0-9_:./-]{1,128}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function bad(message: string): never {
  throw new FederationError("invalid_request", message);
}

function text(value: unknown, field: string, max = MAX_TEXT): string {
  if (typeof value !== "string") bad(`${field} is required.`);
  const out = value.normalize("NFKC").trim();
  if (out.length === 0 || out.length > max || CONTROL.test(out)) {
    bad(`${field} must be 1 to ${max} characters without control characters.`);
  }
  return out;
}

/** An upstream URL: https, or http on a loopback host; no credentials, query or fragment; no trailing slash. */
export function checkUpstreamUrl(value: unknown, field: string): string {
  const raw = text(value, field, 2048);
  if (!URL.canParse(raw)) bad(`${field} must be an absolute URL.`);
  const url = new URL(raw);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) {
    bad(`${field} must be an https URL (plain http only on a loopback host).`);
  }
  if (url.username || url.password || url.search || url.hash) {
    bad(`${field} must not carry credentials, a query or a fragment.`);
  }
  return url.href.replace(/\/$/, "");
}

function stringList(value: unknown, field: string, check: (item: string) => string, max = 100): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) bad(`${field} must be a list.`);
  if (value.length > max) bad(`${field} holds at most ${max} entries.`);
  const out = new Set<string>();
  for (const item of value) {
    if (typeof item !== "string") bad(`${field} must hold strings.`);
    out.add(check(item));
  }
  return [...out];
}

function checkClaimMapping(value: Partial<ClaimMapping> | undefined, base: ClaimMapping): ClaimMapping {
  const out = { ...base };
  for (const [key, claim] of Object.entries(value ?? {})) {
    if (!(key in DEFAULT_CLAIM_MAPPING)) bad(`claimMapping.${key} is not a mapped attribute.`);
    if (typeof claim !== "string" || !CLAIM_NAME.test(claim)) bad(`claimMapping.${key} is not a claim name.`);
    out[key as keyof ClaimMapping] = claim;
  }
  return out;
}

function checkGroupMapping(value: Record<string, string> | undefined): Record<string, string> {
  const entries = Object.entries(value ?? {});
  if (entries.length > 200) bad("groupMapping holds at most 200 entries.");
  const out: Record<string, string> = {};
  for (const [upstream, tessera] of entries) {
    out[text(upstream, "A groupMapping key", 512)] = text(tessera, "A groupMapping value");
  }
  return out;
}

const json = <T>(textValue: string, fallback: T): T => {
  try {
    return JSON.parse(textValue) as T;
  } catch {
    return fallback;
  }
};

export function createProviderAdmin(deps: ProviderAdminDeps): ProviderAdmin {
  const { repository, masterKey, clock, audit } = deps;
  const aad = (id: string, what: "client-secret" | "private-key") => `identity-provider:${id}:${what}`;

  function toProvider(row: IdentityProviderRow): IdentityProvider {
    return {
      id: row.id,
      kind: row.kind,
      displayName: row.display_name,
      issuer: row.issuer,
      clientId: row.client_id,
      clientAuth: row.client_auth,
      hasClientSecret: row.client_secret_sealed !== null,
      publicJwk: row.public_jwk === null ? null : json<JWK | null>(row.public_jwk, null),
      scopes: row.scopes.split(" ").filter(Boolean),
      jit: row.jit === 1,
      trustEmail: row.trust_email === 1,
      satisfiesMfa: row.satisfies_mfa === 1,
      enabled: row.enabled === 1,
      allowPrivateNetwork: row.allow_private_network === 1,
      upstreamLogout: row.upstream_logout === 1,
      claimMapping: { ...DEFAULT_CLAIM_MAPPING, ...json<Partial<ClaimMapping>>(row.claim_mapping, {}) },
      groupMapping: json<Record<string, string>>(row.group_mapping, {}),
      allowedDomains: json<string[]>(row.allowed_domains, []),
      allowedTenants: json<string[]>(row.allowed_tenants, []),
      apiUrl: row.api_url,
      authorizationEndpoint: row.authorization_endpoint,
      redirectUri: `${deps.issuer}/federation/${encodeURIComponent(row.id)}/callback`,
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    };
  }

  function secretsOf(row: IdentityProviderRow): ProviderSecrets {
    const jwk = row.public_jwk === null ? null : json<JWK | null>(row.public_jwk, null);
    return {
      clientSecret:
        row.client_secret_sealed === null
          ? undefined
          : masterKey.open(row.client_secret_sealed, aad(row.id, "client-secret")).toString("utf8"),
      privateKey:
        row.private_key_sealed === null
          ? undefined
          : masterKey.open(row.private_key_sealed, aad(row.id, "private-key")).toString("utf8"),
      kid: typeof jwk?.kid === "string" ? jwk.kid : undefined,
    };
  }

  async function generateClientKey(): Promise<{ pem: string; jwk: JWK }> {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return { pem: await exportPKCS8(privateKey), jwk: { ...jwk, kid, alg: "RS256", use: "sig" } };
  }

  /** The row a create or update leads to (secrets sealed, lists as JSON); `previous` for updates. */
  async function buildRow(
    id: string,
    input: IdentityProviderInput,
    previous: IdentityProviderRow | undefined,
  ): Promise<IdentityProviderRow> {
    const kind = previous?.kind ?? input.kind ?? "oidc";
    if (!PROVIDER_KINDS.includes(kind)) bad(`kind must be one of ${PROVIDER_KINDS.join(", ")}.`);
    if (previous && input.kind !== undefined && input.kind !== previous.kind) {
      bad("kind cannot change; remove the provider and add it again.");
    }
    const preset = PRESETS[kind];
    const now = clock.now();

    let issuer: string;
    if (input.issuer !== undefined) {
      if (kind === "google") bad("Google's issuer is fixed; leave issuer out.");
      issuer = checkUpstreamUrl(input.issuer, "issuer");
    } else if (kind === "entra" && input.tenant !== undefined) {
      const tenant = text(input.tenant, "tenant", 64);
      if (!/^(common|organizations|consumers)$/.test(tenant) && !TENANT_ID.test(tenant)) {
        bad("tenant must be common, organizations, consumers or a directory (tenant) id.");
      }
      issuer = entraIssuer(tenant.toLowerCase());
    } else if (previous) {
      issuer = previous.issuer;
    } else if (preset.issuer) {
      issuer = preset.issuer;
    } else if (kind === "entra") {
      issuer = entraIssuer("organizations");
    } else {
      bad("issuer is required.");
    }

    const displayName =
      input.displayName !== undefined
        ? text(input.displayName, "displayName", 100)
        : (previous?.display_name ?? (preset.displayName || bad("displayName is required.")));
    const clientId =
      input.clientId !== undefined
        ? text(input.clientId, "clientId", 512)
        : (previous?.client_id ?? bad("clientId is required."));
    const clientAuth = input.clientAuth ?? previous?.client_auth ?? preset.clientAuth;
    if (!CLIENT_AUTH_METHODS.includes(clientAuth)) {
      bad(`clientAuth must be one of ${CLIENT_AUTH_METHODS.join(", ")}.`);
    }
    if (kind === "github" && clientAuth === "private_key_jwt") bad("GitHub has no private_key_jwt.");

    let clientSecretSealed = previous?.client_secret_sealed ?? null;
    let privateKeySealed = previous?.private_key_sealed ?? null;
    let publicJwk = previous?.public_jwk ?? null;
    if (clientAuth === "private_key_jwt") {
      if (input.clientSecret !== undefined) bad("A private_key_jwt client has no clientSecret.");
      clientSecretSealed = null;
      if (privateKeySealed === null) {
        const key = await generateClientKey();
        privateKeySealed = masterKey.seal(Buffer.from(key.pem, "utf8"), aad(id, "private-key"));
        publicJwk = JSON.stringify(key.jwk);
      }
    } else {
      privateKeySealed = null;
      publicJwk = null;
      if (input.clientSecret !== undefined) {
        const secret = text(input.clientSecret, "clientSecret", 1024);
        clientSecretSealed = masterKey.seal(Buffer.from(secret, "utf8"), aad(id, "client-secret"));
      }
      if (clientSecretSealed === null) bad("clientSecret is required for this client authentication.");
    }

    const scopes =
      input.scopes !== undefined
        ? stringList(input.scopes, "scopes", (s) => (SCOPE.test(s) ? s : bad(`scope ${s} is not valid.`)), 50)
        : (previous?.scopes.split(" ").filter(Boolean) ?? preset.scopes);
    if (kind !== "github" && !scopes.includes("openid")) scopes.unshift("openid");

    const bool = (value: boolean | undefined, old: 0 | 1 | undefined, fallback: boolean): 0 | 1 =>
      value !== undefined ? (value ? 1 : 0) : (old ?? (fallback ? 1 : 0));

    const allowedDomains =
      input.allowedDomains !== undefined
        ? stringList(input.allowedDomains, "allowedDomains", (d) => {
            const domain = d.trim().toLowerCase();
            return DOMAIN.test(domain) ? domain : bad(`${d} is not a domain name.`);
          })
        : json<string[]>(previous?.allowed_domains ?? "[]", []);
    const allowedTenants =
      input.allowedTenants !== undefined
        ? stringList(input.allowedTenants, "allowedTenants", (t) =>
            TENANT_ID.test(t) ? t.toLowerCase() : bad(`${t} is not a directory (tenant) id.`),
          )
        : json<string[]>(previous?.allowed_tenants ?? "[]", []);
    if (allowedTenants.length > 0 && kind !== "entra") bad("allowedTenants applies to Entra ID only.");

    let apiUrl = previous?.api_url ?? preset.apiUrl ?? null;
    if (input.apiUrl !== undefined) {
      if (kind !== "github") bad("apiUrl applies to GitHub only.");
      apiUrl = checkUpstreamUrl(input.apiUrl, "apiUrl");
    }

    const claimMapping = checkClaimMapping(
      input.claimMapping,
      previous ? { ...DEFAULT_CLAIM_MAPPING, ...json(previous.claim_mapping, {}) } : DEFAULT_CLAIM_MAPPING,
    );
    const groupMapping =
      input.groupMapping !== undefined
        ? checkGroupMapping(input.groupMapping)
        : json<Record<string, string>>(previous?.group_mapping ?? "{}", {});

    return {
      id,
      kind,
      display_name: displayName,
      issuer,
      client_id: clientId,
      client_auth: clientAuth,
      client_secret_sealed: clientSecretSealed,
      private_key_sealed: privateKeySealed,
      public_jwk: publicJwk,
      scopes: scopes.join(" "),
      jit: bool(input.jit, previous?.jit, false),
      trust_email: bool(input.trustEmail, previous?.trust_email, false),
      satisfies_mfa: bool(input.satisfiesMfa, previous?.satisfies_mfa, false),
      enabled: bool(input.enabled, previous?.enabled, true),
      allow_private_network: bool(input.allowPrivateNetwork, previous?.allow_private_network, false),
      upstream_logout: bool(input.upstreamLogout, previous?.upstream_logout, false),
      claim_mapping: JSON.stringify(claimMapping),
      group_mapping: JSON.stringify(groupMapping),
      allowed_domains: JSON.stringify(allowedDomains),
      allowed_tenants: JSON.stringify(allowedTenants),
      api_url: apiUrl,
      authorization_endpoint: previous?.authorization_endpoint ?? null,
      created_at: previous ? Number(previous.created_at) : now,
      updated_at: previous ? Math.max(now, Number(previous.updated_at) + 1) : now,
    };
  }

  /** Probes the upstream (through the outbound guard) and records its authorization endpoint in the row. */
  async function probed(row: IdentityProviderRow): Promise<IdentityProviderRow> {
    const found = await deps.probe(toProvider(row), secretsOf(row));
    return { ...row, authorization_endpoint: found.authorizationEndpoint };
  }

  const auditBy = (by: Actor) => ({
    actor: by.actor,
    ip: by.ip ?? null,
    userAgent: by.userAgent ?? null,
  });

  return {
    async create(input, by) {
      const id = `idp_${randomBytes(9).toString("base64url").replace(/[-_]/g, "x")}`;
      const row = await probed(await buildRow(id, input, undefined));
      await repository.insert(row);
      await audit.record({
        type: "idp.created",
        outcome: "success",
        ...auditBy(by),
        details: { providerId: id, kind: row.kind, issuer: row.issuer },
      });
      return toProvider(row);
    },

    async list() {
      return (await repository.list()).map(toProvider);
    },

    async get(id) {
      const row = await repository.get(id);
      return row ? toProvider(row) : undefined;
    },

    async update(id, input, by) {
      const previous = await repository.get(id);
      if (!previous) throw providerNotFound();
      let row = await buildRow(id, input, previous);
      const reachChanged =
        row.issuer !== previous.issuer ||
        row.api_url !== previous.api_url ||
        row.allow_private_network !== previous.allow_private_network ||
        row.authorization_endpoint === null;
      if (reachChanged) row = await probed(row);
      if (!(await repository.update(row, Number(previous.updated_at)))) {
        throw new FederationError(
          "invalid_request",
          "The provider changed meanwhile; read it again and retry.",
          409,
        );
      }
      await audit.record({
        type: "idp.updated",
        outcome: "success",
        ...auditBy(by),
        details: {
          providerId: id,
          // Field names only, never values (the secret is among them).
          changed: Object.keys(input).sort().join(","),
        },
      });
      return toProvider(row);
    },

    async delete(id, by) {
      if (!(await repository.delete(id))) throw providerNotFound();
      await audit.record({
        type: "idp.deleted",
        outcome: "success",
        ...auditBy(by),
        details: { providerId: id },
      });
    },

    async record(id) {
      const row = await repository.get(id);
      return row ? { provider: toProvider(row), secrets: () => secretsOf(row) } : undefined;
    },

    rememberAuthorizationEndpoint: (id, endpoint) => repository.setAuthorizationEndpoint(id, endpoint),
  };
}
