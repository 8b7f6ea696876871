/**
 * Express adapter: `requireAuth(verifier, requirements)` is middleware that verifies the access token (bearer,
 * or DPoP-bound with its proof) and puts its claims on `req.auth`, or answers the refusal itself (RFC 6750 /
 * RFC 9449 status, `WWW-Authenticate`, JSON body).
 *
 * - The caller's address is `req.ip`, so Express's `trust proxy` setting decides whether `X-Forwarded-For`
 *   counts (it matters for API tokens restricted to networks).
 * - For DPoP it passes `req.method`, the `DPoP` header, and the URL `req.protocol://req.host` +
 *   `req.originalUrl` (both honour `trust proxy`); the verifier's `publicOrigin`, when set, replaces the origin.
 * - Express is imported for types only; errors other than refusals go to `next(error)`.
 *
 * @example
 * app.get("/orders", requireAuth(verifier, { scopes: ["orders:read"] }), (req, res) => {
 *   res.json({ user: req.auth?.sub });
 * });
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { type AccessTokenClaims, checkRequirements, type Requirements } from "./claims.js";
import { VerifyError } from "./errors.js";
import { refusalResponse } from "./response.js";
import type { Verifier } from "./verifier.js";

declare global {
  namespace Express {
    interface Request {
      /** The verified access token's claims (set by Tessera's `requireAuth`). */
      auth?: AccessTokenClaims;
    }
  }
}

/** The request's absolute URL as Express sees it; path + query only when there is no `Host`. */
function requestUrl(req: Request): string {
  const host = req.host;
  return host ? `${req.protocol}://${host}${req.originalUrl}` : req.originalUrl;
}

/**
 * Express middleware: verifies the request's bearer token against `requirements` and sets `req.auth`.
 * @see RFC 6750 §2.1, §3
 */
export function requireAuth(verifier: Verifier, requirements: Requirements = {}): RequestHandler {
  checkRequirements(requirements);
  return (req: Request, res: Response, next: NextFunction) => {
    verifier
      .authenticate(
        {
          authorization: req.headers.authorization,
          ip: req.ip,
          url: requestUrl(req),
          method: req.method,
          dpop: req.headers.dpop,
        },
        requirements,
      )
      .then(
        (claims) => {
          req.auth = claims;
          next();
        },
        (error: unknown) => {
          if (!(error instanceof VerifyError)) return next(error);
          const { status, headers, body } = refusalResponse(error);
          res.status(status).set(headers).send(body);
        },
      );
  };
}

export type { AccessTokenClaims, Requirements } from "./claims.js";
export { VerifyError } from "./errors.js";
