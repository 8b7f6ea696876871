/**
 * WebAuthn security keys and passkeys (hardware tokens, RFC 8176 `hwk`), on @simplewebauthn/server.
 *
 * - RP ID and accepted origins come from the configuration (default: the issuer's host name and origin); a
 *   response made for another origin or RP ID is refused.
 * - Registration asks for a discoverable credential where the authenticator can make one (`residentKey:
 *   "preferred"`: a passkey, usable without a password; a plain security key still works as a second factor),
 *   user verification as configured, and attestation `none`. With an AAGUID allow-list it asks for `direct`
 *   attestation and refuses other authenticator models (`authenticator_not_allowed`), at registration and at
 *   every later use.
 * - A credential id belongs to one user: registering an id that is already known is refused.
 * - Challenges are single use, five minutes, bound to the ceremony and the user (webauthn-challenges.ts), and
 *   consumed before anything else is checked: a refused response burns its challenge too.
 * - Second factor and step-up (`expected.userId`): the credential must be that user's; user verification as
 *   configured. Passwordless (no `expected.userId`): any discoverable credential, user verification always
 *   required, and the `userHandle`, when sent, must name the credential's owner.
 * - Signature counter (WebAuthn §7.2 step 21): when the stored or the new count is non-zero, the new one must be
 *   greater; otherwise the assertion is refused and `mfa.webauthn_counter_regression` audited (a cloned
 *   authenticator). The count advances in one conditional UPDATE, so two assertions carrying the same count
 *   cannot both pass.
 * - Audit: `mfa.webauthn_registered`, `_renamed`, `_removed`; every refusal is `mfa.webauthn_failed` with a
 *   coarse reason (never the response itself).
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { decodeClientDataJSON } from "@simplewebauthn/server/helpers";
import { NO_EVENTS } from "../events/outbox.js";
import { MfaError } from "../lib/errors.js";
import type { WebAuthnCredentialRow } from "../storage/index.js";
import { recordMfaEvent } from "./audit.js";
import type { MfaActor, MfaDeps, WebAuthn, WebAuthnJson } from "./types.js";
import { CHALLENGE_TTL_MS, type ChallengePurpose, createChallengeStore } from "./webauthn-challenges.js";
import { cleanName, cleanTransports, shortId, toCredential } from "./webauthn-credentials.js";
import { userHandleOf, webauthnSettings } from "./webauthn-settings.js";

/** The challenge a response carries, or undefined when its client data cannot be read. */
function challengeOf(response: WebAuthnJson): string | undefined {
  const inner = response.response;
  if (typeof inner !== "object" || inner === null) return undefined;
  const clientDataJSON = (inner as Record<string, unknown>).clientDataJSON;
  if (typeof clientDataJSON !== "string" || clientDataJSON.length > 4096) return undefined;
  try {
    const challenge = decodeClientDataJSON(clientDataJSON).challenge;
    return typeof challenge === "string" ? challenge : undefined;
  } catch {
    return undefined;
  }
}

/** A coarse, stable reason for the audit log from a library refusal (its message may echo the input). */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/RP ID/i.test(message)) return "rp_id";
  if (/origin/i.test(message)) return "origin";
  if (/user verification/i.test(message)) return "user_verification";
  if (/user (was )?not present|user presence/i.test(message)) return "user_presence";
  if (/challenge/i.test(message)) return "challenge";
  if (/type/i.test(message)) return "ceremony_type";
  return "malformed";
}

export function createWebAuthn(deps: MfaDeps): WebAuthn {
  const { clock, audit } = deps;
  const credentials = deps.repositories.webauthnCredentials;
  const outbox = deps.events ?? NO_EVENTS;
  const changed = (userId: string, credentialId: string, change: string, by: MfaActor) =>
    outbox.events({
      type: "credential.changed",
      userId,
      data: { credential: "webauthn", change, credentialId: shortId(credentialId), actor: by.actor },
    });
  const settings = webauthnSettings(deps.config);
  const challenges = createChallengeStore({ repository: deps.repositories.webauthnChallenges, clock });
  const allowed = (aaguid: string) =>
    settings.aaguids === null || settings.aaguids.includes(aaguid.toLowerCase());

  async function refused(
    by: MfaActor,
    input: { userId: string | null; ceremony: string; reason: string; credentialId?: string },
  ): Promise<undefined> {
    await recordMfaEvent(
      audit,
      {
        type: "mfa.webauthn_failed",
        outcome: "failure",
        userId: input.userId,
        details: {
          ceremony: input.ceremony,
          reason: input.reason,
          ...(input.credentialId ? { credentialId: shortId(input.credentialId) } : {}),
        },
      },
      by,
    );
    return undefined;
  }

  const rowsOf = (userId: string) => credentials.listOf(userId);

  /** Challenge bytes for the options generators (a string would be taken as UTF-8 text, not base64url). */
  async function issue(purpose: ChallengePurpose, userId: string | null): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(Buffer.from(await challenges.issue(purpose, userId), "base64url"));
  }

  return {
    async registrationOptions(user) {
      const existing = await rowsOf(user.id);
      const options = await generateRegistrationOptions({
        rpName: settings.rpName,
        rpID: settings.rpId,
        userName: user.userName,
        userID: new Uint8Array(Buffer.from(user.id, "utf8")),
        userDisplayName: user.displayName?.trim() || user.userName,
        challenge: await issue("register", user.id),
        timeout: CHALLENGE_TTL_MS,
        attestationType: settings.aaguids === null ? "none" : "direct",
        excludeCredentials: existing.map((row) => ({
          id: row.id,
          transports: cleanTransports(JSON.parse(row.transports)),
        })),
        authenticatorSelection: { residentKey: "preferred", userVerification: settings.userVerification },
      });
      return options as unknown as WebAuthnJson;
    },

    async register(userId, response, name, by) {
      const ceremony = "registration";
      const failed = async (reason: string) => {
        await refused(by, { userId, ceremony, reason });
        return new MfaError("webauthn_failed", "The security key could not be registered. Please try again.");
      };
      const label = cleanName(name);
      const challenge = challengeOf(response);
      if (!challenge || !(await challenges.consume(challenge, "register", userId))) {
        throw await failed("challenge");
      }
      let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verification = await verifyRegistrationResponse({
          response: response as unknown as RegistrationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: settings.origins,
          expectedRPID: settings.rpId,
          requireUserPresence: true,
          requireUserVerification: settings.userVerification === "required",
        });
      } catch (error) {
        throw await failed(reasonOf(error));
      }
      if (!verification.verified) throw await failed("attestation");
      const info = verification.registrationInfo;
      if (!allowed(info.aaguid)) {
        await refused(by, { userId, ceremony, reason: "aaguid_not_allowed" });
        throw new MfaError(
          "authenticator_not_allowed",
          "Your organisation does not allow this kind of security key. Use one of the approved models.",
        );
      }
      if (await credentials.exists(info.credential.id)) throw await failed("credential_exists");
      const credProps = (response as Partial<RegistrationResponseJSON>).clientExtensionResults?.credProps;
      const row: WebAuthnCredentialRow = {
        id: info.credential.id,
        user_id: userId,
        name: label || (info.credentialDeviceType === "multiDevice" ? "Passkey" : "Security key"),
        public_key: Buffer.from(info.credential.publicKey).toString("base64url"),
        counter: info.credential.counter,
        transports: JSON.stringify(cleanTransports(info.credential.transports)),
        aaguid: info.aaguid.toLowerCase(),
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp ? 1 : 0,
        // Synced (multi-device) credentials are always discoverable; otherwise the credProps extension tells.
        discoverable: credProps?.rk === true || info.credentialDeviceType === "multiDevice" ? 1 : 0,
        created_at: clock.now(),
        last_used_at: null,
      };
      try {
        await credentials.insert(row, changed(userId, row.id, "create", by));
        outbox.committed();
      } catch {
        // The same id registered concurrently: the primary key decided.
        throw await failed("credential_exists");
      }
      await recordMfaEvent(
        audit,
        {
          type: "mfa.webauthn_registered",
          outcome: "success",
          userId,
          details: {
            credentialId: shortId(row.id),
            name: row.name,
            aaguid: row.aaguid,
            passkey: row.discoverable === 1,
          },
        },
        by,
      );
      return toCredential(row);
    },

    async authenticationOptions(userId) {
      const usable = (await rowsOf(userId)).filter((row) => allowed(row.aaguid));
      if (usable.length === 0) throw new MfaError("factor_not_found", "No security key is registered.", 404);
      const options = await generateAuthenticationOptions({
        rpID: settings.rpId,
        challenge: await issue("authenticate", userId),
        timeout: CHALLENGE_TTL_MS,
        userVerification: settings.userVerification,
        allowCredentials: usable.map((row) => ({
          id: row.id,
          transports: cleanTransports(JSON.parse(row.transports)),
        })),
      });
      return options as unknown as WebAuthnJson;
    },

    async passwordlessOptions() {
      const options = await generateAuthenticationOptions({
        rpID: settings.rpId,
        challenge: await issue("passwordless", null),
        timeout: CHALLENGE_TTL_MS,
        userVerification: "required",
      });
      return options as unknown as WebAuthnJson;
    },

    async authenticate(response, expected, by) {
      const passwordless = expected.userId === undefined;
      const ceremony = passwordless ? "passwordless" : "second_factor";
      const expectedUser = expected.userId ?? null;
      const challenge = challengeOf(response);
      if (
        !challenge ||
        !(await challenges.consume(challenge, passwordless ? "passwordless" : "authenticate", expectedUser))
      ) {
        return refused(by, { userId: expectedUser, ceremony, reason: "challenge" });
      }
      const id = typeof response.id === "string" && response.id.length <= 2048 ? response.id : "";
      const row = id === "" ? undefined : await credentials.findById(id);
      if (!row) return refused(by, { userId: expectedUser, ceremony, reason: "unknown_credential" });
      const deny = (reason: string) =>
        refused(by, { userId: expectedUser ?? row.user_id, ceremony, reason, credentialId: row.id });
      if (!passwordless && row.user_id !== expectedUser) return deny("wrong_user");
      if (!allowed(row.aaguid)) return deny("aaguid_not_allowed");
      const handle = (response.response as Record<string, unknown> | undefined)?.userHandle;
      if (typeof handle === "string" && handle !== "" && handle !== userHandleOf(row.user_id)) {
        return deny("user_handle");
      }
      let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        verification = await verifyAuthenticationResponse({
          response: response as unknown as AuthenticationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: settings.origins,
          expectedRPID: settings.rpId,
          // The counter is checked below, after the signature: a forged response must not raise the alarm.
          credential: {
            id: row.id,
            publicKey: new Uint8Array(Buffer.from(row.public_key, "base64url")),
            counter: 0,
          },
          requireUserVerification: passwordless || settings.userVerification === "required",
        });
      } catch (error) {
        return deny(reasonOf(error));
      }
      if (!verification.verified) return deny("signature");
      const info = verification.authenticationInfo;
      const stored = Number(row.counter);
      const counted = info.newCounter > 0 || stored > 0;
      const regression = async () => {
        await recordMfaEvent(
          audit,
          {
            type: "mfa.webauthn_counter_regression",
            outcome: "failure",
            userId: row.user_id,
            details: {
              credentialId: shortId(row.id),
              storedCounter: stored,
              receivedCounter: info.newCounter,
            },
          },
          by,
        );
        return undefined;
      };
      if (counted && info.newCounter <= stored) return regression();
      const recorded = await credentials.recordAssertion(row.id, {
        counter: info.newCounter,
        counted,
        at: clock.now(),
        backedUp: info.credentialBackedUp ? 1 : 0,
      });
      if (!recorded) {
        const still = await credentials.exists(row.id);
        // Removed meanwhile, or another assertion with this count (or a later one) won the race.
        return still ? regression() : deny("unknown_credential");
      }
      return { userId: row.user_id, credentialId: row.id, userVerified: info.userVerified };
    },

    async list(userId) {
      return (await rowsOf(userId)).map(toCredential);
    },

    async rename(userId, credentialId, name, by) {
      const label = cleanName(name);
      if (label === "") throw new MfaError("invalid_request", "Give the key a name.");
      if (!(await credentials.rename(userId, credentialId, label))) return false;
      await recordMfaEvent(
        audit,
        {
          type: "mfa.webauthn_renamed",
          outcome: "success",
          userId,
          details: { credentialId: shortId(credentialId), name: label },
        },
        by,
      );
      return true;
    },

    async remove(userId, credentialId, by, change = "delete") {
      if (!(await credentials.delete(userId, credentialId, changed(userId, credentialId, change, by))))
        return false;
      outbox.committed();
      await recordMfaEvent(
        audit,
        {
          type: "mfa.webauthn_removed",
          outcome: "success",
          userId,
          details: { credentialId: shortId(credentialId) },
        },
        by,
      );
      return true;
    },
  };
}
