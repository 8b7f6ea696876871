/**
 * The Standard Webhooks signing scheme (https://www.standardwebhooks.com, "Signature scheme"), as the
 * `standardwebhooks` package (its reference implementation) verifies it:
 *
 * - A secret is `whsec_` followed by base64 of 24 to 64 random bytes; Tessera makes 32. The HMAC key is the
 *   decoded bytes, not the text.
 * - Headers: `webhook-id` (the event id, the same on every attempt: receivers de-duplicate by it),
 *   `webhook-timestamp` (integer seconds since the epoch, of this attempt), `webhook-signature`: a
 *   space-separated list of `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, one per secret in force
 *   (two during a secret rotation's grace period; a receiver accepts any).
 */
import { createHmac, randomBytes } from "node:crypto";

export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString("base64")}`;
}

/** The HMAC key of a secret: its base64 part decoded. */
export function webhookSecretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError("a webhook secret starts with whsec_");
  return Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
}

/** One `v1,<signature>` entry. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", webhookSecretKey(secret))
    .update(`${id}.${timestamp}.${body}`)
    .digest("base64");
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers for one attempt, signed with every secret given (newest first). */
export function webhookHeaders(input: {
  id: string;
  timestamp: number;
  body: string;
  secrets: readonly string[];
}): Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string> {
  return {
    "webhook-id": input.id,
    "webhook-timestamp": String(input.timestamp),
    "webhook-signature": input.secrets
      .map((secret) => signWebhook(secret, input.id, input.timestamp, input.body))
      .join(" "),
  };
}
