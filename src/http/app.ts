/**
 * Assembles the Fastify application: logging, body parsing, errors, headers, metrics, then one plugin per
 * domain's routes. Domain code never sees Fastify; it is called with plain values from the context.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import formbody from "@fastify/formbody";
import Fastify, { type FastifyInstance } from "fastify";
import { lazyChildLoggerFactory, redactUrl } from "../observability/log.js";
import { registerErrorHandling } from "./errors.js";
import { strictJsonParser } from "./json-body.js";
import { RequestLifecycle } from "./request-lifecycle.js";
import { accountRoutes } from "./routes/account.js";
import { adminRoutes } from "./routes/admin/index.js";
import { assetRoutes } from "./routes/assets.js";
import { federationRoutes } from "./routes/federation.js";
import { healthRoutes } from "./routes/health.js";
import { invitationRoutes } from "./routes/invitations.js";
import { jwksRoutes } from "./routes/jwks.js";
import { leakedTokenRoutes } from "./routes/leaked-tokens.js";
import { loginRoutes } from "./routes/login.js";
import { metricsRoutes } from "./routes/metrics.js";
import { totpRoutes } from "./routes/mfa-totp.js";
import { webauthnRoutes } from "./routes/mfa-webauthn.js";
import { oauthRoutes } from "./routes/oauth/index.js";
import { openapiRoutes } from "./routes/openapi.js";
import { passwordResetRoutes } from "./routes/password-reset.js";
import { scimRoutes } from "./routes/scim/index.js";
import { sessionCheckRoutes } from "./routes/session-check.js";
import { signUpRoutes } from "./routes/sign-up.js";
import { ssfRoutes } from "./routes/ssf.js";
import { answerFrameworkError } from "./security-headers.js";
import type { HttpServices } from "./services.js";
import { createMfaFlow } from "./web/mfa-flow.js";
import { createWeb } from "./web/web-context.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids are this process's random prefix (64 bits, new at every start) and a counter: unique across
 * instances and restarts for tracing, and no random bytes drawn per request. They are not secrets.
 */
const REQUEST_ID_PREFIX = randomBytes(8).toString("hex");
let requestCounter = 0;

/** Reuses a well-formed incoming `X-Request-Id` (for tracing across a proxy), else makes one. */
function requestId(req: IncomingMessage): string {
  const incoming = req.headers["x-request-id"];
  if (typeof incoming === "string" && REQUEST_ID.test(incoming)) return incoming;
  requestCounter += 1;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(36)}`;
}

export async function buildApp(ctx: HttpServices): Promise<FastifyInstance> {
  const { config } = ctx;
  const tls = config.tlsCert && config.tlsKey;
  const hsts = Boolean(tls) || config.issuer.startsWith("https://");
  const lifecycle = new RequestLifecycle({ hsts, metrics: ctx.metrics.http });
  const app = Fastify({
    loggerInstance: ctx.log.child(
      {},
      {
        serializers: {
          req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
            method: req.method,
            url: redactUrl(req.url),
            remoteAddress: req.ip,
          }),
        },
      },
    ),
    genReqId: requestId,
    // Build each request's child logger only if the request logs something at an enabled level.
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: config.bodyLimit,
    // Fastify accepts a hop count too, though its types omit it.
    trustProxy: config.trustProxy as boolean | string[],
    // Protects against prototype poisoning through JSON bodies.
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    return503OnClosing: true,
    // Security headers, request id, metrics and the one log line per request (see request-lifecycle.ts).
    logController: lifecycle,
    frameworkErrors: lifecycle.frameworkErrors(answerFrameworkError),
    // Unknown fields are refused (400), not silently dropped: a typo must not pass for a valid request.
    ajv: { customOptions: { removeAdditional: false } },
    ...(tls
      ? {
          https: { cert: readFileSync(config.tlsCert as string), key: readFileSync(config.tlsKey as string) },
        }
      : {}),
  }) as unknown as FastifyInstance;

  // Tessera speaks JSON and HTML forms only: any other body type is a 415. JSON must be UTF-8 (json-body.ts).
  app.removeContentTypeParser(["text/plain", "application/json"]);
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: config.bodyLimit },
    strictJsonParser(app),
  );
  await app.register(formbody, { bodyLimit: config.bodyLimit });
  registerErrorHandling(app);

  // First: it records the routes registered after it (see routes/openapi.ts).
  await app.register(openapiRoutes(ctx));
  await app.register(healthRoutes(ctx));
  await app.register(jwksRoutes(ctx));
  await app.register(metricsRoutes(ctx));
  await app.register(leakedTokenRoutes(ctx));
  await app.register(adminRoutes(ctx));

  const web = createWeb(ctx);
  await app.register(assetRoutes());
  const mfaFlow = createMfaFlow(ctx, web);
  await app.register(loginRoutes(ctx, web, mfaFlow));
  await app.register(federationRoutes(ctx, web, mfaFlow));
  await app.register(accountRoutes(ctx, web, mfaFlow));
  await app.register(totpRoutes(ctx, web, mfaFlow));
  await app.register(webauthnRoutes(ctx, web, mfaFlow));
  await app.register(passwordResetRoutes(ctx, web));
  await app.register(signUpRoutes(ctx, web, mfaFlow));
  await app.register(invitationRoutes(ctx, web, mfaFlow));
  await app.register(sessionCheckRoutes(ctx, web));
  await app.register(scimRoutes(ctx), { prefix: "/scim/v2" });
  await app.register(oauthRoutes(ctx, web));
  await app.register(ssfRoutes(ctx));
  return app;
}
