/**
 * The authorization endpoint's rules (OAuth 2.1 §4.1.1, OpenID Connect Core §3.1.2, RFC 8707, RFC 9207).
 *
 * - Only the authorization code flow: `response_type=code`. PKCE is required of every client and only
 *   `S256` is accepted: a missing `code_challenge_method` is refused, not read as `plain`.
 * - Errors come in two kinds. Until the client and the redirect URI are known to be good, nothing may be
 *   sent to the redirect URI: those errors are shown on a page (`AuthorizationPageError`). After that, errors
 *   go back to the client as `error`, `error_description`, `state` and `iss` on the redirect URI.
 * - A validated request is stored (`oauth_requests`, 10 minutes) while the user signs in or consents, so
 *   parameters such as `prompt=login` are honoured once, not on every return to the endpoint.
 * - Scopes: the client's allow-list bounds them; non-OpenID scopes must also be accepted by the resource
 *   server the token is for. Resources (RFC 8707): each must be on the client's list; none given means the
 *   client's default (its first resource), or no resource (the token is then for userinfo only).
 * - Consent is remembered per user, client and scope set; first-party clients skip it.
 * - Codes: 256-bit, stored as SHA-256, single use, at most 60 s, bound to client, redirect URI, PKCE challenge.
 * - What the browser sees next is decided here (`step`, `consent`): sign in, consent, or back to the client
 *   with a code or an error. `prompt=none` never shows a page: a needed sign-in is `login_required`, a needed
 *   consent `consent_required` (OpenID Connect Core §3.1.2.6); a denied consent is `access_denied`.
 * - Pushed requests (RFC 9126, `push`): a DPoP proof sent to PAR binds the code to its key, and must agree
 *   with `dpop_jkt` when both are given (RFC 9449 §10.1).
 */
import { randomBytes } from "node:crypto";
import { hashToken } from "../crypto/hash.js";
import { generateOpaqueToken } from "../crypto/opaque-token.js";
import type { Clock } from "../lib/clock.js";
import type { OAuthRepositories } from "../storage/repositories/oauth.js";
import type { Client, Clients } from "./clients.js";
import { isResourceIndicator } from "./clients.js";
import type { DpopProofs } from "./dpop.js";
import { OAuthError, type OAuthErrorCode } from "./errors.js";
import { acrFor, acrSatisfies } from "./issuer.js";
import { matchRedirectUri, withQuery } from "./redirect-uri.js";
import { formatScope, isOidcScope, parseScope } from "./scopes.js";

export const AUTHORIZATION_CODE_PREFIX = "tsr_ac_";
const REQUEST_TTL_MS = 10 * 60 * 1000;
/** RFC 9126 §2.2: a short-lived request_uri. */
export const PAR_TTL_SECONDS = 60;
export const REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
export const PROMPT_VALUES = ["none", "login", "consent"] as const;
const PROMPTS = new Set<string>(PROMPT_VALUES);
const MAX_PARAM = 2048;

/** An error shown on Tessera's page: the client or redirect URI cannot be trusted with it. */
export class AuthorizationPageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthorizationPageError";
  }
}

/** An error sent back to the client's redirect URI. */
export class AuthorizationRedirectError extends Error {
  constructor(
    readonly error: OAuthErrorCode | "request_not_supported" | "interaction_required",
    readonly description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(description);
    this.name = "AuthorizationRedirectError";
  }
}

export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  resources: string[];
  state?: string;
  nonce?: string;
  codeChallenge: string;
  prompt: string[];
  maxAge?: number;
  loginHint?: string;
  acrValues?: string[];
  uiLocales?: string;
  /**
   * Set when the user was sent to sign in because of `prompt=login`: the session that was current then
   * (null: none). Any other session counts as the fresh sign-in the client asked for.
   */
  loginRequestedOver?: string | null;
  /** Pushed through the PAR endpoint (RFC 9126): usable only through its `request_uri`. */
  pushed?: boolean;
  /**
   * RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (`dpop_jkt`, or the key of the proof
   * sent to PAR); the token request must carry a proof made with it.
   */
  dpopJkt?: string;
}

export interface StoredRequest {
  id: string;
  createdAt: number;
  request: AuthorizationRequest;
}

export interface SignedInUser {
  userId: string;
  sessionId: string;
  authTime: number;
  amr: string[];
}

/** Where the browser goes next on its way through the authorization endpoint. */
export type AuthorizationStep =
  /** To the sign-in page; `reauthenticate`: the user is signed in but must sign in again. */
  | { kind: "login"; reauthenticate: boolean; loginHint?: string }
  /** To the consent page. */
  | { kind: "consent" }
  /** Back to the client: with a code, or with an error (the request is then forgotten). */
  | { kind: "redirect"; to: string };

/** The answer to a pushed request (RFC 9126 §2.2), or the error it gets (§2.3). */
export type PushedRequest =
  | { requestUri: string; expiresIn: number }
  | { refused: { error: AuthorizationRedirectError["error"]; description: string } };

export interface Authorization {
  /**
   * The request a browser brings to the authorization endpoint, validated and stored, or the pushed request its
   * `request_uri` names. Throws `AuthorizationPageError` or `AuthorizationRedirectError`.
   */
  start(params: Record<string, unknown>): Promise<{ stored: StoredRequest; client: Client }>;
  /** The stored request an id names and its client; throws `AuthorizationPageError` when either is gone. */
  resume(id: unknown): Promise<{ stored: StoredRequest; client: Client }>;
  /** Decides the next step for the user signed in in this browser (if any); issues the code when ready. */
  step(stored: StoredRequest, client: Client, user: SignedInUser | undefined): Promise<AuthorizationStep>;
  /**
   * The user's answer on the consent page. Allowed: the consent is remembered and the answer is `consented`
   * (the caller then issues the code); denied: back to the client with `access_denied`. When the sign-in no
   * longer suffices, the step to take instead.
   */
  consent(
    stored: StoredRequest,
    client: Client,
    user: SignedInUser,
    allow: boolean,
  ): Promise<AuthorizationStep | { kind: "consented" }>;
  /**
   * A pushed authorization request (RFC 9126) of an authenticated client, with the request's DPoP header.
   * Throws `OAuthError` for a malformed request or DPoP proof.
   */
  push(
    client: Client,
    params: Record<string, unknown>,
    dpopHeader: string | string[] | undefined,
  ): Promise<PushedRequest>;
  /** Validates the query of a request to the authorization endpoint. */
  validate(
    params: Record<string, unknown>,
    options?: { pushed?: boolean },
  ): Promise<{ client: Client; request: AuthorizationRequest }>;
  /** Stores a validated request (10 minutes; a pushed one `PAR_TTL_SECONDS`). */
  save(request: AuthorizationRequest): Promise<StoredRequest>;
  /** The stored pushed request a `request_uri` names, for this client; undefined when unknown or expired. */
  loadPushed(requestUri: unknown, clientId: string): Promise<StoredRequest | undefined>;
  load(id: unknown): Promise<StoredRequest | undefined>;
  discard(id: string): Promise<void>;
  /** What is missing before a code can be issued: a (fresh) sign-in, consent, or nothing. */
  next(
    stored: StoredRequest,
    client: Client,
    user: SignedInUser | undefined,
  ): Promise<"login" | "consent" | "ready">;
  /** Records that the user was sent to sign in for `prompt=login` while `sessionId` was current. */
  markLoginRequested(stored: StoredRequest, sessionId: string | null): Promise<void>;
  /** Remembers the user's consent to the request's scopes and resources for this client. */
  grantConsent(
    userId: string,
    clientId: string,
    scopes: readonly string[],
    resources: readonly string[],
  ): Promise<void>;
  /** The scopes the user has consented to for each client ("connected apps"). */
  listConsents(userId: string): Promise<{ clientId: string; scopes: string[]; updatedAt: number }[]>;
  revokeConsent(userId: string, clientId: string): Promise<boolean>;
  /** Issues a code for a ready request and forgets the request; answers the redirect URL. */
  issueCode(stored: StoredRequest, user: SignedInUser): Promise<string>;
  purgeExpired(): Promise<number>;
}

function single(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new OAuthError("invalid_request", `The ${name} parameter must be given once.`);
  }
  if (value.length > MAX_PARAM) throw new OAuthError("invalid_request", `The ${name} parameter is too long.`);
  return value;
}

/** The redirect URL that answers a request with `params` (RFC 9207's `iss` always included). */
export function redirectWith(
  redirectUri: string,
  params: Record<string, string | undefined>,
  issuer: string,
): string {
  // The matched text itself, not a re-serialisation of it (see redirect-uri.ts).
  return withQuery(redirectUri, { ...params, iss: issuer });
}

export function createAuthorization(deps: {
  repositories: Pick<OAuthRepositories, "requests" | "codes" | "consents">;
  clock: Clock;
  clients: Clients;
  dpop: DpopProofs;
  codeTtl: number;
  issuer: string;
}): Authorization {
  const { clock, clients } = deps;
  const { requests, codes, consents } = deps.repositories;

  /** The scopes the user consented to for this client; undefined when they never consented at all. */
  async function consented(
    userId: string,
    clientId: string,
  ): Promise<{ scopes: string[]; resources: string[] } | undefined> {
    const row = await consents.find(userId, clientId);
    return row
      ? { scopes: parseScope(row.scope), resources: JSON.parse(row.resources) as string[] }
      : undefined;
  }

  /** Forgets the request and sends the error back to the client. */
  async function refuse(
    stored: StoredRequest,
    error: AuthorizationRedirectError["error"],
    description: string,
  ): Promise<AuthorizationStep> {
    await authorization.discard(stored.id);
    const { redirectUri, state } = stored.request;
    return {
      kind: "redirect",
      to: redirectWith(redirectUri, { error, error_description: description, state }, deps.issuer),
    };
  }

  const authorization: Authorization = {
    async start(params) {
      if (params.request_uri !== undefined && params.request !== undefined) {
        throw new AuthorizationPageError("The request carries both request and request_uri.");
      }
      if (params.request_uri !== undefined) {
        // RFC 9126 §4: a pushed request, named by its request_uri; only client_id accompanies it.
        const clientId = typeof params.client_id === "string" ? params.client_id : undefined;
        const client = clientId === undefined ? undefined : await clients.get(clientId);
        if (!client)
          throw new AuthorizationPageError("The application that sent you here is not registered.");
        const stored = await authorization.loadPushed(params.request_uri, client.id);
        if (!stored) {
          throw new AuthorizationPageError(
            "This sign-in request has expired or is unknown. Go back to the application and try again.",
          );
        }
        return { stored, client };
      }
      const { client, request } = await authorization.validate(params);
      return { stored: await authorization.save(request), client };
    },

    async resume(id) {
      const stored = await authorization.load(id);
      if (!stored) {
        throw new AuthorizationPageError(
          "This sign-in request has expired. Go back to the application and try again.",
        );
      }
      const client = await clients.get(stored.request.clientId);
      if (!client)
        throw new AuthorizationPageError("The application that sent you here is no longer registered.");
      return { stored, client };
    },

    async step(stored, client, user) {
      const { request } = stored;
      const next = await authorization.next(stored, client, user);
      if (next === "login") {
        if (request.prompt.includes("none"))
          return refuse(stored, "login_required", "The user must sign in.");
        // prompt=login and unmet acr_values sign in again once: remember over which session it was asked.
        if (
          (request.prompt.includes("login") || request.acrValues !== undefined) &&
          request.loginRequestedOver === undefined
        ) {
          await authorization.markLoginRequested(stored, user?.sessionId ?? null);
        }
        return {
          kind: "login",
          reauthenticate: user !== undefined,
          ...(request.loginHint ? { loginHint: request.loginHint } : {}),
        };
      }
      if (next === "consent") {
        if (request.prompt.includes("none"))
          return refuse(stored, "consent_required", "The user must consent.");
        return { kind: "consent" };
      }
      return { kind: "redirect", to: await authorization.issueCode(stored, user as SignedInUser) };
    },

    async consent(stored, client, user, allow) {
      if ((await authorization.next(stored, client, user)) === "login") {
        return authorization.step(stored, client, user);
      }
      if (!allow) return refuse(stored, "access_denied", "The user denied the request.");
      await authorization.grantConsent(
        user.userId,
        client.id,
        stored.request.scopes,
        stored.request.resources,
      );
      return { kind: "consented" };
    },

    async push(client, params, dpopHeader) {
      if (params.request_uri !== undefined) {
        throw new OAuthError("invalid_request", "request_uri cannot be pushed.");
      }
      const pushed: Record<string, unknown> = { ...params, client_id: client.id };
      // RFC 9449 §10.1: a proof sent to PAR binds the code to its key, like dpop_jkt; both must agree.
      const proof = await deps.dpop.checkForOAuth(dpopHeader, { method: "POST", path: "/par" });
      if (proof !== undefined) {
        if (pushed.dpop_jkt !== undefined && pushed.dpop_jkt !== proof.jkt) {
          throw new OAuthError("invalid_dpop_proof", "dpop_jkt does not match the key of the DPoP proof.");
        }
        pushed.dpop_jkt = proof.jkt;
      }
      try {
        const { request } = await authorization.validate(pushed, { pushed: true });
        const stored = await authorization.save(request);
        return { requestUri: `${REQUEST_URI_PREFIX}${stored.id}`, expiresIn: PAR_TTL_SECONDS };
      } catch (error) {
        if (error instanceof AuthorizationPageError) throw new OAuthError("invalid_request", error.message);
        if (error instanceof AuthorizationRedirectError) {
          return { refused: { error: error.error, description: error.description } };
        }
        throw error;
      }
    },

    async validate(params, options = {}) {
      // 1. Client and redirect URI: until both are good, errors are shown, never redirected.
      let clientId: string | undefined;
      let redirectUri: string | undefined;
      try {
        clientId = single(params, "client_id");
        redirectUri = single(params, "redirect_uri");
      } catch (error) {
        throw new AuthorizationPageError((error as Error).message);
      }
      if (!clientId) throw new AuthorizationPageError("The request names no client (client_id).");
      const client = await clients.get(clientId);
      if (!client) throw new AuthorizationPageError("The application that sent you here is not registered.");
      if (!redirectUri) throw new AuthorizationPageError("The request has no redirect_uri.");
      const matched = matchRedirectUri(client.redirectUris, redirectUri);
      if (!matched) {
        throw new AuthorizationPageError(
          "The redirect_uri of this request is not one the application registered, so Tessera will not send you there.",
        );
      }
      // 2. From here on, errors go back to the client.
      let state: string | undefined;
      try {
        state = single(params, "state");
      } catch {
        state = undefined;
      }
      const fail = (error: AuthorizationRedirectError["error"], description: string): never => {
        throw new AuthorizationRedirectError(error, description, redirectUri as string, state);
      };
      try {
        if (params.request !== undefined) fail("request_not_supported", "Request objects are not supported.");
        if (params.request_uri !== undefined) {
          // Pushed requests are resolved before validation; here a request_uri is out of place.
          fail("invalid_request", "request_uri cannot be combined with other parameters or pushed again.");
        }
        const responseType = single(params, "response_type");
        if (responseType !== "code") {
          fail("unsupported_response_type", "Only response_type=code is supported.");
        }
        const responseMode = single(params, "response_mode");
        if (responseMode !== undefined && responseMode !== "query") {
          fail("invalid_request", "Only response_mode=query is supported.");
        }
        if (!client.grantTypes.includes("authorization_code")) {
          fail("unauthorized_client", "This client may not use the authorization code flow.");
        }
        if (client.requirePar && !options.pushed) {
          fail("invalid_request", "This client must push its authorization requests (PAR).");
        }
        const codeChallenge = single(params, "code_challenge");
        const method = single(params, "code_challenge_method");
        if (codeChallenge === undefined)
          fail("invalid_request", "PKCE is required: send code_challenge (S256).");
        if (method !== "S256") fail("invalid_request", "PKCE code_challenge_method must be S256.");
        if (!CODE_CHALLENGE.test(codeChallenge as string)) {
          fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters).",
          );
        }
        const scopes = parseScope(single(params, "scope"));
        const resources = requestedResources(params, client, fail);
        await checkScopes(scopes, resources, client, clients, fail);
        const prompt = (single(params, "prompt") ?? "").split(" ").filter(Boolean);
        for (const p of prompt) if (!PROMPTS.has(p)) fail("invalid_request", `Unknown prompt value "${p}".`);
        if (prompt.includes("none") && prompt.length > 1) {
          fail("invalid_request", "prompt=none cannot be combined with other values.");
        }
        const maxAgeText = single(params, "max_age");
        let maxAge: number | undefined;
        if (maxAgeText !== undefined) {
          if (!/^\d{1,9}$/.test(maxAgeText))
            fail("invalid_request", "max_age must be a non-negative integer.");
          maxAge = Number(maxAgeText);
        }
        const nonce = single(params, "nonce");
        const loginHint = single(params, "login_hint");
        const acrValues = single(params, "acr_values");
        const uiLocales = single(params, "ui_locales");
        const dpopJkt = single(params, "dpop_jkt");
        // A SHA-256 JWK thumbprint (RFC 7638), base64url without padding.
        if (dpopJkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(dpopJkt)) {
          fail("invalid_request", "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 7638).");
        }
        const request: AuthorizationRequest = {
          clientId: client.id,
          redirectUri: redirectUri as string,
          scopes,
          resources,
          codeChallenge: codeChallenge as string,
          prompt,
          ...(state === undefined ? {} : { state }),
          ...(nonce === undefined ? {} : { nonce }),
          ...(maxAge === undefined ? {} : { maxAge }),
          ...(loginHint === undefined ? {} : { loginHint }),
          ...(acrValues === undefined ? {} : { acrValues: acrValues.split(" ").filter(Boolean) }),
          ...(uiLocales === undefined ? {} : { uiLocales }),
          ...(options.pushed ? { pushed: true } : {}),
          ...(dpopJkt === undefined ? {} : { dpopJkt }),
        };
        return { client, request };
      } catch (error) {
        if (error instanceof OAuthError) fail(error.code, error.message);
        throw error;
      }
    },

    async save(request) {
      const id = randomBytes(24).toString("base64url");
      const now = clock.now();
      await requests.insert({
        id,
        client_id: request.clientId,
        params: JSON.stringify(request),
        created_at: now,
        expires_at: now + (request.pushed ? PAR_TTL_SECONDS * 1000 : REQUEST_TTL_MS),
      });
      return { id, createdAt: now, request };
    },

    async load(id) {
      if (typeof id !== "string" || !/^[A-Za-z0-9_-]{32}$/.test(id)) return undefined;
      const row = await requests.find(id);
      if (!row || row.expires_at <= clock.now()) return undefined;
      return {
        id: row.id,
        createdAt: row.created_at,
        request: JSON.parse(row.params) as AuthorizationRequest,
      };
    },

    async loadPushed(requestUri, clientId) {
      if (typeof requestUri !== "string" || !requestUri.startsWith(REQUEST_URI_PREFIX)) return undefined;
      const stored = await authorization.load(requestUri.slice(REQUEST_URI_PREFIX.length));
      if (!stored?.request.pushed || stored.request.clientId !== clientId) return undefined;
      return stored;
    },

    async discard(id) {
      await requests.delete(id);
    },

    async next(stored, client, user) {
      const { request } = stored;
      if (!user) return "login";
      if (request.prompt.includes("login")) {
        if (request.loginRequestedOver === undefined || request.loginRequestedOver === user.sessionId)
          return "login";
      }
      if (request.maxAge !== undefined && clock.now() - user.authTime > request.maxAge * 1000) return "login";
      // acr_values: a sign-in weaker than asked for signs in again once (a user with a second factor is then
      // asked for it); if the user has nothing stronger, the token says what was achieved (`acr`), as acr_values
      // is a voluntary request (OpenID Connect Core §5.5.1.1), and the relying party decides.
      if (
        request.acrValues !== undefined &&
        !acrSatisfies(acrFor(user.amr), request.acrValues) &&
        (request.loginRequestedOver === undefined || request.loginRequestedOver === user.sessionId)
      ) {
        return "login";
      }
      if (client.firstParty && !request.prompt.includes("consent")) return "ready";
      if (request.prompt.includes("consent")) return "consent";
      // No consent record at all means consent, even for an empty scope: a code names the user to the client.
      const granted = await consented(user.userId, client.id);
      if (granted === undefined) return "consent";
      // Consent covers scopes and the resources (audiences) they were granted for.
      const covered =
        request.scopes.every((s) => granted.scopes.includes(s)) &&
        request.resources.every((r) => granted.resources.includes(r));
      return covered ? "ready" : "consent";
    },

    async markLoginRequested(stored, sessionId) {
      stored.request.loginRequestedOver = sessionId;
      await requests.updateParams(stored.id, JSON.stringify(stored.request));
    },

    async grantConsent(userId, clientId, scopes, resources) {
      const now = clock.now();
      const before = await consented(userId, clientId);
      const scope = formatScope([...new Set([...(before?.scopes ?? []), ...scopes])]);
      const allResources = JSON.stringify([...new Set([...(before?.resources ?? []), ...resources])]);
      await consents.upsert({
        user_id: userId,
        client_id: clientId,
        scope,
        resources: allResources,
        created_at: now,
        updated_at: now,
      });
    },

    async listConsents(userId) {
      const rows = await consents.listByUser(userId);
      return rows.map((r) => ({
        clientId: r.client_id,
        scopes: parseScope(r.scope),
        updatedAt: r.updated_at,
      }));
    },

    async revokeConsent(userId, clientId) {
      return consents.delete(userId, clientId);
    },

    async issueCode(stored, user) {
      const { request } = stored;
      const code = generateOpaqueToken({ prefix: AUTHORIZATION_CODE_PREFIX });
      const now = clock.now();
      const issued = await codes.issueForRequest(stored.id, {
        code_hash: hashToken(code),
        client_id: request.clientId,
        user_id: user.userId,
        session_id: user.sessionId,
        redirect_uri: request.redirectUri,
        code_challenge: request.codeChallenge,
        scope: formatScope(request.scopes),
        resources: JSON.stringify(request.resources),
        nonce: request.nonce ?? null,
        auth_time: user.authTime,
        acr: acrFor(user.amr),
        amr: user.amr.join(" "),
        created_at: now,
        expires_at: now + deps.codeTtl * 1000,
        consumed_at: null,
        issued_family_id: null,
        issued_jti: null,
        issued_jti_expires_at: null,
        dpop_jkt: request.dpopJkt ?? null,
      });
      // A request answers once: a second submission of the same consent form finds nothing.
      if (!issued)
        throw new AuthorizationPageError("This sign-in request was already answered or has expired.");
      return redirectWith(request.redirectUri, { code, state: request.state }, deps.issuer);
    },

    async purgeExpired() {
      const now = clock.now();
      // Codes are kept a day after expiry so that a late replay still finds (and revokes) what was issued.
      return (await requests.deleteExpired(now)) + (await codes.deleteExpired(now - 24 * 3600 * 1000));
    },
  };
  return authorization;
}

function requestedResources(
  params: Record<string, unknown>,
  client: Client,
  fail: (error: OAuthErrorCode, description: string) => never,
): string[] {
  const raw = params.resource;
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const resources: string[] = [];
  for (const value of values) {
    if (typeof value !== "string" || !isResourceIndicator(value)) {
      fail("invalid_target", "Each resource must be an absolute URI without a fragment.");
    }
    if (!client.resources.includes(value as string)) {
      fail("invalid_target", `This client may not ask for tokens for ${JSON.stringify(value)}.`);
    }
    if (!resources.includes(value as string)) resources.push(value as string);
  }
  if (resources.length === 0 && client.resources.length > 0) resources.push(client.resources[0] as string);
  return resources;
}

/** Scopes must be on the client's list; a non-OpenID scope must also be accepted by a requested resource. */
export async function checkScopes(
  scopes: readonly string[],
  resources: readonly string[],
  client: Client,
  clients: Clients,
  fail: (error: OAuthErrorCode, description: string) => never,
): Promise<void> {
  const accepted = new Set<string>();
  for (const resource of resources) {
    const server = await clients.getResourceServer(resource);
    for (const s of server?.scopes ?? []) accepted.add(s);
  }
  for (const scope of scopes) {
    if (!client.scopes.includes(scope))
      fail("invalid_scope", `This client may not ask for the scope "${scope}".`);
    if (!isOidcScope(scope) && !accepted.has(scope)) {
      fail("invalid_scope", `No requested resource accepts the scope "${scope}".`);
    }
  }
}
