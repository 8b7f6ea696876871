/**
 * Opaque tokens: random secrets with an optional recognisable prefix and checksum.
 *
 * - 256 bits from the CSPRNG (`crypto.randomBytes`), encoded base62 so a token is one "word" that
 *   double-click selects and no URL or header needs to escape.
 * - Optional prefix (`[a-z][a-z0-9_]*_`, e.g. `tsr_pat_`) names the kind of token for secret scanners.
 * - Optional checksum: CRC32 of prefix + body, base62, 6 characters. It lets a client or scanner reject a
 *   mistyped or foreign token without a database call. It is not a security control: the secret's
 *   strength is the 256 random bits.
 */
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** ceil(256 / log2(62)) */
export const OPAQUE_BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
const PREFIX_PATTERN = /^[a-z][a-z0-9_]*_$/;
const BASE62 = /^[0-9A-Za-z]+$/;

export interface OpaqueTokenFormat {
  /** e.g. `tsr_pat_`; must match `[a-z][a-z0-9_]*_`. */
  prefix?: string;
  /** Append a CRC32 checksum (6 base62 characters). */
  checksum?: boolean;
}

function toBase62(bytes: Uint8Array, length: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out;
}

function checksumOf(text: string): string {
  // The CRC is 32 bits: plain number arithmetic gives the same digits as toBase62 of its 4 bytes, without
  // BigInt (this runs on every session check).
  let n = crc32(text) >>> 0;
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function assertPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) throw new TypeError(`invalid token prefix: ${JSON.stringify(prefix)}`);
}

/** Generates a fresh opaque token: `prefix + base62(256 random bits) [+ checksum]`. */
export function generateOpaqueToken(format: OpaqueTokenFormat = {}): string {
  const prefix = format.prefix ?? "";
  if (prefix) assertPrefix(prefix);
  const body = prefix + toBase62(randomBytes(32), OPAQUE_BODY_LENGTH);
  return format.checksum ? body + checksumOf(body) : body;
}

/**
 * Checks a token's shape (prefix, length, alphabet) and checksum without any storage look-up.
 * Returns false for anything that cannot be a token of this format.
 */
export function isWellFormedOpaqueToken(token: unknown, format: OpaqueTokenFormat = {}): token is string {
  if (typeof token !== "string") return false;
  const prefix = format.prefix ?? "";
  const expected = prefix.length + OPAQUE_BODY_LENGTH + (format.checksum ? CHECKSUM_LENGTH : 0);
  if (token.length !== expected || !token.startsWith(prefix)) return false;
  const rest = token.slice(prefix.length);
  if (!BASE62.test(rest)) return false;
  if (!format.checksum) return true;
  const body = token.slice(0, expected - CHECKSUM_LENGTH);
  return checksumOf(body) === token.slice(expected - CHECKSUM_LENGTH);
}
