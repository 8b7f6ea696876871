/**
 * E-mail addresses as onboarding reads them, and the sign-up domain allow-list.
 *
 * - An address is trimmed and must look like `local@domain` (the same shape `accounts/users.ts` accepts, which
 *   stays the authority when the account is created); at most 320 characters.
 * - Addresses are compared lower-cased (`addressKey`): the throttle and "is it taken" use that form.
 * - The allow-list is exact domains, compared lower-cased: `example.com` does not admit `eu.example.com`
 *   (list it too). A malformed entry stops start-up (`ConfigError`), so a typo cannot open sign-up wider.
 */
import { ConfigError } from "../lib/errors.js";

const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@[^\s@<>()[\]\\,;:"]{1,255}$/u;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** The trimmed address when it has the shape of one, else undefined. */
export function cleanAddress(value: string): string | undefined {
  const address = value.trim();
  return address.length <= 320 && EMAIL.test(address) ? address : undefined;
}

/** The form addresses are compared in. */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

/** The domain part of an address, lower-cased. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf("@") + 1).toLowerCase();
}

/** `TESSERA_SIGN_UP_ALLOWED_DOMAINS` as a list (empty: any domain). */
export function parseAllowedDomains(value: string | undefined): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  const domains = value
    .split(",")
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean);
  for (const domain of domains) {
    if (!DOMAIN.test(domain)) {
      throw new ConfigError(
        `Invalid signUpAllowedDomains (TESSERA_SIGN_UP_ALLOWED_DOMAINS): ${JSON.stringify(domain)} is not a domain name (write example.com, not *.example.com or @example.com).`,
      );
    }
  }
  return Object.freeze([...new Set(domains)]);
}
