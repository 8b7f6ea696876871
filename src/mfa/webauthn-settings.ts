/**
 * WebAuthn relying-party settings from the configuration.
 *
 * - RP ID: `TESSERA_WEBAUTHN_RP_ID`, else the issuer's host name. Origins: `TESSERA_WEBAUTHN_ORIGINS`
 *   (comma-separated, trailing slashes dropped), else the issuer's origin.
 * - User verification (`TESSERA_WEBAUTHN_USER_VERIFICATION`) applies to second-factor use only.
 * - AAGUID allow-list (`TESSERA_WEBAUTHN_AAGUIDS`): compared lower-case; empty means any authenticator.
 * - The user handle is the UTF-8 of the Tessera user id (a UUID: no personal data reaches the authenticator).
 */
import type { Config } from "../config/index.js";

export interface WebAuthnSettings {
  rpId: string;
  rpName: string;
  origins: string[];
  /** For second-factor use; passwordless sign-in always requires user verification. */
  userVerification: "preferred" | "required" | "discouraged";
  /** Lower-case AAGUIDs allowed, or null for any authenticator. */
  aaguids: string[] | null;
}

const list = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");

export function webauthnSettings(config: Config): WebAuthnSettings {
  const issuer = new URL(config.issuer);
  const origins = list(config.webauthnOrigins).map((o) => o.replace(/\/+$/, ""));
  const aaguids = list(config.webauthnAaguids).map((a) => a.toLowerCase());
  return {
    rpId: config.webauthnRpId?.trim() || issuer.hostname,
    rpName: "Tessera",
    origins: origins.length > 0 ? origins : [issuer.origin],
    userVerification: config.webauthnUserVerification,
    aaguids: aaguids.length > 0 ? aaguids : null,
  };
}

/** The WebAuthn user handle of a Tessera user: the UTF-8 bytes of the user id (a UUID: no personal data). */
export function userHandleOf(userId: string): string {
  return Buffer.from(userId, "utf8").toString("base64url");
}
