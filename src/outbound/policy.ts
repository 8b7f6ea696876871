/**
 * Which destinations Tessera's outbound requests may reach (docs/security.md, "Requests Tessera makes").
 *
 * 1. Only `http:` and `https:` URLs, without user name or password.
 * 2. The host is resolved (every address DNS gives), and every address must be allowed; one refused address
 *    refuses the request (so a name cannot mix a public and an internal address).
 *    - Public addresses are allowed.
 *    - Unspecified, multicast and broadcast addresses never are.
 *    - Any address inside a range listed in `TESSERA_OUTBOUND_ALLOW_PRIVATE` is.
 *    - `TESSERA_OUTBOUND_ALLOW_PRIVATE=true` allows loopback, private (RFC 1918, fc00::/7) and shared
 *      (100.64.0.0/10) addresses, but not link-local ones (cloud metadata services): those must be listed.
 *    - `NODE_ENV=development` allows loopback.
 *    - Everything else (loopback, private, shared, link-local, reserved) is refused.
 *    IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address they carry, and also match
 *    IPv4 ranges of the setting.
 * 3. `https:` is required, except towards loopback addresses that rule 2 allowed (traffic that never leaves the
 *    host): plain http reaches nothing else.
 */
import type { Config } from "../config/index.js";
import {
  type AddressClass,
  type Cidr,
  classifyIp,
  embeddedIpv4,
  type IpAddress,
  inCidr,
  parseCidr,
  parseIp,
} from "./addresses.js";

export const ALLOW_SETTING = "TESSERA_OUTBOUND_ALLOW_PRIVATE";

/** The policy as configured. */
export interface OutboundPolicy {
  /** `true`: loopback, private and shared ranges; a list: these addresses or CIDRs; `false`: none. */
  allowPrivate: boolean | readonly string[];
  /** Development: loopback allowed (plain http too). */
  development: boolean;
}

/** The policy of a configuration. */
export function outboundPolicy(config: Pick<Config, "nodeEnv" | "outboundAllowPrivate">): OutboundPolicy {
  return { allowPrivate: config.outboundAllowPrivate, development: config.nodeEnv === "development" };
}

export type AddressVerdict = { allowed: true; class: AddressClass } | { allowed: false; class: AddressClass };

export interface CompiledPolicy {
  /** Whether the address may be connected to, and its classification. */
  check(address: IpAddress): AddressVerdict;
}

const NEVER = new Set(["unspecified", "multicast", "broadcast"]);
const ALLOWED_BY_TRUE = new Set(["loopback", "private", "shared"]);

export function compilePolicy(policy: OutboundPolicy): CompiledPolicy {
  const ranges: Cidr[] = [];
  if (Array.isArray(policy.allowPrivate)) {
    for (const text of policy.allowPrivate as readonly string[]) {
      const range = parseCidr(text);
      if (!range) throw new Error(`${ALLOW_SETTING}: ${JSON.stringify(text)} is not an IP address or CIDR`);
      ranges.push(range);
    }
  }
  const allowAllPrivate = policy.allowPrivate === true;
  return {
    check(address) {
      const found = classifyIp(address);
      if (found.kind === "public") return { allowed: true, class: found };
      if (NEVER.has(found.kind)) return { allowed: false, class: found };
      if (allowAllPrivate && ALLOWED_BY_TRUE.has(found.kind)) return { allowed: true, class: found };
      if (policy.development && found.kind === "loopback") return { allowed: true, class: found };
      const v4 = embeddedIpv4(address);
      if (ranges.some((range) => inCidr(address, range) || (v4 !== undefined && inCidr(v4, range)))) {
        return { allowed: true, class: found };
      }
      return { allowed: false, class: found };
    },
  };
}

/** Parses an address that DNS (or the URL) gave; undefined when it is not a plain address. */
export function addressOf(text: string): IpAddress | undefined {
  return parseIp(text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text);
}
