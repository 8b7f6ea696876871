/**
 * `createVerifier`: the resource server's side of Tessera's access tokens.
 *
 * Verification of a token, in order:
 * - Shape: a compact JWT, or a token with a Tessera prefix (`tsr_at_`, `tsr_pat_`, `tsr_svc_`) whose length and
 *   checksum are right. Anything else is refused without a network call.
 * - JWT (RFC 9068): `verifyJwt` on the issuer's JWKS (`typ: at+jwt`, EdDSA/ES256/RS256 only, `iss`, `aud`, `exp`,
 *   `nbf` with the clock tolerance), then RFC 9068's required claims. Verified tokens are cached by their SHA-256
 *   until `exp` (bounded), so a repeated token costs a hash and a map look-up; the cache entry is dropped if its
 *   key leaves the JWKS.
 * - Opaque and API tokens: introspection (see `introspection.ts`), then the token's IP allow-list.
 * - Every time, cached or not: the revocation feed's state (`jti`, or `sub` + `iat`), then the route's
 *   requirements: step-up (`acr_values`, `max_age`: 401 `insufficient_user_authentication`) and scopes (403).
 * - Tessera unreachable with nothing cached to decide by: 503 `temporarily_unavailable`. Never a pass.
 */
import { hashToken } from "../../crypto/hash.js";
import { JWS_ALGORITHMS, type JwsAlgorithm, MAX_CLOCK_TOLERANCE } from "../../crypto/jwt/policy.js";
import { verifyJwt } from "../../crypto/jwt/verify.js";
import { TokenError } from "../../lib/errors.js";
import { hasQueryToken, parseAuthorization } from "./authorization.js";
import {
  type AccessTokenClaims,
  type CheckedRequirements,
  checkRequirements,
  claimsFromJwt,
  type Requirements,
} from "./claims.js";
import { createDiscovery } from "./discovery.js";
import { type ChallengeParameters, Refusal, type RefusalReason, VerifyError } from "./errors.js";
import { basicAuthorization, checkEndpoint, type HttpContext, type Upstream, UpstreamError } from "./http.js";
import { classifyOpaqueToken, createIntrospection } from "./introspection.js";
import { createKeySet } from "./key-set.js";
import { createRevocations } from "./revocations.js";
import { TokenCache } from "./token-cache.js";

export interface VerifierOptions {
  /** Tessera's issuer URL, exactly as in its tokens' `iss` (a trailing slash is ignored). */
  issuer: string;
  /** This resource server's identifier(s): a token's `aud` must name at least one. */
  audience: string | readonly string[];
  /**
   * This resource server's client id at Tessera (a confidential client). With `clientSecret`, enables
   * introspection of opaque and API tokens and the revocation feed.
   */
  clientId?: string;
  clientSecret?: string;
  /** Accepted JWS algorithms (default EdDSA, ES256, RS256; never `none` or HMAC). */
  algorithms?: readonly JwsAlgorithm[];
  /** Seconds of clock skew tolerated for `exp`, `nbf` and `max_age`, 0–60 (default 5). */
  clockTolerance?: number;
  /** `realm` in `WWW-Authenticate` challenges. */
  realm?: string;
  /** Lower bound on how long a JWKS is kept, seconds (default 60; also used when the answer says no max-age). */
  jwksMinAge?: number;
  /** Upper bound on how long a JWKS is kept, seconds (default 3600). */
  jwksMaxAge?: number;
  /** At most one JWKS refetch per this many seconds for unknown `kid`s (default 15). */
  jwksRefetchInterval?: number;
  /** Seconds an active introspection answer is reused, never past `exp` (default 5). */
  introspectionCacheTtl?: number;
  /** Seconds an inactive introspection answer is reused (default 1; 0 to never cache one). */
  inactiveCacheTtl?: number;
  /** Most verified tokens and introspection answers kept, each (default 10 000). */
  cacheSize?: number;
  /**
   * The revocation feed (on by default when client credentials are given): `false` turns it off; an object
   * sets the poll interval (milliseconds, default: what the feed says, else 500) and how long events are
   * kept (seconds, default 2100).
   */
  revocations?: false | { intervalMs?: number; retention?: number };
  /** Timeout of each call to Tessera, milliseconds (default 5000). */
  timeoutMs?: number;
  /** Allow `http:` endpoints off loopback (default false). */
  allowHttp?: boolean;
  /** The fetch used to reach Tessera (default the global one). */
  fetch?: typeof fetch;
  /** The current time in milliseconds (default `Date.now`), for tests. */
  now?: () => number;
  /** Told about background failures (JWKS refresh, revocation feed); messages hold no token or secret. */
  onWarning?: (message: string) => void;
}

/** Per-call options of `verify`: the route's requirements and the caller's address. */
export interface VerifyOptions extends Requirements {
  /** The caller's IP address, for API tokens restricted to some networks. */
  ip?: string | undefined;
}

/** What an adapter knows about a request. */
export interface RequestInfo {
  /** The `Authorization` header value(s). */
  authorization: string | readonly string[] | null | undefined;
  /** The caller's IP address. */
  ip?: string | undefined;
  /** The request URL (path and query suffice), to refuse tokens sent in the query. */
  url?: string | undefined;
}

export interface Verifier {
  /**
   * Verifies an access token and the route's requirements; resolves to its claims or throws `VerifyError`.
   * @see RFC 9068 §4, RFC 7662, RFC 6750 §3.1, RFC 9470 §3
   */
  verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims>;
  /**
   * Reads the bearer token from a request's `Authorization` header (RFC 6750 §2.1) and verifies it.
   * @see RFC 6750 §2.1, §3
   */
  authenticate(request: RequestInfo, requirements?: Requirements): Promise<AccessTokenClaims>;
  /** Loads discovery and keys and the first revocation state; rejects while Tessera cannot be reached. */
  ready(): Promise<void>;
  /** Stops the revocation feed's timer. */
  close(): void;
}

interface JwtEntry {
  readonly claims: AccessTokenClaims;
  readonly kid: string;
  readonly until: number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const UNAVAILABLE: Record<Upstream, RefusalReason> = {
  discovery: "discovery_unavailable",
  jwks: "jwks_unavailable",
  introspection: "introspection_unavailable",
  revocations: "revocations_unavailable",
};

function numberOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n < min || n > max)
    throw new TypeError(`${name} must be between ${min} and ${max}`);
  return n;
}

/**
 * Creates a verifier for access tokens issued by Tessera: JWTs against the issuer's JWKS, opaque and API
 * tokens through introspection, all of them against the revocation feed.
 * @see RFC 9068, RFC 7662, RFC 6750
 * @example
 * const verifier = createVerifier({ issuer: "https://id.example.com", audience: "https://api.example.com",
 *   clientId: "api", clientSecret: process.env.API_CLIENT_SECRET });
 * const claims = await verifier.verify(token, { scopes: ["orders:read"] });
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = String(options.issuer).replace(/\/+$/, "");
  const allowHttp = options.allowHttp === true;
  checkEndpoint(issuer, allowHttp, "issuer");
  const audience = typeof options.audience === "string" ? [options.audience] : [...options.audience];
  if (audience.length === 0 || !audience.every((a) => typeof a === "string" && a !== "")) {
    throw new TypeError("audience must name this resource server");
  }
  const algorithms = [...(options.algorithms ?? JWS_ALGORITHMS)];
  const tolerance = numberOption(options.clockTolerance, 5, 0, MAX_CLOCK_TOLERANCE, "clockTolerance");
  const jwksMinAge = numberOption(options.jwksMinAge, 60, 0, 86_400, "jwksMinAge");
  const jwksMaxAge = numberOption(options.jwksMaxAge, 3600, jwksMinAge, 86_400, "jwksMaxAge");
  const refetchInterval = numberOption(options.jwksRefetchInterval, 15, 1, 3600, "jwksRefetchInterval");
  const cacheSize = numberOption(options.cacheSize, 10_000, 0, 10_000_000, "cacheSize");
  const now = options.now ?? Date.now;
  const onWarning = options.onWarning ?? (() => {});
  const credentials =
    options.clientId !== undefined && options.clientSecret !== undefined
      ? { clientId: options.clientId, clientSecret: options.clientSecret }
      : undefined;
  const http: HttpContext = {
    fetch: options.fetch ?? ((...args) => fetch(...args)),
    timeoutMs: numberOption(options.timeoutMs, 5000, 1, 120_000, "timeoutMs"),
    allowHttp,
  };
  const realm = options.realm;

  const discovery = createDiscovery({ http, issuer, now });
  const keys = createKeySet({
    http,
    jwksUri: async () => (await discovery.get()).jwksUri,
    algorithms,
    minAge: jwksMinAge,
    maxAge: jwksMaxAge,
    refetchInterval,
    now,
    onWarning,
  });
  const jwtCache = new TokenCache<JwtEntry>(cacheSize);
  const introspection = createIntrospection({
    http,
    endpoint: async () => (await discovery.get()).introspectionEndpoint,
    credentials,
    issuer,
    audience,
    ttl: numberOption(options.introspectionCacheTtl, 5, 0, 300, "introspectionCacheTtl"),
    inactiveTtl: numberOption(options.inactiveCacheTtl, 1, 0, 60, "inactiveCacheTtl"),
    tolerance,
    cacheSize,
    now,
  });
  const feedOptions = options.revocations === false ? undefined : (options.revocations ?? {});
  const revocations =
    credentials === undefined || feedOptions === undefined
      ? undefined
      : createRevocations({
          http,
          endpoint: async () => (await discovery.get()).revocationsEndpoint,
          authorization: basicAuthorization(credentials.clientId, credentials.clientSecret),
          intervalMs:
            feedOptions.intervalMs === undefined
              ? undefined
              : numberOption(feedOptions.intervalMs, 500, 50, 60_000, "revocations.intervalMs"),
          retentionMs: numberOption(feedOptions.retention, 2100, 60, 86_400, "revocations.retention") * 1000,
          now,
          onWarning,
          onEvent: (event) => {
            const hit = (c: AccessTokenClaims) =>
              event.type === "jti" ? c.jti === event.value : c.sub === event.value;
            jwtCache.deleteWhere((entry) => hit(entry.claims));
            introspection.forget(hit);
          },
        });
  revocations?.start();

  function refuse(reason: RefusalReason, challenge?: ChallengeParameters): never {
    throw new VerifyError(reason, { realm, ...challenge });
  }

  /** Internal failures become the one public error type; anything else is a bug and propagates. */
  function toVerifyError(error: unknown): unknown {
    if (error instanceof VerifyError) return error;
    if (error instanceof Refusal) return new VerifyError(error.reason, { realm });
    if (error instanceof TokenError) return new VerifyError(error.reason, { realm });
    if (error instanceof UpstreamError) return new VerifyError(UNAVAILABLE[error.source], { realm });
    return error;
  }

  function checkJwt(token: string): JwtEntry {
    const { header, payload } = verifyJwt(token, {
      keys: (kid) => keys.get(kid),
      algorithms,
      typ: "at+jwt",
      issuer,
      audience,
      clockTolerance: tolerance,
      now,
    });
    const claims = claimsFromJwt(payload);
    const until = ((claims.exp as number) + tolerance) * 1000;
    return { claims, kid: header.kid, until };
  }

  async function verifyJwtToken(token: string): Promise<AccessTokenClaims> {
    const hash = hashToken(token);
    const cached = jwtCache.get(hash, now());
    // A key withdrawn from the JWKS takes its tokens with it, cached or not.
    if (cached !== undefined && keys.get(cached.kid) !== undefined) return cached.claims;
    await keys.ensureLoaded();
    let entry: JwtEntry;
    try {
      entry = checkJwt(token);
    } catch (error) {
      if (!(error instanceof TokenError && error.reason === "key_unknown")) throw error;
      if (!(await keys.refetchForUnknownKid())) throw error;
      entry = checkJwt(token);
    }
    jwtCache.set(hash, entry);
    return entry.claims;
  }

  async function verifyToken(token: string, options: VerifyOptions, requirements: CheckedRequirements) {
    if (typeof token !== "string" || token === "") refuse("malformed");
    // Shape first: a token that cannot be one of Tessera's costs no network call and waits for nothing.
    const opaque = classifyOpaqueToken(token);
    if (opaque === undefined && !JWT_SHAPE.test(token)) refuse("prefix_unknown");
    if (opaque !== undefined && !opaque.wellFormed) refuse("checksum_invalid");
    if (revocations !== undefined && !revocations.synced) {
      await revocations.ready().catch(() => refuse("revocations_unavailable"));
    }
    let claims: AccessTokenClaims;
    if (opaque === undefined) {
      claims = await verifyJwtToken(token);
    } else {
      const entry = await introspection.check(token, hashToken(token), opaque.kind);
      if (!entry.active) refuse(entry.reason);
      if (entry.allowsIp !== undefined && !entry.allowsIp(options.ip)) refuse("ip_not_allowed");
      claims = entry.claims;
    }
    if (revocations?.isRevoked(claims)) refuse("revoked");
    checkStepUp(claims, requirements);
    if (requirements.scopes.some((scope) => !claims.scopes.includes(scope))) {
      refuse("scope_missing", { scope: requirements.scopes });
    }
    return claims;
  }

  function checkStepUp(claims: AccessTokenClaims, { acrValues, maxAge }: CheckedRequirements): void {
    if (acrValues === undefined && maxAge === undefined) return;
    const challenge = { acrValues, maxAge };
    if (acrValues !== undefined && (claims.acr === undefined || !acrValues.includes(claims.acr))) {
      refuse("acr_not_accepted", challenge);
    }
    if (maxAge !== undefined) {
      const age = Math.floor(now() / 1000) - (claims.auth_time ?? Number.NEGATIVE_INFINITY);
      if (age > maxAge + tolerance) refuse("auth_time_too_old", challenge);
    }
  }

  const NO_REQUIREMENTS = checkRequirements(undefined);
  /** A route's requirements object is checked once (adapters pass the same object on every request). */
  const routeRequirements = new WeakMap<Requirements, CheckedRequirements>();
  function checked(r: Requirements | undefined): CheckedRequirements {
    if (r === undefined) return NO_REQUIREMENTS;
    let c = routeRequirements.get(r);
    if (c === undefined) {
      c = checkRequirements(r);
      routeRequirements.set(r, c);
    }
    return c;
  }

  return {
    async verify(token, verifyOptions = {}) {
      try {
        return await verifyToken(token, verifyOptions, checkRequirements(verifyOptions));
      } catch (error) {
        throw toVerifyError(error);
      }
    },

    async authenticate(request, requirements) {
      const header = parseAuthorization(request.authorization);
      if (hasQueryToken(request.url)) refuse("token_in_query");
      if (header.kind === "none") refuse("no_token");
      if (header.kind === "malformed") refuse("header_malformed");
      try {
        return await verifyToken(header.token, { ip: request.ip }, checked(requirements));
      } catch (error) {
        throw toVerifyError(error);
      }
    },

    async ready() {
      try {
        await discovery.get();
        await keys.ensureLoaded();
        await revocations?.ready();
      } catch (error) {
        throw toVerifyError(error);
      }
    },

    close() {
      revocations?.close();
    },
  };
}
