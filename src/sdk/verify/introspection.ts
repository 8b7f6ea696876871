/**
 * Opaque access tokens (`tsr_at_`) and API tokens (`tsr_pat_`, `tsr_svc_`), checked through RFC 7662
 * introspection.
 *
 * - The shape is checked first (prefix, 43 base62 characters, CRC32 checksum): a mistyped, truncated or
 *   foreign token is refused without a network call.
 * - `POST introspection_endpoint` with `token=…&token_type_hint=access_token`, authenticated with
 *   `client_secret_basic` (the resource server is a registered confidential client). Without client
 *   credentials these tokens cannot be checked and are refused.
 * - Answers are cached by the token's SHA-256: active ones for `ttl` seconds but never past `exp`, inactive
 *   ones for `inactiveTtl` seconds (a replayed dead token costs one call per period). Concurrent checks of one
 *   token share one call. Entries of a revoked `jti` or `sub` are dropped when the revocation feed says so.
 * - Introspection unreachable, or any answer but 200 JSON: `introspection_unavailable` (503, fail closed).
 * - `tessera_allowed_ips` is compiled once per answer into a matcher; a malformed list refuses the token.
 */
import { isWellFormedOpaqueToken } from "../../crypto/opaque-token.js";
import { compileAllowedIps } from "./allowed-ips.js";
import { type AccessTokenClaims, claimsFromIntrospection, type TokenKind } from "./claims.js";
import { Refusal } from "./errors.js";
import { basicAuthorization, fetchJsonObject, type HttpContext } from "./http.js";
import { TokenCache } from "./token-cache.js";

/** Tessera's prefixes and what they mean; every one carries a checksum. */
export const TOKEN_PREFIXES = {
  tsr_at_: "opaque",
  tsr_pat_: "personal",
  tsr_svc_: "service",
} as const satisfies Record<string, Exclude<TokenKind, "jwt">>;

const PREFIX_LIST = Object.entries(TOKEN_PREFIXES) as [string, Exclude<TokenKind, "jwt">][];

/**
 * The kind named by a Tessera prefix and whether the rest has the right length, alphabet and checksum;
 * undefined for a token without a Tessera prefix.
 */
export function classifyOpaqueToken(
  token: string,
): { kind: Exclude<TokenKind, "jwt">; wellFormed: boolean } | undefined {
  if (!token.startsWith("tsr_")) return undefined;
  for (const [prefix, kind] of PREFIX_LIST) {
    if (token.startsWith(prefix)) {
      return { kind, wellFormed: isWellFormedOpaqueToken(token, { prefix, checksum: true }) };
    }
  }
  return undefined;
}

export type IntrospectedEntry =
  | {
      readonly active: true;
      readonly claims: AccessTokenClaims;
      /** Present when the token may only be used from some addresses. */
      readonly allowsIp: ((ip: string | undefined) => boolean) | undefined;
      readonly until: number;
    }
  | { readonly active: false; readonly reason: Refusal["reason"]; readonly until: number };

export interface IntrospectionOptions {
  http: HttpContext;
  endpoint: () => Promise<string | undefined>;
  credentials: { clientId: string; clientSecret: string } | undefined;
  issuer: string;
  audience: readonly string[];
  /** Seconds. */
  ttl: number;
  /** Seconds. */
  inactiveTtl: number;
  tolerance: number;
  cacheSize: number;
  now: () => number;
}

export function createIntrospection(options: IntrospectionOptions) {
  const { http, now } = options;
  const cache = new TokenCache<IntrospectedEntry>(options.cacheSize);
  const pending = new Map<string, Promise<IntrospectedEntry>>();
  const authorization =
    options.credentials && basicAuthorization(options.credentials.clientId, options.credentials.clientSecret);

  function toEntry(body: Record<string, unknown>, kind: Exclude<TokenKind, "jwt">): IntrospectedEntry {
    const at = now();
    try {
      const claims = claimsFromIntrospection(body, kind, {
        issuer: options.issuer,
        audience: options.audience,
        nowSeconds: Math.floor(at / 1000),
        tolerance: options.tolerance,
      });
      const ips = body.tessera_allowed_ips;
      let allowsIp: ((ip: string | undefined) => boolean) | undefined;
      if (ips !== undefined) {
        allowsIp = Array.isArray(ips) ? compileAllowedIps(ips) : undefined;
        if (allowsIp === undefined) throw new Refusal("claims_invalid");
      }
      const ttl = at + options.ttl * 1000;
      return {
        active: true,
        claims,
        allowsIp,
        until: claims.exp === undefined ? ttl : Math.min(ttl, claims.exp * 1000),
      };
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return { active: false, reason: error.reason, until: at + options.inactiveTtl * 1000 };
    }
  }

  async function introspect(token: string, kind: Exclude<TokenKind, "jwt">): Promise<IntrospectedEntry> {
    const endpoint = await options.endpoint();
    if (endpoint === undefined) throw new Refusal("introspection_not_configured");
    const { body } = await fetchJsonObject(http, "introspection", endpoint, {
      method: "POST",
      headers: {
        authorization: authorization as string,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
    });
    return toEntry(body, kind);
  }

  return {
    /**
     * The introspection verdict for a well-formed Tessera token (cached). Throws `Refusal` when it cannot be
     * introspected at all, `UpstreamError` when Tessera cannot be reached.
     */
    async check(token: string, hash: string, kind: Exclude<TokenKind, "jwt">): Promise<IntrospectedEntry> {
      if (authorization === undefined) throw new Refusal("introspection_not_configured");
      const cached = cache.get(hash, now());
      if (cached !== undefined) return cached;
      let call = pending.get(hash);
      if (call === undefined) {
        call = introspect(token, kind).finally(() => pending.delete(hash));
        pending.set(hash, call);
        const entry = await call;
        cache.set(hash, entry);
        return entry;
      }
      return call;
    },

    /** Drops cached answers for a revoked token id or subject. */
    forget(match: (claims: AccessTokenClaims) => boolean): void {
      cache.deleteWhere((entry) => entry.active && match(entry.claims));
    },
  };
}

export type Introspection = ReturnType<typeof createIntrospection>;
