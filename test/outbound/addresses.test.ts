/** Address parsing and classification: the table of special-purpose ranges, their edges, and mapped forms. */
import { BlockList, isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AddressKind,
  classifyAddress,
  formatIp,
  inCidr,
  parseCidr,
  parseIp,
} from "../../src/outbound/index.js";

const kindOf = (text: string) => classifyAddress(text)?.kind;

describe("classifyAddress", () => {
  it.each<[string, AddressKind]>([
    // IPv4 edges of every range.
    ["0.0.0.0", "unspecified"],
    ["0.0.0.1", "reserved"],
    ["0.255.255.255", "reserved"],
    ["1.0.0.0", "public"],
    ["9.255.255.255", "public"],
    ["10.0.0.0", "private"],
    ["10.255.255.255", "private"],
    ["11.0.0.0", "public"],
    ["100.63.255.255", "public"],
    ["100.64.0.0", "shared"],
    ["100.127.255.255", "shared"],
    ["100.128.0.0", "public"],
    ["126.255.255.255", "public"],
    ["127.0.0.0", "loopback"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.255", "loopback"],
    ["128.0.0.0", "public"],
    ["169.253.255.255", "public"],
    ["169.254.0.0", "link-local"],
    ["169.254.169.254", "link-local"],
    ["169.254.255.255", "link-local"],
    ["169.255.0.0", "public"],
    ["172.15.255.255", "public"],
    ["172.16.0.0", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.0", "public"],
    ["192.0.0.8", "reserved"],
    ["192.0.2.1", "reserved"],
    ["192.88.99.1", "reserved"],
    ["192.167.255.255", "public"],
    ["192.168.0.0", "private"],
    ["192.168.255.255", "private"],
    ["192.169.0.0", "public"],
    ["198.17.255.255", "public"],
    ["198.18.0.0", "reserved"],
    ["198.19.255.255", "reserved"],
    ["198.20.0.0", "public"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.7", "reserved"],
    ["223.255.255.255", "public"],
    ["224.0.0.0", "multicast"],
    ["239.255.255.255", "multicast"],
    ["240.0.0.0", "reserved"],
    ["255.255.255.254", "reserved"],
    ["255.255.255.255", "broadcast"],
    ["8.8.8.8", "public"],
    // IPv6.
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::2", "reserved"],
    ["100::1", "reserved"],
    ["1fff:ffff::", "reserved"],
    ["2000::", "public"],
    ["2606:4700:4700::1111", "public"],
    ["2001::1", "reserved"], // Teredo
    ["2001:db8::1", "reserved"],
    ["3fff::1", "reserved"],
    ["3fff:1000::", "public"],
    ["3ffe:ffff::1", "public"],
    ["4000::1", "reserved"],
    ["fbff:ffff::1", "reserved"],
    ["fc00::", "private"],
    ["fd12:3456::1", "private"],
    ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private"],
    ["fe7f:ffff::1", "reserved"],
    ["fe80::", "link-local"],
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["64:ff9b:1::1", "private"],
    // IPv4-mapped, NAT64 and 6to4 forms carry their IPv4 address's kind.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:7f00:0001", "loopback"],
    ["::FFFF:169.254.169.254", "link-local"],
    ["::ffff:a9fe:a9fe", "link-local"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["::ffff:8.8.8.8", "public"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::808:808", "public"],
    ["2002:a9fe:a9fe::", "link-local"],
    ["2002:7f00:1::1", "loopback"],
    ["2002:0808:0808::1", "public"],
    // IPv4-compatible (deprecated) forms are not translated, and not public.
    ["::127.0.0.1", "reserved"],
    ["::8.8.8.8", "reserved"],
  ])("%s is %s", (address, kind) => {
    expect(kindOf(address)).toBe(kind);
  });

  it("names the range that decided, and the IPv4 address a mapped form carries", () => {
    expect(classifyAddress("169.254.169.254")).toEqual({ kind: "link-local", range: "169.254.0.0/16" });
    expect(classifyAddress("::ffff:169.254.169.254")).toEqual({
      kind: "link-local",
      range: "169.254.0.0/16",
      embedded: "169.254.169.254",
    });
    expect(classifyAddress("2606:4700::1")).toEqual({ kind: "public" });
  });

  it.each([
    "",
    "localhost",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3.4/32",
    "fe80::1%eth0",
    "[::1]",
    ":::",
    "1::2::3",
    "12345::",
    "::ffff:1.2.3.256",
  ])("%j is not an address", (text) => {
    expect(classifyAddress(text)).toBeUndefined();
  });
});

describe("parseIp", () => {
  it("parses every address Node accepts, to the canonical form Node's URL parser writes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const parsed = parseIp(text);
        expect(parsed).toBeDefined();
        const canonical = formatIp(parsed!);
        const host = new URL(`http://${isIP(text) === 6 ? `[${text}]` : text}/`).hostname;
        // WHATWG URL writes IPv6 without a dotted tail, compressed as RFC 5952 says: so do we.
        expect(parsed!.family === 6 ? `[${canonical}]` : canonical).toBe(host);
        expect(parseIp(canonical)).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses what Node does not accept as an address", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."0123456789abcdef:.%"), maxLength: 45 }), (text) => {
        if (isIP(text) === 0 || text.includes("%")) expect(parseIp(text)).toBeUndefined();
        else expect(parseIp(text)).toBeDefined();
      }),
      { numRuns: 5000 },
    );
  });

  it("classifies a mapped IPv4 address as the address itself", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const value = parseIp(v4)!.value;
        const hex = `${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
        const direct = classifyAddress(v4)!;
        for (const mapped of [`::ffff:${v4}`, `::ffff:${hex}`, `64:ff9b::${hex}`]) {
          expect(classifyAddress(mapped)).toEqual({ ...direct, embedded: v4 });
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("finds every address of 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16 and 100.64/10 non-public", () => {
    const inRange = (base: number, bits: number, expected: AddressKind) =>
      fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((offset) => {
        const n = base + offset;
        return [[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join("."), expected] as const;
      });
    const ip = (a: number, b: number) => (a * 2 ** 24 + b * 2 ** 16) >>> 0;
    fc.assert(
      fc.property(
        fc.oneof(
          inRange(ip(10, 0), 8, "private"),
          inRange(ip(172, 16), 12, "private"),
          inRange(ip(192, 168), 16, "private"),
          inRange(ip(127, 0), 8, "loopback"),
          inRange(ip(169, 254), 16, "link-local"),
          inRange(ip(100, 64), 10, "shared"),
        ),
        ([address, kind]) => {
          expect(kindOf(address)).toBe(kind);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("CIDRs", () => {
  it("parses addresses and prefixes, clearing host bits", () => {
    expect(parseCidr("10.1.2.3/8")?.text).toBe("10.0.0.0/8");
    expect(parseCidr("127.0.0.1")?.text).toBe("127.0.0.1/32");
    expect(parseCidr("fd00::1/8")?.text).toBe("fd00::/8");
    expect(parseCidr("::1")?.text).toBe("::1/128");
    expect(parseCidr("0.0.0.0/0")?.text).toBe("0.0.0.0/0");
    for (const bad of [
      "10.0.0.0/33",
      "::/129",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "x/8",
      "fe80::%1/64",
    ]) {
      expect(parseCidr(bad)).toBeUndefined();
    }
  });

  it("agrees with Node's BlockList on membership", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4());
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }), fc.ipV6());
    fc.assert(
      fc.property(fc.oneof(v4, v6), ([network, bits, address]) => {
        const family = isIP(network) === 4 ? "ipv4" : "ipv6";
        const range = parseCidr(`${network}/${bits}`)!;
        const list = new BlockList();
        list.addSubnet(formatIp({ family: range.family, value: range.network }), bits, family);
        // Also an address near the network, so that matches are frequent.
        const near = formatIp({ family: range.family, value: range.network + 1n });
        for (const candidate of [address, near]) {
          expect(inCidr(parseIp(candidate)!, range)).toBe(list.check(candidate, family));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
