/**
 * User names for accounts provisioned just in time.
 *
 * - Derived from the upstream's user name claim, else the e-mail's local part, else the display name, else
 *   "user": letters, digits, `.`, `_`, `-` and `@` kept (NFKC, lower case), anything else becomes `-`, at most
 *   64 characters. The name is a label, never a match: an upstream calling itself "admin" gets "admin-2" if an
 *   "admin" exists, never that account.
 * - Collisions are handled by the caller trying `candidates` in order (the unique index decides).
 */
import { randomBytes } from "node:crypto";
import type { FederatedProfile } from "./claims.js";

export function baseUserName(profile: Pick<FederatedProfile, "userName" | "email" | "name">): string {
  const source = profile.userName ?? profile.email?.split("@")[0] ?? profile.name ?? "user";
  const cleaned = source
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}._@-]+/gu, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.@_]+|[-.@_]+$/g, "")
    .slice(0, 64);
  return cleaned.length > 0 ? cleaned : "user";
}

/** The names to try: the base, then `-2` … `-9`, then random suffixes. */
export function* userNameCandidates(base: string): Generator<string> {
  yield base;
  for (let i = 2; i <= 9; i++) yield `${base}-${i}`;
  for (let i = 0; i < 5; i++) yield `${base}-${randomBytes(3).toString("hex")}`;
}
