/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): sign-in throttling without
 * letting anyone lock anyone out.
 *
 * - After a correct password, the browser gets a device cookie: `<nonce>.<mac>`, where the MAC (HMAC-SHA-256
 *   under a key derived from the master key) binds the nonce to the account's normalised user name. Nothing is
 *   stored: any instance with the master key verifies it.
 * - A sign-in that presents a valid device cookie for the user name it names is throttled per device (the
 *   nonce) instead of per account: failures of others — an attacker guessing from anywhere — fill the
 *   account's counter but never that device's, so the real user's browser keeps signing in. Failures made
 *   with the cookie count against that device alone, with the account policy (a stolen cookie does not buy
 *   unlimited guesses). The per-address counter applies to everyone.
 * - A cookie for another account, a forged or malformed one counts as none (the shared account counter).
 * - Each successful sign-in replaces the cookie with a fresh one.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const NONCE = /^[A-Za-z0-9_-]{22}$/;

export interface DeviceCookies {
  /** A new cookie value for this account (normalised user name). */
  issue(accountKey: string): string;
  /** The device's id (nonce) when `value` is a valid cookie for this account; undefined otherwise. */
  deviceOf(value: string | undefined, accountKey: string): string | undefined;
}

export function createDeviceCookies(key: Buffer): DeviceCookies {
  const mac = (nonce: string, accountKey: string) =>
    createHmac("sha256", key).update(`device-cookie\0${nonce}\0${accountKey}`).digest("base64url");
  return {
    issue(accountKey) {
      const nonce = randomBytes(16).toString("base64url");
      return `${nonce}.${mac(nonce, accountKey)}`;
    },
    deviceOf(value, accountKey) {
      if (value === undefined || value.length > 100) return undefined;
      const dot = value.indexOf(".");
      const nonce = value.slice(0, dot);
      if (dot < 0 || !NONCE.test(nonce)) return undefined;
      const given = Buffer.from(value.slice(dot + 1));
      const expected = Buffer.from(mac(nonce, accountKey));
      return given.length === expected.length && timingSafeEqual(given, expected) ? nonce : undefined;
    },
  };
}
