/**
 * Shared Signals (OpenID SSF 1.0): Tessera as a transmitter of CAEP and RISC events to receivers that manage
 * streams through its API and take Security Event Tokens (RFC 8417) by push (RFC 8935) or poll (RFC 8936).
 *
 * - `createTransmitter(options)`: the transmitter, an event sink of the outbox (`deliver`) and the service
 *   behind `/.well-known/ssf-configuration` and `/ssf/*`. docs/events.md, "Shared Signals (SSF)", describes it.
 * - `securityEventFor(event, issuer)`: which domain event becomes which CAEP/RISC event.
 * - The vocabulary (event type URIs, delivery URNs, scopes) and `SsfError`.
 * @see https://openid.net/specs/openid-sharedsignals-framework-1_0.html
 */
export { SsfError, type SsfErrorCode } from "./errors.js";
export {
  type SecurityEventTemplate,
  type SubjectIdentifier,
  securityEventFor,
  userSubject,
} from "./events.js";
export { LONG_POLL_MS, POLL_LEASE_MS, type PollAnswer } from "./poll.js";
export { PUSH_LEASE_MS, PUSH_TIMEOUT_MS, retryDelay } from "./push.js";
export type { Access, Receiver } from "./receivers.js";
export { eventSetId, type SetClaims, signSet } from "./set.js";
export { pollEndpoint, type StreamConfiguration, type StreamStatus } from "./streams.js";
export {
  createTransmitter,
  DEFAULT_RETENTION_MS,
  MAX_STREAMS_PER_RECEIVER,
  SINK_NAME,
  type StreamStatusAnswer,
  type Transmitter,
  type TransmitterOptions,
} from "./transmitter.js";
export * from "./vocabulary.js";
