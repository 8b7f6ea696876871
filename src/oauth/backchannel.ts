/**
 * Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a Tessera session ends, every client that
 * received tokens in it and registered a `backchannel_logout_uri` is sent a logout token — a JWT
 * (`typ: logout+jwt`) with iss, aud, iat, exp, jti, sub, sid and the back-channel logout event, posted as
 * `logout_token`. Delivery runs in the background (never delaying the sign-out that caused it), with a timeout;
 * failures are logged. Who is told is decided by the access-ending events (src/access), not here.
 *
 * The URI is the client's (a self-registered client chose it), so delivery goes through the outbound guard
 * (src/outbound): a URI that resolves to a loopback, private, link-local or otherwise non-public address is
 * never connected to unless `TESSERA_OUTBOUND_ALLOW_PRIVATE` allows it; the refusal is logged. Redirects are
 * not followed (a 3xx answer is a refusal by the client).
 */
import type { Logger } from "pino";
import type { KeyStore } from "../crypto/keys/key-store.js";
import type { Clock } from "../lib/clock.js";
import { type OutboundFetch, OutboundRefusedError } from "../outbound/index.js";
import type { Client, Clients } from "./clients.js";
import { newJti } from "./issuer.js";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const DELIVERY_TIMEOUT_MS = 5000;

/** A client that received tokens in a session. */
export interface SessionClient {
  clientId: string;
  sessionId: string;
}

export interface BackchannelLogout {
  /** Tells each (client, session) pair's client, once, in the background. */
  notify(userId: string, targets: readonly SessionClient[]): Promise<void>;
  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createBackchannelLogout(deps: {
  clock: Clock;
  keys: KeyStore;
  clients: Clients;
  issuer: string;
  log: Logger;
  /** Every delivery goes through it (src/outbound). */
  outbound: OutboundFetch;
}): BackchannelLogout {
  const { clock, keys, clients, issuer, log } = deps;
  const send = deps.outbound;
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
      if (error instanceof OutboundRefusedError) {
        log.warn(
          { clientId: client.id, host: error.host, reason: error.reason, err: { message: error.message } },
          "back-channel logout not sent: destination refused",
        );
      } else {
        log.warn(
          { clientId: client.id, err: { message: (error as Error).message } },
          "back-channel logout failed",
        );
      }
    }
  }

  return {
    async notify(userId, targets) {
      const unique = new Map<string, SessionClient>();
      for (const target of targets) unique.set(`${target.clientId} ${target.sessionId}`, target);
      for (const { clientId, sessionId } of unique.values()) {
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
