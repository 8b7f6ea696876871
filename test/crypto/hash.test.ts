/**
 * hash.ts: SHA-256 token digests (checked against FIPS 180-2 / NIST example values, written here as hex)
 * and constant-time comparison.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { constantTimeEqual, hashToken } from "../../src/crypto/index.js";

const hexToB64u = (hex: string) => Buffer.from(hex, "hex").toString("base64url");

describe("hashToken", () => {
  it('hashes "abc" to the FIPS 180-2 SHA-256 example value, base64url without padding', () => {
    expect(hashToken("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    expect(hashToken("abc")).toBe(
      hexToB64u("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    );
  });

  it("matches the other FIPS 180-2 example and the empty string", () => {
    expect(hashToken("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      hexToB64u("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    );
    expect(hashToken("")).toBe(hexToB64u("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  });

  it("hashes the UTF-8 encoding of the value", () => {
    expect(hashToken("é")).toBe(
      createHash("sha256")
        .update(Buffer.from([0xc3, 0xa9]))
        .digest("base64url"),
    );
  });

  it("always returns 43 base64url characters", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (value) => {
        expect(hashToken(value)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }),
      { numRuns: 300 },
    );
  });
});

describe("constantTimeEqual", () => {
  it("is true for equal inputs", () => {
    expect(constantTimeEqual("secret", "secret")).toBe(true);
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual("abc", Buffer.from("abc"))).toBe(true);
  });

  it("is false for different inputs of the same length", () => {
    expect(constantTimeEqual("secret", "secreT")).toBe(false);
    expect(constantTimeEqual("a".repeat(1000), `${"a".repeat(999)}b`)).toBe(false);
    expect(constantTimeEqual(new Uint8Array([0]), new Uint8Array([1]))).toBe(false);
  });

  it("is false (and does not throw) for inputs of different lengths", () => {
    expect(constantTimeEqual("secret", "secret ")).toBe(false);
    expect(constantTimeEqual("", "\u0000")).toBe(false);
    expect(constantTimeEqual("a", "")).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(1))).toBe(false);
  });

  it("agrees with === on well-formed strings", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 20 }),
        fc.string({ unit: "grapheme", maxLength: 20 }),
        (a, b) => {
          expect(constantTimeEqual(a, b)).toBe(a === b);
          expect(constantTimeEqual(a, a)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
