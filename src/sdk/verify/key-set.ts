/**
 * The issuer's signing keys (JWKS, RFC 7517 §5), cached and refreshed without ever fetching per request.
 *
 * - Loaded on first use. Kept for the answer's `Cache-Control: max-age`, clamped to [`minAge`, `maxAge`]
 *   (no max-age, `no-cache` or `no-store`: `minAge`); a stale set keeps serving while one background refresh
 *   runs. Tessera publishes a key at least one max-age before signing with it, so a verifier that honours
 *   max-age rarely meets an unknown `kid`.
 * - An unknown `kid` triggers a refetch, but at most one per `refetchInterval` (counting every fetch): a
 *   burst of forged kids costs Tessera one request. Concurrent callers share one fetch.
 * - A failed refresh keeps the keys already known, and the next one waits `refetchInterval`: an outage of the
 *   JWKS endpoint does not stop tokens signed by known keys, nor draw a request per incoming request. With no keys at all the caller fails closed (`jwks_unavailable`), and the load is retried
 *   at most every 2 seconds.
 * - Only usable signature keys are imported: `kid` present, `use` absent or `sig`, an algorithm the verifier
 *   accepts (the JWK's `alg`, or the only one its type allows: OKP Ed25519 → EdDSA, EC P-256 → ES256,
 *   RSA → RS256), RSA keys of at least 2048 bits. The rest are skipped, not fatal.
 */
import { createPublicKey } from "node:crypto";
import type { JwsAlgorithm, VerificationKey } from "../../crypto/jwt/policy.js";
import { fetchJsonObject, type HttpContext, UpstreamError } from "./http.js";

export interface KeySetOptions {
  http: HttpContext;
  jwksUri: () => Promise<string>;
  algorithms: readonly JwsAlgorithm[];
  /** Seconds. */
  minAge: number;
  /** Seconds. */
  maxAge: number;
  /** Seconds between two fetches caused by unknown kids or failures. */
  refetchInterval: number;
  now: () => number;
  onWarning: (message: string) => void;
}

/** With no keys at all, a failed load is retried after this long (or `refetchInterval`, if shorter). */
const NO_KEYS_RETRY_MS = 2_000;

function algorithmOf(jwk: Record<string, unknown>): JwsAlgorithm | undefined {
  const implied =
    jwk.kty === "OKP" && jwk.crv === "Ed25519"
      ? "EdDSA"
      : jwk.kty === "EC" && jwk.crv === "P-256"
        ? "ES256"
        : jwk.kty === "RSA"
          ? "RS256"
          : undefined;
  return jwk.alg === undefined || jwk.alg === implied ? implied : undefined;
}

function importKeys(
  body: Record<string, unknown>,
  algorithms: readonly JwsAlgorithm[],
): Map<string, VerificationKey> {
  if (!Array.isArray(body.keys)) throw new UpstreamError("jwks", "no keys array");
  const keys = new Map<string, VerificationKey>();
  for (const jwk of body.keys as unknown[]) {
    if (typeof jwk !== "object" || jwk === null) continue;
    const { kid, use } = jwk as Record<string, unknown>;
    const alg = algorithmOf(jwk as Record<string, unknown>);
    if (typeof kid !== "string" || kid === "" || (use !== undefined && use !== "sig")) continue;
    if (alg === undefined || !algorithms.includes(alg) || keys.has(kid)) continue;
    try {
      const publicKey = createPublicKey({ key: jwk as import("node:crypto").JsonWebKey, format: "jwk" });
      if (publicKey.type !== "public") continue;
      if (alg === "RS256" && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) continue;
      keys.set(kid, Object.freeze({ kid, alg, publicKey }));
    } catch {
      // Not an importable key: skipped like any other unusable entry.
    }
  }
  return keys;
}

function maxAgeOf(cacheControl: string | null): number | undefined {
  if (cacheControl === null || /(?:^|,)\s*no-(?:cache|store)\b/i.test(cacheControl)) return undefined;
  const match = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl);
  return match ? Number(match[1]) : undefined;
}

export function createKeySet(options: KeySetOptions) {
  const { http, now } = options;
  let keys: Map<string, VerificationKey> | undefined;
  let freshUntil = 0;
  let lastFetchAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | undefined;

  async function fetchKeys(): Promise<void> {
    lastFetchAt = now();
    let loaded: Map<string, VerificationKey>;
    let headers: Headers;
    try {
      const answer = await fetchJsonObject(http, "jwks", await options.jwksUri(), {
        headers: { accept: "application/jwk-set+json, application/json" },
      });
      headers = answer.headers;
      loaded = importKeys(answer.body, options.algorithms);
    } catch (error) {
      // Keep the keys in hand; the next background refresh waits `refetchInterval`.
      freshUntil = Math.max(freshUntil, now() + options.refetchInterval * 1000);
      throw error;
    }
    const age = Math.min(
      options.maxAge,
      Math.max(options.minAge, maxAgeOf(headers.get("cache-control")) ?? 0),
    );
    keys = loaded;
    freshUntil = now() + age * 1000;
  }

  /** One fetch at a time; callers share it. */
  function refresh(): Promise<void> {
    pending ??= fetchKeys().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    /** The key for `kid`, from the keys in hand (synchronous: the hot path). */
    get(kid: string): VerificationKey | undefined {
      return keys?.get(kid);
    },

    /** Makes sure keys are loaded; throws `UpstreamError` when there are none and they cannot be fetched. */
    async ensureLoaded(): Promise<void> {
      if (keys !== undefined) {
        if (now() >= freshUntil && pending === undefined) {
          // Stale: refresh in the background, keep serving the keys in hand.
          refresh().catch((error: unknown) =>
            options.onWarning(`JWKS refresh failed (${(error as Error).message})`),
          );
        }
        return;
      }
      if (pending !== undefined) return pending;
      // Nothing to serve with: retry sooner than for unknown kids, still not once per request.
      if (now() - lastFetchAt < Math.min(options.refetchInterval * 1000, NO_KEYS_RETRY_MS)) {
        throw new UpstreamError("jwks", "unavailable");
      }
      return refresh();
    },

    /**
     * Refetches after an unknown `kid`, unless a fetch happened within `refetchInterval`. Resolves true when
     * new keys may have arrived; failures resolve false (the keys in hand stay).
     */
    async refetchForUnknownKid(): Promise<boolean> {
      if (pending === undefined && now() - lastFetchAt < options.refetchInterval * 1000) return false;
      try {
        await refresh();
        return true;
      } catch (error) {
        options.onWarning(`JWKS refetch failed (${(error as Error).message})`);
        return false;
      }
    },
  };
}

export type KeySet = ReturnType<typeof createKeySet>;
