/**
 * Stream configuration (SSF 1.0 §8.1.1): what a receiver may set, what the transmitter decides, and how a
 * stream is shown.
 *
 * - Receiver-supplied: `delivery`, `events_requested`, `description`. Transmitter-supplied: `stream_id`, `iss`,
 *   `aud` (the receiver's client id), `events_supported`, `events_delivered`, `min_verification_interval`.
 * - Create (POST): receiver-supplied properties only; no `delivery` means poll (§8.1.1.1). Update (PATCH):
 *   `stream_id`, and the receiver-supplied properties to change; the others stay. Replace (PUT): `stream_id` and
 *   every receiver-supplied property; a missing one is deleted (a missing `delivery` means poll). In PATCH and PUT
 *   transmitter-supplied properties may be echoed but must equal the stream's (`events_delivered` before the
 *   change); any other property is refused, so a typo never passes for a valid request.
 * - `events_delivered` is `events_requested` ∩ `events_supported`, in the supported order. No `events_requested`
 *   means no events (SSF 1.0: the delivered set is a subset of both); unknown URIs are kept but never delivered.
 * - Push (`urn:ietf:rfc:8935`): `endpoint_url` is the receiver's (an absolute http(s) URL without user
 *   information or fragment; where it may point is the outbound guard's decision, checked by the transmitter);
 *   `authorization_header`, if given, is sent with every push and never shown again. Poll
 *   (`urn:ietf:rfc:8936`): `endpoint_url` is Tessera's, per stream; a receiver may echo it, not choose it.
 */
import { invalidRequest } from "./errors.js";
import { EVENTS_SUPPORTED, MIN_VERIFICATION_INTERVAL, POLL_DELIVERY, PUSH_DELIVERY } from "./vocabulary.js";

export type DeliveryMethod = "push" | "poll";
export type StreamStatus = "enabled" | "paused" | "disabled";
export const STREAM_STATUSES: readonly StreamStatus[] = ["enabled", "paused", "disabled"];

export type DeliveryInput =
  | { method: "push"; endpointUrl: string; authorization: string | null }
  | { method: "poll" };

/** The receiver-supplied part of a stream's configuration. */
export interface ReceiverConfig {
  delivery: DeliveryInput;
  eventsRequested: string[] | null;
  description: string | null;
}

/** A stream as the domain sees it (the authorization value stays sealed in storage). */
export interface Stream {
  id: string;
  clientId: string;
  description: string | null;
  eventsRequested: string[] | null;
  method: DeliveryMethod;
  /** Push: the receiver's URL. */
  endpointUrl: string | null;
  status: StreamStatus;
  statusReason: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A stream's configuration as SSF 1.0 §8.1.1 writes it. */
export interface StreamConfiguration {
  stream_id: string;
  iss: string;
  aud: string;
  delivery: { method: string; endpoint_url: string };
  events_supported: string[];
  events_requested?: string[];
  events_delivered: string[];
  min_verification_interval: number;
  description?: string;
}

const MAX_EVENTS_REQUESTED = 50;
const MAX_URI_LENGTH = 512;
const MAX_DESCRIPTION = 1024;
const MAX_URL_LENGTH = 2048;
const MAX_AUTHORIZATION = 4096;
const RECEIVER_SUPPLIED = new Set(["delivery", "events_requested", "description"]);
const TRANSMITTER_SUPPLIED = new Set([
  "iss",
  "aud",
  "events_supported",
  "events_delivered",
  "min_verification_interval",
]);
const SUPPORTED = new Set(EVENTS_SUPPORTED);

/** `events_requested` ∩ `events_supported`. */
export function eventsDelivered(eventsRequested: readonly string[] | null): string[] {
  if (eventsRequested === null) return [];
  const requested = new Set(eventsRequested);
  return EVENTS_SUPPORTED.filter((type) => requested.has(type));
}

export function deliversEvent(stream: Pick<Stream, "eventsRequested">, eventType: string): boolean {
  return SUPPORTED.has(eventType) && (stream.eventsRequested?.includes(eventType) ?? false);
}

/** The URL a poll stream's receiver polls. */
export function pollEndpoint(issuer: string, streamId: string): string {
  return `${issuer.replace(/\/+$/, "")}/ssf/poll/${encodeURIComponent(streamId)}`;
}

export function streamConfiguration(stream: Stream, issuer: string): StreamConfiguration {
  const config: StreamConfiguration = {
    stream_id: stream.id,
    iss: issuer,
    aud: stream.clientId,
    delivery:
      stream.method === "push"
        ? { method: PUSH_DELIVERY, endpoint_url: stream.endpointUrl as string }
        : { method: POLL_DELIVERY, endpoint_url: pollEndpoint(issuer, stream.id) },
    events_supported: [...EVENTS_SUPPORTED],
    events_delivered: eventsDelivered(stream.eventsRequested),
    min_verification_interval: MIN_VERIFICATION_INTERVAL,
  };
  if (stream.eventsRequested !== null) config.events_requested = [...stream.eventsRequested];
  if (stream.description !== null) config.description = stream.description;
  return config;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The JSON object body of a request; anything else is `invalid_request`. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (!isObject(body)) invalidRequest("The body must be a JSON object.");
  return body;
}

/** A required `stream_id` (body or query). */
export function streamIdOf(value: unknown): string {
  if (typeof value !== "string" || value === "" || value.length > 64) {
    invalidRequest("stream_id is required: the id of one of your streams.");
  }
  return value;
}

/** Whether a string holds characters no HTTP header value may (CR, LF, NUL and other controls but tab). */
function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** A push endpoint's URL: absolute http(s), no user information, no fragment (where it points: the guard). */
export function checkPushUrl(value: unknown): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    value.length > MAX_URL_LENGTH ||
    !URL.canParse(value)
  ) {
    invalidRequest("delivery.endpoint_url must be an absolute http(s) URL.");
  }
  const url = new URL(value);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    invalidRequest("delivery.endpoint_url must be an http(s) URL.");
  }
  if (url.username !== "" || url.password !== "") {
    invalidRequest("delivery.endpoint_url must not carry a user name or password; use authorization_header.");
  }
  if (url.hash !== "") invalidRequest("delivery.endpoint_url must not have a fragment.");
  return url.href;
}

function parseDelivery(value: unknown, current: { id: string; issuer: string } | undefined): DeliveryInput {
  if (!isObject(value)) invalidRequest("delivery must be an object with a method.");
  const { method, endpoint_url: endpointUrl, authorization_header: authorization, ...rest } = value;
  if (Object.keys(rest).length > 0) {
    invalidRequest(`delivery has unknown properties: ${Object.keys(rest).slice(0, 5).join(", ")}.`);
  }
  if (method === PUSH_DELIVERY) {
    const url = checkPushUrl(endpointUrl);
    if (authorization !== undefined) {
      if (
        typeof authorization !== "string" ||
        authorization.trim() === "" ||
        authorization.length > MAX_AUTHORIZATION ||
        hasControlCharacters(authorization)
      ) {
        invalidRequest("delivery.authorization_header must be a header value of 1 to 4096 characters.");
      }
    }
    return { method: "push", endpointUrl: url, authorization: authorization ?? null };
  }
  if (method === POLL_DELIVERY) {
    if (authorization !== undefined) invalidRequest("authorization_header belongs to push delivery only.");
    // The poll URL is the transmitter's (SSF 1.0 §6.1.2): echoed back it must be this stream's.
    if (
      endpointUrl !== undefined &&
      (current === undefined || endpointUrl !== pollEndpoint(current.issuer, current.id))
    ) {
      invalidRequest("For poll delivery the endpoint_url is Tessera's: leave it out.");
    }
    return { method: "poll" };
  }
  return invalidRequest(`delivery.method must be ${PUSH_DELIVERY} (push) or ${POLL_DELIVERY} (poll).`);
}

function parseEventsRequested(value: unknown): string[] {
  if (
    !Array.isArray(value) ||
    value.length > MAX_EVENTS_REQUESTED ||
    !value.every((v) => typeof v === "string" && v !== "" && v.length <= MAX_URI_LENGTH)
  ) {
    invalidRequest(`events_requested must be an array of at most ${MAX_EVENTS_REQUESTED} event type URIs.`);
  }
  return [...new Set(value as string[])];
}

function parseDescription(value: unknown): string {
  if (typeof value !== "string" || value.length > MAX_DESCRIPTION) {
    invalidRequest(`description must be a string of at most ${MAX_DESCRIPTION} characters.`);
  }
  return value;
}

function sameStrings(a: unknown, b: readonly string[], ordered: boolean): boolean {
  if (!Array.isArray(a) || a.length !== b.length || !a.every((v) => typeof v === "string")) return false;
  if (ordered) return a.every((v, i) => v === b[i]);
  const set = new Set(b);
  return a.every((v) => set.has(v as string));
}

/** Transmitter-supplied properties echoed in a PATCH or PUT must equal the stream's (SSF 1.0 §8.1.1.3). */
function checkEchoed(body: Record<string, unknown>, current: StreamConfiguration): void {
  for (const name of TRANSMITTER_SUPPLIED) {
    if (!(name in body)) continue;
    const value = body[name];
    const matches =
      name === "iss"
        ? value === current.iss
        : name === "aud"
          ? value === current.aud || sameStrings(value, [current.aud], false)
          : name === "min_verification_interval"
            ? value === current.min_verification_interval
            : sameStrings(
                value,
                name === "events_supported" ? current.events_supported : current.events_delivered,
                false,
              );
    if (!matches) invalidRequest(`${name} is the transmitter's and does not match this stream's.`);
  }
}

function refuseUnknown(body: Record<string, unknown>, allowed: (name: string) => boolean): void {
  const unknown = Object.keys(body).filter((name) => !allowed(name));
  if (unknown.length > 0) {
    invalidRequest(`Unknown or read-only properties: ${unknown.slice(0, 5).join(", ")}.`);
  }
}

/** The receiver-supplied configuration of a create request (POST). */
export function parseCreate(body: unknown): ReceiverConfig {
  const input = objectBody(body);
  refuseUnknown(input, (name) => RECEIVER_SUPPLIED.has(name));
  return {
    delivery: input.delivery === undefined ? { method: "poll" } : parseDelivery(input.delivery, undefined),
    eventsRequested:
      input.events_requested === undefined ? null : parseEventsRequested(input.events_requested),
    description: input.description === undefined ? null : parseDescription(input.description),
  };
}

/** The `stream_id` of an update or replace request. */
export function streamIdOfBody(body: unknown): string {
  return streamIdOf(objectBody(body).stream_id);
}

/**
 * The changes an update (PATCH, only what is present) or replace (PUT, everything; missing means deleted)
 * request makes to `stream`.
 */
export function parseChange(
  body: unknown,
  stream: Stream,
  issuer: string,
  mode: "update" | "replace",
): Partial<ReceiverConfig> {
  const input = objectBody(body);
  refuseUnknown(
    input,
    (name) => name === "stream_id" || RECEIVER_SUPPLIED.has(name) || TRANSMITTER_SUPPLIED.has(name),
  );
  checkEchoed(input, streamConfiguration(stream, issuer));
  const current = { id: stream.id, issuer };
  const changes: Partial<ReceiverConfig> = {};
  if (input.delivery !== undefined) changes.delivery = parseDelivery(input.delivery, current);
  else if (mode === "replace") changes.delivery = { method: "poll" };
  if (input.events_requested !== undefined)
    changes.eventsRequested = parseEventsRequested(input.events_requested);
  else if (mode === "replace") changes.eventsRequested = null;
  if (input.description !== undefined) changes.description = parseDescription(input.description);
  else if (mode === "replace") changes.description = null;
  return changes;
}

/** A status change request (SSF 1.0 §8.1.2.2). */
export function parseStatusChange(body: unknown): {
  streamId: string;
  status: StreamStatus;
  reason: string | null;
} {
  const input = objectBody(body);
  refuseUnknown(input, (name) => name === "stream_id" || name === "status" || name === "reason");
  const streamId = streamIdOf(input.stream_id);
  if (!STREAM_STATUSES.includes(input.status as StreamStatus)) {
    invalidRequest("status must be enabled, paused or disabled.");
  }
  let reason: string | null = null;
  if (input.reason !== undefined) {
    if (typeof input.reason !== "string" || input.reason.length > MAX_DESCRIPTION) {
      invalidRequest(`reason must be a string of at most ${MAX_DESCRIPTION} characters.`);
    }
    reason = input.reason;
  }
  return { streamId, status: input.status as StreamStatus, reason };
}
