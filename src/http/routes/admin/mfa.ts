/**
 * Admin API for a user's second factors: see them, require MFA for one user, and reset them (a user who lost
 * their phone and their recovery codes). The organisation-wide switch is configuration (`TESSERA_MFA_REQUIRED`).
 *
 * - `GET /admin/users/{id}/mfa`: which factors the user has (never secrets), and whether MFA is required.
 * - `PUT /admin/users/{id}/mfa` `{ "required": true }`: the per-user policy; the user is led to enrol at the
 *   next sign-in.
 * - `DELETE /admin/users/{id}/mfa`: removes every factor (TOTP, recovery codes, security keys) and ends the
 *   user's sessions; audited.
 */
import type { FastifyInstance } from "fastify";
import type { HttpServices } from "../../services.js";
import { adminActor } from "./actor.js";
import { userNotFound } from "./errors.js";
import { adminResponses, ID_PARAMS } from "./schemas.js";

const TAGS = ["users"];

const MFA = {
  type: "object",
  required: ["required", "organisationRequires", "totp", "recoveryCodesLeft", "securityKeys"],
  properties: {
    required: {
      type: "boolean",
      description: "A second factor is required for this user (own flag or organisation).",
    },
    organisationRequires: { type: "boolean" },
    totp: { type: "boolean", description: "An authenticator app is enrolled." },
    recoveryCodesLeft: { type: "integer" },
    securityKeys: {
      type: "array",
      items: {
        type: "object",
        required: ["id", "name", "createdAt", "lastUsedAt"],
        properties: {
          id: { type: "string" },
          name: { type: "string" },
          createdAt: { type: "integer" },
          lastUsedAt: { type: ["integer", "null"] },
        },
      },
    },
  },
} as const;

export function adminMfaRoutes(ctx: Pick<HttpServices, "accounts" | "config" | "mfa">) {
  const { mfa } = ctx;

  async function summary(userId: string) {
    const factors = await mfa.policy.factors(userId);
    return {
      required: await mfa.policy.required(userId),
      organisationRequires: ctx.config.mfaRequired === "true",
      totp: factors.totp,
      recoveryCodesLeft: factors.recoveryCodes,
      securityKeys: await mfa.webauthn.list(userId),
    };
  }

  async function existing(id: string) {
    const user = await ctx.accounts.users.get(id);
    if (!user) throw userNotFound();
    return user;
  }

  return async (app: FastifyInstance) => {
    app.get<{ Params: { id: string } }>(
      "/admin/users/:id/mfa",
      {
        schema: {
          tags: TAGS,
          summary: "A user's second factors",
          params: ID_PARAMS,
          response: adminResponses({ 200: MFA }, [404]),
        },
      },
      async (request) => {
        await existing(request.params.id);
        return summary(request.params.id);
      },
    );

    app.put<{ Params: { id: string }; Body: { required: boolean } }>(
      "/admin/users/:id/mfa",
      {
        schema: {
          tags: TAGS,
          summary: "Require (or stop requiring) a second factor for a user",
          params: ID_PARAMS,
          body: {
            type: "object",
            additionalProperties: false,
            required: ["required"],
            properties: { required: { type: "boolean" } },
          },
          response: adminResponses({ 200: MFA }, [404]),
        },
      },
      async (request) => {
        const user = await existing(request.params.id);
        await mfa.policy.setRequired(user.id, request.body.required);
        await ctx.accounts.audit.record({
          type: "mfa.policy_changed",
          outcome: "success",
          userId: user.id,
          actor: adminActor(request).actor,
          details: { required: request.body.required },
        });
        return summary(user.id);
      },
    );

    app.delete<{ Params: { id: string } }>(
      "/admin/users/:id/mfa",
      {
        schema: {
          tags: TAGS,
          summary: "Reset a user's second factors",
          description:
            "Removes the authenticator app, the recovery codes and every security key, and ends the user's sessions (their next sign-in enrols again where MFA is required).",
          params: ID_PARAMS,
          response: adminResponses({ 200: MFA }, [404]),
        },
      },
      async (request) => {
        const user = await existing(request.params.id);
        const by = adminActor(request);
        await mfa.reset(user.id, by);
        return summary(user.id);
      },
    );
  };
}
