/**
 * Subjects a receiver adds to or removes from a stream (SSF 1.0 §8.1.3).
 *
 * - Every stream starts with every subject (`default_subjects: "ALL"`): a stream is created only by a client an
 *   administrator gave the `ssf.manage` scope, which is the decision that it may hear about Tessera's users.
 *   Removing a subject stops its events on that stream; adding it back resumes them. Adding a subject that was
 *   never removed changes nothing.
 * - Tessera names users by `iss_sub` (its issuer, the user id: the `sub` of its tokens), alone or as the `user`
 *   of a complex subject with no other member. Other formats and other issuers are refused (400): Tessera could
 *   not match them to a user, and silently accepting them would let a receiver believe it had removed someone.
 * - Whether the user exists is not revealed (§10.1, subject probing): an unknown `sub` is accepted like any other.
 */
import { invalidRequest } from "./errors.js";
import { objectBody, streamIdOf } from "./streams.js";

const MAX_SUB_LENGTH = 256;

function userIdOf(subject: unknown, issuer: string): string {
  if (typeof subject !== "object" || subject === null || Array.isArray(subject)) {
    invalidRequest("subject must be a subject identifier object.");
  }
  const { format } = subject as Record<string, unknown>;
  if (format === "complex") {
    const { format: _format, user, ...others } = subject as Record<string, unknown>;
    if (Object.keys(others).length > 0 || user === undefined) {
      invalidRequest("A complex subject may name only a user (iss_sub) here.");
    }
    return userIdOf(user, issuer);
  }
  if (format !== "iss_sub") invalidRequest('Subjects are identified by format "iss_sub" (issuer and sub).');
  const { iss, sub, ...rest } = subject as Record<string, unknown>;
  const unknown = Object.keys(rest).filter((k) => k !== "format");
  if (unknown.length > 0) invalidRequest("An iss_sub subject has only format, iss and sub.");
  if (iss !== issuer) invalidRequest("The subject's iss must be this transmitter's issuer.");
  if (typeof sub !== "string" || sub === "" || sub.length > MAX_SUB_LENGTH) {
    invalidRequest("The subject's sub must be a user's sub as in Tessera's tokens.");
  }
  return sub;
}

/** The stream and the user of an add or remove request; `verified` (add only) is accepted and ignored. */
export function parseSubjectRequest(
  body: unknown,
  issuer: string,
  mode: "add" | "remove",
): { streamId: string; userId: string } {
  const input = objectBody(body);
  const allowed = mode === "add" ? ["stream_id", "subject", "verified"] : ["stream_id", "subject"];
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) invalidRequest(`Unknown properties: ${unknown.slice(0, 5).join(", ")}.`);
  if (input.verified !== undefined && typeof input.verified !== "boolean") {
    invalidRequest("verified must be a boolean.");
  }
  return { streamId: streamIdOf(input.stream_id), userId: userIdOf(input.subject, issuer) };
}
