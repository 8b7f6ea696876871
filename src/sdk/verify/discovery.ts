/**
 * The issuer's metadata (`/.well-known/openid-configuration`), read once.
 *
 * - The document's `issuer` must equal the configured issuer exactly (RFC 8414 §3.3), so a verifier pointed
 *   at the wrong server, or one answering for another issuer, refuses everything instead of trusting it.
 * - `jwks_uri` is required; `introspection_endpoint` and `tessera_revocations_endpoint` are optional (no
 *   opaque tokens or no revocation feed without them). Each must pass `checkEndpoint`.
 * - A success is kept for the verifier's life; a failure is remembered for `RETRY_AFTER_MS`, so an outage
 *   costs one request to Tessera per period, not one per incoming request. Concurrent callers share one call.
 */
import { checkEndpoint, fetchJsonObject, type HttpContext, UpstreamError } from "./http.js";

export interface IssuerMetadata {
  jwksUri: string;
  introspectionEndpoint: string | undefined;
  revocationsEndpoint: string | undefined;
}

const RETRY_AFTER_MS = 2_000;

export function createDiscovery(deps: { http: HttpContext; issuer: string; now: () => number }) {
  const { http, issuer, now } = deps;
  let metadata: IssuerMetadata | undefined;
  let pending: Promise<IssuerMetadata> | undefined;
  let failure: { error: UpstreamError; at: number } | undefined;

  function optionalEndpoint(value: unknown, what: string): string | undefined {
    return value === undefined ? undefined : checkEndpoint(value, http.allowHttp, what).href;
  }

  async function load(): Promise<IssuerMetadata> {
    const { body } = await fetchJsonObject(http, "discovery", `${issuer}/.well-known/openid-configuration`);
    if (body.issuer !== issuer) throw new UpstreamError("discovery", "the document is for another issuer");
    try {
      return {
        jwksUri: checkEndpoint(body.jwks_uri, http.allowHttp, "jwks_uri").href,
        introspectionEndpoint: optionalEndpoint(body.introspection_endpoint, "introspection_endpoint"),
        revocationsEndpoint: optionalEndpoint(
          body.tessera_revocations_endpoint,
          "tessera_revocations_endpoint",
        ),
      };
    } catch (error) {
      throw new UpstreamError("discovery", (error as Error).message);
    }
  }

  return {
    /** The metadata; throws `UpstreamError` while Tessera cannot be reached. */
    get(): Promise<IssuerMetadata> {
      if (metadata !== undefined) return Promise.resolve(metadata);
      if (pending !== undefined) return pending;
      if (failure !== undefined && now() - failure.at < RETRY_AFTER_MS) return Promise.reject(failure.error);
      pending = load().then(
        (loaded) => {
          metadata = loaded;
          pending = undefined;
          return loaded;
        },
        (error: unknown) => {
          pending = undefined;
          const upstream = error instanceof UpstreamError ? error : new UpstreamError("discovery", "failed");
          failure = { error: upstream, at: now() };
          throw upstream;
        },
      );
      return pending;
    },
  };
}

export type Discovery = ReturnType<typeof createDiscovery>;
