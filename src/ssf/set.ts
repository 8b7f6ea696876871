/**
 * Security Event Tokens (RFC 8417) as the Shared Signals Framework profiles them (SSF 1.0 §4.1).
 *
 * - Claims: `iss` (Tessera's issuer), `aud` (the stream's receiver: its client id), `iat` (when the SET was
 *   made), `jti`, `txn` (the domain event, when there is one), `sub_id` and `events` with exactly one event.
 *   Never `sub` nor `exp` (SSF 1.0 §4.1.2, §4.1.7: they tell a SET apart from an ID or access token).
 * - Header: `typ: secevent+jwt` (RFC 8417 §2.3), `alg` and `kid` of Tessera's signing key; receivers verify with
 *   the JWKS.
 * - A queued SET holds its claims, not its signature: it is signed when it is sent (each push attempt, each poll
 *   answer) with the key active then. A key leaves the JWKS only after `jwtMaxLifetime` past its retirement,
 *   so a SET is always verifiable when it arrives, however long it waited.
 * - `jti` of an event's SET is derived from the stream and the domain event (SHA-256, 128 bits, base64url): the
 *   same event offered twice makes the same SET, which the queue keeps once and a receiver recognises.
 * - Signing uses `jose` with the private key the key store holds: Tessera's fast signer requires `exp`, which
 *   SETs must not have.
 */
import { createHash } from "node:crypto";
import { CompactSign } from "jose";
import type { JwsAlgorithm, SigningKeyHandle } from "../crypto/jwt/policy.js";
import type { SecurityEventTemplate, SubjectIdentifier } from "./events.js";
import { SET_TYPE } from "./vocabulary.js";

export interface SetClaims {
  iss: string;
  aud: string;
  iat: number;
  jti: string;
  txn?: string;
  sub_id: SubjectIdentifier;
  events: Record<string, Readonly<Record<string, unknown>>>;
}

/** The `jti` of a domain event's SET on one stream. */
export function eventSetId(streamId: string, eventId: string): string {
  return createHash("sha256")
    .update(`ssf-set\u0000${streamId}\u0000${eventId}`)
    .digest()
    .subarray(0, 16)
    .toString("base64url");
}

/** The claims of a domain event's SET on a stream. */
export function eventSetClaims(input: {
  issuer: string;
  audience: string;
  streamId: string;
  template: SecurityEventTemplate;
  /** Epoch ms. */
  now: number;
}): SetClaims {
  const { template } = input;
  return {
    iss: input.issuer,
    aud: input.audience,
    iat: Math.floor(input.now / 1000),
    jti: eventSetId(input.streamId, template.eventId),
    txn: template.eventId,
    sub_id: template.subId,
    events: { [template.eventType]: template.event },
  };
}

/** A SET that is not about a user but about the stream (verification, stream updated): `sub_id` is the stream. */
export function streamSetClaims(input: {
  issuer: string;
  audience: string;
  streamId: string;
  jti: string;
  eventType: string;
  event: Readonly<Record<string, unknown>>;
  now: number;
}): SetClaims {
  return {
    iss: input.issuer,
    aud: input.audience,
    iat: Math.floor(input.now / 1000),
    jti: input.jti,
    sub_id: { format: "opaque", id: input.streamId },
    events: { [input.eventType]: input.event },
  };
}

const encoder = new TextEncoder();

/** Signs SET claims as a compact JWS with `typ: secevent+jwt`. */
export async function signSet(claims: SetClaims, key: SigningKeyHandle): Promise<string> {
  const alg: JwsAlgorithm = key.alg;
  return new CompactSign(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg, kid: key.kid, typ: SET_TYPE })
    .sign(key.privateKey);
}
