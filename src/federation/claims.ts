/**
 * Claim mapping: what an upstream says about a person, as Tessera keeps it.
 *
 * - Each attribute (user name, name, given and family name, e-mail, whether the e-mail is verified, groups) is
 *   read from the claim the provider's `claimMapping` names; values are trimmed, bounded and stripped of control
 *   characters, anything else is dropped.
 * - `emailVerified` is true only for `true` (or the string "true", which some providers send): anything else,
 *   absent included, is unverified.
 * - Groups: a list of strings (or one string), at most 200.
 * - `amr` (RFC 8176): the upstream's methods where it gives them, as registered-looking values only.
 */
import type { ClaimMapping } from "./presets.js";

export interface FederatedProfile {
  subject: string;
  userName: string | null;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  email: string | null;
  emailVerified: boolean;
  groups: string[];
  amr: string[];
}

const CONTROL = /\p{Cc}/gu;
const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@[^\s@<>()[\]\\,;:"]{1,255}$/u;
const AMR = /^[A-Za-z0-9_-]{1,32}$/;

function textClaim(value: unknown, max = 256): string | null {
  if (typeof value !== "string") return null;
  const out = value.normalize("NFKC").replace(CONTROL, "").trim();
  return out.length === 0 ? null : out.slice(0, max);
}

export function mapClaims(
  subject: string,
  claims: Record<string, unknown>,
  mapping: ClaimMapping,
): FederatedProfile {
  const email = textClaim(claims[mapping.email], 320);
  const verified = claims[mapping.emailVerified];
  const rawGroups = claims[mapping.groups];
  const groups = (Array.isArray(rawGroups) ? rawGroups : typeof rawGroups === "string" ? [rawGroups] : [])
    .map((g) => textClaim(g, 512))
    .filter((g): g is string => g !== null)
    .slice(0, 200);
  const amr = (Array.isArray(claims.amr) ? claims.amr : [])
    .filter((m): m is string => typeof m === "string" && AMR.test(m))
    .slice(0, 10);
  return {
    subject,
    userName: textClaim(claims[mapping.userName]),
    name: textClaim(claims[mapping.name]),
    givenName: textClaim(claims[mapping.givenName]),
    familyName: textClaim(claims[mapping.familyName]),
    email: email !== null && EMAIL.test(email) ? email : null,
    emailVerified: email !== null && (verified === true || verified === "true"),
    groups: [...new Set(groups)],
    amr: [...new Set(amr)],
  };
}
