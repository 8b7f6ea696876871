/** WebAuthn security keys and passkeys. To be implemented (issue 4); the contract is fixed in types.ts. */
import { notImplemented } from "./stub.js";
import type { MfaDeps, WebAuthn } from "./types.js";

export function createWebAuthn(_deps: MfaDeps): WebAuthn {
  return notImplemented("WebAuthn");
}
