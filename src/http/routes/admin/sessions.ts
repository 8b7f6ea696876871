/**
 * A user's sign-in sessions: list them, end one, end all.
 *
 * - Never a session token: only its id, times, device and address (tokens are stored as hashes anyway).
 * - Ending a session does what signing out of it does: the session dies at once (every instance's cache
 *   too), the refresh tokens its sign-in granted are revoked (except `offline_access` ones) and the clients'
 *   back-channel logout URIs are notified; an audit event records who did it.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { sessionNotFound, userNotFound } from "./errors.js";
import { adminResponses, EPOCH_MS, ID, ID_PARAMS, NO_CONTENT } from "./schemas.js";

const TAGS = ["sessions"];

const SESSION = {
  type: "object",
  required: [
    "id",
    "createdAt",
    "lastSeenAt",
    "expiresAt",
    "absoluteExpiresAt",
    "authTime",
    "amr",
    "remember",
    "userAgent",
    "ip",
  ],
  properties: {
    id: { type: "string" },
    createdAt: EPOCH_MS,
    lastSeenAt: { ...EPOCH_MS, description: "Last use, exact to within a minute." },
    expiresAt: { ...EPOCH_MS, description: "When the session ends if unused from now on." },
    absoluteExpiresAt: { ...EPOCH_MS, description: "When the session ends however much it is used." },
    authTime: { ...EPOCH_MS, description: "When the user proved who they are." },
    amr: { type: "array", items: { type: "string" }, description: 'Authentication methods, e.g. "pwd".' },
    remember: { type: "boolean", description: '"Keep me signed in" was chosen.' },
    userAgent: { type: ["string", "null"] },
    ip: { type: ["string", "null"] },
  },
} as const;

export function adminSessionRoutes(ctx: Pick<HttpServices, "accounts">) {
  const { users, sessions, audit } = ctx.accounts;

  async function existingUser(id: string) {
    const user = await users.get(id);
    if (!user) throw userNotFound();
    return user;
  }

  async function recordRevocation(
    request: FastifyRequest,
    userId: string,
    details: Record<string, string | number>,
  ) {
    const by = adminActor(request);
    await audit.record({ type: "session.revoked", outcome: "success", userId, ...by, details });
  }

  return async (app: FastifyInstance) => {
    app.get<{ Params: { id: string } }>(
      "/admin/users/:id/sessions",
      {
        schema: {
          tags: TAGS,
          summary: "List a user's sessions",
          description: "The user's live sessions, most recently used first.",
          params: ID_PARAMS,
          response: adminResponses(
            {
              200: {
                type: "object",
                required: ["sessions"],
                properties: { sessions: { type: "array", items: SESSION } },
              },
            },
            [404],
          ),
        },
      },
      async (request) => {
        const user = await existingUser(request.params.id);
        return { sessions: await sessions.list(user.id) };
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/users/:id/sessions",
      {
        schema: {
          tags: TAGS,
          summary: "End all of a user's sessions",
          description:
            "Signs the user out everywhere: every session ends, what their sign-ins granted is revoked and " +
            "back-channel logout is sent. Answers how many sessions ended.",
          params: ID_PARAMS,
          response: adminResponses(
            {
              200: {
                type: "object",
                required: ["revoked"],
                properties: { revoked: { type: "integer", description: "How many sessions ended." } },
              },
            },
            [404],
          ),
        },
      },
      async (request) => {
        const user = await existingUser(request.params.id);
        const { sessions: revoked } = await ctx.accounts.access.end(
          { type: "all_sessions_revoked", userId: user.id },
          adminActor(request),
        );
        await recordRevocation(request, user.id, { count: revoked });
        return { revoked };
      },
    );

    app.delete<{ Params: { id: string; sessionId: string } }>(
      "/admin/users/:id/sessions/:sessionId",
      {
        schema: {
          tags: TAGS,
          summary: "End one session",
          description: "Ends one of the user's sessions; its sign-in's grants are revoked as on sign-out.",
          params: {
            type: "object",
            required: ["id", "sessionId"],
            additionalProperties: false,
            properties: { id: ID, sessionId: ID },
          },
          response: adminResponses({ 204: NO_CONTENT }, [404]),
        },
      },
      async (request, reply) => {
        const user = await existingUser(request.params.id);
        const { sessionId } = request.params;
        const ended = await ctx.accounts.access.end(
          { type: "sessions_revoked", userId: user.id, sessionIds: [sessionId] },
          adminActor(request),
        );
        if (ended.sessions === 0) throw sessionNotFound();
        await recordRevocation(request, user.id, { sessionId });
        return reply.code(204).send();
      },
    );
  };
}
