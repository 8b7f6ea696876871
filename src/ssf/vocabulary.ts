/**
 * The Shared Signals words Tessera speaks: event type URIs (CAEP 1.0, RISC 1.0, SSF 1.0), delivery method URNs,
 * media types and the OAuth scopes of the stream management API. Pure constants: the SDK's receiver
 * (`tessera/verify/ssf`) imports them too.
 */

/** CAEP 1.0 §3.1: a session of the subject ended. */
export const SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/** CAEP 1.0 §3.3: a credential of the subject was created, changed, revoked or deleted. */
export const CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change";
/** RISC 1.0 §2.3: the account was disabled. */
export const ACCOUNT_DISABLED = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
/** RISC 1.0 §2.2: the account was deleted for good. */
export const ACCOUNT_PURGED = "https://schemas.openid.net/secevent/risc/event-type/account-purged";
/** SSF 1.0 §8.1.4: the verification event a receiver asks for. */
export const VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification";
/** SSF 1.0 §8.1.5: the transmitter changed a stream's status. */
export const STREAM_UPDATED = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";

/** The events Tessera transmits (a stream's `events_supported`). */
export const EVENTS_SUPPORTED: readonly string[] = [
  SESSION_REVOKED,
  CREDENTIAL_CHANGE,
  ACCOUNT_DISABLED,
  ACCOUNT_PURGED,
];

/** SSF 1.0 §6.1.1: push delivery (RFC 8935). */
export const PUSH_DELIVERY = "urn:ietf:rfc:8935";
/** SSF 1.0 §6.1.2: poll delivery (RFC 8936). */
export const POLL_DELIVERY = "urn:ietf:rfc:8936";

/** RFC 8417 §2.3: the `typ` of a SET, and the media type it is pushed with (RFC 8935 §2). */
export const SET_TYPE = "secevent+jwt";
export const SET_MEDIA_TYPE = "application/secevent+jwt";

/** The scope that manages streams (create, change, delete, status, subjects, verification) and polls. */
export const SSF_MANAGE_SCOPE = "ssf.manage";
/** The scope that reads a stream's configuration and status and polls its SETs. */
export const SSF_READ_SCOPE = "ssf.read";

/** The smallest interval, seconds, between two verification requests of a stream (`min_verification_interval`). */
export const MIN_VERIFICATION_INTERVAL = 10;
