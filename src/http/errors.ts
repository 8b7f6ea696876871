/**
 * Maps every error to a JSON body `{ "error": code, "error_description": text }` with a 4xx/5xx status.
 *
 * - Tessera's typed errors keep their code and status; `detail` goes to the log only.
 * - Fastify's own client errors (bad JSON, wrong content type, body too large, schema validation) become
 *   the matching 4xx with a stable code, never a 500.
 * - Anything unexpected is a 500 `server_error` whose body says nothing about the cause; the log has it.
 * Every code is listed in docs/errors.md (a test keeps them in step).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError, TokenError } from "../lib/errors.js";
import { isStorageUnavailable } from "../storage/index.js";

/** Fastify error codes (and the body parser's, json-body.ts) → stable Tessera codes. */
const FASTIFY_CODES: Record<string, { code: string; status: number; description: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "unsupported_media_type",
    status: 415,
    description: "Unsupported Content-Type; use application/json or application/x-www-form-urlencoded.",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request",
    status: 400,
    description: "Invalid Content-Length.",
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: "request_too_large",
    status: 413,
    description: "The request body is too large.",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: "invalid_request",
    status: 400,
    description: "The JSON body is empty.",
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: "invalid_request",
    status: 400,
    description: "The body is not valid JSON.",
  },
  TSR_ERR_BODY_NOT_UTF8: {
    code: "invalid_request",
    status: 400,
    description: "The JSON body is not valid UTF-8.",
  },
  FST_ERR_CTP_EMPTY_TYPE: {
    code: "unsupported_media_type",
    status: 415,
    description: "Missing Content-Type.",
  },
  FST_ERR_CTP_INVALID_TYPE: {
    code: "unsupported_media_type",
    status: 415,
    description: "Invalid Content-Type.",
  },
};

export interface ErrorBody {
  error: string;
  error_description: string;
}

/** What a 503 for an unavailable database asks clients to wait, seconds. */
export const RETRY_AFTER_SECONDS = 5;

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply
    .code(status)
    .header("cache-control", "no-store")
    .type("application/json; charset=utf-8")
    .send(body);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof TokenError) {
      // RFC 6750 §3: a refused bearer token is answered with WWW-Authenticate.
      reply.header(
        "www-authenticate",
        'Bearer error="invalid_token", error_description="The token is invalid."',
      );
      request.log.info({ code: error.code, reason: error.reason }, "token refused");
      return send(reply, 401, { error: error.code, error_description: error.message });
    }
    if (error instanceof TesseraError) {
      request.log.info({ code: error.code, detail: error.detail }, "request refused");
      return send(reply, error.status, { error: error.code, error_description: error.message });
    }
    const fastifyError = error as FastifyError;
    const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
    if (mapped)
      return send(reply, mapped.status, { error: mapped.code, error_description: mapped.description });
    if (fastifyError.validation) {
      return send(reply, 400, {
        error: "invalid_request",
        error_description: `Invalid request: ${fastifyError.message}`,
      });
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // A client error Fastify raised (for example a malformed form body): keep the status, hide details.
      return send(reply, status, {
        error: "invalid_request",
        error_description: "The request is malformed.",
      });
    }
    if (isStorageUnavailable(error)) {
      // The database is down, restarting, out of space or locked too long: the same request will succeed
      // later (RFC 6749 §4.1.2.1's temporarily_unavailable; a 503 with Retry-After for load balancers).
      request.log.warn({ err: { message: (error as Error).message } }, "database unavailable");
      reply.header("retry-after", String(RETRY_AFTER_SECONDS));
      return send(reply, 503, {
        error: "temporarily_unavailable",
        error_description: "The service is temporarily unavailable; retry shortly.",
      });
    }
    request.log.error({ err: error }, "unhandled error");
    return send(reply, 500, { error: "server_error", error_description: "An internal error occurred." });
  });

  app.setNotFoundHandler((_request, reply) =>
    send(reply, 404, { error: "not_found", error_description: "No such resource." }),
  );
}
