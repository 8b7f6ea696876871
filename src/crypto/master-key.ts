/**
 * The master key (key-encryption key) and authenticated encryption of secrets at rest.
 *
 * - The master key is 32 bytes, given as 64 hex characters or 43 base64url characters.
 * - Secrets are sealed with AES-256-GCM, a fresh 96-bit IV each time, and associated data that binds the
 *   ciphertext to its purpose and row (for example `signing-key:<kid>`): a ciphertext copied to another row
 *   does not decrypt.
 * - The sealed form is `v1.<master key id>.<iv>.<ciphertext>.<tag>` (base64url parts). The master key id is
 *   the first 8 bytes of SHA-256(key), so a wrong master key is reported as such, not as corrupt data, and a
 *   later master-key rotation can tell old ciphertexts from new.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { KeyError } from "../lib/errors.js";

export interface MasterKey {
  readonly id: string;
  seal(plaintext: Uint8Array, associatedData: string): string;
  open(sealed: string, associatedData: string): Buffer;
  /** A 32-byte subkey for one purpose (HKDF-SHA256, info = purpose): e.g. CSRF token MACs. */
  deriveKey(purpose: string): Buffer;
}

/** Parses a master key from its text form (64 hex or 43 base64url characters); undefined when invalid. */
export function parseMasterKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9_-]{43}$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, "base64url");
    if (bytes.length === 32 && bytes.toString("base64url") === trimmed) return bytes;
  }
  return undefined;
}

/** A new random master key in its text form (base64url). */
export function generateMasterKeyText(): string {
  return randomBytes(32).toString("base64url");
}

export function createMasterKey(raw: Uint8Array): MasterKey {
  if (raw.length !== 32) throw new TypeError("master key must be 32 bytes");
  const key = Buffer.from(raw);
  const id = createHash("sha256").update(key).digest().subarray(0, 8).toString("base64url");
  return {
    id,
    deriveKey(purpose) {
      return Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), `tessera:${purpose}`, 32));
    },
    seal(plaintext, associatedData) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      cipher.setAAD(Buffer.from(associatedData, "utf8"));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [
        "v1",
        id,
        iv.toString("base64url"),
        ciphertext.toString("base64url"),
        tag.toString("base64url"),
      ].join(".");
    },
    open(sealed, associatedData) {
      const parts = sealed.split(".");
      if (parts.length !== 5 || parts[0] !== "v1") throw new TypeError("sealed value has an unknown format");
      const [, keyId, iv, ciphertext, tag] = parts as [string, string, string, string, string];
      if (keyId !== id) {
        throw new KeyError(
          "master_key_mismatch",
          `data was sealed with master key ${keyId}, but the configured master key is ${id}`,
        );
      }
      const tagBytes = Buffer.from(tag, "base64url");
      // A truncated tag would weaken forgery protection from 128 bits to as little as 32.
      if (tagBytes.length !== 16) throw new TypeError("sealed value has an invalid authentication tag");
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), {
        authTagLength: 16,
      });
      decipher.setAAD(Buffer.from(associatedData, "utf8"));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]);
    },
  };
}
