/**
 * The invitation page (rules in src/onboarding/invitations.ts).
 *
 * - `GET /invitations/accept?token=…` shows the form for a live invitation and changes nothing; an unknown,
 *   used, revoked or expired link gets one "invitation not valid" page (400).
 * - `POST /invitations/accept` (anonymous CSRF token + Origin) creates the account with the chosen user name and
 *   password and signs the user in through the sign-in flow (a second factor when the organisation requires
 *   one). Refusals are shown next to their fields.
 * - Works whether or not self-service sign-up is on.
 * - The page also offers the enabled identity providers ("Continue with …", `intent=invitation`): accepting by
 *   signing in there is federation's round trip (routes/federation.ts, src/federation/invitations.ts). The
 *   page's CSP `form-action` allows their authorization endpoints, as the sign-in page's does.
 */

import type { FastifyInstance, FastifyReply } from "fastify";
import { minimumLength } from "../../accounts/index.js";
import { TesseraError } from "../../lib/errors.js";
import { OnboardingError } from "../../onboarding/index.js";
import { invitationAcceptPage } from "../../ui/pages/invitation-accept.js";
import { messagePage } from "../../ui/pages/message.js";
import type { FieldErrors } from "../../ui/pages/sign-up.js";
import type { HttpServices } from "../services.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formField, type Web } from "../web/web-context.js";
import { federationSignInOptions } from "./federation.js";
import { EXPIRED_FORM, fieldErrorsOf } from "./sign-up.js";

export function invitationRoutes(
  ctx: Pick<HttpServices, "accounts" | "federation" | "onboarding">,
  web: Web,
  flow: MfaFlow,
) {
  const { invitations } = ctx.onboarding;
  const policy = ctx.accounts.passwordPolicy;
  const minLength = minimumLength(policy, false);
  const maxLength = policy.maxLength;

  const context = web.client;

  const invalidPage = (reply: FastifyReply) =>
    web.sendPage(
      reply,
      messagePage({
        title: "Invitation not valid",
        message:
          "This invitation link is invalid, was already used, was withdrawn or has expired. Ask the person who invited you for a new one.",
        status: 400,
        link: { href: "/login", text: "Sign in" },
      }),
      400,
    );

  return async (app: FastifyInstance) => {
    app.get("/invitations/accept", async (request, reply) => {
      const token = (request.query as Record<string, unknown>).token;
      const pending = typeof token === "string" ? await invitations.pending(token) : undefined;
      if (typeof token !== "string" || !pending) return invalidPage(reply);
      const federation = await federationSignInOptions(ctx.federation);
      return web.sendPage(
        reply,
        invitationAcceptPage({
          csrfToken: web.anonymousCsrf(request, reply),
          token,
          email: pending.email,
          groups: pending.groups,
          expiresAt: pending.expiresAt,
          minLength,
          maxLength,
          providers: federation.model.providers,
        }),
        200,
        federation.formActions,
      );
    });

    app.post("/invitations/accept", async (request, reply) => {
      const body = request.body;
      const token = formField(body, "token") ?? "";
      const pending = await invitations.pending(token);
      if (!pending) return invalidPage(reply);
      const userName = (formField(body, "username") ?? "").slice(0, 256);
      const federation = await federationSignInOptions(ctx.federation);
      const again = (status: number, extra: { errors?: FieldErrors; error?: string }) =>
        web.sendPage(
          reply,
          invitationAcceptPage({
            csrfToken: web.anonymousCsrf(request, reply),
            token,
            email: pending.email,
            groups: pending.groups,
            expiresAt: pending.expiresAt,
            values: { userName },
            minLength,
            maxLength,
            providers: federation.model.providers,
            ...extra,
          }),
          status,
          federation.formActions,
        );
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf")))
        return again(403, { error: EXPIRED_FORM });
      let user: Awaited<ReturnType<typeof invitations.accept>>;
      try {
        user = await invitations.accept(
          token,
          {
            userName,
            password: formField(body, "new_password") ?? "",
            confirmPassword: formField(body, "confirm_password") ?? "",
          },
          context(request),
        );
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        if (error.code === "invalid_invitation") return invalidPage(reply);
        if (error instanceof OnboardingError && Object.keys(error.fields).length > 0) {
          return again(error.status, { errors: fieldErrorsOf(error) });
        }
        if (error instanceof OnboardingError || error.code === "password_rejected") {
          return again(error.status, { error: error.message });
        }
        throw error;
      }
      const next = await flow.afterPassword(request, reply, { user, remember: false, returnTo: undefined });
      return reply.redirect(next, 303);
    });
  };
}
