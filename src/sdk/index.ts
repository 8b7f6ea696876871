/** The SDK for applications that trust Tessera. No dependency on the server's storage. */
export { createSessionChecker, type SessionCheckerOptions, type SessionInfo } from "./session.js";
// The resource-server verifier; also published on its own as `tessera/verify` (adapters: `tessera/verify/*`).
export {
  type AccessTokenClaims,
  createVerifier,
  type Requirements,
  type Verifier,
  type VerifierOptions,
  VerifyError,
  type VerifyOptions,
} from "./verify/index.js";
