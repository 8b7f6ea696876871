/**
 * The BFF's configuration, read once from the environment (`loadBffConfig(process.env)`).
 *
 * - `BFF_ISSUER`, `BFF_CLIENT_ID`, `BFF_CLIENT_SECRET`, `BFF_PUBLIC_URL` and `BFF_MASTER_KEY` are required.
 * - The public URL is an origin (no path): the callback is `<origin>/bff/callback`. On https the session cookie
 *   is `__Host-bff_session` (Secure); on http (loopback tests) it is `bff_session`, since `__Host-` requires
 *   Secure.
 * - Upstreams are `prefix=url` pairs; a prefix starts with `/`, is one or more path segments, and is unique.
 * - returnTo prefixes and allowed origins are validated here so a typo fails at start-up, not at run time.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseMasterKey } from "../crypto/index.js";
import { ConfigError } from "../lib/errors.js";

export interface BffUpstream {
  /** `/api`: `/bff/api/x` goes to `<url>/x`. */
  prefix: string;
  /** Absolute http(s) URL, without a trailing slash. */
  url: string;
}

export interface BffConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The BFF's origin as the browser sees it. */
  publicUrl: string;
  scope: string;
  resource: string | undefined;
  upstreams: BffUpstream[];
  cookieName: string;
  /** Whether cookies carry `Secure` (the public URL is https). */
  secureCookies: boolean;
  allowedOrigins: string[];
  returnToPrefixes: string[];
  databaseUrl: string;
  /** 32 bytes. */
  masterKey: Buffer;
  /** Idle timeout of a BFF session, seconds. */
  sessionIdleTimeout: number;
  /** Absolute lifetime of a BFF session, seconds (Tessera's refresh-token family lifetime by default). */
  sessionLifetime: number;
  /** Refresh the access token this many seconds before it expires. */
  refreshLeeway: number;
  port: number;
  host: string;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** Allows an http issuer (tests, local development). */
  allowInsecure: boolean;
  /**
   * DPoP (RFC 9449): the private key (EC P-256 or Ed25519) the BFF binds its access tokens to, and proves
   * with towards Tessera and the upstreams; undefined: bearer tokens.
   */
  dpopKey: KeyObject | undefined;
}

const TRUE = ["1", "true", "yes"];

/** `BFF_DPOP_KEY_FILE` (a PEM private key) or, with `BFF_DPOP=true` alone, a key made for this process. */
function dpopKey(env: Record<string, string | undefined>): KeyObject | undefined {
  const file = env.BFF_DPOP_KEY_FILE?.trim();
  const enabled = TRUE.includes((env.BFF_DPOP ?? "").trim().toLowerCase());
  if (!file) return enabled ? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey : undefined;
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new ConfigError(
      `BFF_DPOP_KEY_FILE: cannot read a PEM private key from ${file} (${(error as Error).message})`,
    );
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (!(key.asymmetricKeyType === "ed25519" || (key.asymmetricKeyType === "ec" && curve === "prime256v1"))) {
    throw new ConfigError("BFF_DPOP_KEY_FILE: the key must be EC P-256 or Ed25519");
  }
  return key;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`${name} is required`);
  return value;
}

function originOf(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an absolute URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(`${name} must be http(s)`);
  return url;
}

function integer(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new ConfigError(`${name} must be an integer ≥ ${min}`);
  return value;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** Parses `BFF_UPSTREAMS` (`/api=http://127.0.0.1:8081,/billing=https://billing.internal`). */
export function parseUpstreams(value: string | undefined): BffUpstream[] {
  const upstreams: BffUpstream[] = [];
  for (const entry of list(value)) {
    const at = entry.indexOf("=");
    const prefix = entry.slice(0, at).trim().replace(/\/+$/, "");
    const target = entry.slice(at + 1).trim();
    if (at <= 0 || !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) {
      throw new ConfigError(`BFF_UPSTREAMS: "${entry}" must be /prefix=http(s)://host[:port][/path]`);
    }
    const url = originOf("BFF_UPSTREAMS", target);
    if (url.search || url.hash) throw new ConfigError(`BFF_UPSTREAMS: ${prefix} has a query or fragment`);
    if (["/login", "/callback", "/user", "/logout", "/backchannel-logout"].includes(prefix)) {
      throw new ConfigError(`BFF_UPSTREAMS: ${prefix} is one of the BFF's own routes`);
    }
    if (upstreams.some((u) => u.prefix === prefix)) throw new ConfigError(`BFF_UPSTREAMS: ${prefix} twice`);
    upstreams.push({ prefix, url: url.href.replace(/\/+$/, "") });
  }
  return upstreams;
}

export function loadBffConfig(env: Record<string, string | undefined>): BffConfig {
  const issuer = originOf("BFF_ISSUER", required(env, "BFF_ISSUER")).href.replace(/\/$/, "");
  const publicUrl = originOf("BFF_PUBLIC_URL", required(env, "BFF_PUBLIC_URL"));
  if (publicUrl.pathname !== "/" || publicUrl.search || publicUrl.hash) {
    throw new ConfigError("BFF_PUBLIC_URL must be an origin (scheme, host, port; no path)");
  }
  const secureCookies = publicUrl.protocol === "https:";
  const masterKey = parseMasterKey(required(env, "BFF_MASTER_KEY"));
  if (!masterKey) throw new ConfigError("BFF_MASTER_KEY must be 64 hex characters (32 bytes)");
  const cookieName = env.BFF_COOKIE_NAME?.trim() || (secureCookies ? "__Host-bff_session" : "bff_session");
  if (!/^[A-Za-z0-9_-]+$/.test(cookieName)) throw new ConfigError("BFF_COOKIE_NAME has invalid characters");
  if (cookieName.startsWith("__Host-") && !secureCookies) {
    throw new ConfigError("BFF_COOKIE_NAME: a __Host- cookie needs an https BFF_PUBLIC_URL");
  }
  const allowedOrigins = list(env.BFF_ALLOWED_ORIGINS).map((o) => originOf("BFF_ALLOWED_ORIGINS", o).origin);
  const returnToPrefixes = list(env.BFF_RETURN_TO);
  for (const prefix of returnToPrefixes) {
    if (!prefix.startsWith("/") || prefix.startsWith("//") || prefix.includes("\\")) {
      throw new ConfigError(`BFF_RETURN_TO: "${prefix}" must be a path starting with a single /`);
    }
  }
  const resource = env.BFF_RESOURCE?.trim() || undefined;
  if (resource !== undefined) originOf("BFF_RESOURCE", resource);
  const tlsCert = env.BFF_TLS_CERT?.trim() || undefined;
  const tlsKey = env.BFF_TLS_KEY?.trim() || undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError("BFF_TLS_CERT and BFF_TLS_KEY go together");
  }
  return Object.freeze({
    issuer,
    clientId: required(env, "BFF_CLIENT_ID"),
    clientSecret: required(env, "BFF_CLIENT_SECRET"),
    publicUrl: publicUrl.origin,
    scope: env.BFF_SCOPE?.trim() || "openid profile offline_access",
    resource,
    upstreams: parseUpstreams(env.BFF_UPSTREAMS),
    cookieName,
    secureCookies,
    allowedOrigins: allowedOrigins.length > 0 ? allowedOrigins : [publicUrl.origin],
    returnToPrefixes: returnToPrefixes.length > 0 ? returnToPrefixes : ["/"],
    databaseUrl: env.BFF_DATABASE_URL?.trim() || "./data/bff.db",
    masterKey,
    sessionIdleTimeout: integer(env, "BFF_SESSION_IDLE_TIMEOUT", 8 * 3600, 60),
    sessionLifetime: integer(env, "BFF_SESSION_LIFETIME", 14 * 86400, 60),
    refreshLeeway: integer(env, "BFF_REFRESH_LEEWAY", 30, 0),
    port: integer(env, "PORT", 8443, 0),
    host: env.HOST?.trim() || "127.0.0.1",
    tlsCert,
    tlsKey,
    allowInsecure: TRUE.includes((env.BFF_ALLOW_INSECURE ?? "").trim().toLowerCase()),
    dpopKey: dpopKey(env),
  });
}
