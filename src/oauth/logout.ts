/**
 * Ending sign-ins across applications: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and
 * back-channel logout (OpenID Connect Back-Channel Logout 1.0).
 *
 * - When a Tessera session ends (sign-out, the end-session endpoint, a revoked session), every client that
 *   received tokens in that session and registered a `backchannel_logout_uri` is sent a logout token: a JWT
 *   (`typ: logout+jwt`) with iss, aud, iat, exp, jti, sub, sid and the back-channel logout event, posted as
 *   `logout_token`. Delivery runs in the background (never delaying the user's sign-out), with a timeout;
 *   failures are logged.
 * - The refresh tokens issued in that session without `offline_access` are revoked: they belonged to the
 *   sign-in. Offline access outlives it, as OpenID Connect Core §11 intends.
 * - `post_logout_redirect_uri` must be registered (exactly) by the client named by `id_token_hint` or
 *   `client_id`; otherwise the user stays on Tessera's page.
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { verifyJwt } from "../crypto/jwt/verify.js";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { Clock } from "../lib/clock.js";
import { TokenError } from "../lib/errors.js";
import type { Database } from "../storage/database.js";
import type { Client, Clients } from "./clients.js";
import { newJti } from "./issuer.js";
import { parseScope } from "./scopes.js";
import type { TokenEndpoint } from "./token-endpoint.js";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const DELIVERY_TIMEOUT_MS = 5000;

export interface IdTokenHint {
  sub: string;
  clientId: string;
  sid: string | undefined;
}

export interface Logout {
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
  /** Revokes what the sessions' sign-ins granted and notifies the clients' back-channel logout URIs. */
  sessionsEnded(userId: string, sessionIds: readonly string[]): Promise<void>;
  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createLogout(deps: {
  db: Kysely<Database>;
  clock: Clock;
  keys: KeyStore;
  clients: Clients;
  tokens: TokenEndpoint;
  issuer: string;
  log: Logger;
  fetch?: typeof fetch;
}): Logout {
  const { db, clock, keys, clients, tokens, issuer, log } = deps;
  const send = deps.fetch ?? fetch;
  const pending = new Set<Promise<void>>();

  async function deliver(client: Client, userId: string, sessionId: string): Promise<void> {
    const iat = Math.floor(clock.now() / 1000);
    const logoutToken = keys.sign(
      {
        iss: issuer,
        aud: client.id,
        iat,
        exp: iat + 120,
        jti: newJti(),
        sub: userId,
        sid: sessionId,
        events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      },
      { typ: "logout+jwt", alg: client.idTokenAlg },
    );
    try {
      const response = await send(client.backchannelLogoutUri as string, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: logoutToken }).toString(),
        redirect: "manual",
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) {
        log.warn(
          { clientId: client.id, status: response.status },
          "back-channel logout refused by the client",
        );
      }
    } catch (error) {
      log.warn(
        { clientId: client.id, err: { message: (error as Error).message } },
        "back-channel logout failed",
      );
    }
  }

  return {
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
      if (!client.postLogoutRedirectUris.includes(uri)) {
        return { problem: "post_logout_redirect_uri is not registered for this application." };
      }
      return { client, uri };
    },

    async sessionsEnded(userId, sessionIds) {
      if (sessionIds.length === 0) return;
      const refresh = await db
        .selectFrom("refresh_tokens")
        .select(["family_id", "client_id", "scope", "session_id"])
        .where("session_id", "in", [...sessionIds])
        .where("revoked_at", "is", null)
        .execute();
      const codes = await db
        .selectFrom("authorization_codes")
        .select(["client_id", "session_id"])
        .where("session_id", "in", [...sessionIds])
        .execute();
      // Codes not yet redeemed die with their session: they must not start a token family for a sign-in
      // that has ended.
      await db
        .deleteFrom("authorization_codes")
        .where("session_id", "in", [...sessionIds])
        .where("consumed_at", "is", null)
        .execute();
      const families = new Set(
        refresh.filter((r) => !parseScope(r.scope).includes("offline_access")).map((r) => r.family_id),
      );
      for (const family of families) await tokens.revokeFamily(family);
      const targets = new Map<string, { clientId: string; sessionId: string }>();
      for (const row of [...refresh, ...codes]) {
        if (row.session_id)
          targets.set(`${row.client_id} ${row.session_id}`, {
            clientId: row.client_id,
            sessionId: row.session_id,
          });
      }
      for (const { clientId, sessionId } of targets.values()) {
        const client = await clients.get(clientId);
        if (!client?.backchannelLogoutUri) continue;
        const delivery = deliver(client, userId, sessionId).finally(() => pending.delete(delivery));
        pending.add(delivery);
      }
    },

    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
