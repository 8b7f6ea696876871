/**
 * The reference verifier: Tessera's JWT policy (`policy.ts`) enforced around `jose`'s `jwtVerify`.
 *
 * It is the yardstick the fast path (`verify.ts`) is measured against: differential property tests feed both
 * the same valid, mutated and hostile tokens and require the same verdict. The SDK uses it for tokens whose
 * keys come from a JWKS fetched over the network.
 */
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import { TokenError, type TokenErrorReason } from "../../lib/errors.js";
import {
  checkCompactShape,
  checkHeader,
  checkOptions,
  type JwtClaims,
  resolveKey,
  type VerifiedJwt,
  type VerifyJwtOptions,
} from "./policy.js";

function reasonOf(error: unknown): TokenErrorReason {
  if (error instanceof joseErrors.JWTExpired) return "expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "typ") return "typ_mismatch";
    if (error.claim === "iss") return "issuer_mismatch";
    if (error.claim === "aud") return "audience_mismatch";
    if (error.claim === "nbf" && error.reason === "check_failed") return "not_yet_valid";
    return "claims_invalid";
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "signature_invalid";
  if (error instanceof joseErrors.JWTInvalid) return "claims_invalid";
  return "malformed";
}

/** Verifies like `verifyJwt`, but through `jose`. Asynchronous; throws `TokenError` on refusal. */
export async function verifyJwtWithJose(token: string, options: VerifyJwtOptions): Promise<VerifiedJwt> {
  const { algorithms, tolerance } = checkOptions(options);
  checkCompactShape(token);
  let decoded: unknown;
  try {
    decoded = decodeProtectedHeader(token);
  } catch {
    throw new TokenError("header_invalid");
  }
  const header = checkHeader(decoded, algorithms);
  const key = resolveKey(header, options.keys);
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [header.alg],
      requiredClaims: ["exp"],
      clockTolerance: tolerance,
      currentDate: new Date(options.now?.() ?? Date.now()),
      ...(options.typ === undefined ? {} : { typ: options.typ }),
      ...(options.issuer === undefined ? {} : { issuer: options.issuer as string | string[] }),
      ...(options.audience === undefined ? {} : { audience: options.audience as string | string[] }),
    });
    return { header, payload: payload as JwtClaims };
  } catch (error) {
    throw new TokenError(reasonOf(error), error instanceof Error ? error.message : undefined);
  }
}
