/**
 * `GET /session`: the session check for applications on the same site.
 *
 * - With a live session cookie: 200 and the user and the session's expiry (seconds since the epoch), never the
 *   token. Without one, or with a dead one: 401 `unauthorized` with `WWW-Authenticate: Session`.
 * - The cookie is checked on the server at every call (idle, absolute, user active). The look-up may come from
 *   the session cache, which every revocation empties (sessions/session-cache.ts), so a revoked session fails
 *   at once.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { CheckedSession } from "../../sessions/index.js";
import type { HttpServices } from "../services.js";
import { readCookie } from "../web/cookies.js";
import type { Web } from "../web/web-context.js";

/** The 200 answer's shape: Fastify compiles a serializer from it (fast-json-stringify), faster than JSON.stringify. */
const SESSION_ANSWER = {
  type: "object",
  required: ["user", "session"],
  properties: {
    user: {
      type: "object",
      required: ["id", "userName", "displayName"],
      properties: {
        id: { type: "string" },
        userName: { type: "string" },
        displayName: { type: ["string", "null"] },
      },
    },
    session: {
      type: "object",
      required: ["id", "expires_at", "absolute_expires_at", "auth_time", "amr"],
      properties: {
        id: { type: "string" },
        expires_at: { type: "integer" },
        absolute_expires_at: { type: "integer" },
        auth_time: { type: "integer" },
        amr: { type: "array", items: { type: "string" } },
      },
    },
  },
} as const;

const ERROR_ANSWER = {
  type: "object",
  required: ["error", "error_description"],
  properties: { error: { type: "string" }, error_description: { type: "string" } },
} as const;

/** The answer for a check's result: the 200 body to send, or the 401 sent here. */
function answer(reply: FastifyReply, found: CheckedSession | undefined) {
  if (!found) {
    reply
      .code(401)
      .header("www-authenticate", 'Session realm="tessera"')
      .send({ error: "unauthorized", error_description: "No live session." });
    return undefined;
  }
  const { session, user } = found;
  return {
    user: { id: user.id, userName: user.userName, displayName: user.displayName },
    session: {
      id: session.id,
      expires_at: Math.floor(session.expiresAt / 1000),
      absolute_expires_at: Math.floor(session.absoluteExpiresAt / 1000),
      auth_time: Math.floor(session.authTime / 1000),
      amr: session.amr,
    },
  };
}

export function sessionCheckRoutes(ctx: Pick<HttpServices, "accounts">, web: Web) {
  return async (app: FastifyInstance) => {
    app.get(
      "/session",
      { schema: { response: { 200: SESSION_ANSWER, 401: ERROR_ANSWER } } },
      // Not an async handler: a cached session is answered in the same turn (Fastify sends the returned body),
      // only a look-up in the database waits.
      (request, reply) => {
        const token = readCookie(request, web.names.session);
        const found = token ? ctx.accounts.sessions.checkNow(token) : undefined;
        return found instanceof Promise
          ? found.then((result) => answer(reply, result))
          : answer(reply, found);
      },
    );
  };
}
