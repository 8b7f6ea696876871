/**
 * Scopes (RFC 6749 §3.3): a space-separated list of tokens of printable ASCII without `"` and `\`.
 *
 * - `openid`, `profile`, `email`, `groups` and `offline_access` are the OpenID Connect scopes Tessera knows;
 *   any other scope belongs to a resource server (registered with the scopes it accepts).
 * - Parsing refuses what the grammar refuses (`invalid_scope`), drops duplicates and keeps the order given.
 */
import { OAuthError } from "./errors.js";

export const OIDC_SCOPES = ["openid", "profile", "email", "groups", "offline_access"] as const;
const OIDC = new Set<string>(OIDC_SCOPES);
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_SCOPE_LENGTH = 2048;

export function isOidcScope(scope: string): boolean {
  return OIDC.has(scope);
}

/** Parses a scope parameter; undefined or empty gives []. */
export function parseScope(value: unknown): string[] {
  if (value === undefined || value === null || value === "") return [];
  if (typeof value !== "string" || value.length > MAX_SCOPE_LENGTH) {
    throw new OAuthError("invalid_scope", "The scope parameter is malformed.");
  }
  const out: string[] = [];
  for (const token of value.split(" ")) {
    if (token === "") continue;
    if (!SCOPE_TOKEN.test(token)) throw new OAuthError("invalid_scope", "The scope parameter is malformed.");
    if (!out.includes(token)) out.push(token);
  }
  return out;
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(" ");
}
