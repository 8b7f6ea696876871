/**
 * passwords/blocklist.ts held as 64-bit hashes (passwords/murmur3.ts): the hash against the reference, the
 * compact set against a plain `Set` of the same keys (shipped list and generated lists), and the policy's
 * refusals of listed passwords in the spellings it normalises.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BLOCKLIST_ASSET,
  blocklistKey,
  blocklistSize,
  HashedBlocklist,
  isBlocklisted,
} from "../../src/accounts/passwords/blocklist.js";
import { murmur3x86128 } from "../../src/accounts/passwords/murmur3.js";
import { checkPassword, DEFAULT_PASSWORD_POLICY } from "../../src/accounts/passwords/policy.js";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const shippedText = gunzipSync(readFileSync(join(REPO_ROOT, BLOCKLIST_ASSET)));
const shippedKeys = shippedText.toString("utf8").split("\n").slice(0, -1);
const shippedSet = new Set(shippedKeys);

const hex = (words: Uint32Array, n: number) =>
  [...words.subarray(0, n)].map((w) => w.toString(16).padStart(8, "0")).join("");
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
/** One element of `items`, chosen by index (`constantFrom` spreads its arguments: too many for 400,000). */
const oneOf = <T>(items: readonly T[]) => fc.nat(items.length - 1).map((i) => items[i]!);
const lines = (keys: readonly string[]) => utf8(keys.map((key) => `${key}\n`).join(""));

describe("murmur3x86128", () => {
  it("matches SMHasher's verification value for MurmurHash3_x86_128 (0xB3ECE62A)", () => {
    // SMHasher's VerificationTest: hash {0}, {0,1}, … {0..254} with seed 256 - length, then hash the 256
    // concatenated results (each word little-endian) with seed 0 and read the first 4 bytes little-endian.
    const key = Uint8Array.from({ length: 256 }, (_, i) => i);
    const all = new Uint8Array(256 * 16);
    const view = new DataView(all.buffer);
    const out = new Uint32Array(4);
    for (let i = 0; i < 256; i++) {
      murmur3x86128(key, 0, i, 256 - i, out);
      for (let w = 0; w < 4; w++) view.setUint32(i * 16 + 4 * w, out[w]!, true);
    }
    murmur3x86128(all, 0, all.length, 0, out);
    expect(out[0]).toBe(0xb3ece62a);
  });

  it("gives the reference implementation's first 64 bits for sample keys (seed 0)", () => {
    // From SMHasher's MurmurHash3.cpp compiled with gcc: h1 and h2 of each key's UTF-8 bytes.
    const out = new Uint32Array(4);
    const expected: [string, string][] = [
      ["", "0000000000000000"],
      ["password", "38c8196c5bcfb52d"],
      ["hunter2", "6d172c4a5cb9174f"],
      ["ｐａｓｓｗｏｒｄ", "3738019f4f647f6d"],
      ["correct horse battery staple", "d43495b06530f03f"],
    ];
    for (const [text, hash] of expected) {
      const bytes = utf8(text);
      expect(hex(murmur3x86128(bytes, 0, bytes.length, 0, out), 2), text).toBe(hash);
    }
  });

  it("hashes a byte range in place as it hashes a copy of that range", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(20), fc.nat(20), (bytes, before, after) => {
        const padded = new Uint8Array(before + bytes.length + after).fill(0xaa);
        padded.set(bytes, before);
        const a = hex(murmur3x86128(bytes, 0, bytes.length, 7, new Uint32Array(4)), 4);
        const b = hex(murmur3x86128(padded, before, before + bytes.length, 7, new Uint32Array(4)), 4);
        expect(b).toBe(a);
      }),
    );
  });
});

describe("HashedBlocklist", () => {
  it("holds the shipped list in 8 bytes per entry", () => {
    const list = HashedBlocklist.fromLines(shippedText);
    expect(list.size).toBe(shippedSet.size); // no 64-bit collision between two entries
    expect(list.size).toBe(blocklistSize());
    expect(list.byteLength).toBe(8 * list.size);
  });

  it("agrees with a plain Set of the shipped list on listed and unlisted keys", () => {
    const listed = oneOf(shippedKeys);
    const variant = listed.chain((key) =>
      fc.constantFrom(`${key}1`, `${key}!`, `x${key}`, key.slice(1), key.toUpperCase(), ` ${key}`),
    );
    const random = fc.string({ unit: "grapheme", maxLength: 24 });
    fc.assert(
      fc.property(fc.oneof(listed, variant, random), (candidate) => {
        expect(isBlocklisted(candidate), candidate).toBe(shippedSet.has(blocklistKey(candidate)));
      }),
      { numRuns: 5_000 },
    );
  });

  it("agrees with a plain Set on generated lists", () => {
    const key = fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }).filter((k) => !k.includes("\n"));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 60 }), fc.array(key, { maxLength: 30 }), (listed, others) => {
        const list = HashedBlocklist.fromLines(lines(listed));
        const set = new Set(listed);
        expect(list.size).toBe(set.size);
        for (const candidate of [...listed, ...others, ""]) {
          expect(list.has(candidate), candidate).toBe(set.has(candidate));
        }
      }),
    );
  });

  it("compares keys exactly: no case folding, trimming or CR stripping of its own", () => {
    const list = HashedBlocklist.fromLines(utf8("Hunter2\n\n\nwith space \ncrlf\r\nlast-line-no-lf"));
    expect(list.size).toBe(4);
    expect(list.has("Hunter2")).toBe(true);
    expect(list.has("hunter2")).toBe(false);
    expect(list.has("with space ")).toBe(true);
    expect(list.has("with space")).toBe(false);
    expect(list.has("crlf\r")).toBe(true);
    expect(list.has("crlf")).toBe(false);
    expect(list.has("last-line-no-lf")).toBe(true);
    expect(list.has("")).toBe(false);
  });

  it("never matches a key holding a lone surrogate, even against U+FFFD (its UTF-8 replacement)", () => {
    const list = HashedBlocklist.fromLines(utf8("a\uFFFDb\n"));
    expect(list.has("a\uFFFDb")).toBe(true);
    expect(list.has("a\uD800b")).toBe(false);
  });

  it("collapses duplicate entries", () => {
    const list = HashedBlocklist.fromLines(lines(["b", "a", "b", "c", "a"]));
    expect(list.size).toBe(3);
    for (const key of ["a", "b", "c"]) expect(list.has(key)).toBe(true);
  });
});

describe("policy with the hashed blocklist", () => {
  const check = (password: string) =>
    checkPassword(password, { policy: DEFAULT_PASSWORD_POLICY, hasSecondFactor: true });
  const reason = (password: string) => {
    const result = check(password);
    return result.ok ? "ok" : result.reason;
  };

  it("refuses listed passwords in every spelling the policy normalises to them", () => {
    for (const password of [
      "password",
      "Password",
      "PASSWORD",
      "pAsSwOrD",
      "ｐａｓｓｗｏｒｄ", // full-width → password
      "ＰＡＳＳＷＯＲＤ", // full-width capitals
      "iloveyou",
      "ILoveYou",
      "ﬁsh1234", // ﬁ ligature → fish1234
      "①②③④⑤⑥⑦⑧", // circled digits → 12345678
      "trustno1",
      "TrustNo1",
    ]) {
      expect(reason(password), password).toBe("blocklisted");
    }
  });

  it("refuses random entries of the shipped list, upper-cased, when long enough to reach the check", () => {
    fc.assert(
      fc.property(oneOf(shippedKeys.filter((key) => [...key].length >= 8 && !/\p{Cc}/u.test(key))), (key) => {
        // Upper-casing may not round-trip (ß → SS); the policy compares the lower-cased NFKC form.
        const upper = key.toUpperCase();
        if (blocklistKey(upper) !== key || [...upper.normalize("NFKC")].length < 8) return;
        expect(reason(upper), upper).toBe("blocklisted");
        expect(reason(key), key).toBe("blocklisted");
      }),
      { numRuns: 500 },
    );
  });

  it("accepts strong passwords", () => {
    for (const password of [
      "trembling ocean moths at dusk",
      "kq7#vz2m pw9!xr",
      "Correct-Horse-Battery-Staple-42",
      "🦊🌵🎻🛶🧊🪁🦉🍄",
      "Пароль на русском языке 42",
    ]) {
      expect(reason(password), password).toBe("ok");
    }
  });
});
