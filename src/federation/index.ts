/**
 * Federation (issue 23): signing in to Tessera with an account at another identity provider — any OpenID
 * Connect provider by its issuer, presets for Google and Microsoft Entra ID, and GitHub's OAuth 2.0.
 *
 * - `providers`: what administrators manage (admin API, CLI), secrets sealed with the master key.
 * - `signIn`: the upstream round trip and what an upstream account leads to (linked user, link after proof,
 *   just-in-time account); see sign-in.ts for the rules against account takeover.
 * - `linking`: users' linked providers, and removing one (never the last way to sign in).
 * - Invitations (src/onboarding) can be accepted through a provider: the round trip carries the invitation and
 *   ends in `invitations.acceptWithUpstream` (invitations.ts).
 * - Every upstream request goes through the outbound guard (upstream.ts).
 */
import type { Accounts } from "../accounts/index.js";
import type { AuditLog } from "../audit/index.js";
import type { MasterKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { IdentityProvidersRepository, LinkedIdentitiesRepository } from "../storage/index.js";
import type { InvitationPort } from "./invitations.js";
import { createLinking, type Linking } from "./linking.js";
import { createProviderAdmin, type IdentityProvider, type ProviderAdmin } from "./providers.js";
import { createFederatedSignIn, type FederatedSignIn } from "./sign-in.js";
import { createUpstreams, type OutboundSettings } from "./upstream.js";

export { type FederatedProfile, mapClaims } from "./claims.js";
export { FederationError, FederationSignInError, type FederationSignInReason } from "./errors.js";
export type { InvitationPort } from "./invitations.js";
export type { LinkedProvider, Linking } from "./linking.js";
export {
  CLIENT_AUTH_METHODS,
  type ClaimMapping,
  type ClientAuthMethod,
  DEFAULT_CLAIM_MAPPING,
  PROVIDER_KINDS,
  type ProviderKind,
} from "./presets.js";
export type { IdentityProvider, IdentityProviderInput, ProviderAdmin } from "./providers.js";
export type {
  CallbackOutcome,
  FederatedSignIn,
  PendingLinkView,
  SignedInOutcome,
} from "./sign-in.js";
export { BROWSER_BINDING_FORMAT, PENDING_LINK_FORMAT } from "./sign-in.js";
export { entraTenantOf, type OutboundSettings } from "./upstream.js";
export { baseUserName } from "./user-names.js";

/** A provider as the sign-in page shows it. */
export interface SignInButton {
  id: string;
  displayName: string;
  /** Origin of its authorization endpoint (the page's CSP lets the button's form lead there). */
  authorizationOrigin: string | null;
}

export interface Federation {
  providers: ProviderAdmin;
  signIn: FederatedSignIn;
  linking: Linking;
  /** The enabled providers, for the sign-in page's buttons. */
  buttons(): Promise<SignInButton[]>;
  /** Home-realm discovery: the one enabled provider whose `allowedDomains` hold the address's domain. */
  providerForEmail(email: string): Promise<IdentityProvider | undefined>;
  /** Whether any enabled provider offers home-realm discovery. */
  hasHomeRealmDiscovery(): Promise<boolean>;
  /**
   * Where to send the browser after signing out of a session started through a provider with upstream logout
   * (its end_session_endpoint), or undefined.
   */
  upstreamLogoutUrl(sessionId: string): Promise<{ url: string; providerName: string } | undefined>;
  /** Removes expired round-trip states and pending links; how many. */
  purgeExpired(): Promise<number>;
}

export interface FederationDeps {
  repositories: { providers: IdentityProvidersRepository; links: LinkedIdentitiesRepository };
  accounts: Pick<Accounts, "users" | "groups" | "administrators">;
  audit: AuditLog;
  masterKey: MasterKey;
  clock: Clock;
  /** Tessera's issuer (callback URLs). */
  issuer: string;
  outbound: OutboundSettings;
  /** How many passkeys a user has (a way to sign in besides a password and linked providers). */
  countPasskeys(userId: string): Promise<number>;
  /** Invitations, which a round trip through a provider may accept (`onboarding.invitations`). */
  invitations: InvitationPort;
}

export function createFederation(deps: FederationDeps): Federation {
  const upstreams = createUpstreams({ outbound: deps.outbound });
  const providers = createProviderAdmin({
    repository: deps.repositories.providers,
    masterKey: deps.masterKey,
    clock: deps.clock,
    audit: deps.audit,
    issuer: deps.issuer,
    probe: (provider, secrets) => upstreams.probe(provider, secrets),
  });
  const linking = createLinking({
    repository: deps.repositories.links,
    users: deps.accounts.users,
    countPasskeys: deps.countPasskeys,
    audit: deps.audit,
    clock: deps.clock,
  });
  const signIn = createFederatedSignIn({
    providers,
    upstreams,
    repository: deps.repositories.providers,
    links: deps.repositories.links,
    linking,
    accounts: deps.accounts,
    audit: deps.audit,
    masterKey: deps.masterKey,
    clock: deps.clock,
    invitations: deps.invitations,
  });

  const enabled = async () => (await providers.list()).filter((p) => p.enabled);

  return {
    providers,
    signIn,
    linking,

    async buttons() {
      return (await enabled()).map((p) => ({
        id: p.id,
        displayName: p.displayName,
        authorizationOrigin:
          p.authorizationEndpoint && URL.canParse(p.authorizationEndpoint)
            ? new URL(p.authorizationEndpoint).origin
            : null,
      }));
    },

    async providerForEmail(email) {
      const at = email.lastIndexOf("@");
      if (at < 1) return undefined;
      const domain = email
        .slice(at + 1)
        .trim()
        .toLowerCase();
      const matches = (await enabled()).filter((p) => p.allowedDomains.includes(domain));
      return matches.length === 1 ? matches[0] : undefined;
    },

    async hasHomeRealmDiscovery() {
      return (await enabled()).some((p) => p.allowedDomains.length > 0);
    },

    async upstreamLogoutUrl(sessionId) {
      const providerId = await deps.repositories.links.providerOfSession(sessionId);
      if (!providerId) return undefined;
      const found = await providers.record(providerId);
      if (!found?.provider.enabled || !found.provider.upstreamLogout) return undefined;
      const url = await upstreams.endSessionUrl(
        found.provider,
        found.secrets(),
        `${deps.issuer}/federation/signed-out`,
      );
      return url ? { url: url.href, providerName: found.provider.displayName } : undefined;
    },

    purgeExpired: () => deps.repositories.providers.deleteExpired(deps.clock.now()),
  };
}
