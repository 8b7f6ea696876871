/**
 * Accepting an invitation through an upstream provider: the invitee presses "Continue with {provider}" on the
 * invitation page instead of choosing a password (issue 23). The invitation itself authorises the account, so
 * the provider's `jit` and `trustEmail` settings play no part.
 *
 * - Start: the invitation must be live (pending, unexpired); its link's token rides along only server-side,
 *   sealed with the master key together with the PKCE verifier in the round trip's state row (never in a URL
 *   or a cookie).
 * - Callback, after the upstream answer passed every check a sign-in gets (state, browser, `iss`, ID token,
 *   nonce): an upstream account already linked to any Tessera account is refused (`invitation_already_linked`)
 *   and the invitation stays open. Otherwise `invitations.acceptWithUpstream` creates the invited account —
 *   the invited address, proven by the link, and the invitation's groups; no password — and links the upstream
 *   account to it through the linking rules (`via: invitation`). A link that loses a race undoes the account
 *   and gives the invitation back (onboarding's rule).
 * - The upstream's e-mail need not match the invited address: the link proves the address; the upstream
 *   account is what the person will sign in with. The account's address is always the invited one.
 * - A revoked, expired or already used invitation is refused at the callback as at the start
 *   (`invitation_invalid`), and so is an address that got an account meanwhile (`invitation_email_taken`);
 *   no account is made.
 * - User name: the invited address; if that is taken, one derived from the upstream profile (collisions
 *   suffixed), as for accounts provisioned just in time.
 */
import type { User } from "../accounts/index.js";
import { TesseraError } from "../lib/errors.js";
import type { Invitations } from "../onboarding/index.js";
import type { LinkedIdentitiesRepository } from "../storage/index.js";
import type { FederatedProfile } from "./claims.js";
import { FederationSignInError } from "./errors.js";
import { baseUserName, userNameCandidates } from "./user-names.js";

/** What federation uses of onboarding's invitations. */
export type InvitationPort = Pick<Invitations, "pending" | "acceptWithUpstream">;

/** The secrets a round trip keeps sealed in its state row. */
export interface RoundTripSecrets {
  codeVerifier: string;
  /** For `invitation`: the invitation link's token. */
  invitation?: string;
}

/**
 * The plaintext sealed in `code_verifier_sealed`: the bare verifier for a sign-in or a link (the format those
 * rows always had), JSON with the invitation's token for an invitation.
 */
export function encodeRoundTripSecrets(intent: string, secrets: RoundTripSecrets): string {
  if (intent !== "invitation") return secrets.codeVerifier;
  return JSON.stringify({ codeVerifier: secrets.codeVerifier, invitation: secrets.invitation });
}

export function decodeRoundTripSecrets(intent: string, plaintext: string): RoundTripSecrets {
  if (intent !== "invitation") return { codeVerifier: plaintext };
  const parsed = JSON.parse(plaintext) as { codeVerifier?: unknown; invitation?: unknown };
  if (typeof parsed.codeVerifier !== "string" || typeof parsed.invitation !== "string") {
    throw new TypeError("sealed round-trip secrets have an unknown shape");
  }
  return { codeVerifier: parsed.codeVerifier, invitation: parsed.invitation };
}

/** Refuses at the start when the invitation behind `token` is not live. */
export async function checkInvitationLive(invitations: InvitationPort, token: string | undefined) {
  if (!token || !(await invitations.pending(token))) throw new FederationSignInError("invitation_invalid");
}

/**
 * Creates the invited account for a verified upstream account and links it; answers the new user. Throws
 * `FederationSignInError` (`invitation_*`) for the refusals above.
 */
export async function acceptInvitationUpstream(input: {
  invitations: InvitationPort;
  links: Pick<LinkedIdentitiesRepository, "find">;
  providerId: string;
  profile: FederatedProfile;
  token: string;
  client: { ip: string | null; userAgent: string | null };
  /** Links the upstream account to the user just created (the linking rules; throws `already_linked`). */
  link(userId: string): Promise<void>;
}): Promise<User> {
  const { invitations, profile } = input;
  if (await input.links.find(input.providerId, profile.subject)) {
    throw new FederationSignInError("invitation_already_linked");
  }
  // First the invited address (undefined), then names derived from the upstream profile.
  const names: (string | undefined)[] = [undefined, ...userNameCandidates(baseUserName(profile))];
  for (const userName of names) {
    try {
      return await invitations.acceptWithUpstream(
        input.token,
        {
          ...(userName === undefined ? {} : { userName }),
          displayName: profile.name,
          givenName: profile.givenName,
          familyName: profile.familyName,
          linkAccount: (user) => input.link(user.id),
        },
        input.client,
      );
    } catch (error) {
      if (error instanceof FederationSignInError && error.reason === "already_linked") {
        throw new FederationSignInError("invitation_already_linked", "linked meanwhile");
      }
      if (!(error instanceof TesseraError)) throw error;
      if (error.code === "user_exists") continue;
      if (error.code === "invalid_invitation") throw new FederationSignInError("invitation_invalid");
      if (error.code === "email_taken") throw new FederationSignInError("invitation_email_taken");
      throw error;
    }
  }
  throw new FederationSignInError("invitation_invalid", "no free user name");
}
