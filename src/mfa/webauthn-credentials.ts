/**
 * Stored WebAuthn credentials (`webauthn_credentials`) as the domain answers them, and the rules for what a
 * user may call a key.
 *
 * - A name is NFC, whitespace collapsed and trimmed, at most 64 characters, with no control characters or
 *   bidirectional overrides (a name must not reorder the page's text).
 * - Transports are kept only when they look like WebAuthn transport tokens (at most 8).
 */
import { MfaError } from "../lib/errors.js";
import type { WebAuthnCredentialRow } from "../storage/index.js";
import type { WebAuthnCredential } from "./types.js";

const MAX_NAME = 64;
const FORBIDDEN_IN_NAME = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

export function cleanName(name: unknown): string {
  const text = typeof name === "string" ? name.normalize("NFC").replace(/\s+/g, " ").trim() : "";
  if (FORBIDDEN_IN_NAME.test(text)) {
    throw new MfaError("invalid_request", "A key's name cannot contain control characters.");
  }
  if ([...text].length > MAX_NAME) {
    throw new MfaError("invalid_request", `Use at most ${MAX_NAME} characters for the key's name.`);
  }
  return text;
}

export function cleanTransports(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((t): t is string => typeof t === "string" && /^[a-z-]{1,16}$/.test(t)).slice(0, 8);
}

export function toCredential(row: WebAuthnCredentialRow): WebAuthnCredential {
  return {
    id: row.id,
    name: row.name,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    deviceType: row.device_type,
    backedUp: row.backed_up === 1,
    discoverable: row.discoverable === 1,
    transports: cleanTransports(JSON.parse(row.transports)),
    aaguid: row.aaguid,
  };
}

/** Enough of a credential id to find it in the audit log (ids may be over a kilobyte long). */
export const shortId = (id: string) => id.slice(0, 32);
