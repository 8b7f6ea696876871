/**
 * The Shared Signals transmitter's HTTP endpoints (SSF 1.0; rules in src/ssf, this file only translates):
 *
 * - `GET /.well-known/ssf-configuration` (and `…/ssf-configuration/<issuer path>`, SSF 1.0 §7.2): the
 *   Transmitter Configuration Metadata. Public and CORS-readable, like the other discovery documents.
 * - `/ssf/stream` (POST create 201, GET read one with `?stream_id=` or list, PATCH update, PUT replace,
 *   DELETE `?stream_id=` 204), `/ssf/status` (GET `?stream_id=`, POST), `/ssf/subjects/add` (200),
 *   `/ssf/subjects/remove` (204), `/ssf/verify` (204), `/ssf/poll/<stream_id>` (RFC 8936).
 * - Every `/ssf/*` request carries `Authorization: Bearer <access token>` (header only, RFC 6750 §2.1). Without
 *   one: 401 with `WWW-Authenticate: Bearer realm="tessera-ssf"`; an invalid one: 401 `error="invalid_token"`;
 *   a missing scope: 403 `error="insufficient_scope"`. Bodies are JSON. Errors are Tessera's
 *   `{ "error", "error_description" }` with the status SSF 1.0 gives each case; answers are `no-store`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type Receiver, SsfError } from "../../ssf/index.js";
import type { HttpServices } from "../services.js";

const REALM = 'realm="tessera-ssf"';
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The bearer token of the `Authorization` header, if there is exactly one. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  return BEARER.exec(header)?.[1];
}

/** RFC 6750 §3 challenges and `Retry-After` for the refusals that have them; the error handler writes the body. */
function challenge(reply: FastifyReply, error: unknown): void {
  if (!(error instanceof SsfError)) return;
  if (error.code === "unauthorized") reply.header("www-authenticate", `Bearer ${REALM}`);
  else if (error.code === "invalid_token") {
    reply.header("www-authenticate", `Bearer ${REALM}, error="invalid_token"`);
  } else if (error.code === "insufficient_scope") {
    reply.header(
      "www-authenticate",
      `Bearer ${REALM}, error="insufficient_scope", scope="${error.scope ?? ""}"`,
    );
  } else if (error.code === "too_many_attempts" && error.retryAfter !== undefined) {
    reply.header("retry-after", String(error.retryAfter));
  }
}

/** A JSON body, with a missing one read as `{}` (a create or poll request with nothing to say). */
function jsonBody(request: FastifyRequest): unknown {
  return request.body === undefined || request.body === null ? {} : request.body;
}

export function ssfRoutes(ctx: Pick<HttpServices, "config" | "ssf">) {
  const { ssf } = ctx;
  const configuration = ssf.configuration();
  const issuerPath = new URL(ctx.config.issuer).pathname.replace(/\/+$/, "");

  /** Authenticates the receiver, runs `handle`, and adds the challenge headers to a refusal. */
  function receiverRoute(
    handle: (receiver: Receiver, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      reply.header("cache-control", "no-store");
      try {
        const receiver = await ssf.authenticate(bearerToken(request));
        return await handle(receiver, request, reply);
      } catch (error) {
        challenge(reply, error);
        throw error;
      }
    };
  }

  return async (app: FastifyInstance) => {
    const paths = ["/.well-known/ssf-configuration"];
    if (issuerPath !== "") paths.push(`/.well-known/ssf-configuration${issuerPath}`);
    for (const path of paths) {
      app.get(path, async (_request, reply) => {
        reply.header("cache-control", "public, max-age=300").header("access-control-allow-origin", "*");
        return configuration;
      });
    }

    app.post(
      "/ssf/stream",
      receiverRoute(async (receiver, request, reply) =>
        reply.code(201).send(await ssf.createStream(receiver, jsonBody(request))),
      ),
    );
    app.get<{ Querystring: { stream_id?: string } }>(
      "/ssf/stream",
      receiverRoute(async (receiver, request) => {
        const { stream_id: streamId } = request.query as { stream_id?: unknown };
        return streamId === undefined ? ssf.listStreams(receiver) : ssf.readStream(receiver, streamId);
      }),
    );
    app.patch(
      "/ssf/stream",
      receiverRoute((receiver, request) => ssf.changeStream(receiver, jsonBody(request), "update")),
    );
    app.put(
      "/ssf/stream",
      receiverRoute((receiver, request) => ssf.changeStream(receiver, jsonBody(request), "replace")),
    );
    app.delete(
      "/ssf/stream",
      receiverRoute(async (receiver, request, reply) => {
        await ssf.deleteStream(receiver, (request.query as { stream_id?: unknown }).stream_id);
        return reply.code(204).send();
      }),
    );

    app.get(
      "/ssf/status",
      receiverRoute((receiver, request) =>
        ssf.readStatus(receiver, (request.query as { stream_id?: unknown }).stream_id),
      ),
    );
    app.post(
      "/ssf/status",
      receiverRoute((receiver, request) => ssf.changeStatus(receiver, jsonBody(request))),
    );

    app.post(
      "/ssf/subjects/add",
      receiverRoute(async (receiver, request, reply) => {
        await ssf.addSubject(receiver, jsonBody(request));
        return reply.code(200).send();
      }),
    );
    app.post(
      "/ssf/subjects/remove",
      receiverRoute(async (receiver, request, reply) => {
        await ssf.removeSubject(receiver, jsonBody(request));
        return reply.code(204).send();
      }),
    );
    app.post(
      "/ssf/verify",
      receiverRoute(async (receiver, request, reply) => {
        await ssf.requestVerification(receiver, jsonBody(request));
        return reply.code(204).send();
      }),
    );

    app.post<{ Params: { streamId: string } }>(
      "/ssf/poll/:streamId",
      receiverRoute(async (receiver, request) => {
        // A long poll ends early when the receiver goes away.
        const abort = new AbortController();
        const onClose = () => abort.abort();
        request.raw.socket?.once("close", onClose);
        try {
          const { streamId } = request.params as { streamId: string };
          return await ssf.poll(receiver, streamId, jsonBody(request), abort.signal);
        } finally {
          request.raw.socket?.off("close", onClose);
        }
      }),
    );
  };
}
