/**
 * Random bytes from the CSPRNG, drawn in 4 KiB batches: one `randomFillSync` call serves many small ids
 * (`jti`s, request ids) instead of one OpenSSL call each, which showed in profiles of the token endpoint.
 * Every byte is handed out once, and callers get their own copy, never a view into the pool.
 */
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `size` fresh random bytes (a copy; at most 256 per call). */
export function pooledRandomBytes(size: number): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > 256) throw new RangeError("size must be 1 to 256 bytes");
  if (offset + size > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + size));
  // Zero what was handed out, so the pool never holds a copy of a value in use.
  pool.fill(0, offset, offset + size);
  offset += size;
  return out;
}

/** A random id of `bytes` bytes, base64url. */
export function randomId(bytes = 16): string {
  return pooledRandomBytes(bytes).toString("base64url");
}
