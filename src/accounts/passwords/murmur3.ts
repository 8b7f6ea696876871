/**
 * MurmurHash3_x86_128 (Austin Appleby, public domain; the reference is `MurmurHash3.cpp` in SMHasher), in
 * 32-bit integer arithmetic only, over a byte range without copying it.
 *
 * Used by `blocklist.ts` to reduce each list entry to 64 bits: fast (the 414,613 entries hash in a few tens of ms; a
 * SHA-256 call per entry from JavaScript took ≈ 500 ms) and well mixed (every output bit depends on every input
 * bit), which is all a membership filter needs. It is not a cryptographic hash: do not use it where an adversary gains by
 * finding collisions.
 *
 * `test/accounts/password-blocklist.test.ts` checks it against SMHasher's verification value (0xB3ECE62A).
 */

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Little-endian 32-bit word at `i`. */
function word(bytes: Uint8Array, i: number): number {
  return bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
}

/**
 * The 128-bit hash of `bytes[start..end)` as four unsigned 32-bit words `[h1, h2, h3, h4]`, written into `out`
 * (the byte string the reference writes is these words, each little-endian, in this order).
 */
export function murmur3x86128(
  bytes: Uint8Array,
  start: number,
  end: number,
  seed: number,
  out: Uint32Array,
): Uint32Array {
  const len = end - start;
  let h1 = seed | 0;
  let h2 = h1;
  let h3 = h1;
  let h4 = h1;
  let i = start;
  for (const last = start + (len & ~15); i < last; i += 16) {
    let k1 = word(bytes, i);
    let k2 = word(bytes, i + 4);
    let k3 = word(bytes, i + 8);
    let k4 = word(bytes, i + 12);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  // Tail: up to 15 bytes, the reference's fall-through switch.
  const rest = end - i;
  let k1 = 0;
  let k2 = 0;
  let k3 = 0;
  let k4 = 0;
  for (let j = rest - 1; j >= 0; j--) {
    const b = bytes[i + j]!;
    if (j >= 12) k4 |= b << (8 * (j - 12));
    else if (j >= 8) k3 |= b << (8 * (j - 8));
    else if (j >= 4) k2 |= b << (8 * (j - 4));
    else k1 |= b << (8 * j);
  }
  if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(k4, C4), 18), C1);
  if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(k3, C3), 17), C4);
  if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(k2, C2), 16), C3);
  if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(k1, C1), 15), C2);

  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[0] = h1;
  out[1] = h2;
  out[2] = h3;
  out[3] = h4;
  return out;
}
