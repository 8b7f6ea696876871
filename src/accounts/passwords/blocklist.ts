/**
 * Blocklist of common and breached passwords (NIST SP 800-63B § 3.1.1.2).
 *
 * - The list ships in the repository as `assets/password-blocklist.txt.gz`: one key per line, built by
 *   `scripts/build-password-blocklist.mjs` from SecLists (see `assets/README.md` for source and licence).
 * - A key is `password.normalize("NFKC").toLowerCase()` (`blocklistKey`); the generator applies the same
 *   function, so "Password", "PASSWORD" and full-width "ｐａｓｓｗｏｒｄ" all meet the entry "password".
 * - Loaded once, lazily and synchronously, on the first look-up (or `blocklistSize`), then cached for the life
 *   of the process as a `HashedBlocklist`: each entry's UTF-8 bytes reduced to a 64-bit hash (the first half
 *   of MurmurHash3_x86_128, `murmur3.ts`) in one sorted `BigUint64Array`, 8 bytes per entry: 3.2 MiB for the
 *   414,613 entries, where a `Set` of the strings cost ≈ 44 MiB of RSS. Loading hashes the lines straight out
 *   of the gunzipped buffer, so no string is ever made for an entry (≈ 85 ms; ≈ 155 ms to fill the `Set`).
 *   A look-up is a binary search (≈ 1 µs with the NFKC normalisation).
 * - Exact for listed passwords (no false negatives). An unlisted password is taken for a listed one only when
 *   its hash equals one of the n stored hashes: probability n / 2^64 ≈ 2.2 × 10⁻¹⁴ per look-up, about one
 *   wrongly refused password per 4.4 × 10¹³ checked. Such a refusal only asks the person for another
 *   password; the hash is not cryptographic and needs not be, as a collision gains nobody anything.
 * - The asset is found from this module's own location: walk up from its directory to the first folder whose
 *   `package.json` is named `tessera`. This works alike for the TypeScript sources
 *   (`src/accounts/passwords/blocklist.ts`) and the compiled output (`dist/src/accounts/passwords/blocklist.js`).
 * - A missing, unreadable, empty or non-UTF-8 asset is an error at first use, never a silently empty list.
 */
import { isUtf8 } from "node:buffer";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { murmur3x86128 } from "./murmur3.js";

/** The project's name in `package.json`: marks the folder that holds `assets/`. */
const PACKAGE_NAME = "tessera";
/** Path of the list, relative to the project folder. */
export const BLOCKLIST_ASSET = join("assets", "password-blocklist.txt.gz");

/** The form in which passwords are compared with the list. */
export function blocklistKey(password: string): string {
  return password.normalize("NFKC").toLowerCase();
}

/**
 * The nearest folder, from `startDir` upwards, holding a `package.json` whose `name` is `packageName`.
 * Folders with another package's (or an unreadable) `package.json` are passed over.
 */
export function findPackageRoot(startDir: string, packageName: string = PACKAGE_NAME): string {
  let dir = startDir;
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const manifest = JSON.parse(readFileSync(file, "utf8")) as { name?: unknown };
        if (manifest.name === packageName) return dir;
      } catch {
        // Not a readable manifest: keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`No package.json named "${packageName}" in ${startDir} or any folder above it`);
    }
    dir = parent;
  }
}

/** Where the blocklist asset lives for a module at `moduleUrl` (defaults to this module). */
export function resolveBlocklistPath(moduleUrl: string | URL = import.meta.url): string {
  return join(findPackageRoot(dirname(fileURLToPath(moduleUrl))), BLOCKLIST_ASSET);
}

/** Seed of the entry hash; changing it changes nothing but which (rare) strings are false positives. */
const HASH_SEED = 0;
/** Lone surrogates: a key holding one cannot be on a list read as UTF-8, which decodes to well-formed text. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Index of the high and low 32-bit halves of a 64-bit element in a `Uint32Array` view of the same memory. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = 1 - HI;

/**
 * A list of keys held as 64-bit hashes (the first half of MurmurHash3_x86_128 of each key's UTF-8 bytes) in a
 * sorted `BigUint64Array`, duplicates removed: 8 bytes per entry whatever the entry's length, looked up by
 * binary search. No false negatives (a listed key always hashes to a stored value); a key that is not listed
 * is reported listed only if its hash equals one of the `size` stored ones, which for a well-mixed 64-bit hash
 * happens with probability `size / 2^64` (≈ 2.2 × 10⁻¹⁴ per look-up for 414,613 entries).
 */
export class HashedBlocklist {
  readonly #hashes: BigUint64Array;
  readonly #scratch = new Uint32Array(4);

  private constructor(hashes: BigUint64Array) {
    this.#hashes = hashes;
  }

  /**
   * Builds the set from a list of keys in UTF-8, one per line (LF; empty lines are skipped; anything else,
   * a CR included, is part of the key). Hashes the bytes in place: no string is made for any entry.
   */
  static fromLines(text: Uint8Array): HashedBlocklist {
    let count = 0;
    forEachLine(text, () => count++);
    const hashes = new BigUint64Array(count);
    const halves = new Uint32Array(hashes.buffer);
    const scratch = new Uint32Array(4);
    let i = 0;
    forEachLine(text, (start, end) => {
      murmur3x86128(text, start, end, HASH_SEED, scratch);
      halves[2 * i + HI] = scratch[0]!;
      halves[2 * i + LO] = scratch[1]!;
      i++;
    });
    hashes.sort();
    // Drop duplicates, comparing 32-bit halves: reading `hashes[j]` would allocate a BigInt per element.
    let distinct = 0;
    for (let j = 0; j < count; j++) {
      const hi = halves[2 * j + HI]!;
      const lo = halves[2 * j + LO]!;
      if (distinct > 0 && halves[2 * (distinct - 1) + HI] === hi && halves[2 * (distinct - 1) + LO] === lo)
        continue;
      halves[2 * distinct + HI] = hi;
      halves[2 * distinct + LO] = lo;
      distinct++;
    }
    return new HashedBlocklist(distinct === count ? hashes : hashes.slice(0, distinct));
  }

  /** Number of distinct hashes: the number of distinct entries, barring a 64-bit collision between two. */
  get size(): number {
    return this.#hashes.length;
  }

  /** Bytes held for the hashes. */
  get byteLength(): number {
    return this.#hashes.byteLength;
  }

  /** True when `key` (compared exactly, as UTF-8 bytes) is on the list; see the class comment for the error. */
  has(key: string): boolean {
    if (LONE_SURROGATE.test(key)) return false;
    const bytes = Buffer.from(key, "utf8");
    const [h1, h2] = murmur3x86128(bytes, 0, bytes.length, HASH_SEED, this.#scratch);
    const target = (BigInt(h1!) << 32n) | BigInt(h2!);
    const hashes = this.#hashes;
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < target) lo = mid + 1;
      else hi = mid;
    }
    return lo < hashes.length && hashes[lo] === target;
  }
}

/** Calls `visit(start, end)` for every non-empty LF-terminated (or final) line of `text`. */
function forEachLine(text: Uint8Array, visit: (start: number, end: number) => void): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end === -1) end = text.length;
    if (end > start) visit(start, end);
    start = end + 1;
  }
}

/** Reads a gzipped list (one key per line, UTF-8) into a `HashedBlocklist`. */
export function readBlocklist(file: string): HashedBlocklist {
  const text = gunzipSync(readFileSync(file));
  if (!isUtf8(text)) throw new Error(`Password blocklist ${file} is not valid UTF-8`);
  const entries = HashedBlocklist.fromLines(text);
  if (entries.size === 0) throw new Error(`Password blocklist ${file} is empty`);
  return entries;
}

let cached: HashedBlocklist | undefined;

function blocklist(): HashedBlocklist {
  cached ??= readBlocklist(resolveBlocklistPath());
  return cached;
}

/** True when the password, NFKC-normalised and lower-cased, is on the list. */
export function isBlocklisted(password: string): boolean {
  return blocklist().has(blocklistKey(password));
}

/** Number of distinct entries on the list (loads it if it is not loaded yet). */
export function blocklistSize(): number {
  return blocklist().size;
}
