/**
 * IP allow-lists of API tokens (`tessera_allowed_ips` in an introspection answer): the server's own CIDR rules
 * (src/lib/cidr.ts, pure `node:net`), so a block means the same at Tessera and at a resource server.
 *
 * - One bad entry makes the whole list unusable and the token is refused (fail closed), rather than the list
 *   being read as "anything" or "nothing".
 * - No caller address (an adapter that cannot tell) never matches.
 */
import { createIpAllowList } from "../../lib/cidr.js";

/** A matcher for a list of CIDR blocks; undefined when an entry is not a CIDR block or address. */
export function compileAllowedIps(
  entries: readonly unknown[],
): ((ip: string | undefined) => boolean) | undefined {
  if (!entries.every((entry): entry is string => typeof entry === "string")) return undefined;
  try {
    return createIpAllowList(entries);
  } catch {
    return undefined;
  }
}
