/**
 * A small API protected by Tessera's SDK (`tessera/verify`): what a resource server behind Tessera looks like.
 *
 * Routes:
 * - `GET  /healthz`          open.
 * - `GET  /orders`           needs the `orders:read` scope.
 * - `POST /orders`           needs `orders:write`.
 * - `GET  /orders/export`    needs `orders:read` and a sign-in no older than 5 minutes (RFC 9470 step-up).
 * - `GET  /me`               any valid token: echoes who is calling (the claims the SDK verified).
 *
 * It accepts Tessera's JWT access tokens (verified locally against the JWKS), and its opaque access tokens and
 * API tokens (`tsr_pat_…`, `tsr_svc_…`) through introspection, with the revocation feed keeping caches honest.
 *
 * Configuration (environment):
 *   TESSERA_ISSUER   Tessera's issuer URL                        (default http://localhost:8080)
 *   API_AUDIENCE     this API's resource indicator               (default https://api.example.test)
 *   CLIENT_ID / CLIENT_SECRET  this API's confidential client at Tessera (introspection, revocation feed)
 *   PORT / HOST      where to listen                             (default 8081 / 127.0.0.1)
 *
 * Run (after `npm run build` in the repository root): `node examples/resource-server/server.mjs`.
 * See examples/README.md for setting up the client and resource server at Tessera.
 */
import Fastify from "fastify";
import { createVerifier } from "tessera/verify";
import { requireAuth } from "tessera/verify/fastify";

const issuer = process.env.TESSERA_ISSUER ?? "http://localhost:8080";
const audience = process.env.API_AUDIENCE ?? "https://api.example.test";
const loopback = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(issuer);

export async function buildServer(env = process.env) {
  const verifier = createVerifier({
    issuer: env.TESSERA_ISSUER ?? issuer,
    audience: env.API_AUDIENCE ?? audience,
    ...(env.CLIENT_ID && env.CLIENT_SECRET
      ? { clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET }
      : {}),
    ...(loopback ? { allowHttp: true } : {}),
    onWarning: (message) => app.log.warn(message),
  });
  const app = Fastify({ logger: { level: env.LOG_LEVEL ?? "info" } });
  const orders = [{ id: 1, item: "tesserae", quantity: 400 }];

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/me", { preHandler: requireAuth(verifier) }, async (request) => ({
    sub: request.auth?.sub,
    kind: request.auth?.tokenKind,
    scope: request.auth?.scope,
    client_id: request.auth?.client_id ?? null,
  }));

  app.get("/orders", { preHandler: requireAuth(verifier, { scopes: ["orders:read"] }) }, async () => ({
    orders,
  }));

  app.post(
    "/orders",
    { preHandler: requireAuth(verifier, { scopes: ["orders:write"] }) },
    async (request, reply) => {
      const body = /** @type {{ item?: unknown, quantity?: unknown }} */ (request.body ?? {});
      if (typeof body.item !== "string" || !Number.isInteger(body.quantity)) {
        return reply
          .code(400)
          .send({ error: "invalid_request", error_description: "item and quantity are required" });
      }
      const order = {
        id: orders.length + 1,
        item: body.item,
        quantity: /** @type {number} */ (body.quantity),
      };
      orders.push(order);
      return reply.code(201).send(order);
    },
  );

  app.get(
    "/orders/export",
    { preHandler: requireAuth(verifier, { scopes: ["orders:read"], maxAge: 300 }) },
    async () => ({ orders, exportedAt: new Date().toISOString() }),
  );

  app.addHook("onClose", async () => verifier.close());
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildServer();
  const port = Number(process.env.PORT ?? 8081);
  await app.listen({ port, host: process.env.HOST ?? "127.0.0.1" });
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void app.close());
}
