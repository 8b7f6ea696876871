/**
 * Authenticator-app (TOTP) enrolment and recovery codes: from the account pages, and inside a sign-in that must
 * enrol a second factor before it completes (`/login/enrol`).
 *
 * - `GET /account/security/totp`: the enrolment page (a new key: QR code and base32). Signed in, it is a
 *   sensitive action: a sign-in older than the step-up age goes to `/login/step-up` first. Inside a sign-in, only
 *   at the `enrol` stage (`flow.subject`).
 * - `POST /account/security/totp`: confirms with a code. Signed in, the session records the proof (`otp`, step-up:
 *   new auth time and token); inside a sign-in, the sign-in completes with `pwd otp`. When the user has no
 *   recovery codes, ten are generated and shown once (`Cache-Control: no-store`); otherwise the old ones stay.
 *   A wrong code answers 400 and asks again, without a new key (the key the app already holds stays valid);
 *   a throttled one answers 429 with `Retry-After`.
 * - `POST /account/security/totp/remove`: removes the authenticator (fresh sign-in needed); the recovery codes
 *   go with it when no security key remains. Refused (409) when a second factor is required for the user and
 *   this is the last one: with none left, whoever knows the password could enrol their own at the next sign-in.
 * - `POST /account/security/recovery-codes`: a new set, shown once (fresh sign-in; only with a second factor).
 * - Every POST checks CSRF first: the session's token, or the anonymous one inside a sign-in.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TooManyAttemptsError, type User } from "../../accounts/index.js";
import type { MfaActor } from "../../mfa/index.js";
import { messagePage } from "../../ui/pages/message.js";
import { totpEnrolPage } from "../../ui/pages/totp-enrol.js";
import { recoveryCodesPage } from "../../ui/pages/totp-recovery-codes.js";
import type { HttpServices } from "../services.js";
import type { MfaFlow, MfaSubject } from "../web/mfa-flow.js";
import { formField, type Web, type WebAuth } from "../web/web-context.js";

const ENROL_PATH = "/account/security/totp";
const SECURITY_PATH = "/account/security";

export function totpRoutes(ctx: Pick<HttpServices, "mfa">, web: Web, flow: MfaFlow) {
  const { mfa } = ctx;

  const actorOf = (request: FastifyRequest, user: User): MfaActor => ({
    actor: `user:${user.id}`,
    ip: web.clientIp(request),
    userAgent: web.userAgent(request),
  });

  /** Shown inside a sign-in: no account header. */
  const pageAuth = (subject: MfaSubject) =>
    subject.via === "session"
      ? { user: subject.user, csrfToken: subject.csrfToken }
      : { csrfToken: subject.csrfToken };

  function refused(reply: FastifyReply, auth: { user?: User; csrfToken: string }) {
    return web.sendPage(
      reply,
      messagePage({
        title: "Request refused",
        message: "This form expired or came from another site. Go back, reload the page and try again.",
        status: 403,
        ...(auth.user ? { user: auth.user, csrfToken: auth.csrfToken } : { csrfToken: auth.csrfToken }),
      }),
      403,
    );
  }

  function conflict(reply: FastifyReply, auth: WebAuth, title: string, message: string) {
    return web.sendPage(
      reply,
      messagePage({
        title,
        message,
        status: 409,
        user: auth.user,
        csrfToken: auth.csrfToken,
        link: { href: SECURITY_PATH, text: "Back to sign-in security" },
      }),
      409,
    );
  }

  async function enrolmentPage(
    request: FastifyRequest,
    reply: FastifyReply,
    subject: MfaSubject,
    retry?: { status: number; error: string },
  ) {
    const { user } = subject;
    const status = await mfa.totp.status(user.id);
    // A first visit starts an enrolment; a retry keeps the key the user's app already holds.
    const key = retry
      ? undefined
      : await mfa.totp.beginEnrolment({ id: user.id, userName: user.userName }, actorOf(request, user));
    return web.sendPage(
      reply,
      totpEnrolPage({
        ...pageAuth(subject),
        ...(key ? { key } : {}),
        replacing: status.enrolled,
        ...(retry ? { error: retry.error } : {}),
        cancelHref: subject.via === "session" ? SECURITY_PATH : "/login/enrol",
      }),
      retry?.status ?? 200,
    );
  }

  async function signedIn(request: FastifyRequest, reply: FastifyReply): Promise<WebAuth | undefined> {
    const auth = await web.loadAuth(request, reply);
    if (!auth) await reply.redirect(`/login?return_to=${encodeURIComponent(SECURITY_PATH)}`, 303);
    return auth;
  }

  return async (app: FastifyInstance) => {
    app.get(ENROL_PATH, async (request, reply) => {
      const subject = await flow.subject(request, reply);
      if (!subject) return reply;
      if (subject.via === "session" && !(await flow.requireFresh(request, reply, subject.auth, ENROL_PATH))) {
        return reply;
      }
      return enrolmentPage(request, reply, subject);
    });

    app.post(ENROL_PATH, async (request, reply) => {
      const subject = await flow.subject(request, reply);
      if (!subject) return reply;
      const csrf = formField(request.body, "csrf");
      const csrfOk =
        subject.via === "session"
          ? web.csrf.verify(request, subject.auth.csrfToken, csrf)
          : web.verifyAnonymousCsrf(request, csrf);
      if (!csrfOk) return refused(reply, pageAuth(subject));
      if (subject.via === "session" && !(await flow.requireFresh(request, reply, subject.auth, ENROL_PATH))) {
        return reply;
      }
      const { user } = subject;
      const by = actorOf(request, user);
      const code = formField(request.body, "code") ?? "";
      if (code.trim() === "") {
        return enrolmentPage(request, reply, subject, {
          status: 400,
          error: "Enter the 6-digit code the app shows.",
        });
      }
      try {
        if (!(await mfa.totp.confirmEnrolment(user.id, code, by))) {
          return enrolmentPage(request, reply, subject, {
            status: 400,
            error:
              "That code is not right. Check that you entered the newest code for this account, and try again.",
          });
        }
      } catch (error) {
        if (error instanceof TooManyAttemptsError) {
          reply.header("retry-after", String(error.retryAfterSeconds));
          return enrolmentPage(request, reply, subject, {
            status: 429,
            error: "Too many wrong codes. Wait a moment and try again.",
          });
        }
        throw error;
      }
      // Codes for a user who has none; a user who has some (a replaced app, a security key) keeps them.
      const codes =
        (await mfa.recoveryCodes.remaining(user.id)) === 0
          ? await mfa.recoveryCodes.generate(user.id, by)
          : undefined;

      if (subject.via === "session") {
        await flow.stepUp(request, reply, subject.auth, ["otp"]);
        if (!codes) return reply.redirect(`${SECURITY_PATH}?done=totp-enrolled`, 303);
        return web.sendPage(
          reply.header("cache-control", "no-store"),
          recoveryCodesPage({
            ...pageAuth(subject),
            codes,
            reason: "enrolled",
            next: { href: SECURITY_PATH, text: "Done" },
          }),
        );
      }

      const next = await flow.completeSignIn(request, reply, subject.pending, ["otp"]);
      const notice =
        next === undefined
          ? "Your authenticator app is set up, but this sign-in expired. Sign in again to continue."
          : undefined;
      const onward =
        next === undefined ? { href: "/login", text: "Sign in" } : { href: next, text: "Continue" };
      if (!codes) {
        if (next !== undefined) return reply.redirect(next, 303);
        return web.sendPage(
          reply,
          messagePage({ title: "Authenticator app set up", message: notice!, link: onward }),
        );
      }
      return web.sendPage(
        reply.header("cache-control", "no-store"),
        recoveryCodesPage({
          csrfToken: subject.csrfToken,
          codes,
          reason: "enrolled",
          next: onward,
          ...(notice ? { notice } : {}),
        }),
      );
    });

    app.post(`${ENROL_PATH}/remove`, async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      if (!(await flow.requireFresh(request, reply, auth, SECURITY_PATH))) return reply;
      const userId = auth.user.id;
      const factors = await mfa.policy.factors(userId);
      if (factors.totp && factors.webauthn === 0 && (await mfa.policy.required(userId))) {
        return conflict(
          reply,
          auth,
          "Authenticator app not removed",
          "Two-step verification is required for your account, and the app is your only second factor. " +
            "Register a security key first, or replace the app instead of removing it.",
        );
      }
      await mfa.totp.remove(userId, actorOf(request, auth.user));
      // Recovery codes stand in for a second factor: with none left, they would only be a way in.
      if (factors.webauthn === 0) await mfa.recoveryCodes.removeAll(userId);
      return reply.redirect(`${SECURITY_PATH}?done=totp-removed`, 303);
    });

    app.post("/account/security/recovery-codes", async (request, reply) => {
      const auth = await signedIn(request, reply);
      if (!auth) return reply;
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf")))
        return refused(reply, auth);
      if (!(await flow.requireFresh(request, reply, auth, SECURITY_PATH))) return reply;
      const factors = await mfa.policy.factors(auth.user.id);
      if (!factors.totp && factors.webauthn === 0) {
        return conflict(
          reply,
          auth,
          "No recovery codes created",
          "Recovery codes stand in for a second factor. Set up an authenticator app or a security key first.",
        );
      }
      const codes = await mfa.recoveryCodes.generate(auth.user.id, actorOf(request, auth.user));
      return web.sendPage(
        reply.header("cache-control", "no-store"),
        recoveryCodesPage({
          user: auth.user,
          csrfToken: auth.csrfToken,
          codes,
          reason: "regenerated",
          next: { href: SECURITY_PATH, text: "Done" },
        }),
      );
    });
  };
}
