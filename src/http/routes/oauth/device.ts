/**
 * The device authorization grant's endpoints (RFC 8628): `POST /device_authorization` for the device, and the
 * user's pages, `/device` (type the code) and `/device/confirm` (allow or deny). src/oauth/device.ts decides
 * (including the per-address throttle on wrong codes); this file renders the pages.
 */
import type { FastifyInstance } from "fastify";
import type { SignedInUser } from "../../../oauth/authorize.js";
import { deviceCodePage, deviceConfirmPage } from "../../../ui/pages/device.js";
import { messagePage } from "../../../ui/pages/message.js";
import type { HttpServices } from "../../services.js";
import { formField, type Web } from "../../web/web-context.js";
import { authenticateClient, errorPage, formBody, signedInUser } from "./shared.js";

const TOO_MANY = "Too many wrong codes. Wait a moment and try again.";
const NOT_WAITING = "That code is no longer waiting for an answer. Start again on your device.";

export function deviceRoutes(ctx: Pick<HttpServices, "oauth">, web: Web) {
  const { oauth } = ctx;

  return async (app: FastifyInstance) => {
    app.post("/device_authorization", async (request, reply) => {
      const body = formBody(request);
      const client = await authenticateClient(oauth, request, reply, body, { confidential: false });
      const answer = await oauth.device.start(client, body);
      reply.header("cache-control", "no-store");
      return answer;
    });

    app.get("/device", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      const userCode = (request.query as Record<string, unknown>).user_code;
      const shown = typeof userCode === "string" ? userCode.slice(0, 16) : undefined;
      if (!auth) {
        const target = shown ? `/device?user_code=${encodeURIComponent(shown)}` : "/device";
        return reply.redirect(`/login?return_to=${encodeURIComponent(target)}`, 303);
      }
      return web.sendPage(
        reply,
        deviceCodePage({ user: auth.user, csrfToken: auth.csrfToken, ...(shown ? { userCode: shown } : {}) }),
      );
    });

    app.post("/device", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Fdevice", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(web, reply, "This form expired or came from another site.", 403);
      }
      const typed = (formField(request.body, "user_code") ?? "").slice(0, 16);
      const page = (error: string, status: number) =>
        web.sendPage(
          reply,
          deviceCodePage({ user: auth.user, csrfToken: auth.csrfToken, userCode: typed, error }),
          status,
        );
      const review = await oauth.device.review(typed, web.clientIp(request));
      if ("refused" in review) {
        if (review.refused === "throttled") {
          reply.header("retry-after", String(Math.ceil(review.retryAfterMs / 1000)));
          return page(TOO_MANY, 429);
        }
        return page("That code is not valid or has expired. Check the code on your device.", 400);
      }
      return web.sendPage(
        reply,
        deviceConfirmPage({
          user: auth.user,
          csrfToken: auth.csrfToken,
          userCode: review.userCode,
          clientName: review.client.name,
          scopes: review.scopes,
        }),
      );
    });

    app.post("/device/confirm", async (request, reply) => {
      const auth = await web.loadAuth(request, reply);
      if (!auth) return reply.redirect("/login?return_to=%2Fdevice", 303);
      if (!web.csrf.verify(request, auth.csrfToken, formField(request.body, "csrf"))) {
        return errorPage(web, reply, "This form expired or came from another site.", 403);
      }
      const userCode = (formField(request.body, "user_code") ?? "").slice(0, 16);
      const approve = formField(request.body, "decision") === "allow";
      const user = signedInUser(auth) as SignedInUser;
      const answer = await oauth.device.answer(userCode, user, approve, web.clientIp(request));
      if ("refused" in answer) {
        return answer.refused === "throttled"
          ? errorPage(web, reply, TOO_MANY, 429)
          : errorPage(web, reply, NOT_WAITING);
      }
      return web.sendPage(
        reply,
        messagePage({
          title: approve ? "Device connected" : "Request denied",
          message: approve
            ? "You can go back to your device: it is signed in."
            : "The device was not given access to your account.",
          user: auth.user,
          csrfToken: auth.csrfToken,
        }),
      );
    });
  };
}
