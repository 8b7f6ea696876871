/**
 * WebAuthn routes: the JSON endpoints of the four ceremonies, the page that registers a key, and the forms that
 * rename and remove one.
 *
 * - Every ceremony is two JSON posts: `…/options` answers `{ options }` (for @simplewebauthn/browser), the second
 *   answers `{ redirect }`; a refusal is `{ error, error_description }` with a 4xx status, plus `redirect` when
 *   the browser must start again elsewhere (no session, pending sign-in gone, sign-in too old).
 *   - Registration: `POST /account/security/keys/options`, `POST /account/security/keys` `{ name, response }`,
 *     for the signed-in user (fresh sign-in required; the session then records `hwk`) or for the user of a
 *     pending sign-in at the enrolment stage (the sign-in then completes).
 *   - Second factor: `POST /login/webauthn/options`, `POST /login/webauthn/verify` `{ response }`, for the
 *     pending sign-in at the `verify` stage; a refusal counts as a failed attempt (the fifth ends it).
 *   - Step-up: `POST /login/step-up/webauthn/options`, `…/verify` `{ response, returnTo }`, for a session.
 *   - Passwordless: `POST /login/passkey/options`, `POST /login/passkey/verify` `{ response, returnTo }`: a
 *     passkey with user verification; the user must be active. Anyone may ask for options and each answer
 *     stores a challenge (and a refused verify an audit event), so `/login/passkey/options` and
 *     `/login/passkey/verify` each have a budget per client address (`PASSKEY_OPTIONS_RATE`; `request.ip`, an
 *     IPv6 client's /64): past it, 429 `too_many_attempts` with `Retry-After`.
 * - CSRF on the JSON endpoints: the `x-tessera-csrf` header must hold the session's CSRF token (or, before a
 *   session exists, the anonymous one), checked with the request's Origin by web/csrf.ts. A cross-site page
 *   cannot send that header or a JSON body without a CORS preflight, which Tessera never grants.
 * - Forms: `POST /account/security/keys/:id/rename|remove` need a session, a fresh sign-in and the `csrf` field.
 * - amr (RFC 8176): an assertion proves `hwk` and `user` (presence), and `pin` when the authenticator verified
 *   the user. A passwordless sign-in always has user verification: possession of the key plus a PIN or
 *   biometric checked by the authenticator is multi-factor on its own (NIST SP 800-63B's multi-factor
 *   cryptographic authenticator), so it is `hwk user pin mfa`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { User } from "../../accounts/index.js";
import { clientAddressKey, createRateLimiter, type RateLimitPolicy } from "../../accounts/throttle.js";
import { MfaError, TesseraError } from "../../lib/errors.js";
import type { PendingSignIn, WebAuthnJson } from "../../mfa/index.js";
import { newKeyPage } from "../../ui/pages/keys-new.js";
import { messagePage } from "../../ui/pages/message.js";
import type { HttpServices } from "../services.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import { formField, pageCsp, safeReturnTo, type Web, type WebAuth } from "../web/web-context.js";

export const CSRF_HEADER = "x-tessera-csrf";

/** The page CSP plus same-origin scripts and `fetch` (for the pages that run a WebAuthn ceremony). */
export const SCRIPTED_PAGE_CSP = pageCsp([], { scripts: true });

const NEW_KEY_PAGE = "/account/security/keys/new";

/** What an assertion proves (RFC 8176). */
export function amrOfAssertion(result: { userVerified: boolean }): string[] {
  return result.userVerified ? ["hwk", "user", "pin"] : ["hwk", "user"];
}

/** A passwordless sign-in: the key and the PIN or biometric that unlocked it. */
export const PASSWORDLESS_AMR = ["hwk", "user", "pin", "mfa"] as const;

/**
 * Passwordless options: 60 per client address per minute, all at once from a full budget, then one a second.
 * /login asks once per page view (plus up to three re-armed autofill requests), so this leaves room for many
 * people behind one NAT while bounding the challenge rows one address can create (each lives five minutes).
 */
export const PASSKEY_OPTIONS_RATE: RateLimitPolicy = Object.freeze({ limit: 60, windowMs: 60_000 });

const ceremonyBody = {
  type: "object",
  properties: {
    response: { type: "object" },
    returnTo: { type: "string", maxLength: 2048 },
    name: { type: "string", maxLength: 256 },
  },
  additionalProperties: false,
} as const;

const optionsBody = { type: "object", additionalProperties: false } as const;

interface CeremonyBody {
  response?: WebAuthnJson;
  returnTo?: string;
  name?: string;
}

type Subject =
  | { via: "session"; user: User; auth: WebAuth }
  | { via: "pending"; user: User; pending: PendingSignIn };

export function webauthnRoutes(
  ctx: Pick<HttpServices, "accounts" | "clock" | "mfa" | "redis">,
  web: Web,
  flow: MfaFlow,
) {
  const { mfa, accounts } = ctx;
  const limiter = createRateLimiter({ clock: ctx.clock, redis: ctx.redis });

  const by = (request: FastifyRequest, userId: string | null) => ({
    actor: userId ? `user:${userId}` : "anonymous",
    ip: web.clientIp(request),
    userAgent: web.userAgent(request),
  });

  const csrfHeader = (request: FastifyRequest) => request.headers[CSRF_HEADER];

  function refuse(reply: FastifyReply, error: TesseraError, redirect?: string) {
    return reply
      .code(error.status)
      .header("cache-control", "no-store")
      .send({ error: error.code, error_description: error.message, ...(redirect ? { redirect } : {}) });
  }

  const badCsrf = () =>
    new MfaError(
      "invalid_request",
      "This page expired or came from another site. Reload it and try again.",
      403,
    );
  const noSignIn = () => new MfaError("invalid_request", "Your sign-in expired. Please sign in again.", 401);
  const keyRefused = () =>
    new MfaError(
      "webauthn_failed",
      "That security key or passkey was not accepted. Try again or use another one.",
    );

  /** The user whose keys a JSON request may register (session first, then a pending enrolment). */
  async function subjectOf(request: FastifyRequest, reply: FastifyReply): Promise<Subject | undefined> {
    const auth = await web.loadAuth(request, reply);
    if (auth) return { via: "session", user: auth.user, auth };
    const enrolment = await flow.pendingEnrolment(request);
    return enrolment ? { via: "pending", user: enrolment.user, pending: enrolment.pending } : undefined;
  }

  function subjectCsrfOk(request: FastifyRequest, subject: Subject): boolean {
    return subject.via === "session"
      ? web.csrf.verify(request, subject.auth.csrfToken, csrfHeader(request))
      : web.verifyAnonymousCsrf(request, csrfHeader(request));
  }

  /** Runs a domain call; a TesseraError becomes the JSON refusal. */
  async function answer(reply: FastifyReply, run: () => Promise<unknown>) {
    try {
      return await run();
    } catch (error) {
      if (error instanceof TesseraError) return refuse(reply, error);
      throw error;
    }
  }

  /** The page shown when a key form is refused (CSRF, unknown key, bad name). */
  function formRefused(reply: FastifyReply, auth: WebAuth, status: number, title: string, message: string) {
    return web.sendPage(
      reply,
      messagePage({
        title,
        message,
        status,
        user: auth.user,
        csrfToken: auth.csrfToken,
        link: { href: "/account/security", text: "Back to sign-in security" },
      }),
      status,
    );
  }

  return async (app: FastifyInstance) => {
    // ----- Registration -----

    app.get(NEW_KEY_PAGE, async (request, reply) => {
      const subject = await flow.subject(request, reply);
      if (!subject) return reply;
      if (
        subject.via === "session" &&
        !(await flow.requireFresh(request, reply, subject.auth, NEW_KEY_PAGE))
      ) {
        return reply;
      }
      return reply
        .code(200)
        .header("content-security-policy", SCRIPTED_PAGE_CSP)
        .header("referrer-policy", "same-origin")
        .header("cache-control", "no-store")
        .type("text/html; charset=utf-8")
        .send(
          newKeyPage({
            csrfToken: subject.csrfToken,
            user: subject.via === "session" ? subject.user : null,
          }),
        );
    });

    app.post("/account/security/keys/options", { schema: { body: optionsBody } }, async (request, reply) => {
      const subject = await subjectOf(request, reply);
      if (!subject) return refuse(reply, noSignIn(), "/login");
      if (!subjectCsrfOk(request, subject)) return refuse(reply, badCsrf());
      const stepUp = subject.via === "session" ? flow.stepUpNeeded(subject.auth, NEW_KEY_PAGE) : undefined;
      if (stepUp) {
        return refuse(
          reply,
          new MfaError("invalid_request", "Confirm it is you first.", 403),
          stepUp.redirect,
        );
      }
      return answer(reply, async () => ({
        options: await mfa.webauthn.registrationOptions({
          id: subject.user.id,
          userName: subject.user.userName,
          displayName: subject.user.displayName,
        }),
      }));
    });

    app.post<{ Body: CeremonyBody }>(
      "/account/security/keys",
      { schema: { body: ceremonyBody } },
      async (request, reply) => {
        const subject = await subjectOf(request, reply);
        if (!subject) return refuse(reply, noSignIn(), "/login");
        if (!subjectCsrfOk(request, subject)) return refuse(reply, badCsrf());
        const stepUp = subject.via === "session" ? flow.stepUpNeeded(subject.auth, NEW_KEY_PAGE) : undefined;
        if (stepUp) {
          return refuse(
            reply,
            new MfaError("invalid_request", "Confirm it is you first.", 403),
            stepUp.redirect,
          );
        }
        const response = request.body.response ?? {};
        return answer(reply, async () => {
          await mfa.webauthn.register(
            subject.user.id,
            response,
            request.body.name ?? "",
            by(request, subject.user.id),
          );
          // Registration proves nothing about the signer (attestation `none`): the session keeps what it had, and a
          // required enrolment goes on to /login/verify, where an assertion with the new key completes the sign-in.
          if (subject.via === "session") return { redirect: "/account/security?done=key-added" };
          return { redirect: await flow.continueToVerify(subject.pending) };
        });
      },
    );

    // ----- Rename and remove (forms on /account/security) -----

    for (const action of ["rename", "remove"] as const) {
      app.post<{ Params: { id: string } }>(`/account/security/keys/:id/${action}`, async (request, reply) => {
        const auth = await web.loadAuth(request, reply);
        if (!auth) return reply.redirect(`/login?return_to=${encodeURIComponent("/account/security")}`, 303);
        if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
          return formRefused(
            reply,
            auth,
            403,
            "Request refused",
            "This form expired or came from another site. Go back, reload the page and try again.",
          );
        }
        if (!(await flow.requireFresh(request, reply, auth, "/account/security"))) return reply;
        const actor = by(request, auth.user.id);
        try {
          const done =
            action === "rename"
              ? await mfa.webauthn.rename(
                  auth.user.id,
                  request.params.id,
                  formField(request.body, "name") ?? "",
                  actor,
                )
              : await mfa.webauthn.remove(auth.user.id, request.params.id, actor);
          if (!done) {
            return formRefused(
              reply,
              auth,
              404,
              "Key not found",
              "This security key is not registered to your account.",
            );
          }
        } catch (error) {
          if (error instanceof MfaError) {
            return formRefused(reply, auth, error.status, "Name not changed", error.message);
          }
          throw error;
        }
        return reply.redirect(
          `/account/security?done=${action === "rename" ? "key-renamed" : "key-removed"}`,
          303,
        );
      });
    }

    // ----- Second factor during sign-in -----

    app.post("/login/webauthn/options", { schema: { body: optionsBody } }, async (request, reply) => {
      const pending = await flow.loadPending(request);
      if (pending?.stage !== "verify") return refuse(reply, noSignIn(), "/login");
      if (!web.verifyAnonymousCsrf(request, csrfHeader(request))) return refuse(reply, badCsrf());
      return answer(reply, async () => ({
        options: await mfa.webauthn.authenticationOptions(pending.userId),
      }));
    });

    app.post<{ Body: CeremonyBody }>(
      "/login/webauthn/verify",
      { schema: { body: ceremonyBody } },
      async (request, reply) => {
        const pending = await flow.loadPending(request);
        if (pending?.stage !== "verify") return refuse(reply, noSignIn(), "/login");
        if (!web.verifyAnonymousCsrf(request, csrfHeader(request))) return refuse(reply, badCsrf());
        const result = await mfa.webauthn.authenticate(
          request.body.response ?? {},
          { userId: pending.userId },
          by(request, pending.userId),
        );
        if (!result) {
          if (await flow.failedAttempt(reply, pending)) return refuse(reply, keyRefused());
          return refuse(
            reply,
            new MfaError("webauthn_failed", "Too many failed attempts. Please sign in again.", 401),
            "/login",
          );
        }
        const next = await flow.completeSignIn(request, reply, pending, amrOfAssertion(result));
        return { redirect: next ?? "/login" };
      },
    );

    // ----- Step-up for a signed-in session -----

    app.post("/login/step-up/webauthn/options", { schema: { body: optionsBody } }, async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return refuse(reply, noSignIn(), "/login");
      if (!web.csrf.verify(request, auth.csrfToken, csrfHeader(request))) return refuse(reply, badCsrf());
      return answer(reply, async () => ({ options: await mfa.webauthn.authenticationOptions(auth.user.id) }));
    });

    app.post<{ Body: CeremonyBody }>(
      "/login/step-up/webauthn/verify",
      { schema: { body: ceremonyBody } },
      async (request, reply) => {
        const auth = await web.loadAuth(request, reply);
        if (!auth) return refuse(reply, noSignIn(), "/login");
        if (!web.csrf.verify(request, auth.csrfToken, csrfHeader(request))) return refuse(reply, badCsrf());
        const result = await mfa.webauthn.authenticate(
          request.body.response ?? {},
          { userId: auth.user.id },
          by(request, auth.user.id),
        );
        if (!result) return refuse(reply, keyRefused());
        await flow.stepUp(request, reply, auth, amrOfAssertion(result));
        return { redirect: safeReturnTo(request.body.returnTo) ?? "/account/security" };
      },
    );

    // ----- Passwordless sign-in with a passkey -----

    // Every request counts, before the body is read and whatever its outcome. Options and verify have a budget
    // each: options stores a challenge, a refused verify writes an audit event.
    const passkeyBudget = (scope: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      const decision = await limiter.take({
        scope,
        id: clientAddressKey(request.ip),
        policy: PASSKEY_OPTIONS_RATE,
      });
      if (decision.allowed) return;
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      request.log.info({ code: "too_many_attempts", retryAfter: seconds }, "passkey options rate-limited");
      reply.header("retry-after", String(seconds));
      return refuse(
        reply,
        new TesseraError({
          code: "too_many_attempts",
          message: "Too many sign-in attempts from this network. Wait a moment and try again.",
          status: 429,
        }),
      );
    };

    app.post(
      "/login/passkey/options",
      { onRequest: passkeyBudget("passkey-options:ip"), schema: { body: optionsBody } },
      async (request, reply) => {
        if (!web.verifyAnonymousCsrf(request, csrfHeader(request))) return refuse(reply, badCsrf());
        return { options: await mfa.webauthn.passwordlessOptions() };
      },
    );

    app.post<{ Body: CeremonyBody }>(
      "/login/passkey/verify",
      { onRequest: passkeyBudget("passkey-verify:ip"), schema: { body: ceremonyBody } },
      async (request, reply) => {
        if (!web.verifyAnonymousCsrf(request, csrfHeader(request))) return refuse(reply, badCsrf());
        const result = await mfa.webauthn.authenticate(request.body.response ?? {}, {}, by(request, null));
        const user = result ? await accounts.users.get(result.userId) : undefined;
        // A disabled user's passkey is refused with the same answer as an unknown one.
        if (!result || !user?.active) return refuse(reply, keyRefused());
        const next = await flow.signInWithoutPassword(request, reply, {
          userId: user.id,
          methods: PASSWORDLESS_AMR,
          returnTo: safeReturnTo(request.body.returnTo),
        });
        return { redirect: next };
      },
    );
  };
}
