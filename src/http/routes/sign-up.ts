/**
 * Self-service sign-up pages (rules in src/onboarding/sign-up.ts).
 *
 * - `GET|POST /signup`: the form; a 404 page when sign-up is off. A request the domain accepts always answers
 *   the same "check your e-mail" page (200), whether or not the address already has an account. Refusals are
 *   shown next to their fields (400), a throttled request answers 429 with `Retry-After`.
 * - `GET /signup/verify?token=…` shows the confirmation form and changes nothing (mail scanners open links);
 *   `POST /signup/verify` creates the account and signs the user in through the sign-in flow (a second factor
 *   when the organisation requires one), then continues to the OAuth request the user started from, if any.
 * - Every form carries the anonymous CSRF token and is checked against it and the Origin.
 */

import type { FastifyInstance, FastifyReply } from "fastify";
import { minimumLength } from "../../accounts/index.js";
import { TesseraError } from "../../lib/errors.js";
import { OnboardingError, OnboardingThrottledError } from "../../onboarding/index.js";
import { messagePage } from "../../ui/pages/message.js";
import { type FieldErrors, signUpPage, signUpSentPage, signUpVerifyPage } from "../../ui/pages/sign-up.js";
import type { HttpServices } from "../services.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formField, safeReturnTo, type Web } from "../web/web-context.js";

export const EXPIRED_FORM = "This form expired or came from another site. Please try again.";

/** The per-field messages of a domain refusal, as the pages name their fields. */
export function fieldErrorsOf(error: OnboardingError): FieldErrors {
  return { ...error.fields };
}

export function signUpRoutes(
  ctx: Pick<HttpServices, "accounts" | "config" | "onboarding">,
  web: Web,
  flow: MfaFlow,
) {
  const { signUp } = ctx.onboarding;
  const policy = ctx.accounts.passwordPolicy;
  const minLength = minimumLength(policy, false);
  const maxLength = policy.maxLength;

  const context = web.client;

  const closedPage = (reply: FastifyReply) =>
    web.sendPage(
      reply,
      messagePage({
        title: "Sign-up is not available",
        message: "Accounts here are created by an administrator. Ask yours for an invitation.",
        status: 404,
        link: { href: "/login", text: "Sign in" },
      }),
      404,
    );

  const expiredPage = (reply: FastifyReply) =>
    web.sendPage(
      reply,
      messagePage({
        title: "Link expired",
        message:
          "This confirmation link is invalid, was already used or has expired. Sign up again to get a new one.",
        status: 400,
        link: { href: "/signup", text: "Sign up again" },
      }),
      400,
    );

  const takenPage = (reply: FastifyReply, message: string) =>
    web.sendPage(
      reply,
      messagePage({
        title: "You already have an account",
        message,
        status: 409,
        link: { href: "/login", text: "Sign in" },
      }),
      409,
    );

  return async (app: FastifyInstance) => {
    app.get("/signup", async (request, reply) => {
      if (!signUp.enabled) return closedPage(reply);
      const returnTo = safeReturnTo((request.query as Record<string, unknown>).return_to);
      if (await web.loadAuth(request, reply)) return reply.redirect(returnTo ?? "/account", 303);
      return web.sendPage(
        reply,
        signUpPage({
          csrfToken: web.anonymousCsrf(request, reply),
          ...(returnTo ? { returnTo } : {}),
          minLength,
          maxLength,
          allowedDomains: signUp.allowedDomains,
        }),
      );
    });

    app.post("/signup", async (request, reply) => {
      if (!signUp.enabled) return closedPage(reply);
      const body = request.body;
      const returnTo = safeReturnTo(formField(body, "return_to"));
      const values = {
        email: (formField(body, "email") ?? "").slice(0, 320),
        userName: (formField(body, "username") ?? "").slice(0, 256),
      };
      const form = (
        status: number,
        extra: { errors?: FieldErrors; error?: string; retryAfterSeconds?: number },
      ) =>
        web.sendPage(
          reply,
          signUpPage({
            csrfToken: web.anonymousCsrf(request, reply),
            ...(returnTo ? { returnTo } : {}),
            values,
            minLength,
            maxLength,
            allowedDomains: signUp.allowedDomains,
            ...extra,
          }),
          status,
        );
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf")))
        return form(403, { error: EXPIRED_FORM });
      try {
        await signUp.request(
          {
            email: values.email,
            userName: values.userName,
            password: formField(body, "new_password") ?? "",
            confirmPassword: formField(body, "confirm_password") ?? "",
            returnTo: returnTo ?? null,
          },
          context(request),
        );
      } catch (error) {
        if (error instanceof OnboardingThrottledError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return form(429, { error: error.message, retryAfterSeconds: error.retryAfterSeconds });
        }
        if (error instanceof OnboardingError && error.code === "not_found") return closedPage(reply);
        if (error instanceof OnboardingError && Object.keys(error.fields).length > 0) {
          return form(error.status, { errors: fieldErrorsOf(error) });
        }
        throw error;
      }
      return web.sendPage(
        reply,
        signUpSentPage({ email: values.email.trim(), ttlSeconds: ctx.config.signUpLinkTtl }),
      );
    });

    app.get("/signup/verify", async (request, reply) => {
      if (!signUp.enabled) return closedPage(reply);
      const token = (request.query as Record<string, unknown>).token;
      const pending = typeof token === "string" ? await signUp.pending(token) : undefined;
      if (typeof token !== "string" || !pending) return expiredPage(reply);
      return web.sendPage(
        reply,
        signUpVerifyPage({
          csrfToken: web.anonymousCsrf(request, reply),
          token,
          userName: pending.userName,
          email: pending.email,
          askUserName: pending.userNameTaken,
        }),
        200,
        // The answer may redirect to an OAuth client: Chrome applies form-action to that redirect too.
        await web.formActionsFor(pending.returnTo ?? undefined),
      );
    });

    app.post("/signup/verify", async (request, reply) => {
      if (!signUp.enabled) return closedPage(reply);
      const body = request.body;
      const token = formField(body, "token") ?? "";
      const pending = await signUp.pending(token);
      if (!pending) return expiredPage(reply);
      const typedUserName = formField(body, "username");
      const formActions = await web.formActionsFor(pending.returnTo ?? undefined);
      const again = (status: number, extra: { errors?: FieldErrors; error?: string }) =>
        web.sendPage(
          reply,
          signUpVerifyPage({
            csrfToken: web.anonymousCsrf(request, reply),
            token,
            userName: pending.userName,
            email: pending.email,
            askUserName:
              pending.userNameTaken || typedUserName !== undefined || extra.errors?.userName !== undefined,
            ...(typedUserName !== undefined ? { values: { userName: typedUserName.slice(0, 256) } } : {}),
            ...extra,
          }),
          status,
          formActions,
        );
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf")))
        return again(403, { error: EXPIRED_FORM });
      let created: Awaited<ReturnType<typeof signUp.complete>>;
      try {
        created = await signUp.complete(
          token,
          {
            password: formField(body, "password") ?? "",
            ...(typedUserName !== undefined ? { userName: typedUserName } : {}),
          },
          context(request),
        );
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        if (error.code === "not_found") return closedPage(reply);
        if (error.code === "invalid_sign_up_link") return expiredPage(reply);
        if (error.code === "email_taken") return takenPage(reply, error.message);
        if (error instanceof OnboardingError && Object.keys(error.fields).length > 0) {
          return again(error.status, { errors: fieldErrorsOf(error) });
        }
        if (error instanceof OnboardingError || error.code === "password_rejected") {
          return again(error.status, { error: error.message });
        }
        throw error;
      }
      // Signed in as after a password (a second factor first when the organisation requires one).
      const next = await flow.afterPassword(request, reply, {
        user: created.user,
        remember: false,
        returnTo: safeReturnTo(created.returnTo ?? undefined),
      });
      return reply.redirect(next, 303);
    });
  };
}
