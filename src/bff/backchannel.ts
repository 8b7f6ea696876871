/**
 * Verifies an OpenID Connect Back-Channel Logout 1.0 logout token (§2.6), with jose against Tessera's JWKS.
 *
 * - Signature by a key in the issuer's JWKS (asymmetric algorithms only), `typ: logout+jwt` when present.
 * - `iss` is the issuer, `aud` contains the client id, `iat` present, not expired (when `exp` is present).
 * - `events` holds the back-channel logout event as a JSON object.
 * - `sid` or `sub` present; `nonce` absent (it would make the token an ID token look-alike).
 * - `jti` present (§2.4 makes it required) and not seen before; `iat` at most 5 minutes old. Each token is thus
 *   accepted once: its jti is remembered for as long as its age allows it. A token naming only `sub` would otherwise end, when
 *   replayed, sessions the user started after the original logout. Remembered in memory, per BFF instance.
 */
import { createRemoteJWKSet, customFetch, type JWTPayload, jwtVerify } from "jose";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

export interface LogoutTarget {
  sid: string | undefined;
  sub: string | undefined;
}

export type LogoutTokenVerifier = (token: string) => Promise<LogoutTarget>;

/** The oldest logout token accepted (seconds since its `iat`), and so how long a `jti` is remembered. */
const REPLAY_WINDOW_S = 300;
const REPLAY_MEMORY_MAX = 10_000;

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
  const seen = new Map<string, number>();
  function firstUse(jti: string, until: number): boolean {
    const now = options.now();
    const known = seen.get(jti);
    if (known !== undefined && known > now) return false;
    if (seen.size >= REPLAY_MEMORY_MAX) {
      for (const [id, expiry] of seen) if (expiry <= now) seen.delete(id);
      // Still full of live entries: forget the oldest (they were inserted first).
      for (const id of seen.keys()) {
        if (seen.size < REPLAY_MEMORY_MAX) break;
        seen.delete(id);
      }
    }
    seen.set(jti, until);
    return true;
  }
  return async (token) => {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: options.issuer,
      audience: options.clientId,
      algorithms: ["EdDSA", "Ed25519", "ES256", "ES384", "RS256", "PS256"],
      requiredClaims: ["iat", "events", "jti"],
      // Older tokens are refused, so a token is acceptable only while its jti is remembered.
      maxTokenAge: REPLAY_WINDOW_S,
      clockTolerance: 30,
      currentDate: new Date(options.now()),
    });
    if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== "logout+jwt") {
      throw new Error("logout token has the wrong typ");
    }
    const target = checkLogoutClaims(payload);
    const until = ((payload.iat as number) + REPLAY_WINDOW_S + 30) * 1000;
    if (typeof payload.jti !== "string" || payload.jti === "" || !firstUse(payload.jti, until)) {
      throw new Error("logout token replayed (its jti was seen before)");
    }
    return target;
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
