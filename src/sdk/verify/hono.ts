/**
 * Hono adapter: `requireAuth(verifier, requirements)` is middleware that verifies the access token (bearer, or
 * DPoP-bound with its proof) and sets `c.get("auth")`, or answers the refusal (RFC 6750 / RFC 9449 status,
 * `WWW-Authenticate`, JSON body).
 *
 * - Hono has no runtime-neutral client address: by default the Node server's socket address
 *   (`c.env.incoming.socket.remoteAddress`, as `@hono/node-server` provides) is used; pass `getIp` for
 *   other runtimes or to read a trusted proxy header. Without an address, network-restricted API tokens
 *   are refused.
 * - For DPoP it passes `c.req.method`, the `DPoP` header and `c.req.url` (absolute: on Node, built from the
 *   `Host` header); behind a proxy set the verifier's `publicOrigin`.
 * - Hono is imported for types only.
 *
 * @example
 * const app = new Hono<TesseraAuthEnv>();
 * app.get("/orders", requireAuth(verifier, { scopes: ["orders:read"] }), (c) => c.json({ user: c.get("auth").sub }));
 */
import type { Context, MiddlewareHandler } from "hono";
import { type AccessTokenClaims, checkRequirements, type Requirements } from "./claims.js";
import { VerifyError } from "./errors.js";
import { refusalResponse } from "./response.js";
import type { Verifier } from "./verifier.js";

/** The Hono environment the middleware provides: `c.get("auth")`. */
export interface TesseraAuthEnv {
  Variables: { auth: AccessTokenClaims };
}

export interface HonoAuthOptions extends Requirements {
  /** The caller's IP address (default: the Node server's socket address, if any). */
  getIp?: (c: Context) => string | undefined;
}

function nodeSocketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: unknown } } } | undefined;
  const address = env?.incoming?.socket?.remoteAddress;
  return typeof address === "string" ? address : undefined;
}

/**
 * Hono middleware: verifies the request's bearer token against the requirements and sets `c.get("auth")`.
 * @see RFC 6750 §2.1, §3
 */
export function requireAuth(
  verifier: Verifier,
  options: HonoAuthOptions = {},
): MiddlewareHandler<TesseraAuthEnv> {
  const { getIp = nodeSocketAddress, ...requirements } = options;
  checkRequirements(requirements);
  return async (c, next) => {
    let claims: AccessTokenClaims;
    try {
      claims = await verifier.authenticate(
        {
          authorization: c.req.header("authorization"),
          ip: getIp(c),
          url: c.req.url,
          method: c.req.method,
          dpop: c.req.header("dpop"),
        },
        requirements,
      );
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      const { status, headers, body } = refusalResponse(error);
      return c.body(body, status as 400 | 401 | 403 | 503, headers);
    }
    c.set("auth", claims);
    await next();
  };
}

export type { AccessTokenClaims, Requirements } from "./claims.js";
export { VerifyError } from "./errors.js";
