/**
 * Invitations: invite an e-mail address (optionally into groups), list, read and revoke invitations — through
 * `ctx.onboarding.invitations`, the service the CLI uses.
 *
 * - `POST /admin/invitations` `{ email, groups?, expiresIn? }` → 201 with the invitation (`id`, `expiresAt`,
 *   `status`, …) and `mailed`. The link goes to the invited address only: it is never in an answer.
 * - Refusals: an address that already has an account (409 `email_taken`), an unknown group id (400
 *   `invalid_request`), a lifetime outside 300 s – 30 days (400); revoking an accepted invitation (409
 *   `invitation_accepted`); an unknown id (404 `invitation_not_found`).
 * - The administrator is the actor of the audit events (`invitation.created`, `invitation.revoked`).
 */
import type { FastifyInstance } from "fastify";
import {
  type Invitation,
  type InvitationStatus,
  MAX_INVITATION_GROUPS,
  MAX_INVITATION_TTL,
  MIN_INVITATION_TTL,
  OnboardingError,
} from "../../../onboarding/index.js";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import {
  adminResponses,
  EPOCH_MS,
  ID,
  ID_PARAMS,
  NO_CONTENT,
  NULLABLE_EPOCH_MS,
  nextStartIndex,
  PAGE_PROPERTIES,
  PAGING_PROPERTIES,
  type PageQuery,
  TEXT,
} from "./schemas.js";

const TAGS = ["invitations"];
const STATUSES = ["pending", "accepted", "revoked", "expired"] as const;

const INVITATION = {
  type: "object",
  required: [
    "id",
    "email",
    "groups",
    "status",
    "createdAt",
    "createdBy",
    "expiresAt",
    "acceptedAt",
    "userId",
    "revokedAt",
    "revokedBy",
  ],
  properties: {
    id: { type: "string" },
    email: { type: "string" },
    groups: { type: "array", items: { type: "string" }, description: "Ids of the groups the account joins." },
    status: {
      type: "string",
      enum: [...STATUSES],
      description: "`pending` until accepted, revoked or past `expiresAt` (`expired`).",
    },
    createdAt: EPOCH_MS,
    createdBy: { type: "string", description: "Who invited: `admin:<token id>`, `cli`, …" },
    expiresAt: EPOCH_MS,
    acceptedAt: NULLABLE_EPOCH_MS,
    userId: { type: ["string", "null"], description: "The account the acceptance created." },
    revokedAt: NULLABLE_EPOCH_MS,
    revokedBy: { type: ["string", "null"] },
  },
} as const;

interface CreateBody {
  email: string;
  groups?: string[];
  expiresIn?: number;
}

interface ListQuery extends PageQuery {
  status?: InvitationStatus;
}

const serialise = (invitation: Invitation) => invitation;

export function adminInvitationRoutes(ctx: Pick<HttpServices, "onboarding">) {
  const { invitations } = ctx.onboarding;

  return async (app: FastifyInstance) => {
    app.post<{ Body: CreateBody }>(
      "/admin/invitations",
      {
        schema: {
          tags: TAGS,
          summary: "Invite an e-mail address",
          description:
            "Mails a single-use link that lets the invitee choose a user name and a password (or, with a " +
            "configured upstream identity provider, sign in through it); the account is created active, with " +
            "the invited address and the groups named here. Works whether or not self-service sign-up is on.",
          body: {
            type: "object",
            additionalProperties: false,
            required: ["email"],
            properties: {
              email: { ...TEXT, minLength: 3, maxLength: 320, description: "The address to invite." },
              groups: {
                type: "array",
                maxItems: MAX_INVITATION_GROUPS,
                items: ID,
                description: "Ids of existing groups the new account joins.",
              },
              expiresIn: {
                type: "integer",
                minimum: MIN_INVITATION_TTL,
                maximum: MAX_INVITATION_TTL,
                description: "Lifetime of the link in seconds (default `invitationTtl`, 7 days).",
              },
            },
          },
          response: adminResponses(
            {
              201: {
                ...INVITATION,
                required: [...INVITATION.required, "mailed"],
                properties: {
                  ...INVITATION.properties,
                  mailed: { type: "boolean", description: "False when the mail could not be sent." },
                },
              },
            },
            [409],
          ),
        },
      },
      async (request, reply) => {
        const { invitation, mailed } = await invitations.create(
          {
            email: request.body.email,
            ...(request.body.groups ? { groups: request.body.groups } : {}),
            ...(request.body.expiresIn !== undefined ? { expiresIn: request.body.expiresIn } : {}),
          },
          adminActor(request),
        );
        return reply
          .code(201)
          .header("cache-control", "no-store")
          .send({ ...serialise(invitation), mailed });
      },
    );

    app.get<{ Querystring: ListQuery }>(
      "/admin/invitations",
      {
        schema: {
          tags: TAGS,
          summary: "List invitations",
          description: "Invitations newest first, a page at a time; optionally only those with one status.",
          querystring: {
            type: "object",
            additionalProperties: false,
            properties: {
              ...PAGING_PROPERTIES,
              status: { type: "string", enum: [...STATUSES], description: "Only invitations in this state." },
            },
          },
          response: adminResponses({
            200: {
              type: "object",
              required: ["total", "startIndex", "nextStartIndex", "invitations"],
              properties: { ...PAGE_PROPERTIES, invitations: { type: "array", items: INVITATION } },
            },
          }),
        },
      },
      async (request) => {
        const { startIndex, count, status } = request.query;
        const page = await invitations.list({ startIndex, count, ...(status ? { status } : {}) });
        return {
          total: page.total,
          startIndex,
          nextStartIndex: nextStartIndex(request.query, page.invitations.length, page.total),
          invitations: page.invitations.map(serialise),
        };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/admin/invitations/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Read an invitation",
          params: ID_PARAMS,
          response: adminResponses({ 200: INVITATION }, [404]),
        },
      },
      async (request) => {
        const invitation = await invitations.get(request.params.id);
        if (!invitation) {
          throw new OnboardingError("invitation_not_found", "No such invitation.", { status: 404 });
        }
        return serialise(invitation);
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/invitations/:id",
      {
        schema: {
          tags: TAGS,
          summary: "Revoke an invitation",
          description:
            "Its link stops working at once. Revoking a revoked invitation changes nothing; an accepted one " +
            "cannot be revoked (409 `invitation_accepted`: disable the account instead).",
          params: ID_PARAMS,
          response: adminResponses({ 204: NO_CONTENT }, [404, 409]),
        },
      },
      async (request, reply) => {
        await invitations.revoke(request.params.id, adminActor(request));
        return reply.code(204).send();
      },
    );
  };
}
