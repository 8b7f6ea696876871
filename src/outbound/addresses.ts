/**
 * IP addresses and what kind of destination each is: public, or one of the special-purpose ranges (RFC 6890 and
 * the IANA special-purpose registries) that an outbound request must not reach unless allowed.
 *
 * Addresses are parsed here, not trusted to string forms: IPv4-mapped (`::ffff:127.0.0.1`, `::ffff:7f00:1`),
 * NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses are classified by the IPv4 address they carry, and an
 * IPv6 address outside global unicast (`2000::/3`) is never public.
 */
import { isIP } from "node:net";

export interface IpAddress {
  family: 4 | 6;
  /** The address as a 32- or 128-bit number. */
  value: bigint;
}

/**
 * - `public`: globally routable unicast.
 * - `loopback`: 127.0.0.0/8, ::1.
 * - `private`: RFC 1918, unique local fc00::/7, deprecated site-local fec0::/10, local-use NAT64.
 * - `shared`: carrier-grade NAT 100.64.0.0/10 (RFC 6598).
 * - `link-local`: 169.254.0.0/16, fe80::/10 (cloud metadata services live here).
 * - `unspecified`: 0.0.0.0, :: (connecting to them reaches the local host).
 * - `multicast`, `broadcast`.
 * - `reserved`: everything else that is not routable on the Internet: "this network" 0/8, documentation,
 *   benchmarking, IETF protocol assignments (Teredo among them), 240/4, IPv6 outside 2000::/3.
 */
export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "shared"
  | "link-local"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved";

export interface AddressClass {
  kind: AddressKind;
  /** The special-purpose range that decided, e.g. `169.254.0.0/16`; undefined for public addresses. */
  range?: string;
  /** For IPv4-mapped, NAT64 and 6to4 addresses: the IPv4 address carried, which was classified. */
  embedded?: string;
}

export interface Cidr {
  family: 4 | 6;
  /** The network, with the host bits cleared. */
  network: bigint;
  bits: number;
  text: string;
}

const V4_BITS = 32;
const V6_BITS = 128;

function width(family: 4 | 6): number {
  return family === 4 ? V4_BITS : V6_BITS;
}

function mask(family: 4 | 6, bits: number): bigint {
  const total = width(family);
  return ((1n << BigInt(total)) - 1n) ^ ((1n << BigInt(total - bits)) - 1n);
}

/** Parses a literal IPv4 or IPv6 address (no brackets, no zone); undefined when it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    let value = 0n;
    for (const part of text.split(".")) value = (value << 8n) | BigInt(Number(part));
    return { family: 4, value };
  }
  if (kind !== 6 || text.includes("%")) return undefined;
  let source = text.toLowerCase();
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) becomes two hexadecimal groups.
  const lastColon = source.lastIndexOf(":");
  const tail = source.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIp(tail);
    if (v4?.family !== 4) return undefined;
    source = `${source.slice(0, lastColon + 1)}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const halves = source.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string | undefined) => (part ? part.split(":") : []);
  let groups: string[];
  if (halves.length === 2) {
    const left = groupsOf(halves[0]);
    const right = groupsOf(halves[1]);
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  } else {
    groups = groupsOf(halves[0]);
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  return { family: 6, value };
}

/** The canonical text of an address (dotted IPv4; IPv6 in lower-case full groups, `::` compressed). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join(".");
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((address.value >> shift) & 0xffffn));
  // Compress the longest run of two or more zero groups (RFC 5952).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Parses `ADDRESS/BITS` or a single address (a /32 or /128); undefined when malformed. Host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const total = width(address.family);
  let bits = total;
  if (slash >= 0) {
    const bitsText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return undefined;
    bits = Number(bitsText);
    if (bits > total) return undefined;
  }
  const network = address.value & mask(address.family, bits);
  return {
    family: address.family,
    network,
    bits,
    text: `${formatIp({ family: address.family, value: network })}/${bits}`,
  };
}

/** Whether the address lies in the range (same family only: use `embeddedIpv4` for mapped forms). */
export function inCidr(address: IpAddress, range: Cidr): boolean {
  return (
    address.family === range.family && (address.value & mask(range.family, range.bits)) === range.network
  );
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed;
}

/** Most specific first: the first range that holds the address decides. */
const IPV4_RANGES: readonly (readonly [Cidr, AddressKind])[] = [
  [cidr("0.0.0.0/32"), "unspecified"],
  [cidr("0.0.0.0/8"), "reserved"],
  [cidr("10.0.0.0/8"), "private"],
  [cidr("100.64.0.0/10"), "shared"],
  [cidr("127.0.0.0/8"), "loopback"],
  [cidr("169.254.0.0/16"), "link-local"],
  [cidr("172.16.0.0/12"), "private"],
  [cidr("192.0.0.0/24"), "reserved"],
  [cidr("192.0.2.0/24"), "reserved"],
  [cidr("192.88.99.0/24"), "reserved"],
  [cidr("192.168.0.0/16"), "private"],
  [cidr("198.18.0.0/15"), "reserved"],
  [cidr("198.51.100.0/24"), "reserved"],
  [cidr("203.0.113.0/24"), "reserved"],
  [cidr("224.0.0.0/4"), "multicast"],
  [cidr("255.255.255.255/32"), "broadcast"],
  [cidr("240.0.0.0/4"), "reserved"],
];

const IPV6_RANGES: readonly (readonly [Cidr, AddressKind])[] = [
  [cidr("::/128"), "unspecified"],
  [cidr("::1/128"), "loopback"],
  [cidr("64:ff9b:1::/48"), "private"],
  [cidr("2001:db8::/32"), "reserved"],
  [cidr("2001::/23"), "reserved"],
  [cidr("3fff::/20"), "reserved"],
  [cidr("fc00::/7"), "private"],
  [cidr("fe80::/10"), "link-local"],
  [cidr("fec0::/10"), "private"],
  [cidr("ff00::/8"), "multicast"],
];

const MAPPED = cidr("::ffff:0:0/96");
const NAT64 = cidr("64:ff9b::/96");
const SIX_TO_FOUR = cidr("2002::/16");
const GLOBAL_UNICAST = cidr("2000::/3");

/**
 * The IPv4 address an IPv6 address stands for, where packets to it reach that IPv4 address: IPv4-mapped
 * (::ffff:0:0/96), NAT64 well-known prefix (64:ff9b::/96), 6to4 (2002::/16).
 */
export function embeddedIpv4(address: IpAddress): IpAddress | undefined {
  if (address.family !== 6) return undefined;
  if (inCidr(address, MAPPED) || inCidr(address, NAT64))
    return { family: 4, value: address.value & 0xffffffffn };
  if (inCidr(address, SIX_TO_FOUR)) return { family: 4, value: (address.value >> 80n) & 0xffffffffn };
  return undefined;
}

/** What kind of destination the address is. */
export function classifyIp(address: IpAddress): AddressClass {
  const embedded = embeddedIpv4(address);
  if (embedded) return { ...classifyIp(embedded), embedded: formatIp(embedded) };
  for (const [range, kind] of address.family === 4 ? IPV4_RANGES : IPV6_RANGES) {
    if (inCidr(address, range)) return { kind, range: range.text };
  }
  if (address.family === 6 && !inCidr(address, GLOBAL_UNICAST))
    return { kind: "reserved", range: "outside 2000::/3" };
  return { kind: "public" };
}

/** Classifies a literal address; undefined when the text is not one. */
export function classifyAddress(text: string): AddressClass | undefined {
  const address = parseIp(text);
  return address ? classifyIp(address) : undefined;
}
