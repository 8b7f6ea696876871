export {
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  type JwtClaims,
  type JwtHeader,
  type KeyResolver,
  MAX_CLOCK_TOLERANCE,
  MAX_JWT_LENGTH,
  type SigningKeyHandle,
  type VerificationKey,
  type VerifiedJwt,
  type VerifyJwtOptions,
} from "./policy.js";
export { type SignJwtOptions, signJwt } from "./sign.js";
export { verifyJwt } from "./verify.js";
export { verifyJwtWithJose } from "./verify-reference.js";
