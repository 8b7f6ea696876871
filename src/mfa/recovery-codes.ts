/** Recovery codes. To be implemented (issue 4); the contract is fixed in types.ts. */
import { notImplemented } from "./stub.js";
import type { MfaDeps, RecoveryCodes } from "./types.js";

export function createRecoveryCodes(_deps: MfaDeps): RecoveryCodes {
  return notImplemented("recovery codes");
}
