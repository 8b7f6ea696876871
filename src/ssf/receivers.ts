/**
 * Who is calling the stream management API and the poll endpoint: a receiver, authenticated by an access token
 * Tessera issued to it (SSF 1.0 §7.1.1 `authorization_schemes`: OAuth 2.0, `urn:ietf:rfc:6749`).
 *
 * - The token is checked as every access token is (signature, expiry, revocation list) and must be addressed to
 *   the transmitter (`aud` holds its resource indicator, `<issuer>/ssf`), be the client's own token
 *   (client credentials: `sub` is the client, no user), and not be DPoP-bound (these endpoints take bearer
 *   tokens only). Any of these failing is `invalid_token` (401), one answer for all.
 * - The client must still exist: it is the receiver, and every stream belongs to the client that created it.
 * - Scopes: `ssf.manage` for everything; `ssf.read` is enough to read configurations and status and to poll.
 */
import type { JwsAlgorithm } from "../crypto/jwt/policy.js";
import { TokenError } from "../lib/errors.js";
import type { Clients } from "../oauth/clients.js";
import type { Issuer } from "../oauth/issuer.js";
import { parseScope } from "../oauth/scopes.js";
import { SsfError } from "./errors.js";
import { SSF_MANAGE_SCOPE, SSF_READ_SCOPE } from "./vocabulary.js";

export interface Receiver {
  /** The client: the owner of its streams and the `aud` of its SETs. */
  clientId: string;
  scopes: readonly string[];
  /** The algorithm the client's ID tokens are signed with: its SETs are signed the same way. */
  alg: JwsAlgorithm;
}

export type Access = "manage" | "read";

function invalidToken(detail: string): never {
  throw new SsfError("invalid_token", "The access token is invalid.", { detail });
}

export async function authenticateReceiver(
  deps: { issuer: Pick<Issuer, "checkAccessToken">; clients: Pick<Clients, "get">; audience: string },
  token: string | undefined,
): Promise<Receiver> {
  if (token === undefined || token === "") {
    throw new SsfError(
      "unauthorized",
      "A bearer access token with the ssf.manage or ssf.read scope is required.",
    );
  }
  let claims: Awaited<ReturnType<Issuer["checkAccessToken"]>>["claims"];
  try {
    ({ claims } = await deps.issuer.checkAccessToken(token));
  } catch (error) {
    if (error instanceof TokenError) invalidToken(error.detail ?? error.reason);
    throw error;
  }
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes(deps.audience)) invalidToken("audience_mismatch");
  if (claims.sub !== claims.client_id || claims.auth_time !== undefined)
    invalidToken("not a client's own token");
  if (claims.cnf !== undefined) invalidToken("DPoP-bound token presented as a bearer token");
  const client = await deps.clients.get(claims.client_id);
  if (!client) invalidToken("the client no longer exists");
  return { clientId: client.id, scopes: parseScope(claims.scope), alg: client.idTokenAlg };
}

/** Refuses (403 `insufficient_scope`) a receiver whose token does not allow `access`. */
export function requireAccess(receiver: Receiver, access: Access): void {
  const ok =
    receiver.scopes.includes(SSF_MANAGE_SCOPE) ||
    (access === "read" && receiver.scopes.includes(SSF_READ_SCOPE));
  if (!ok) {
    throw new SsfError("insufficient_scope", `The access token lacks the ${SSF_MANAGE_SCOPE} scope.`, {
      scope: access === "manage" ? SSF_MANAGE_SCOPE : `${SSF_MANAGE_SCOPE} ${SSF_READ_SCOPE}`,
    });
  }
}
