/**
 * IP allow-lists from CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, or a bare address), on `node:net`'s
 * `BlockList`.
 *
 * - Parsing is strict: an address `net.isIP` refuses, a prefix out of range or trailing garbage is an error,
 *   so a typo never silently allows everything or nothing.
 * - IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports) are matched as IPv4.
 */
import { BlockList, isIP } from "node:net";

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
  const version = isIP(address);
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
  return { address, prefix, family, text: `${address}/${prefix}` };
}

function unmapped(ip: string): string {
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
