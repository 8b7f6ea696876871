/** Who an admin request acts as, for the audit log: `admin:<token id>` (`admin:bootstrap` for the configured token). */
import type { FastifyRequest } from "fastify";
import type { Actor } from "../../../accounts/index.js";

export function adminActor(request: FastifyRequest): Actor {
  const userAgent = request.headers["user-agent"];
  return {
    actor: `admin:${request.admin?.tokenId ?? "unknown"}`,
    authority: "admin",
    ip: request.ip,
    userAgent: typeof userAgent === "string" ? userAgent.slice(0, 512) : null,
  };
}
