/**
 * master-key.ts: parsing the master key, and sealing/opening secrets with AES-256-GCM bound to associated data.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMasterKey, generateMasterKeyText, parseMasterKey } from "../../src/crypto/index.js";
import { KeyError } from "../../src/lib/errors.js";

const RAW = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");
const AAD = "signing-key:kid-1";

function flipBit(sealed: string, part: number, byte = 0): string {
  const parts = sealed.split(".");
  const bytes = Buffer.from(parts[part]!, "base64url");
  bytes[byte % bytes.length]! ^= 0x01;
  parts[part] = bytes.toString("base64url");
  return parts.join(".");
}

describe("seal and open", () => {
  it("round-trips any plaintext under the same associated data", () => {
    const key = createMasterKey(RAW);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ unit: "grapheme", maxLength: 40 }),
        (plaintext, aad) => {
          expect(key.open(key.seal(plaintext, aad), aad)).toEqual(Buffer.from(plaintext));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("produces v1.<key id>.<12-byte iv>.<ciphertext>.<16-byte tag>, with a fresh IV each time", () => {
    const key = createMasterKey(RAW);
    const plaintext = Buffer.from("a secret of 27 bytes length");
    const a = key.seal(plaintext, AAD).split(".");
    const b = key.seal(plaintext, AAD).split(".");
    expect(a).toHaveLength(5);
    expect(a[0]).toBe("v1");
    expect(a[1]).toBe(key.id);
    expect(Buffer.from(a[2]!, "base64url")).toHaveLength(12);
    expect(Buffer.from(a[3]!, "base64url")).toHaveLength(plaintext.length);
    expect(Buffer.from(a[4]!, "base64url")).toHaveLength(16);
    expect(a[2]).not.toBe(b[2]);
    expect(a[3]).not.toBe(b[3]);
  });

  it("uses the first 8 bytes of SHA-256(key) as the key id", () => {
    // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
    expect(createMasterKey(Buffer.alloc(32)).id).toBe(
      Buffer.from("66687aadf862bd77", "hex").toString("base64url"),
    );
  });

  it("fails to open under different associated data", () => {
    const key = createMasterKey(RAW);
    const sealed = key.seal(Buffer.from("secret"), AAD);
    for (const aad of ["signing-key:kid-2", "", `${AAD} `, "SIGNING-KEY:kid-1"]) {
      expect(() => key.open(sealed, aad)).toThrow();
    }
    expect(key.open(sealed, AAD).toString()).toBe("secret");
  });

  it("fails to open a tampered ciphertext, tag or IV", () => {
    const key = createMasterKey(RAW);
    const sealed = key.seal(Buffer.from("a longer secret value"), AAD);
    for (let byte = 0; byte < 12; byte++) {
      expect(() => key.open(flipBit(sealed, 2, byte), AAD)).toThrow(); // iv
      expect(() => key.open(flipBit(sealed, 3, byte), AAD)).toThrow(); // ciphertext
      expect(() => key.open(flipBit(sealed, 4, byte), AAD)).toThrow(); // tag
    }
    const parts = sealed.split(".");
    const swappedTag = [
      ...parts.slice(0, 4),
      key.seal(Buffer.from("a longer secret value"), AAD).split(".")[4]!,
    ];
    expect(() => key.open(swappedTag.join("."), AAD)).toThrow();
  });

  it("refuses a truncated authentication tag (it would weaken forgery protection)", () => {
    const key = createMasterKey(RAW);
    const parts = key.seal(Buffer.from("secret"), AAD).split(".");
    for (const length of [4, 8, 12, 15]) {
      const truncated = [
        ...parts.slice(0, 4),
        Buffer.from(parts[4]!, "base64url").subarray(0, length).toString("base64url"),
      ];
      expect(() => key.open(truncated.join("."), AAD)).toThrow();
    }
  });

  it("reports a different master key as KeyError master_key_mismatch", () => {
    const sealed = createMasterKey(RAW).seal(Buffer.from("secret"), AAD);
    const other = createMasterKey(randomBytes(32));
    let error: unknown;
    try {
      other.open(sealed, AAD);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyError);
    expect((error as KeyError).code).toBe("master_key_mismatch");
  });

  it("refuses an unknown sealed format with TypeError", () => {
    const key = createMasterKey(RAW);
    const sealed = key.seal(Buffer.from("secret"), AAD);
    for (const bad of [
      sealed.replace(/^v1/, "v2"),
      sealed.split(".").slice(0, 4).join("."),
      `${sealed}.x`,
      "",
    ]) {
      expect(() => key.open(bad, AAD)).toThrow(TypeError);
    }
  });

  it("refuses a raw key that is not 32 bytes", () => {
    for (const length of [0, 16, 31, 33, 64])
      expect(() => createMasterKey(Buffer.alloc(length))).toThrow(TypeError);
  });
});

describe("parseMasterKey", () => {
  const hex = RAW.toString("hex");
  const b64u = RAW.toString("base64url");

  it("accepts 64 hex characters (either case)", () => {
    expect(parseMasterKey(hex)).toEqual(RAW);
    expect(parseMasterKey(hex.toUpperCase())).toEqual(RAW);
  });

  it("accepts 43 base64url characters", () => {
    expect(b64u).toHaveLength(43);
    expect(parseMasterKey(b64u)).toEqual(RAW);
    const text = generateMasterKeyText();
    expect(text).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parseMasterKey(text)).toHaveLength(32);
  });

  it("ignores surrounding whitespace", () => {
    expect(parseMasterKey(`  ${hex}\n`)).toEqual(RAW);
    expect(parseMasterKey(`\t${b64u} `)).toEqual(RAW);
  });

  it("refuses everything else", () => {
    const refused = [
      "",
      hex.slice(1), // 63 hex
      `${hex}0`, // 65 hex
      `${hex.slice(1)}g`, // non-hex character
      b64u.slice(1), // 42 base64url
      `${b64u}A`, // 44 base64url
      RAW.toString("base64"), // padded standard base64
      `${b64u}=`,
      `${b64u.slice(0, 42)}B`, // non-canonical: the last character's 2 unused bits are not zero
      "+".repeat(43),
      "/".repeat(43),
      `${b64u.slice(0, 20)} ${b64u.slice(21)}`,
    ];
    for (const text of refused) expect(parseMasterKey(text), JSON.stringify(text)).toBeUndefined();
  });
});
