/**
 * CIDR allow-lists (src/lib/cidr.ts): strict parsing, matching against an independent bit-level model for
 * IPv4 and IPv6, and IPv4-mapped IPv6 addresses (what a dual-stack socket reports) matched as IPv4.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createIpAllowList, parseCidr } from "../../src/lib/cidr.js";

/** IPv4 text → 32-bit number (the model; independent of node:net). */
function ipv4ToBigInt(text: string): bigint {
  return text.split(".").reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

/** IPv6 text (with `::` and an optional dotted IPv4 tail) → 128-bit number. */
function ipv6ToBigInt(text: string): bigint {
  let groups: string[];
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let source = text;
  if (tail) {
    const v4 = ipv4ToBigInt(tail[1]!);
    source = `${text.slice(0, -tail[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  if (source.includes("::")) {
    const [head, rest] = source.split("::") as [string, string];
    const left = head === "" ? [] : head.split(":");
    const right = rest === "" ? [] : rest.split(":");
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  } else {
    groups = source.split(":");
  }
  expect(groups).toHaveLength(8);
  return groups.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function samePrefix(a: bigint, b: bigint, prefix: number, bits: number): boolean {
  const shift = BigInt(bits - prefix);
  return a >> shift === b >> shift;
}

describe("parseCidr", () => {
  it("reads blocks and bare addresses, giving the prefix, the family and the text", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({
      address: "10.0.0.0",
      prefix: 8,
      family: "ipv4",
      text: "10.0.0.0/8",
    });
    expect(parseCidr("192.0.2.7")).toMatchObject({ prefix: 32, family: "ipv4", text: "192.0.2.7/32" });
    expect(parseCidr("2001:db8::/32")).toMatchObject({ prefix: 32, family: "ipv6", text: "2001:db8::/32" });
    expect(parseCidr("::1")).toMatchObject({ prefix: 128, family: "ipv6", text: "::1/128" });
    expect(parseCidr("0.0.0.0/0")).toMatchObject({ prefix: 0, family: "ipv4" });
    expect(parseCidr("::/0")).toMatchObject({ prefix: 0, family: "ipv6" });
  });

  it.each([
    ["an empty string", ""],
    ["a host name", "example.test"],
    ["a prefix past 32 for IPv4", "10.0.0.0/33"],
    ["a prefix past 128 for IPv6", "2001:db8::/129"],
    ["a negative prefix", "10.0.0.0/-1"],
    ["an empty prefix", "10.0.0.0/"],
    ["a prefix with a sign", "10.0.0.0/+8"],
    ["a fractional prefix", "10.0.0.0/8.5"],
    ["trailing garbage after the prefix", "10.0.0.0/8x"],
    ["a second slash", "10.0.0.0/8/8"],
    ["a space inside", "10.0.0.0 /8"],
    ["leading whitespace", " 10.0.0.0/8"],
    ["an octet past 255", "10.0.0.256/32"],
    ["an octet with a leading zero", "010.0.0.1"],
    ["three octets", "10.0.0/24"],
    ["two double colons", "2001::db8::1"],
    ["a too-long string", `${"0".repeat(60)}:10.0.0.0/8`],
  ])("refuses %s", (_what, text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it("refuses non-strings without throwing", () => {
    expect(parseCidr(undefined as unknown as string)).toBeUndefined();
    expect(parseCidr(8 as unknown as string)).toBeUndefined();
  });

  it("accepts every IPv4 address with every prefix 0–32, and refuses 33–999 (property)", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 999 }), (address, prefix) => {
        const cidr = parseCidr(`${address}/${prefix}`);
        if (prefix <= 32)
          expect(cidr).toEqual({ address, prefix, family: "ipv4", text: `${address}/${prefix}` });
        else expect(cidr).toBeUndefined();
      }),
    );
  });

  it("accepts every IPv6 address with every prefix 0–128, but an IPv4-mapped one only from /96 (property)", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (address, prefix) => {
        const mapped = ipv6ToBigInt(address) >> 32n === 0xffffn;
        const cidr = parseCidr(`${address}/${prefix}`);
        if (mapped && prefix < 96) expect(cidr).toBeUndefined();
        else expect(cidr).toMatchObject({ prefix, family: "ipv6" });
      }),
    );
  });

  it("refuses an IPv4-mapped block shorter than /96, which would allow every IPv4 address", () => {
    for (const text of [
      "::ffff:10.0.0.0/8",
      "::ffff:10.0.0.0/95",
      "::FFFF:a00:0/64",
      "0:0:0:0:0:ffff:10.0.0.0/0",
    ]) {
      expect(parseCidr(text), text).toBeUndefined();
    }
    expect(parseCidr("::ffff:10.0.0.0/104")).toMatchObject({ prefix: 104, family: "ipv6" });
    expect(parseCidr("::ffff:10.0.0.1")).toMatchObject({ prefix: 128 });
    // Blocks that merely contain the mapped range are what they say (`::/0` is everything, on purpose).
    expect(parseCidr("::/0")).toMatchObject({ prefix: 0 });
    expect(parseCidr("::/8")).toMatchObject({ prefix: 8 });
    const mapped = createIpAllowList(["::ffff:10.0.0.0/104"]);
    expect(mapped("10.9.9.9")).toBe(true);
    expect(mapped("::ffff:10.9.9.9")).toBe(true);
    expect(mapped("11.0.0.1")).toBe(false);
  });

  it("refuses a valid block with any non-digit suffix appended (property)", () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.integer({ min: 0, max: 32 }),
        fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/^\d*$/.test(s)),
        (address, prefix, junk) => {
          expect(parseCidr(`${address}/${prefix}${junk}`)).toBeUndefined();
        },
      ),
    );
  });

  it("never throws on arbitrary text (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const cidr = parseCidr(text);
        if (cidr !== undefined) expect(() => createIpAllowList([cidr.text])).not.toThrow();
      }),
    );
  });
});

describe("createIpAllowList", () => {
  const allow = createIpAllowList(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);

  it("allows addresses inside a listed block and refuses the rest", () => {
    expect(allow("10.0.0.1")).toBe(true);
    expect(allow("10.255.255.255")).toBe(true);
    expect(allow("192.0.2.7")).toBe(true);
    expect(allow("2001:db8::1")).toBe(true);
    expect(allow("2001:db8:ffff:ffff::1")).toBe(true);
    expect(allow("11.0.0.1")).toBe(false);
    expect(allow("9.255.255.255")).toBe(false);
    expect(allow("192.0.2.8")).toBe(false);
    expect(allow("2001:db9::1")).toBe(false);
    expect(allow("::1")).toBe(false);
  });

  it("matches IPv4-mapped IPv6 addresses as IPv4, in dotted and hex spelling and any case", () => {
    expect(allow("::ffff:10.1.2.3")).toBe(true);
    expect(allow("::FFFF:10.1.2.3")).toBe(true);
    expect(allow("::ffff:a01:203")).toBe(true);
    expect(allow("0:0:0:0:0:ffff:10.1.2.3")).toBe(true);
    expect(allow("::ffff:11.1.2.3")).toBe(false);
    expect(allow("::ffff:192.0.2.7")).toBe(true);
    expect(allow("::ffff:192.0.2.8")).toBe(false);
  });

  it("refuses a missing address and anything that is not an address", () => {
    expect(allow(undefined)).toBe(false);
    expect(allow("")).toBe(false);
    expect(allow("localhost")).toBe(false);
    expect(allow("10.0.0.1/32")).toBe(false);
    expect(allow(" 10.0.0.1")).toBe(false);
  });

  it("an empty list allows nothing", () => {
    expect(createIpAllowList([])("10.0.0.1")).toBe(false);
  });

  it("throws on a bad entry rather than allowing everything or nothing", () => {
    expect(() => createIpAllowList(["10.0.0.0/8", "10.0.0.0/33"])).toThrow(TypeError);
    expect(() => createIpAllowList(["nope"])).toThrow(TypeError);
  });

  it("agrees with a bit-level model for IPv4 blocks (property)", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (network, prefix, address) => {
        const expected = samePrefix(ipv4ToBigInt(network), ipv4ToBigInt(address), prefix, 32);
        const check = createIpAllowList([`${network}/${prefix}`]);
        expect(check(address)).toBe(expected);
        expect(check(`::ffff:${address}`)).toBe(expected);
      }),
    );
  });

  it("agrees with a bit-level model for IPv6 blocks (property)", () => {
    fc.assert(
      fc.property(
        fc.ipV6(),
        fc.integer({ min: 0, max: 128 }),
        fc.ipV6(),
        fc.integer({ min: 0, max: 128 }),
        (network, prefix, other, keep) => {
          const net = ipv6ToBigInt(network);
          // An address sharing the first `keep` bits with the network, so both outcomes are common.
          const mask = (1n << BigInt(128 - keep)) - 1n;
          const value = (net & ~mask & ((1n << 128n) - 1n)) | (ipv6ToBigInt(other) & mask);
          const address = value
            .toString(16)
            .padStart(32, "0")
            .replace(/(.{4})(?!$)/g, "$1:");
          const check = createIpAllowList([`${network}/${prefix}`]);
          const inMappedRange = value >> 32n === 0xffffn;
          // An IPv4-mapped address is compared as IPv4: skip those here (the IPv4 property covers them).
          fc.pre(!inMappedRange);
          expect(check(address)).toBe(samePrefix(net, value, prefix, 128));
        },
      ),
    );
  });

  it("an address always matches its own /32 or /128 and the catch-all of its family (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (address) => {
        const v4 = !address.includes(":");
        expect(createIpAllowList([address])(address)).toBe(true);
        expect(createIpAllowList([v4 ? "0.0.0.0/0" : "::/0"])(address)).toBe(true);
      }),
    );
  });

  it("never throws for arbitrary input (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        expect(typeof allow(text)).toBe("boolean");
      }),
    );
  });

  it("ignores a caller's IPv6 zone index, and refuses one inside a block", () => {
    const allow = createIpAllowList(["fe80::/10"]);
    expect(allow("fe80::1%eth0")).toBe(true);
    expect(allow("fe81::1%2")).toBe(true);
    expect(allow("2001:db8::1%eth0")).toBe(false);
    expect(parseCidr("fe80::1%eth0/64")).toBeUndefined();
    expect(parseCidr("fe80::1%eth0")).toBeUndefined();
    expect(() => createIpAllowList(["fe80::1%eth0/64"])).toThrow(TypeError);
  });
});
