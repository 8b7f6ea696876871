/**
 * Opaque tokens: shape, prefix, checksum. The checksum is recomputed here with an independent CRC-32
 * (reflected polynomial 0xEDB88320, checked against the standard check value) and base62 encoding.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  generateOpaqueToken,
  isWellFormedOpaqueToken,
  OPAQUE_BODY_LENGTH,
  type OpaqueTokenFormat,
} from "../../src/crypto/index.js";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, "utf8")) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base62(value: number, width: number): string {
  let out = "";
  for (let v = value; out.length < width; v = Math.floor(v / 62)) out = BASE62[v % 62] + out;
  return out;
}

const FORMATS: OpaqueTokenFormat[] = [
  {},
  { prefix: "tsr_pat_" },
  { checksum: true },
  { prefix: "tsr_pat_", checksum: true },
  { prefix: "a_" },
  { prefix: "x9_y_", checksum: true },
];
const CHECKSUMMED = FORMATS.filter((f) => f.checksum);

function expectedLength(format: OpaqueTokenFormat): number {
  return (format.prefix ?? "").length + OPAQUE_BODY_LENGTH + (format.checksum ? 6 : 0);
}

describe("independent CRC-32", () => {
  it("gives the standard check value for '123456789'", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(base62(0, 6)).toBe("000000");
    expect(base62(0xffffffff, 6)).toBe("4gfFC3");
  });
});

describe("generateOpaqueToken", () => {
  it("is 43 base62 characters by default: ceil(256 / log2 62)", () => {
    expect(OPAQUE_BODY_LENGTH).toBe(Math.ceil(256 / Math.log2(62)));
    expect(generateOpaqueToken()).toMatch(/^[0-9A-Za-z]{43}$/);
  });

  it("generates tokens that are well-formed for their format: prefix, length, base62 after the prefix", () => {
    fc.assert(
      fc.property(fc.constantFrom(...FORMATS), (format) => {
        const token = generateOpaqueToken(format);
        const prefix = format.prefix ?? "";
        expect(token.startsWith(prefix)).toBe(true);
        expect(token).toHaveLength(expectedLength(format));
        expect(token.slice(prefix.length)).toMatch(/^[0-9A-Za-z]+$/);
        expect(isWellFormedOpaqueToken(token, format)).toBe(true);
      }),
      { numRuns: 600 },
    );
  });

  it("appends CRC-32(prefix + body) as 6 base62 characters when asked for a checksum", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CHECKSUMMED), (format) => {
        const token = generateOpaqueToken(format);
        const body = token.slice(0, -6);
        expect(token.slice(-6)).toBe(base62(crc32(body), 6));
      }),
      { numRuns: 300 },
    );
  });

  it("is not well-formed under a different format", () => {
    for (const format of FORMATS) {
      const token = generateOpaqueToken(format);
      for (const other of FORMATS) {
        if (other === format) continue;
        const sameShape = expectedLength(other) === expectedLength(format) && other.prefix === format.prefix;
        if (!sameShape) expect(isWellFormedOpaqueToken(token, other)).toBe(false);
      }
    }
  });

  it("generates 10,000 distinct tokens", () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 10_000; i++) tokens.add(generateOpaqueToken({ prefix: "tsr_pat_", checksum: true }));
    expect(tokens.size).toBe(10_000);
  });

  it("throws TypeError for an invalid prefix", () => {
    for (const prefix of [
      "Tsr_",
      "TSR_",
      "tsr",
      "tsr_pat",
      "1tsr_",
      "_",
      "_tsr_",
      "tsr-pat_",
      "tsr pat_",
      "tsré_",
      "tsr_\n",
    ]) {
      expect(() => generateOpaqueToken({ prefix }), prefix).toThrow(TypeError);
      expect(() => generateOpaqueToken({ prefix, checksum: true }), prefix).toThrow(TypeError);
    }
  });

  it("treats an empty prefix as no prefix", () => {
    expect(generateOpaqueToken({ prefix: "" })).toMatch(/^[0-9A-Za-z]{43}$/);
  });
});

describe("isWellFormedOpaqueToken", () => {
  it("rejects any single-character substitution in a checksummed token (CRC-32 detects every one)", () => {
    const substitution = fc.record({
      format: fc.constantFrom(...CHECKSUMMED),
      position: fc.nat(),
      char: fc.oneof(
        { arbitrary: fc.constantFrom(...BASE62), weight: 8 },
        { arbitrary: fc.constantFrom("_", "-", " ", ".", "é", "\u0000"), weight: 1 },
      ),
    });
    fc.assert(
      fc.property(substitution, ({ format, position, char }) => {
        const token = generateOpaqueToken(format);
        const at = position % token.length;
        fc.pre(token[at] !== char);
        const mutated = token.slice(0, at) + char + token.slice(at + 1);
        expect(isWellFormedOpaqueToken(mutated, format)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it("rejects a substitution at every position of one checksummed token, with every other base62 character", () => {
    const format = { prefix: "tsr_pat_", checksum: true };
    const token = generateOpaqueToken(format);
    let checked = 0;
    for (let at = 0; at < token.length; at++) {
      for (const char of BASE62) {
        if (char === token[at]) continue;
        expect(isWellFormedOpaqueToken(token.slice(0, at) + char + token.slice(at + 1), format)).toBe(false);
        checked++;
      }
    }
    // Prefix characters need not be base62, so count only what was generated.
    expect(checked).toBeGreaterThan(token.length * 60);
  });

  it("without a checksum, a base62 substitution in the body stays well-formed (what the checksum is for)", () => {
    const format = { prefix: "tsr_pat_" };
    const token = generateOpaqueToken(format);
    const at = token.length - 1;
    const mutated = token.slice(0, at) + (token[at] === "A" ? "B" : "A");
    expect(isWellFormedOpaqueToken(mutated, format)).toBe(true);
  });

  it("binds the prefix into the checksum: the same body and checksum under another prefix is rejected", () => {
    const token = generateOpaqueToken({ prefix: "tsr_pat_", checksum: true });
    const moved = `tsr_oat_${token.slice("tsr_pat_".length)}`;
    expect(isWellFormedOpaqueToken(moved, { prefix: "tsr_oat_", checksum: true })).toBe(false);
    expect(isWellFormedOpaqueToken(moved, { prefix: "tsr_pat_", checksum: true })).toBe(false);
  });

  it("rejects non-strings, wrong lengths and non-base62 characters", () => {
    const format = { prefix: "tsr_pat_", checksum: true };
    const token = generateOpaqueToken(format);
    for (const value of [undefined, null, 1, {}, [token], Buffer.from(token)]) {
      expect(isWellFormedOpaqueToken(value, format)).toBe(false);
    }
    for (const value of [
      "",
      token.slice(0, -1),
      `${token}0`,
      ` ${token.slice(1)}`,
      `${token.slice(0, -1)} `,
    ]) {
      expect(isWellFormedOpaqueToken(value, format)).toBe(false);
    }
    const plain = generateOpaqueToken();
    for (const char of ["-", "_", "+", "/", "=", " "]) {
      expect(isWellFormedOpaqueToken(char + plain.slice(1))).toBe(false);
    }
  });
});
