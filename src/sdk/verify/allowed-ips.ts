/**
 * IP allow-lists of API tokens (`tessera_allowed_ips` in an introspection answer), on `node:net`'s
 * `BlockList`.
 *
 * - Entries are CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`) or bare addresses. Parsing is strict; one bad
 *   entry makes the whole list unusable, and the token is refused (fail closed) rather than the list read
 *   as "anything" or "nothing".
 * - IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports) match IPv4 blocks and
 *   the other way round (`BlockList` does this); a caller's IPv6 zone index (`fe80::1%eth0`) is ignored.
 * - No caller address (an adapter that cannot tell) never matches.
 */
import { BlockList, isIP } from "node:net";

/** A matcher for a list of CIDR blocks; undefined when an entry is not a CIDR block or address. */
export function compileAllowedIps(
  entries: readonly unknown[],
): ((ip: string | undefined) => boolean) | undefined {
  const list = new BlockList();
  for (const entry of entries) {
    if (typeof entry !== "string" || entry.length > 64) return undefined;
    const slash = entry.indexOf("/");
    const address = slash < 0 ? entry : entry.slice(0, slash);
    const version = isIP(address);
    if (version === 0) return undefined;
    const max = version === 4 ? 32 : 128;
    const digits = slash < 0 ? String(max) : entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits) || Number(digits) > max || address.includes("%")) return undefined;
    list.addSubnet(address, Number(digits), version === 4 ? "ipv4" : "ipv6");
  }
  return (ip) => {
    if (typeof ip !== "string") return false;
    const address = normalizeIp(ip);
    const version = isIP(address);
    if (version === 0) return false;
    return list.check(address, version === 4 ? "ipv4" : "ipv6");
  };
}

function normalizeIp(ip: string): string {
  const zone = ip.indexOf("%");
  return zone < 0 ? ip : ip.slice(0, zone);
}
