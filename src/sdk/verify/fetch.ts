/**
 * Adapter for anything built on the Fetch API (`Request` → `Response`): Deno, Bun, Cloudflare Workers,
 * Next.js route handlers, or Node's own `fetch` types.
 *
 * - `createRequestVerifier(verifier, requirements)` returns `(request, { ip }) => claims`, throwing
 *   `VerifyError`; `errorResponse(error)` turns that error into the RFC 6750 `Response`.
 * - A `Request` carries no client address; pass `ip` when API tokens may be restricted to networks (without
 *   it, a restricted token is refused).
 * - For DPoP it passes `request.method`, `request.url` (absolute) and the `DPoP` header (several values
 *   arrive joined with commas and are refused). Behind a proxy that rewrites the URL, set the verifier's
 *   `publicOrigin`.
 *
 * @example
 * const auth = createRequestVerifier(verifier, { scopes: ["orders:read"] });
 * export async function GET(request: Request) {
 *   try {
 *     const claims = await auth(request);
 *     return Response.json({ hello: claims.sub });
 *   } catch (error) {
 *     if (error instanceof VerifyError) return errorResponse(error);
 *     throw error;
 *   }
 * }
 */
import { type AccessTokenClaims, checkRequirements, type Requirements } from "./claims.js";
import type { VerifyError } from "./errors.js";
import { refusalResponse } from "./response.js";
import type { Verifier } from "./verifier.js";

/**
 * Verifies the bearer token of a Fetch API `Request` against `requirements`.
 * @see RFC 6750 §2.1
 */
export function createRequestVerifier(
  verifier: Verifier,
  requirements: Requirements = {},
): (request: Request, context?: { ip?: string | undefined }) => Promise<AccessTokenClaims> {
  checkRequirements(requirements);
  return (request, context) =>
    verifier.authenticate(
      {
        authorization: request.headers.get("authorization"),
        ip: context?.ip,
        url: request.url,
        method: request.method,
        dpop: request.headers.get("dpop"),
      },
      requirements,
    );
}

/**
 * The `Response` for a refused request (status, `WWW-Authenticate`, JSON body).
 * @see RFC 6750 §3
 */
export function errorResponse(error: VerifyError): Response {
  const { status, headers, body } = refusalResponse(error);
  return new Response(body, { status, headers });
}

export type { AccessTokenClaims, Requirements } from "./claims.js";
export { VerifyError } from "./errors.js";
