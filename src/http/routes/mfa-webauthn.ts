/** WebAuthn routes (issue 4). To be built; registered by http/app.ts. */
import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../server/context.js";
import type { MfaFlow } from "../web/mfa-flow.js";
import type { Web } from "../web/web-context.js";

export function webauthnRoutes(_ctx: AppContext, _web: Web, _flow: MfaFlow) {
  return async (_app: FastifyInstance) => {};
}
