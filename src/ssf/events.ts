/**
 * Which domain events become which Shared Signals events, and what they say.
 *
 * - `session.ended` → CAEP `session-revoked`, about a complex subject: the user (`iss_sub`) and the session
 *   (`opaque`, its id: the `sid` of the ID tokens issued in it) when the event names it.
 * - `credential.changed` → CAEP `credential-change`, with `credential_type` and `change_type` from the event:
 *   password → `password`, totp → `app` (an authenticator app), webauthn → `fido2-roaming` (Tessera's security
 *   keys), recovery_codes → `recovery-codes` (a type Tessera defines, as CAEP §3.3 allows); create, update and
 *   delete keep their name, reset → `update`.
 * - `user.disabled` → RISC `account-disabled`; `user.deleted` → RISC `account-purged`.
 * - The subject is the top-level `sub_id` (SSF 1.0 §3.1); RISC events also carry it as `subject` inside the
 *   event, as RISC 1.0 receivers read it there. `sub` is the user id: the `sub` of Tessera's ID and access
 *   tokens (public subject identifiers, one per user for every client).
 * - `event_timestamp` is the time of the change (seconds); `txn` is the domain event's id, the same in every
 *   stream's copy of the event (SSF 1.0 §4.1.9).
 * - Other domain events are not transmitted.
 */
import type { DomainEvent } from "../events/types.js";
import { ACCOUNT_DISABLED, ACCOUNT_PURGED, CREDENTIAL_CHANGE, SESSION_REVOKED } from "./vocabulary.js";

/** A subject identifier (RFC 9493, SSF 1.0 §3). */
export type SubjectIdentifier = Readonly<Record<string, unknown>> & { readonly format: string };

/** What one domain event says to every stream: the stream adds `iss`, `aud`, `iat` and `jti`. */
export interface SecurityEventTemplate {
  /** The domain event's id: the SET's `txn`. */
  eventId: string;
  /** The user the event is about (streams may have removed them). */
  userId: string;
  eventType: string;
  subId: SubjectIdentifier;
  event: Readonly<Record<string, unknown>>;
}

/** `iss_sub` (RFC 9493 §3.2.3): a user as Tessera's tokens name them. */
export function userSubject(issuer: string, userId: string): SubjectIdentifier {
  return { format: "iss_sub", iss: issuer, sub: userId };
}

const CREDENTIAL_TYPES: Record<string, string> = {
  password: "password",
  totp: "app",
  webauthn: "fido2-roaming",
  recovery_codes: "recovery-codes",
};

const CHANGE_TYPES: Record<string, string> = {
  create: "create",
  update: "update",
  delete: "delete",
  reset: "update",
  revoke: "revoke",
};

const INITIATING_ENTITIES = new Set(["admin", "user", "policy", "system"]);

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** CAEP 1.0 §2's optional claims that the domain event can fill: who caused it and why (as an admin reason). */
function commonClaims(event: DomainEvent): Record<string, unknown> {
  const claims: Record<string, unknown> = { event_timestamp: Math.floor(event.at / 1000) };
  const initiator = optionalString(event.data.initiatingEntity);
  if (initiator !== undefined && INITIATING_ENTITIES.has(initiator)) claims.initiating_entity = initiator;
  const reason = optionalString(event.data.reason);
  if (reason !== undefined) claims.reason_admin = { en: reason };
  return claims;
}

/** The Shared Signals event a domain event becomes, or undefined when it is not transmitted. */
export function securityEventFor(event: DomainEvent, issuer: string): SecurityEventTemplate | undefined {
  const userId = event.userId;
  if (userId === null || userId === "") return undefined;
  const user = userSubject(issuer, userId);
  const base = { eventId: event.id, userId };
  switch (event.type) {
    case "session.ended": {
      const sessionId = optionalString(event.data.sessionId);
      return {
        ...base,
        eventType: SESSION_REVOKED,
        subId:
          sessionId === undefined
            ? user
            : { format: "complex", user, session: { format: "opaque", id: sessionId } },
        event: commonClaims(event),
      };
    }
    case "credential.changed": {
      const credential = CREDENTIAL_TYPES[String(event.data.credential)];
      const change = CHANGE_TYPES[String(event.data.change)];
      // CAEP §3.3: both are required; an event without them cannot be told truthfully.
      if (credential === undefined || change === undefined) return undefined;
      return {
        ...base,
        eventType: CREDENTIAL_CHANGE,
        subId: user,
        event: { credential_type: credential, change_type: change, ...commonClaims(event) },
      };
    }
    case "user.disabled":
      return {
        ...base,
        eventType: ACCOUNT_DISABLED,
        subId: user,
        event: { subject: user, ...commonClaims(event) },
      };
    case "user.deleted":
      return {
        ...base,
        eventType: ACCOUNT_PURGED,
        subId: user,
        event: { subject: user, ...commonClaims(event) },
      };
    default:
      return undefined;
  }
}
