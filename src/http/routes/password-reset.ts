/**
 * Forgotten password: request a link by user name or e-mail, then choose a new password.
 *
 * - The request page always answers the same neutral message, whether or not an account matches.
 * - Requests are throttled per identifier and per IP (mail bombing): a throttled request gets the same
 *   neutral answer and sends nothing.
 * - The reset form shows only for a live link; completing it ends every session, and the user signs in anew.
 */
import type { FastifyInstance } from "fastify";
import type { ThrottleKey } from "../../accounts/index.js";
import { TesseraError } from "../../lib/errors.js";
import { forgotPasswordPage } from "../../ui/pages/forgot-password.js";
import { messagePage } from "../../ui/pages/message.js";
import { resetPasswordPage } from "../../ui/pages/reset-password.js";
import type { HttpServices } from "../services.js";
import { formField, type Web } from "../web/web-context.js";

const RESET_POLICY = { freeFailures: 3, baseDelayMs: 60_000, maxDelayMs: 3_600_000, decayMs: 3_600_000 };
const RESET_IP_POLICY = { freeFailures: 20, baseDelayMs: 60_000, maxDelayMs: 3_600_000, decayMs: 3_600_000 };

export function passwordResetRoutes(ctx: Pick<HttpServices, "accounts">, web: Web) {
  const { accounts } = ctx;
  const minLength = accounts.passwordPolicy.minLengthWithoutSecondFactor;
  return async (app: FastifyInstance) => {
    app.get("/password/forgot", async (request, reply) =>
      web.sendPage(reply, forgotPasswordPage({ csrfToken: web.anonymousCsrf(request, reply) })),
    );

    app.post("/password/forgot", async (request, reply) => {
      const csrfToken = web.anonymousCsrf(request, reply);
      if (!web.verifyAnonymousCsrf(request, formField(request.body, "csrf"))) {
        return web.sendPage(
          reply,
          forgotPasswordPage({
            csrfToken,
            error: "This form expired or came from another site. Please try again.",
          }),
          403,
        );
      }
      const identifier = (formField(request.body, "username") ?? "").trim().slice(0, 320);
      if (identifier === "") {
        return web.sendPage(
          reply,
          forgotPasswordPage({ csrfToken, error: "Enter your user name or e-mail address." }),
          400,
        );
      }
      const ip = web.clientIp(request);
      const keys: ThrottleKey[] = [{ scope: "reset", id: identifier.toLowerCase(), policy: RESET_POLICY }];
      if (ip) keys.push({ scope: "reset-ip", id: ip, policy: RESET_IP_POLICY });
      const decision = await accounts.throttle.check(keys);
      if (decision.allowed) {
        await accounts.throttle.recordFailure(keys);
        await accounts.passwordReset.request(identifier, { ip, userAgent: web.userAgent(request) });
      }
      return web.sendPage(reply, forgotPasswordPage({ csrfToken, sent: true }));
    });

    app.get("/password/reset", async (request, reply) => {
      const token = (request.query as Record<string, unknown>).token;
      if (typeof token !== "string" || !(await accounts.passwordReset.isLive(token))) {
        return web.sendPage(reply, expiredPage(), 400);
      }
      return web.sendPage(
        reply,
        resetPasswordPage({ csrfToken: web.anonymousCsrf(request, reply), token, minLength }),
      );
    });

    app.post("/password/reset", async (request, reply) => {
      const body = request.body;
      const token = formField(body, "token") ?? "";
      const csrfToken = web.anonymousCsrf(request, reply);
      const form = (status: number, error: string) =>
        web.sendPage(reply, resetPasswordPage({ csrfToken, token, minLength, error }), status);
      if (!web.verifyAnonymousCsrf(request, formField(body, "csrf"))) {
        return form(403, "This form expired or came from another site. Please try again.");
      }
      const next = formField(body, "new_password") ?? "";
      if (next !== (formField(body, "confirm_password") ?? ""))
        return form(400, "The two passwords do not match.");
      try {
        await accounts.passwordReset.complete(token, next, {
          ip: web.clientIp(request),
          userAgent: web.userAgent(request),
        });
      } catch (error) {
        if (error instanceof TesseraError && error.code === "password_rejected")
          return form(400, error.message);
        if (error instanceof TesseraError && error.code === "invalid_reset_token") {
          return web.sendPage(reply, expiredPage(), 400);
        }
        throw error;
      }
      return web.sendPage(
        reply,
        messagePage({
          title: "Password changed",
          message: "Your new password is set and every device was signed out. Sign in with the new password.",
          link: { href: "/login", text: "Sign in" },
        }),
      );
    });
  };
}

function expiredPage() {
  return messagePage({
    title: "Link expired",
    message: "This password-reset link is invalid, was already used or has expired. Ask for a new one.",
    status: 400,
    link: { href: "/password/forgot", text: "Ask for a new link" },
  });
}
