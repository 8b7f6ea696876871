/**
 * Cryptography: JWT sign/verify, signing keys and JWKS, opaque tokens, hashing, sealing with the master key.
 */
export { constantTimeEqual, hashToken, type TokenHash } from "./hash.js";
export * from "./jwt/index.js";
export { type GeneratedKey, generateSigningKey, publicJwkOf } from "./keys/generate.js";
export { KeyStore, type KeyStoreOptions, type KeySummary, type RotationResult } from "./keys/key-store.js";
export { createMasterKey, generateMasterKeyText, type MasterKey, parseMasterKey } from "./master-key.js";
export {
  generateOpaqueToken,
  isWellFormedOpaqueToken,
  OPAQUE_BODY_LENGTH,
  type OpaqueTokenFormat,
} from "./opaque-token.js";
