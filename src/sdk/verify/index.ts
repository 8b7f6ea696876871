/**
 * `tessera/verify`: verify Tessera's access tokens in a resource server. No dependency on the server's storage
 * or on any web framework; adapters live in `tessera/verify/{express,fastify,hono,fetch}`.
 *
 * - `createVerifier(options)` → `verify(token, { scopes, acrValues, maxAge, ip, dpop })` /
 *   `authenticate({ authorization, ip, url, method, dpop }, requirements)`, `ready()`, `close()`.
 * - DPoP-bound tokens (RFC 9449) are checked with their proof; `createMemoryDpopReplayCache` is the default
 *   replay cache, `DpopReplayCache` the interface a shared one implements.
 * - Encrypted access tokens (JWE) are decrypted with the resource server's `decryptionKeys` first.
 * - Refusals are `VerifyError`s (RFC 6750 §3, RFC 9470 §3); docs/sdk.md lists them.
 */
export {
  createMemoryDpopReplayCache,
  DPOP_ALGORITHMS,
  type DpopReplayCache,
  dpopReplayKey,
  type VerifiedDpopProof,
} from "../../lib/dpop.js";
export {
  type AuthorizationHeader,
  type ParseAuthorizationOptions,
  parseAuthorization,
} from "./authorization.js";
export type { AccessTokenClaims, Requirements, TokenKind } from "./claims.js";
export type { DecryptionKeyInput } from "./decrypt.js";
export { type RefusalReason, VerifyError, type VerifyErrorCode } from "./errors.js";
export { type RefusalResponse, refusalResponse } from "./response.js";
export {
  createVerifier,
  type DpopContext,
  type RequestInfo,
  type Verifier,
  type VerifierOptions,
  type VerifyOptions,
} from "./verifier.js";
