/**
 * Signing in through an upstream provider: the round trip, and what the upstream account leads to.
 *
 * Round trip
 * - `start` draws `state`, `nonce` and a PKCE verifier and keeps them server-side (`federation_states`: state
 *   as SHA-256, verifier sealed with the master key), with the pending authorization request's `return_to`,
 *   for 10 minutes, bound to the browser by the SHA-256 of an HttpOnly cookie the caller sets.
 * - `callback` takes the state once (a replayed or forged `state` finds nothing), requires the same browser and
 *   provider, refuses an upstream error, a wrong or (where advertised) missing `iss`, and has openid-client
 *   validate the code exchange and ID token (upstream.ts). Upstream tokens end there.
 * - A round trip started from an invitation (`intent: invitation`) keeps the invitation's token sealed with the
 *   verifier, and ends by accepting the invitation instead of the rules below (invitations.ts).
 *
 * What the upstream account leads to (no takeover)
 * 1. Linked already: that user (active only), with the mapped groups refreshed.
 * 2. The flow was started from the account page to link: linked to that signed-in user.
 * 3. The provider is trusted for e-mail (`trustEmail`) and the upstream says the address is verified: linked to
 *    the one active account holding that address — unless it holds the administrator right (an administrator
 *    proves ownership by signing in).
 * 4. Just-in-time provisioning is on and no account holds the upstream's address: a new account (user name
 *    derived safely, collisions suffixed; the address kept only when verified).
 * 5. Otherwise a pending link: the person proves they own an existing account by signing in to it (password,
 *    second factor, passkey: the usual pages) in this flow, or — if the provider allows it — creates a new one.
 *
 * The session's `amr` is `fed`; when the provider `satisfiesMfa`, also the upstream's own `amr` and `mfa`.
 * (Tessera derives `acr` from `amr`: an upstream the administrator does not trust for MFA must not raise it.)
 * Whether a second factor is still due is the sign-in state machine's decision (src/mfa/sign-in-flow.ts).
 */

import * as oidc from "openid-client";
import type { Accounts, User } from "../accounts/index.js";
import type { AuditEventInput, AuditLog } from "../audit/index.js";
import {
  constantTimeEqual,
  generateOpaqueToken,
  hashToken,
  isWellFormedOpaqueToken,
  type MasterKey,
} from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import { TesseraError } from "../lib/errors.js";
import type { IdentityProvidersRepository, LinkedIdentitiesRepository } from "../storage/index.js";
import { type FederatedProfile, mapClaims } from "./claims.js";
import { FederationSignInError } from "./errors.js";
import { applyGroupMapping } from "./group-mapping.js";
import {
  acceptInvitationUpstream,
  checkInvitationLive,
  decodeRoundTripSecrets,
  encodeRoundTripSecrets,
  type InvitationPort,
} from "./invitations.js";
import type { LinkedVia, Linking } from "./linking.js";
import type { IdentityProvider, ProviderAdmin } from "./providers.js";
import type { Upstreams } from "./upstream.js";
import { baseUserName, userNameCandidates } from "./user-names.js";

export const STATE_TTL_MS = 10 * 60_000;
export const PENDING_LINK_TTL_MS = 10 * 60_000;
export const BROWSER_BINDING_FORMAT = { prefix: "tsr_fed_", checksum: true } as const;
export const PENDING_LINK_FORMAT = { prefix: "tsr_fedlink_", checksum: true } as const;

export interface SignInClient {
  ip: string | null;
  userAgent: string | null;
}

/** The upstream account belongs to `userId`: start Tessera's sign-in (a second factor may still be due). */
export interface SignedInOutcome {
  kind: "signed-in";
  userId: string;
  providerId: string;
  amr: string[];
  /** The provider satisfies Tessera's second-factor requirement. */
  satisfiesMfa: boolean;
  returnTo: string | null;
}

export type CallbackOutcome =
  | SignedInOutcome
  /** Linked to the signed-in user who asked for it on their account page. */
  | { kind: "linked"; userId: string; providerId: string; returnTo: string | null }
  /** Linked to nobody yet: the browser keeps `token` (cookie) while the person proves who they are. */
  | { kind: "needs-link"; token: string; returnTo: string | null };

export interface PendingLinkView {
  providerId: string;
  providerName: string;
  /** What to show the person about the upstream account. */
  name: string | null;
  email: string | null;
  /** The provider provisions accounts just in time. */
  canCreate: boolean;
  createdAt: number;
  returnTo: string | null;
}

export interface FederatedSignIn {
  /** A fresh browser-binding value (the caller keeps it in an HttpOnly cookie). */
  newBrowserBinding(): string;
  /** Starts a round trip; answers the upstream authorization URL to send the browser to. */
  start(input: {
    providerId: string;
    intent: "signin" | "link" | "invitation";
    /** For `link`: the signed-in user. */
    userId?: string;
    /** For `invitation`: the token of the invitation link being accepted (it must be live). */
    invitation?: string;
    returnTo: string | null;
    browserBinding: string;
    loginHint?: string;
  }): Promise<URL>;
  callback(input: {
    providerId: string;
    /** The callback's query string, as received. */
    query: string;
    browserBinding: string | undefined;
    /** The user of the browser's live session, if any. */
    currentUserId: string | undefined;
    client: SignInClient;
  }): Promise<CallbackOutcome>;
  pendingLink(token: string | undefined): Promise<PendingLinkView | undefined>;
  /** A new account for the pending upstream account (the provider must allow it). */
  createFromPendingLink(token: string | undefined, client: SignInClient): Promise<SignedInOutcome>;
  /**
   * Links the pending upstream account to the signed-in user, if they signed in (proved it is them) after the
   * pending link began; `needs-proof` otherwise (the caller asks them to sign in again).
   */
  completePendingLink(
    token: string | undefined,
    session: { userId: string; authTime: number },
    client: SignInClient,
  ): Promise<{ kind: "linked"; providerId: string; returnTo: string | null } | { kind: "needs-proof" }>;
  /** Records that a session was started through a provider (for upstream logout). */
  recordSession(sessionId: string, providerId: string): Promise<void>;
}

export interface FederatedSignInDeps {
  providers: ProviderAdmin;
  upstreams: Upstreams;
  repository: IdentityProvidersRepository;
  links: LinkedIdentitiesRepository;
  linking: Linking;
  accounts: Pick<Accounts, "users" | "groups" | "administrators">;
  audit: AuditLog;
  masterKey: MasterKey;
  clock: Clock;
  /** Invitations a round trip may accept (src/onboarding). */
  invitations: InvitationPort;
}

function amrFor(provider: IdentityProvider, profile: FederatedProfile): string[] {
  if (!provider.satisfiesMfa) return ["fed"];
  return [...new Set(["fed", ...profile.amr.filter((m) => m !== "fed"), "mfa"])];
}

export function createFederatedSignIn(deps: FederatedSignInDeps): FederatedSignIn {
  const { providers, upstreams, repository, links, linking, accounts, audit, masterKey, clock } = deps;
  const verifierAad = (stateHash: string) => `federation-state:${stateHash}`;
  const systemActor = (providerId: string) => ({ actor: `idp:${providerId}`, authority: "system" as const });

  async function recordSignIn(
    outcome: "success" | "failure",
    input: {
      providerId: string;
      userId?: string | null;
      client: SignInClient;
      details?: AuditEventInput["details"];
    },
  ) {
    await audit.record({
      type: "federation.signin",
      outcome,
      userId: input.userId ?? null,
      actor: input.userId ? `user:${input.userId}` : `idp:${input.providerId}`,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      details: { providerId: input.providerId, ...input.details },
    });
  }

  async function enabledProvider(providerId: string) {
    const found = await providers.record(providerId);
    if (!found?.provider.enabled) throw new FederationSignInError("provider_disabled");
    return found;
  }

  async function syncGroups(provider: IdentityProvider, userId: string, profile: FederatedProfile) {
    if (Object.keys(provider.groupMapping).length === 0) return;
    await applyGroupMapping({
      groups: accounts.groups,
      userId,
      upstreamGroups: profile.groups,
      mapping: provider.groupMapping,
      by: systemActor(provider.id),
    });
  }

  async function signedIn(
    provider: IdentityProvider,
    user: Pick<User, "id">,
    profile: FederatedProfile,
    returnTo: string | null,
    client: SignInClient,
    how: string,
  ): Promise<SignedInOutcome> {
    await syncGroups(provider, user.id, profile);
    await links.touch(provider.id, profile.subject, clock.now(), profile.email);
    await recordSignIn("success", { providerId: provider.id, userId: user.id, client, details: { how } });
    return {
      kind: "signed-in",
      userId: user.id,
      providerId: provider.id,
      amr: amrFor(provider, profile),
      satisfiesMfa: provider.satisfiesMfa,
      returnTo,
    };
  }

  async function doLink(
    provider: IdentityProvider,
    userId: string,
    profile: FederatedProfile,
    via: LinkedVia,
    client: SignInClient,
  ) {
    await linking.link({
      userId,
      providerId: provider.id,
      subject: profile.subject,
      email: profile.email,
      via,
      // The person acted (linking on their account page, proving ownership, following their invitation).
      actor:
        via === "account_page" || via === "signed_in" || via === "invitation"
          ? `user:${userId}`
          : `idp:${provider.id}`,
      ip: client.ip,
      userAgent: client.userAgent,
    });
  }

  /** Creates an account for the upstream account (user name derived, collisions suffixed) and links it. */
  async function provision(
    provider: IdentityProvider,
    profile: FederatedProfile,
    returnTo: string | null,
    client: SignInClient,
  ): Promise<SignedInOutcome> {
    let user: User | undefined;
    for (const userName of userNameCandidates(baseUserName(profile))) {
      try {
        user = await accounts.users.create(
          {
            userName,
            displayName: profile.name,
            givenName: profile.givenName,
            familyName: profile.familyName,
            // An address the upstream did not verify is not kept: reset links must not go to a stranger.
            emails:
              profile.email && profile.emailVerified
                ? [{ value: profile.email, type: "work", primary: true }]
                : [],
          },
          { ...systemActor(provider.id), ip: client.ip, userAgent: client.userAgent },
        );
        break;
      } catch (error) {
        if (error instanceof TesseraError && error.code === "user_exists") continue;
        throw error;
      }
    }
    if (!user) throw new FederationSignInError("jit_disabled", "no free user name");
    try {
      await doLink(provider, user.id, profile, "provisioned", client);
    } catch (error) {
      // Another sign-in linked this upstream account meanwhile: the account just made is not needed.
      await accounts.users.delete(user.id, systemActor(provider.id));
      throw error;
    }
    await audit.record({
      type: "federation.provisioned",
      outcome: "success",
      userId: user.id,
      actor: `idp:${provider.id}`,
      ip: client.ip,
      userAgent: client.userAgent,
      details: { providerId: provider.id },
    });
    return signedIn(provider, user, profile, returnTo, client, "provisioned");
  }

  async function pending(
    provider: IdentityProvider,
    profile: FederatedProfile,
    returnTo: string | null,
  ): Promise<CallbackOutcome> {
    const token = generateOpaqueToken(PENDING_LINK_FORMAT);
    const now = clock.now();
    await repository.insertPendingLink({
      token_hash: hashToken(token),
      provider_id: provider.id,
      subject: profile.subject,
      profile: JSON.stringify(profile),
      return_to: returnTo,
      created_at: now,
      expires_at: now + PENDING_LINK_TTL_MS,
    });
    return { kind: "needs-link", token, returnTo };
  }

  async function loadPending(token: string | undefined) {
    if (!isWellFormedOpaqueToken(token, PENDING_LINK_FORMAT)) return undefined;
    const row = await repository.findPendingLink(hashToken(token));
    if (!row || Number(row.expires_at) <= clock.now()) return undefined;
    const found = await providers.record(row.provider_id);
    if (!found?.provider.enabled) return undefined;
    return { row, provider: found.provider, profile: JSON.parse(row.profile) as FederatedProfile };
  }

  /** Decides what a verified upstream account leads to (rules 1, 3, 4, 5 above). */
  async function resolve(
    provider: IdentityProvider,
    profile: FederatedProfile,
    returnTo: string | null,
    client: SignInClient,
  ): Promise<CallbackOutcome> {
    const existing = await links.find(provider.id, profile.subject);
    if (existing) {
      const user = await accounts.users.get(existing.user_id);
      if (!user?.active) {
        await recordSignIn("failure", {
          providerId: provider.id,
          userId: existing.user_id,
          client,
          details: { reason: "account_disabled" },
        });
        throw new FederationSignInError("account_disabled");
      }
      return signedIn(provider, user, profile, returnTo, client, "linked");
    }
    const holders = profile.email ? await accounts.users.findByEmail(profile.email) : [];
    if (provider.trustEmail && profile.emailVerified && holders.length > 0) {
      const active = holders.filter((u) => u.active);
      const only = active.length === 1 && holders.length === 1 ? active[0] : undefined;
      if (only && !(await accounts.administrators.isAdministrator(only.id))) {
        await doLink(provider, only.id, profile, "verified_email", client);
        return signedIn(provider, only, profile, returnTo, client, "verified_email");
      }
    }
    if (provider.jit && holders.length === 0) return provision(provider, profile, returnTo, client);
    return pending(provider, profile, returnTo);
  }

  return {
    newBrowserBinding: () => generateOpaqueToken(BROWSER_BINDING_FORMAT),

    async start(input) {
      const { provider, secrets } = await enabledProvider(input.providerId);
      if (!isWellFormedOpaqueToken(input.browserBinding, BROWSER_BINDING_FORMAT)) {
        throw new FederationSignInError("browser_mismatch", "malformed binding");
      }
      if (input.intent === "invitation") await checkInvitationLive(deps.invitations, input.invitation);
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const stateHash = hashToken(state);
      const now = clock.now();
      const url = await upstreams.authorizationUrl(provider, secrets(), {
        state,
        nonce,
        codeChallenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        ...(input.loginHint ? { loginHint: input.loginHint } : {}),
      });
      await repository.insertState({
        state_hash: stateHash,
        browser_hash: hashToken(input.browserBinding),
        provider_id: provider.id,
        nonce,
        code_verifier_sealed: masterKey.seal(
          Buffer.from(
            encodeRoundTripSecrets(input.intent, {
              codeVerifier,
              ...(input.intent === "invitation" ? { invitation: input.invitation } : {}),
            }),
            "utf8",
          ),
          verifierAad(stateHash),
        ),
        intent: input.intent,
        user_id: input.intent === "link" ? (input.userId ?? null) : null,
        return_to: input.returnTo,
        created_at: now,
        expires_at: now + STATE_TTL_MS,
      });
      if (provider.authorizationEndpoint !== `${url.origin}${url.pathname}`) {
        await providers.rememberAuthorizationEndpoint(provider.id, `${url.origin}${url.pathname}`);
      }
      return url;
    },

    async callback(input) {
      const params = new URLSearchParams(input.query);
      const refuse = async (reason: FederationSignInError["reason"], detail?: string): Promise<never> => {
        await recordSignIn("failure", {
          providerId: input.providerId,
          client: input.client,
          details: { reason },
        });
        throw new FederationSignInError(reason, detail);
      };
      const state = params.get("state");
      if (!state) return refuse("state_missing");
      const row = await repository.takeState(hashToken(state), clock.now());
      if (!row) return refuse("state_unknown");
      if (row.provider_id !== input.providerId) return refuse("state_provider_mismatch");
      if (!input.browserBinding || !constantTimeEqual(hashToken(input.browserBinding), row.browser_hash)) {
        return refuse("browser_mismatch");
      }
      const found = await providers.record(row.provider_id);
      if (!found?.provider.enabled) return refuse("provider_disabled");
      const { provider, secrets } = found;
      if (params.has("error")) return refuse("upstream_error", params.get("error")?.slice(0, 64));
      const sealed = decodeRoundTripSecrets(
        row.intent,
        masterKey.open(row.code_verifier_sealed, verifierAad(row.state_hash)).toString(),
      );
      const codeVerifier = sealed.codeVerifier;
      let profile: FederatedProfile;
      try {
        const account = await upstreams.exchange(
          provider,
          secrets(),
          new URL(`${provider.redirectUri}?${params.toString()}`),
          { state, nonce: row.nonce, codeVerifier },
        );
        profile = mapClaims(account.subject, account.claims, provider.claimMapping);
      } catch (error) {
        if (error instanceof FederationSignInError) return refuse(error.reason, error.detail);
        throw error;
      }
      const returnTo = row.return_to;
      if (row.intent === "invitation") {
        let user: User;
        try {
          user = await acceptInvitationUpstream({
            invitations: deps.invitations,
            links,
            providerId: provider.id,
            profile,
            token: sealed.invitation ?? "",
            client: input.client,
            link: (userId) => doLink(provider, userId, profile, "invitation", input.client),
          });
        } catch (error) {
          if (error instanceof FederationSignInError) return refuse(error.reason, error.detail);
          throw error;
        }
        return signedIn(provider, user, profile, null, input.client, "invitation");
      }
      if (row.intent === "link") {
        if (!row.user_id || row.user_id !== input.currentUserId) return refuse("link_user_mismatch");
        const existing = await links.find(provider.id, profile.subject);
        if (existing && existing.user_id !== row.user_id) return refuse("already_linked");
        if (!existing) await doLink(provider, row.user_id, profile, "account_page", input.client);
        await syncGroups(provider, row.user_id, profile);
        return { kind: "linked", userId: row.user_id, providerId: provider.id, returnTo };
      }
      return resolve(provider, profile, returnTo, input.client);
    },

    async pendingLink(token) {
      const found = await loadPending(token);
      if (!found) return undefined;
      return {
        providerId: found.provider.id,
        providerName: found.provider.displayName,
        name: found.profile.name ?? found.profile.userName,
        email: found.profile.email,
        canCreate: found.provider.jit,
        createdAt: Number(found.row.created_at),
        returnTo: found.row.return_to,
      };
    },

    async createFromPendingLink(token, client) {
      const found = await loadPending(token);
      if (!found) throw new FederationSignInError("pending_link_gone");
      if (!found.provider.jit) throw new FederationSignInError("jit_disabled");
      if (!(await repository.takePendingLink(found.row.token_hash, clock.now()))) {
        throw new FederationSignInError("pending_link_gone");
      }
      const existing = await links.find(found.provider.id, found.profile.subject);
      if (existing) throw new FederationSignInError("already_linked");
      return provision(found.provider, found.profile, found.row.return_to, client);
    },

    async completePendingLink(token, session, client) {
      const found = await loadPending(token);
      if (!found) throw new FederationSignInError("pending_link_gone");
      // Proof of ownership: a sign-in to the account after this upstream sign-in, in this browser.
      if (session.authTime < Number(found.row.created_at)) return { kind: "needs-proof" };
      if (!(await repository.takePendingLink(found.row.token_hash, clock.now()))) {
        throw new FederationSignInError("pending_link_gone");
      }
      await doLink(found.provider, session.userId, found.profile, "signed_in", client);
      await syncGroups(found.provider, session.userId, found.profile);
      return { kind: "linked", providerId: found.provider.id, returnTo: found.row.return_to };
    },

    recordSession: (sessionId, providerId) => links.recordSession(sessionId, providerId, clock.now()),
  };
}
