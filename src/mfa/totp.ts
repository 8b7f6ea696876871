/** TOTP software tokens (RFC 6238). To be implemented (issue 4); the contract is fixed in index.ts. */
import { notImplemented } from "./stub.js";
import type { MfaDeps, Totp } from "./types.js";

export function createTotp(_deps: MfaDeps): Totp {
  return notImplemented("TOTP");
}
