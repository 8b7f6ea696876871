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
 * - Every time, cached or not: the revocation feed's state (`jti`, or `sub` + `iat`), the DPoP binding, then the
 *   route's requirements: step-up (`acr_values`, `max_age`: 401 `insufficient_user_authentication`) and scopes
 *   (403).
 * - DPoP (RFC 9449 §7): a token with `cnf.jkt` is accepted only with the `DPoP` scheme and one `DPoP` proof that
 *   `verifyDpopProof` (src/lib/dpop.ts) accepts for this request's method and full URL and this token (`ath`),
 *   made with the bound key, and never seen before (`dpopReplayCache`). The proof is checked before any network
 *   call and on every request: the caches hold the token's verdict, never a proof's. A bound token sent as a
 *   bearer token is refused (§7.2), so is an unbound one sent with the `DPoP` scheme, and with
 *   `dpop: "required"` every token that is not bound.
 * - Encrypted access tokens (JWE, `decryptionKeys`): decrypted with this resource server's private key
 *   (decrypt.ts), then the signed JWT inside is verified as above; the verdict is cached by the encrypted
 *   token's SHA-256. Without `decryptionKeys` an encrypted token is refused; with `requireEncryption`, so is a
 *   signed token that was not encrypted.
 * - Tessera unreachable with nothing cached to decide by: 503 `temporarily_unavailable`. Never a pass.
 */
import { hashToken } from "../../crypto/hash.js";
import { JWS_ALGORITHMS, type JwsAlgorithm, MAX_CLOCK_TOLERANCE } from "../../crypto/jwt/policy.js";
import { verifyJwt } from "../../crypto/jwt/verify.js";
import {
  createMemoryDpopReplayCache,
  DEFAULT_DPOP_MAX_AGE,
  DPOP_ALGORITHMS,
  DpopProofError,
  type DpopReplayCache,
  type VerifiedDpopProof,
  verifyDpopProof,
} from "../../lib/dpop.js";
import { TokenError } from "../../lib/errors.js";
import { type DpopHeader, hasQueryToken, parseAuthorization, readDpopHeader } from "./authorization.js";
import {
  type AccessTokenClaims,
  type CheckedRequirements,
  checkRequirements,
  claimsFromJwt,
  type Requirements,
} from "./claims.js";
import { type DecryptionKeyInput, decryptAccessToken, decryptionKeysOf, looksEncrypted } from "./decrypt.js";
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
  /**
   * DPoP (RFC 9449): `"allowed"` (default) accepts bearer tokens, and DPoP-bound tokens with their proof;
   * `"required"` refuses every token that is not DPoP-bound (`dpop_required` / `dpop_not_bound`).
   */
  dpop?: "allowed" | "required";
  /**
   * This resource server's public origin as clients address it (`https://api.example.com`, no path), for
   * checking a DPoP proof's `htu`. Set, it replaces the scheme, host and port of the request URL (only its path
   * and query are used); unset, the request URL must be absolute (the adapters build it from the request's
   * `Host`, or the framework's trusted-proxy view of it). Set it behind proxies and in production.
   */
  publicOrigin?: string;
  /**
   * Where used DPoP proofs are remembered until they expire, so each is accepted once (default: in this
   * process's memory, `createMemoryDpopReplayCache`). Pass a shared one when several instances serve the API.
   */
  dpopReplayCache?: DpopReplayCache;
  /**
   * Encrypted access tokens (JWE): this resource server's private keys, when Tessera encrypts its access tokens
   * to it (the admin API's `encryption` of the resource server). A `KeyObject`, `CryptoKey`, private JWK, or
   * `{ key, kid }`; RSA keys for RSA-OAEP-256, EC (P-256, P-384, P-521) or X25519 keys for ECDH-ES+A256KW. An
   * encrypted token is decrypted, then verified like any JWT. Without it, encrypted tokens are refused.
   * @see RFC 7516, docs/sdk.md "Encrypted access tokens"
   */
  decryptionKeys?: readonly DecryptionKeyInput[];
  /** With `decryptionKeys`: refuse signed JWT access tokens that were not encrypted (default false). */
  requireEncryption?: boolean;
  /** Accepted DPoP proof algorithms, a non-empty subset of `DPOP_ALGORITHMS` (default all of them). */
  dpopAlgorithms?: readonly string[];
  /** How old a DPoP proof's `iat` may be, seconds, 1–300 (default 60). */
  dpopMaxAge?: number;
}

/** The DPoP proof a token was presented with, for `verify` (the adapters' `authenticate` reads it itself). */
export interface DpopContext {
  /** The `DPoP` header value(s) of the request; anything but exactly one proof is refused. */
  proof: string | readonly string[] | null | undefined;
  /** The request's method (`GET`, `POST`, …). */
  method: string;
  /** The request URL: absolute, or path + query when the verifier has `publicOrigin` (which wins anyway). */
  url: string;
}

/** Per-call options of `verify`: the route's requirements, the caller's address and the DPoP proof. */
export interface VerifyOptions extends Requirements {
  /** The caller's IP address, for API tokens restricted to some networks. */
  ip?: string | undefined;
  /**
   * The token was presented with the `DPoP` scheme (`Authorization: DPoP <token>`) and this proof. Without
   * it a DPoP-bound token is refused (`dpop_bound`); with it, a token that is not bound is refused
   * (`dpop_not_bound`).
   */
  dpop?: DpopContext | undefined;
}

/** What an adapter knows about a request. */
export interface RequestInfo {
  /** The `Authorization` header value(s). */
  authorization: string | readonly string[] | null | undefined;
  /** The caller's IP address. */
  ip?: string | undefined;
  /**
   * The request URL, to refuse tokens sent in the query (path and query suffice for that) and to check a DPoP
   * proof's `htu` (which needs the absolute URL, unless the verifier has `publicOrigin`).
   */
  url?: string | undefined;
  /**
   * The request's method. Without it the `DPoP` scheme is not recognised (a proof's `htm` could not be
   * checked): `Authorization: DPoP …` then counts as no token, as before DPoP support. Every adapter sets it.
   */
  method?: string | undefined;
  /** The `DPoP` header value(s): the proof (RFC 9449 §4). */
  dpop?: string | readonly string[] | null | undefined;
}

export interface Verifier {
  /**
   * Verifies an access token and the route's requirements; resolves to its claims or throws `VerifyError`.
   * A DPoP-bound token needs `options.dpop` (the proof, method and URL of the request it came with).
   * @see RFC 9068 §4, RFC 7662, RFC 6750 §3.1, RFC 9470 §3, RFC 9449 §7
   */
  verify(token: string, options?: VerifyOptions): Promise<AccessTokenClaims>;
  /**
   * Reads the token from a request's `Authorization` header (`Bearer`, RFC 6750 §2.1; `DPoP` with its proof,
   * RFC 9449 §7.1) and verifies it.
   * @see RFC 6750 §2.1, §3, RFC 9449 §7
   */
  authenticate(request: RequestInfo, requirements?: Requirements): Promise<AccessTokenClaims>;
  /** Loads discovery and keys and the first revocation state; rejects while Tessera cannot be reached. */
  ready(): Promise<void>;
  /**
   * Refuses, from now on, every token of `sub` issued at or before `at` (epoch ms; `iat * 1000 <= at`) and
   * drops the cached verdicts of the subject's tokens: what a `sub` event of the revocation feed does, for a
   * revocation learned another way, such as a Shared Signals event (`tessera/verify/ssf` calls it). `id`
   * de-duplicates: the same id applied twice counts once.
   */
  revokeSubject(sub: string, at: number, id?: string): void;
  /** Stops the revocation feed's timer. */
  close(): void;
}

interface JwtEntry {
  readonly claims: AccessTokenClaims;
  readonly kid: string;
  readonly until: number;
}

/** How a token was presented: as a bearer token, or with the `DPoP` scheme and a proof. */
type Presentation =
  | { readonly scheme: "Bearer" }
  | {
      readonly scheme: "DPoP";
      readonly proof: DpopHeader;
      readonly method: string;
      readonly url: string | undefined;
    };

const BEARER: Presentation = Object.freeze({ scheme: "Bearer" });
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

/** `https://host[:port]`, from an origin given with or without a trailing slash; TypeError for anything else. */
function originOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(String(value));
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== "https:" && url.protocol !== "http:") ||
    url.pathname !== "/" ||
    url.search !== "" ||
    url.hash !== "" ||
    url.username !== "" ||
    url.password !== ""
  ) {
    throw new TypeError("publicOrigin must be an http(s) origin such as https://api.example.com");
  }
  return url.origin;
}

/** The path and query of a request URL, absolute or already path + query; undefined if neither. */
function pathAndQuery(url: string): string | undefined {
  if (url.startsWith("/")) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return undefined;
  }
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
  const dpopMode = options.dpop ?? "allowed";
  if (dpopMode !== "allowed" && dpopMode !== "required")
    throw new TypeError('dpop must be "allowed" or "required"');
  const publicOrigin = originOption(options.publicOrigin);
  const dpopAlgorithms = [...(options.dpopAlgorithms ?? DPOP_ALGORITHMS)];
  if (
    dpopAlgorithms.length === 0 ||
    !dpopAlgorithms.every((alg) => (DPOP_ALGORITHMS as readonly string[]).includes(alg))
  ) {
    throw new TypeError(`dpopAlgorithms must be a non-empty subset of ${DPOP_ALGORITHMS.join(", ")}`);
  }
  const dpopMaxAge = numberOption(options.dpopMaxAge, DEFAULT_DPOP_MAX_AGE, 1, 300, "dpopMaxAge");
  const decryptionKeys =
    options.decryptionKeys === undefined ? undefined : decryptionKeysOf(options.decryptionKeys);
  if (options.requireEncryption === true && decryptionKeys === undefined) {
    throw new TypeError("requireEncryption needs decryptionKeys");
  }
  const requireEncryption = options.requireEncryption === true;
  const replayCache = options.dpopReplayCache ?? createMemoryDpopReplayCache({ now });
  /** The challenge base of a request answered in the `Bearer` scheme, and in the `DPoP` scheme. */
  const bearerChallenge: ChallengeParameters = Object.freeze({ realm });
  const dpopChallenge: ChallengeParameters = Object.freeze({
    realm,
    scheme: "DPoP",
    dpopAlgs: dpopAlgorithms,
  });

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
  // The revocation state always exists: fed by the feed (with credentials, unless turned off) and by
  // `revokeSubject` (Shared Signals events, `tessera/verify/ssf`).
  const polled = credentials !== undefined && feedOptions !== undefined;
  const revocations = createRevocations({
    http,
    ...(polled
      ? {
          endpoint: async () => (await discovery.get()).revocationsEndpoint,
          authorization: basicAuthorization(credentials.clientId, credentials.clientSecret),
        }
      : {}),
    intervalMs:
      feedOptions?.intervalMs === undefined
        ? undefined
        : numberOption(feedOptions.intervalMs, 500, 50, 60_000, "revocations.intervalMs"),
    retentionMs: numberOption(feedOptions?.retention, 2100, 60, 86_400, "revocations.retention") * 1000,
    now,
    onWarning,
    onEvent: (event) => {
      const hit = (c: AccessTokenClaims) =>
        event.type === "jti" ? c.jti === event.value : c.sub === event.value;
      jwtCache.deleteWhere((entry) => hit(entry.claims));
      introspection.forget(hit);
    },
  });
  revocations.start();

  /** Throws the refusal, answered in the scheme of `challenge` (a base from above, plus any parameters). */
  function refuse(reason: RefusalReason, challenge: ChallengeParameters): never {
    throw new VerifyError(reason, challenge);
  }

  /** Internal failures become the one public error type; anything else is a bug and propagates. */
  function toVerifyError(error: unknown, challenge: ChallengeParameters): unknown {
    if (error instanceof VerifyError) return error;
    if (error instanceof Refusal) return new VerifyError(error.reason, challenge);
    if (error instanceof TokenError) return new VerifyError(error.reason, challenge);
    if (error instanceof UpstreamError) return new VerifyError(UNAVAILABLE[error.source], challenge);
    return error;
  }

  /** The challenge base for a token presented this way. */
  function challengeFor(presentation: Presentation): ChallengeParameters {
    return presentation.scheme === "DPoP" || dpopMode === "required" ? dpopChallenge : bearerChallenge;
  }

  /** The full request URL a proof's `htu` must match, or undefined when it cannot be known. */
  function requestUrl(url: string | undefined): string | undefined {
    if (url === undefined) return undefined;
    if (publicOrigin !== undefined) {
      const path = pathAndQuery(url);
      return path === undefined ? undefined : `${publicOrigin}${path}`;
    }
    return /^https?:\/\//i.test(url) ? url : undefined;
  }

  /** RFC 9449 §4.3 on the request's proof, offline (replay is checked once the token is known good). */
  function checkProof(
    token: string,
    presentation: Extract<Presentation, { scheme: "DPoP" }>,
    challenge: ChallengeParameters,
  ): VerifiedDpopProof {
    const { proof } = presentation;
    if (proof.kind === "missing") refuse("dpop_proof_missing", challenge);
    if (proof.kind === "multiple") refuse("dpop_proof_multiple", challenge);
    const url = requestUrl(presentation.url);
    if (url === undefined) refuse("dpop_url_unknown", challenge);
    try {
      return verifyDpopProof(proof.proof, {
        method: presentation.method,
        url,
        accessToken: token,
        now: now(),
        maxAge: dpopMaxAge,
        algorithms: dpopAlgorithms,
      });
    } catch (error) {
      if (error instanceof DpopProofError) refuse(`dpop_proof_${error.reason}`, challenge);
      throw error;
    }
  }

  /** The token's binding against how it was presented (RFC 9449 §7.1, §7.2), then the proof's first use. */
  /** A token presented without a proof (synchronous: the common bearer path pays no extra await). */
  function checkUnproved(claims: AccessTokenClaims, challenge: ChallengeParameters): void {
    // Bound but shown as a bearer token: the Bearer challenge, then a DPoP one naming the algorithms.
    if (claims.cnf?.jkt !== undefined) refuse("dpop_bound", { ...challenge, dpopAlgs: dpopAlgorithms });
    if (dpopMode === "required") refuse("dpop_required", challenge);
  }

  async function checkBinding(
    claims: AccessTokenClaims,
    proof: VerifiedDpopProof,
    challenge: ChallengeParameters,
  ): Promise<void> {
    const jkt = claims.cnf?.jkt;
    if (jkt === undefined) refuse("dpop_not_bound", challenge);
    if (jkt !== proof.jkt) refuse("dpop_key_mismatch", challenge);
    let first: boolean;
    try {
      first = await replayCache.firstUse(proof);
    } catch {
      onWarning("The DPoP replay cache failed; DPoP requests are refused until it answers.");
      refuse("dpop_replay_unavailable", challenge);
    }
    if (!first) refuse("dpop_proof_replayed", challenge);
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

  /** `token` as presented (cached by it); `encrypted`: a JWE, whose signed JWT is verified once decrypted. */
  async function verifyJwtToken(token: string, encrypted: boolean): Promise<AccessTokenClaims> {
    const hash = hashToken(token);
    const cached = jwtCache.get(hash, now());
    // A key withdrawn from the JWKS takes its tokens with it, cached or not.
    if (cached !== undefined && keys.get(cached.kid) !== undefined) return cached.claims;
    const signed = encrypted ? await decryptAccessToken(token, decryptionKeys ?? []) : token;
    await keys.ensureLoaded();
    let entry: JwtEntry;
    try {
      entry = checkJwt(signed);
    } catch (error) {
      if (!(error instanceof TokenError && error.reason === "key_unknown")) throw error;
      if (!(await keys.refetchForUnknownKid())) throw error;
      entry = checkJwt(signed);
    }
    jwtCache.set(hash, entry);
    return entry.claims;
  }

  async function verifyToken(
    token: string,
    presentation: Presentation,
    ip: string | undefined,
    requirements: CheckedRequirements,
  ): Promise<AccessTokenClaims> {
    const challenge = challengeFor(presentation);
    try {
      if (typeof token !== "string" || token === "") refuse("malformed", challenge);
      // Shape first: a token that cannot be one of Tessera's costs no network call and waits for nothing.
      const opaque = classifyOpaqueToken(token);
      const encrypted = opaque === undefined && looksEncrypted(token);
      if (opaque === undefined && !encrypted && !JWT_SHAPE.test(token)) refuse("prefix_unknown", challenge);
      if (encrypted && decryptionKeys === undefined) refuse("decryption_not_configured", challenge);
      if (opaque === undefined && !encrypted && requireEncryption) refuse("encryption_required", challenge);
      if (opaque !== undefined && !opaque.wellFormed) refuse("checksum_invalid", challenge);
      // A bearer token where DPoP is required: refused whatever it is, and before any network call.
      if (presentation.scheme === "Bearer" && dpopMode === "required") refuse("dpop_required", challenge);
      // The proof too is checked offline, before anything waits for Tessera.
      const proof = presentation.scheme === "DPoP" ? checkProof(token, presentation, challenge) : undefined;
      if (revocations !== undefined && !revocations.synced) {
        await revocations.ready().catch(() => refuse("revocations_unavailable", challenge));
      }
      let claims: AccessTokenClaims;
      if (opaque === undefined) {
        claims = await verifyJwtToken(token, encrypted);
      } else {
        const entry = await introspection.check(token, hashToken(token), opaque.kind);
        if (!entry.active) refuse(entry.reason, challenge);
        if (entry.allowsIp !== undefined && !entry.allowsIp(ip)) refuse("ip_not_allowed", challenge);
        claims = entry.claims;
      }
      if (revocations?.isRevoked(claims)) refuse("revoked", challenge);
      // Cached or not, the binding and this request's proof, every time.
      if (proof === undefined) checkUnproved(claims, challenge);
      else await checkBinding(claims, proof, challenge);
      checkStepUp(claims, requirements, challenge);
      if (requirements.scopes.some((scope) => !claims.scopes.includes(scope))) {
        refuse("scope_missing", { ...challenge, scope: requirements.scopes });
      }
      return claims;
    } catch (error) {
      throw toVerifyError(error, challenge);
    }
  }

  function checkStepUp(
    claims: AccessTokenClaims,
    { acrValues, maxAge }: CheckedRequirements,
    base: ChallengeParameters,
  ): void {
    if (acrValues === undefined && maxAge === undefined) return;
    const challenge = { ...base, acrValues, maxAge };
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
    // Not `async`: returning verifyToken's promise as is saves the ticks of wrapping it in another one. Nothing
    // here throws synchronously except checkRequirements, whose TypeError (a programming error) is caught below.
    verify(token, verifyOptions = {}) {
      const { dpop } = verifyOptions;
      const presentation: Presentation =
        dpop === undefined
          ? BEARER
          : { scheme: "DPoP", proof: readDpopHeader(dpop.proof), method: dpop.method, url: dpop.url };
      try {
        return verifyToken(token, presentation, verifyOptions.ip, checkRequirements(verifyOptions));
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async authenticate(request, requirements) {
      // The DPoP scheme needs the method for the proof's `htm`; a caller that gives none has not opted in.
      const method = request.method;
      const header = parseAuthorization(request.authorization, { dpop: method !== undefined });
      const presentation: Presentation =
        header.kind === "dpop" && method !== undefined
          ? { scheme: "DPoP", proof: readDpopHeader(request.dpop), method, url: request.url }
          : BEARER;
      // A malformed `DPoP` header is answered in the scheme it tried to use.
      const challenge =
        header.kind === "malformed" && header.scheme === "dpop" ? dpopChallenge : challengeFor(presentation);
      if (hasQueryToken(request.url)) refuse("token_in_query", challenge);
      if (header.kind === "none") refuse("no_token", challenge);
      if (header.kind === "malformed") refuse("header_malformed", challenge);
      return verifyToken(header.token, presentation, request.ip, checked(requirements));
    },

    async ready() {
      try {
        await discovery.get();
        await keys.ensureLoaded();
        await revocations?.ready();
      } catch (error) {
        throw toVerifyError(error, bearerChallenge);
      }
    },

    revokeSubject(sub, at, id) {
      if (typeof sub !== "string" || sub === "" || !Number.isFinite(at)) {
        throw new TypeError("revokeSubject needs a subject and a time in epoch milliseconds");
      }
      revocations.apply({ id: id ?? `local:${sub}:${at}`, type: "sub", value: sub, at });
    },

    close() {
      revocations.close();
    },
  };
}
