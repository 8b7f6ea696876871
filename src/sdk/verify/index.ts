/**
 * `tessera/verify`: verify Tessera's access tokens in a resource server. No dependency on the server's storage
 * or on any web framework; adapters live in `tessera/verify/{express,fastify,hono,fetch}`.
 *
 * - `createVerifier(options)` → `verify(token, { scopes, acrValues, maxAge, ip })` /
 *   `authenticate({ authorization, ip, url }, requirements)`, `ready()`, `close()`.
 * - Refusals are `VerifyError`s (RFC 6750 §3, RFC 9470 §3); docs/sdk.md lists them.
 */
export { type AuthorizationHeader, parseAuthorization } from "./authorization.js";
export type { AccessTokenClaims, Requirements, TokenKind } from "./claims.js";
export { type RefusalReason, VerifyError, type VerifyErrorCode } from "./errors.js";
export { type RefusalResponse, refusalResponse } from "./response.js";
export {
  createVerifier,
  type RequestInfo,
  type Verifier,
  type VerifierOptions,
  type VerifyOptions,
} from "./verifier.js";
