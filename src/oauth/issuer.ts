/**
 * Minting and checking the tokens the OAuth endpoints hand out.
 *
 * - Access tokens: JWTs per RFC 9068 (`typ: at+jwt`; iss, sub, aud, client_id, scope, exp, iat, jti, and for
 *   users auth_time, acr, amr), signed EdDSA with the active key. For `client_credentials` the subject is the
 *   client itself.
 * - ID tokens (OpenID Connect Core §2): iss, sub, aud = client, azp, exp, iat, auth_time, nonce, acr, amr,
 *   and the claims of the granted scopes, signed with the client's algorithm (EdDSA by default).
 * - Checking an access token (userinfo, introspection, revocation): signature by a published key, `typ`,
 *   issuer, expiry, and the revocation list (`revoked_access_tokens`, kept until the token would expire). A
 *   token made by token exchange (RFC 8693) is refused too when a token it was exchanged from is on that list
 *   (`tessera_exchanged_from`), so ending the subject token's grant ends what was exchanged from it.
 *   A refused token is simply "not valid": callers answer `invalid_token` or `active: false`.
 * - Encrypted tokens (JWE, src/oauth/jwe.ts): a token is always signed first, then encrypted (`cty: JWT`).
 *   ID tokens and userinfo JWTs go to clients that registered `id_token_encrypted_response_alg` /
 *   `userinfo_encrypted_response_alg`; a JWT access token is encrypted when its (only) audience is a resource
 *   server that asked for it, and recorded (its SHA-256 and claims, as opaque tokens are) because Tessera
 *   cannot decrypt it: introspection, userinfo and revocation read the record.
 */
import type { Users } from "../accounts/users.js";
import { hashToken } from "../crypto/hash.js";
import type { JwsAlgorithm, JwtClaims } from "../crypto/jwt/policy.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import { generateOpaqueToken, isWellFormedOpaqueToken } from "../crypto/opaque-token.js";
import { randomId } from "../crypto/random.js";
import type { Clock } from "../lib/clock.js";
import { TokenError } from "../lib/errors.js";
import type { OAuthRepositories } from "../storage/repositories/oauth.js";
import type { Client, Clients } from "./clients.js";
import { OAuthError } from "./errors.js";
import type { GrantRevocation } from "./grant-revocation.js";
import type { EncryptionRecipient, TokenEncryption } from "./jwe.js";

export const ACR_PASSWORD = "urn:tessera:acr:password";
export const ACR_MFA = "urn:tessera:acr:mfa";
export const ACR_PHISHING_RESISTANT = "urn:tessera:acr:phishing-resistant";
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT] as const;

/**
 * Whether an achieved acr meets a request's `acr_values` (OpenID Connect Core §3.1.2.1): the levels are ordered
 * password < mfa < phishing-resistant, and the weakest level asked for must be reached. Values Tessera does not
 * know are ignored; with none known, anything meets the request.
 */
export function acrSatisfies(achieved: string, requested: readonly string[]): boolean {
  const levels = requested
    .map((v) => ACR_VALUES.indexOf(v as (typeof ACR_VALUES)[number]))
    .filter((i) => i >= 0);
  if (levels.length === 0) return true;
  return ACR_VALUES.indexOf(achieved as (typeof ACR_VALUES)[number]) >= Math.min(...levels);
}

/** The acr of a sign-in, from its RFC 8176 amr values. */
export function acrFor(amr: readonly string[]): string {
  if (amr.includes("hwk")) return ACR_PHISHING_RESISTANT;
  if (amr.includes("mfa") || amr.length > 1) return ACR_MFA;
  return ACR_PASSWORD;
}

/** Who the token is about and how they signed in (absent for a client acting for itself). */
export interface Subject {
  userId: string;
  authTime: number;
  acr: string;
  amr: string[];
  /** The sign-in session (the ID token's `sid`, for back-channel logout). */
  sessionId?: string | null;
}

export interface AccessTokenInput {
  clientId: string;
  /** `opaque`: a random token stored hashed, understood through introspection only. */
  format?: "jwt" | "opaque";
  subject: Subject | undefined;
  scopes: string[];
  audience: string[];
  /** Seconds. */
  ttl: number;
  /** RFC 9449: the thumbprint of the DPoP key the token is bound to (`cnf.jkt`). */
  dpopJkt?: string;
  /** RFC 8693 §4.1: the actor the token was delegated to (token exchange; JWT access tokens only). */
  act?: ActorClaim;
  /** Token exchange: the `jti`s of the subject token and of the tokens it was exchanged from in turn. */
  exchangedFrom?: string[];
}

/** RFC 8693 §4.1 `act`: the acting party, and the actor before it in a delegation chain. */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface AccessTokenClaims extends JwtClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  client_id: string;
  scope: string;
  exp: number;
  iat: number;
  jti: string;
  auth_time?: number;
  acr?: string;
  amr?: string[];
  /** RFC 7800 / RFC 9449 §6.1: the key the token is bound to. */
  cnf?: { jkt: string };
  /** RFC 8693 §4.1: the current actor (token exchange with delegation). */
  act?: ActorClaim;
  /** The `jti`s this token was exchanged from (RFC 8693 exchange), nearest first. */
  tessera_exchanged_from?: string[];
}

export interface Issuer {
  readonly issuer: string;
  mintAccessToken(input: AccessTokenInput): Promise<IssuedAccessToken>;
  mintIdToken(input: {
    clientId: string;
    alg: JwsAlgorithm;
    subject: Subject;
    nonce: string | null;
    scopes: string[];
    /** Seconds. */
    ttl: number;
  }): Promise<string>;
  /** The claims of the granted scopes for a user (userinfo and ID tokens); undefined if the user is gone. */
  userClaims(userId: string, scopes: readonly string[]): Promise<Record<string, unknown> | undefined>;
  /** A valid, unrevoked access token's claims; throws TokenError otherwise. */
  verifyAccessToken(token: string): Promise<AccessTokenClaims>;
  /**
   * `verifyAccessToken`, and for a user's token the user too: active, and the token issued at or after the
   * user's cut-off (access-ending events move it). Throws TokenError when either fails. `holder` is the user's
   * name (absent for a client's own token).
   */
  checkAccessToken(token: string): Promise<{ claims: AccessTokenClaims; holder?: { userName: string } }>;
  /**
   * The userinfo answer as a JWT for a client that registered `userinfo_signed_response_alg` or
   * `userinfo_encrypted_response_alg` (signed, then encrypted when asked); undefined for any other client, which
   * gets JSON. OpenID Connect Core §5.3.2.
   */
  mintUserinfoJwt(clientId: string, claims: Record<string, unknown>): Promise<string | undefined>;
  /** Puts a JWT access token on the revocation list until it expires. */
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;
  purgeRevoked(): Promise<number>;
}

export const OPAQUE_ACCESS_TOKEN = { prefix: "tsr_at_", checksum: true } as const;

/** A compact JWE (RFC 7516 §7.1): five base64url segments (the encrypted key is empty for `dir` only). */
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_ENCRYPTED_TOKEN_LENGTH = 16 * 1024;
/** Whether a token has the shape of a compact JWE (an access token encrypted to a resource server). */
export const isCompactJwe = (token: string): boolean => token.split(".", 6).length === 5;
/** Seconds a userinfo JWT is valid (it is read at once). */
const USERINFO_JWT_TTL = 300;

/** Scopes whose claims need the user's record. */
const CLAIM_SCOPES = new Set(["profile", "email", "groups"]);

export function newJti(): string {
  return randomId(16);
}

export function createIssuer(deps: {
  repositories: Pick<OAuthRepositories, "accessTokens" | "tokenHolders">;
  clock: Clock;
  keys: KeyStore;
  users: Users;
  issuer: string;
  /** Ends grants and access tokens (the revocation list, announced on the feed). */
  grants: Pick<GrantRevocation, "revokeAccessToken">;
  /** Who asked for encrypted tokens: clients (ID tokens, userinfo) and resource servers (access tokens). */
  clients: Pick<Clients, "get" | "getResourceServer">;
  encryption: Pick<TokenEncryption, "encrypt">;
}): Issuer {
  const { clock, keys, users, issuer } = deps;
  const { accessTokens, tokenHolders } = deps.repositories;
  const seconds = (ms: number) => Math.floor(ms / 1000);

  async function userClaims(
    userId: string,
    scopes: readonly string[],
  ): Promise<Record<string, unknown> | undefined> {
    if (!scopes.some((s) => CLAIM_SCOPES.has(s))) {
      // Only `sub`: one indexed read of the active flag instead of the whole user.
      const holder = await tokenHolders.find(userId);
      return holder?.active ? { sub: userId } : undefined;
    }
    const user = await users.get(userId);
    if (!user?.active) return undefined;
    const claims: Record<string, unknown> = { sub: user.id };
    if (scopes.includes("profile")) {
      claims.preferred_username = user.userName;
      if (user.displayName) claims.name = user.displayName;
      if (user.givenName) claims.given_name = user.givenName;
      if (user.familyName) claims.family_name = user.familyName;
      claims.updated_at = seconds(user.updatedAt);
    }
    if (scopes.includes("email")) {
      const email = user.emails.find((e) => e.primary) ?? user.emails[0];
      if (email) {
        claims.email = email.value;
        // Tessera does not verify addresses itself; provisioning (SCIM) vouches for them.
        claims.email_verified = false;
      }
    }
    if (scopes.includes("groups")) claims.groups = user.groups.map((g) => g.displayName);
    return claims;
  }

  // Signature checks of JWT access tokens are remembered (by the token's SHA-256) for up to a minute and never
  // past expiry: a resource server introspecting the same token again does not pay for the signature again.
  // Revocation and the user's state are still checked at every call.
  const verifiedCache = new Map<string, { claims: AccessTokenClaims; until: number }>();
  const VERIFIED_TTL_MS = 60_000;
  const VERIFIED_MAX = 10_000;

  function verifiedJwt(token: string): AccessTokenClaims {
    const now = clock.now();
    const key = hashToken(token);
    const hit = verifiedCache.get(key);
    if (hit && hit.until > now) return hit.claims;
    const verified = keys.verify(token, { typ: "at+jwt", issuer, algorithms: ["EdDSA", "ES256", "RS256"] });
    const claims = verified.payload as Partial<AccessTokenClaims>;
    if (
      typeof claims.sub !== "string" ||
      typeof claims.client_id !== "string" ||
      typeof claims.jti !== "string" ||
      typeof claims.exp !== "number" ||
      typeof claims.scope !== "string"
    ) {
      throw new TokenError("claims_invalid");
    }
    if (verifiedCache.size >= VERIFIED_MAX) verifiedCache.clear();
    verifiedCache.set(key, {
      claims: Object.freeze(claims) as AccessTokenClaims,
      until: Math.min(now + VERIFIED_TTL_MS, claims.exp * 1000),
    });
    return claims as AccessTokenClaims;
  }

  /**
   * Where an access token for `audience` is encrypted to: a resource server that asked for encrypted tokens.
   * A token for several audiences cannot be encrypted to one of them only (the others could not read it), so
   * asking for it with such a resource server among others is `invalid_target`.
   */
  async function accessTokenRecipient(audience: readonly string[]): Promise<EncryptionRecipient | undefined> {
    let recipient: EncryptionRecipient | undefined;
    for (const aud of audience) {
      const server = await deps.clients.getResourceServer(aud);
      if (server?.accessTokenEncryption && server.jwks) {
        recipient = { settings: server.accessTokenEncryption, jwks: server.jwks, jwksUri: null };
      }
    }
    if (recipient && audience.length > 1) {
      throw new OAuthError(
        "invalid_target",
        "An API that asks for encrypted access tokens must be the only resource of a token request.",
      );
    }
    return recipient;
  }

  /** A client's encryption keys (inline or at its jwks_uri), with `settings`. */
  const clientRecipient = (
    client: Client,
    settings: EncryptionRecipient["settings"],
  ): EncryptionRecipient => ({
    settings,
    jwks: client.jwks as EncryptionRecipient["jwks"],
    jwksUri: client.jwksUri,
  });

  /** An encrypted access token's recorded claims (Tessera cannot decrypt it: it is the resource server's). */
  async function verifyEncrypted(token: string): Promise<AccessTokenClaims> {
    if (token.length > MAX_ENCRYPTED_TOKEN_LENGTH || !COMPACT_JWE.test(token))
      throw new TokenError("malformed");
    const row = await accessTokens.findOpaque(hashToken(token));
    if (!row || row.claims === null) throw new TokenError("key_unknown", "unknown encrypted token");
    if (row.expires_at <= clock.now()) throw new TokenError("expired");
    return JSON.parse(row.claims) as AccessTokenClaims;
  }

  async function verifyOpaque(token: string): Promise<AccessTokenClaims> {
    if (!isWellFormedOpaqueToken(token, OPAQUE_ACCESS_TOKEN)) throw new TokenError("malformed");
    const row = await accessTokens.findOpaque(hashToken(token));
    if (!row) throw new TokenError("key_unknown", "unknown opaque token");
    if (row.expires_at <= clock.now()) throw new TokenError("expired");
    if (await accessTokens.isRevoked(row.jti)) throw new TokenError("claims_invalid", "revoked");
    const audience = JSON.parse(row.audience) as string[];
    return {
      iss: issuer,
      sub: row.subject,
      aud: audience.length === 1 ? (audience[0] as string) : audience,
      client_id: row.client_id,
      scope: row.scope,
      iat: seconds(row.created_at),
      exp: seconds(row.expires_at),
      jti: row.jti,
      ...(row.auth_time === null ? {} : { auth_time: seconds(row.auth_time) }),
      ...(row.acr === null ? {} : { acr: row.acr }),
      ...(row.amr === null ? {} : { amr: row.amr.split(" ") }),
      ...(row.dpop_jkt === null ? {} : { cnf: { jkt: row.dpop_jkt } }),
    };
  }

  return {
    issuer,

    async mintAccessToken(input) {
      const now = clock.now();
      const iat = seconds(now);
      const exp = iat + input.ttl;
      const jti = newJti();
      const claims: AccessTokenClaims = {
        iss: issuer,
        sub: input.subject?.userId ?? input.clientId,
        aud: input.audience.length === 1 ? (input.audience[0] as string) : input.audience,
        client_id: input.clientId,
        scope: input.scopes.join(" "),
        iat,
        exp,
        jti,
      };
      if (input.subject) {
        claims.auth_time = seconds(input.subject.authTime);
        claims.acr = input.subject.acr;
        claims.amr = input.subject.amr;
      }
      if (input.dpopJkt !== undefined) claims.cnf = { jkt: input.dpopJkt };
      if (input.act !== undefined) claims.act = input.act;
      if (input.exchangedFrom !== undefined) claims.tessera_exchanged_from = input.exchangedFrom;
      // An opaque or encrypted token is recorded by its hash: what introspection answers from. An encrypted
      // one keeps the claims of the JWT inside too (Tessera cannot decrypt what it encrypted to an API).
      const record = (token: string, storedClaims: string | null) =>
        accessTokens.insertOpaque({
          token_hash: hashToken(token),
          jti,
          client_id: input.clientId,
          subject: claims.sub,
          scope: claims.scope,
          audience: JSON.stringify(input.audience),
          auth_time: input.subject ? input.subject.authTime : null,
          acr: input.subject?.acr ?? null,
          amr: input.subject ? input.subject.amr.join(" ") : null,
          created_at: now,
          expires_at: exp * 1000,
          dpop_jkt: input.dpopJkt ?? null,
          claims: storedClaims,
        });
      if (input.format === "opaque") {
        if (input.act !== undefined || input.exchangedFrom !== undefined)
          throw new Error("exchanged access tokens are JWTs");
        const token = generateOpaqueToken(OPAQUE_ACCESS_TOKEN);
        await record(token, null);
        return { token, jti, expiresAt: exp * 1000 };
      }
      const signed = keys.sign(claims, { typ: "at+jwt", alg: "EdDSA" });
      const recipient = await accessTokenRecipient(input.audience);
      if (recipient === undefined) return { token: signed, jti, expiresAt: exp * 1000 };
      // Signed, then encrypted to the resource server; recorded (hash and claims) for introspection.
      const token = await deps.encryption.encrypt(signed, recipient);
      await record(token, JSON.stringify(claims));
      return { token, jti, expiresAt: exp * 1000 };
    },

    async mintIdToken(input) {
      const iat = seconds(clock.now());
      const claims: JwtClaims = {
        iss: issuer,
        sub: input.subject.userId,
        aud: input.clientId,
        azp: input.clientId,
        iat,
        exp: iat + input.ttl,
        auth_time: seconds(input.subject.authTime),
        acr: input.subject.acr,
        amr: input.subject.amr,
        ...((await userClaims(input.subject.userId, input.scopes)) ?? {}),
      };
      if (input.nonce !== null) claims.nonce = input.nonce;
      if (input.subject.sessionId) claims.sid = input.subject.sessionId;
      claims.sub = input.subject.userId;
      const signed = keys.sign(claims, { typ: "JWT", alg: input.alg });
      // OpenID Connect Core §10.2: a client that registered encryption gets the signed token encrypted.
      const client = await deps.clients.get(input.clientId);
      if (!client?.idTokenEncryption) return signed;
      return deps.encryption.encrypt(signed, clientRecipient(client, client.idTokenEncryption));
    },

    async mintUserinfoJwt(clientId, userinfo) {
      const client = await deps.clients.get(clientId);
      if (!client || (client.userinfoSignedAlg === null && client.userinfoEncryption === null))
        return undefined;
      const iat = seconds(clock.now());
      // §5.3.2: a signed answer carries iss and aud. Signed even when only encryption was asked for (with the
      // ID token's algorithm): the client can then tell that Tessera, not anyone with its public key, wrote it.
      const signed = keys.sign(
        { ...userinfo, iss: issuer, aud: client.id, iat, exp: iat + USERINFO_JWT_TTL },
        { typ: "JWT", alg: client.userinfoSignedAlg ?? client.idTokenAlg },
      );
      if (!client.userinfoEncryption) return signed;
      return deps.encryption.encrypt(signed, clientRecipient(client, client.userinfoEncryption));
    },

    userClaims,

    async verifyAccessToken(token) {
      if (token.startsWith(OPAQUE_ACCESS_TOKEN.prefix)) return verifyOpaque(token);
      const claims = isCompactJwe(token) ? await verifyEncrypted(token) : verifiedJwt(token);
      if (await accessTokens.isRevoked(claims.jti)) throw new TokenError("claims_invalid", "revoked");
      for (const jti of claims.tessera_exchanged_from ?? []) {
        if (typeof jti !== "string" || (await accessTokens.isRevoked(jti)))
          throw new TokenError("claims_invalid", "revoked");
      }
      return claims as AccessTokenClaims;
    },

    async checkAccessToken(token) {
      const claims = await this.verifyAccessToken(token);
      // A client_credentials token names the client as subject and carries no auth_time.
      const isUser = claims.sub !== claims.client_id || claims.auth_time !== undefined;
      if (!isUser) return { claims };
      const holder = await tokenHolders.find(claims.sub);
      if (!holder?.active) throw new TokenError("claims_invalid", "the user is not active");
      if (claims.iat * 1000 < holder.tokensNotBefore) throw new TokenError("claims_invalid", "revoked");
      return { claims, holder: { userName: holder.userName } };
    },

    revokeAccessToken: (jti, expiresAt) => deps.grants.revokeAccessToken(jti, expiresAt),

    purgeRevoked: () => accessTokens.deleteExpired(clock.now()),
  };
}
