/**
 * IP allow-lists from CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, or a bare address), on `node:net`'s
 * `BlockList`.
 *
 * - Parsing is strict: an address `net.isIP` refuses, a prefix out of range or trailing garbage is an error,
 *   so a typo never silently allows everything or nothing.
 * - IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports) are matched as IPv4; a
 *   caller's zone index (`fe80::1%eth0`) is ignored, and refused in a block.
 * - Pure (`node:net` only): the SDK's verifier uses it too.
 * - A block written with an IPv4-mapped address must keep the whole mapping prefix (`/96` or longer): with a
 *   shorter one (`::ffff:10.0.0.0/8`, meant as `10.0.0.0/8`) it would cover `::ffff:0:0/96`, that is every
 *   IPv4 address.
 */
import { BlockList, isIP } from "node:net";

/** `::ffff:0:0/96`: IPv4 addresses as a dual-stack socket reports them (RFC 4291 §2.5.5.2). */
const IPV4_MAPPED = new BlockList();
IPV4_MAPPED.addSubnet("::ffff:0:0", 96, "ipv6");

export interface Cidr {
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Parses one CIDR block or bare address; undefined when it is not one. Returns the canonical text too. */
export function parseCidr(text: string): (Cidr & { text: string }) | undefined {
  if (typeof text !== "string" || text.length > 64) return undefined;
  const slash = text.indexOf("/");
  const address = slash < 0 ? text : text.slice(0, slash);
  // A zone index (`fe80::1%eth0`) names an interface of one host: meaningless in an allow-list.
  const version = address.includes("%") ? 0 : isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > max) return undefined;
  }
  const family = version === 4 ? "ipv4" : "ipv6";
  if (family === "ipv6" && prefix < 96 && IPV4_MAPPED.check(address, "ipv6")) return undefined;
  return { address, prefix, family, text: `${address}/${prefix}` };
}

/** The caller's address as a BlockList can match it: without a zone index, IPv4-mapped as IPv4. */
function unmapped(raw: string): string {
  const zone = raw.indexOf("%");
  const ip = zone < 0 ? raw : raw.slice(0, zone);
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:") && isIP(ip.slice(7)) === 4) return ip.slice(7);
  return ip;
}

/** A matcher for a list of CIDR blocks (throws TypeError on a bad entry). */
export function createIpAllowList(cidrs: readonly string[]): (ip: string | undefined) => boolean {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (!cidr) throw new TypeError(`not a CIDR block: ${JSON.stringify(text)}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return (ip) => {
    if (typeof ip !== "string") return false;
    const address = unmapped(ip);
    const version = isIP(address);
    if (version === 0) return false;
    return list.check(address, version === 4 ? "ipv4" : "ipv6");
  };
}
