/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): reading the `id_token_hint`, and where the user
 * may be sent afterwards.
 *
 * - Each parameter is given at most once and at most 4096 characters long; an `id_token_hint` must be an ID
 *   token Tessera issued (expired or not), and a `client_id` beside it must be its client.
 * - `post_logout_redirect_uri` must be registered (exactly) by the client named by `id_token_hint` or
 *   `client_id`; otherwise the user stays on Tessera's page.
 * - The user confirms the sign-out, unless the hint is an ID token of this very sign-in (its `sub` and `sid`
 *   are the signed-in user and session): a third party cannot sign a user out with a link (§2, §6).
 * - What a sign-out ends (the session, what its sign-in granted without `offline_access`, back-channel logout
 *   to the clients that received tokens in it) is the `signed_out` access-ending event (src/access).
 */
import { verifyJwt } from "../crypto/jwt/verify.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { Clock } from "../lib/clock.js";
import { TokenError } from "../lib/errors.js";
import type { BackchannelLogout } from "./backchannel.js";
import type { Client, Clients } from "./clients.js";
import { isSerialisedUrl } from "./redirect-uri.js";

export interface IdTokenHint {
  sub: string;
  clientId: string;
  sid: string | undefined;
}

/** An RP-initiated logout request, checked. */
export interface LogoutRequest {
  hint: IdTokenHint | undefined;
  /** The client the hint or `client_id` names, and the client itself when registered. */
  clientId: string | undefined;
  client: Client | undefined;
  /** Where to send the user afterwards, when the request names a registered URI. */
  target: { client: Client; uri: string } | undefined;
  state: string | undefined;
}

export interface Logout {
  /** Checks the parameters of a request to the end-session endpoint; a problem is shown to the user. */
  readRequest(params: Record<string, unknown>): Promise<LogoutRequest | { problem: string }>;
  /** Whether signing this session out for `request` needs the user's confirmation. */
  needsConfirmation(request: LogoutRequest, session: { userId: string; sessionId: string }): boolean;
  /**
   * An ID token that Tessera issued (its signature, issuer and type checked; expiry not: an expired ID token
   * is a valid hint), or undefined.
   */
  readIdTokenHint(token: unknown): IdTokenHint | undefined;
  /** The client and the registered post-logout URI to send the user to, or an explanation why not. */
  postLogoutTarget(
    clientId: string | undefined,
    uri: string | undefined,
  ): Promise<{ client: Client; uri: string } | { problem: string } | undefined>;
  /** Resolves when every back-channel logout delivery started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createLogout(deps: {
  clock: Clock;
  keys: KeyStore;
  clients: Clients;
  backchannel: BackchannelLogout;
  issuer: string;
}): Logout {
  const { clock, keys, clients, issuer } = deps;

  const logout: Logout = {
    async readRequest(params) {
      const text = (name: string) => {
        const value = params[name];
        if (value === undefined || value === "") return undefined;
        return typeof value === "string" && value.length <= 4096 ? value : null;
      };
      const [hintText, clientIdParam, uri, state] = [
        text("id_token_hint"),
        text("client_id"),
        text("post_logout_redirect_uri"),
        text("state"),
      ];
      if (hintText === null || clientIdParam === null || uri === null || state === null) {
        return { problem: "The sign-out request repeats a parameter or is too long." };
      }
      const hint = hintText === undefined ? undefined : logout.readIdTokenHint(hintText);
      if (hintText !== undefined && !hint)
        return { problem: "The id_token_hint of this sign-out request is not valid." };
      if (hint && clientIdParam !== undefined && hint.clientId !== clientIdParam) {
        return { problem: "client_id does not match the id_token_hint." };
      }
      const clientId = hint?.clientId ?? clientIdParam;
      const target = await logout.postLogoutTarget(clientId, uri);
      if (target && "problem" in target) return { problem: target.problem };
      return {
        hint,
        clientId,
        client: target?.client ?? (clientId === undefined ? undefined : await clients.get(clientId)),
        target,
        state,
      };
    },

    needsConfirmation(request, session) {
      const { hint } = request;
      return !(hint && hint.sub === session.userId && hint.sid === session.sessionId);
    },

    readIdTokenHint(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > 16384) return undefined;
      try {
        const parts = token.split(".");
        const payload = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString("utf8")) as {
          exp?: unknown;
        };
        const exp = typeof payload.exp === "number" ? payload.exp : 0;
        // Verify as of a moment the token was valid: expiry does not matter for a hint, the signature does.
        const verified = verifyJwt(token, {
          keys: keys.resolve,
          issuer,
          now: () => Math.min(clock.now(), (exp - 1) * 1000),
        });
        const claims = verified.payload as { sub?: unknown; aud?: unknown; azp?: unknown; sid?: unknown };
        const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
        const clientId = typeof claims.azp === "string" ? claims.azp : aud;
        if (typeof claims.sub !== "string" || typeof clientId !== "string") return undefined;
        if (verified.header.typ !== undefined && verified.header.typ.toUpperCase() !== "JWT")
          return undefined;
        return { sub: claims.sub, clientId, sid: typeof claims.sid === "string" ? claims.sid : undefined };
      } catch (error) {
        if (error instanceof TokenError || error instanceof SyntaxError) return undefined;
        return undefined;
      }
    },

    async postLogoutTarget(clientId, uri) {
      if (uri === undefined) return undefined;
      if (clientId === undefined)
        return { problem: "post_logout_redirect_uri needs id_token_hint or client_id." };
      const client = await clients.get(clientId);
      if (!client) return { problem: "The application is not registered." };
      // Exact, and in the form the redirect sends the browser to (see redirect-uri.ts).
      if (!client.postLogoutRedirectUris.includes(uri) || !isSerialisedUrl(uri)) {
        return { problem: "post_logout_redirect_uri is not registered for this application." };
      }
      return { client, uri };
    },

    idle: () => deps.backchannel.idle(),
  };
  return logout;
}
