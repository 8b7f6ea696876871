/**
 * Verifies an OpenID Connect Back-Channel Logout 1.0 logout token (§2.6), with jose against Tessera's JWKS.
 *
 * - Signature by a key in the issuer's JWKS (asymmetric algorithms only), `typ: logout+jwt` when present.
 * - `iss` is the issuer, `aud` contains the client id, `iat` present, not expired (when `exp` is present).
 * - `events` holds the back-channel logout event as a JSON object.
 * - `sid` or `sub` present; `nonce` absent (it would make the token an ID token look-alike).
 * - Not checked: `jti` replay. A replayed logout token can only end sessions that the original ended.
 */
import { createRemoteJWKSet, customFetch, type JWTPayload, jwtVerify } from "jose";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

export interface LogoutTarget {
  sid: string | undefined;
  sub: string | undefined;
}

export type LogoutTokenVerifier = (token: string) => Promise<LogoutTarget>;

export function createLogoutTokenVerifier(options: {
  issuer: string;
  clientId: string;
  jwksUri: string;
  /** Epoch ms: the BFF's clock. */
  now: () => number;
  fetch?: typeof fetch;
}): LogoutTokenVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri), {
    ...(options.fetch ? { [customFetch]: options.fetch } : {}),
  });
  return async (token) => {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: options.issuer,
      audience: options.clientId,
      algorithms: ["EdDSA", "Ed25519", "ES256", "ES384", "RS256", "PS256"],
      requiredClaims: ["iat", "events"],
      clockTolerance: 30,
      currentDate: new Date(options.now()),
    });
    if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== "logout+jwt") {
      throw new Error("logout token has the wrong typ");
    }
    return checkLogoutClaims(payload);
  };
}

function checkLogoutClaims(payload: JWTPayload): LogoutTarget {
  const events = payload.events;
  if (typeof events !== "object" || events === null || Array.isArray(events)) {
    throw new Error("logout token without events");
  }
  const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new Error("logout token without the back-channel logout event");
  }
  if ("nonce" in payload) throw new Error("logout token with a nonce");
  const sid = typeof payload.sid === "string" && payload.sid !== "" ? payload.sid : undefined;
  const sub = typeof payload.sub === "string" && payload.sub !== "" ? payload.sub : undefined;
  if (sid === undefined && sub === undefined) throw new Error("logout token names neither sid nor sub");
  return { sid, sub };
}
