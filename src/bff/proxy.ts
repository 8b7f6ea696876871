/**
 * The proxy: `ALL /bff<prefix>/*` → `<upstream><rest>`, with the session's access token as a Bearer token.
 *
 * - Bodies stream both ways (@fastify/reply-from); the BFF never buffers or parses them.
 * - To the upstream: the browser's `cookie`, `authorization`, `x-bff-csrf` and hop-by-hop headers are removed
 *   (and any header the `Connection` header names); `authorization: Bearer <access token>` is added.
 * - To the browser: status and headers pass, except `set-cookie` (the upstream's cookies would land on the
 *   BFF's origin), hop-by-hop headers and `access-control-*` (the BFF never grants CORS).
 * - `OPTIONS` is answered here with 204 and no CORS headers: a preflight is never forwarded or granted.
 * - Paths with `.`/`..` segments (plain or percent-encoded) are refused, so a request cannot climb out of the
 *   upstream's base path.
 */
import type { IncomingHttpHeaders } from "node:http";
import replyFrom from "@fastify/reply-from";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { DpopSigner } from "../lib/dpop.js";
import type { BffUpstream } from "./config.js";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
];

const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

function stripConnectionHeaders(headers: Record<string, unknown>) {
  const named = typeof headers.connection === "string" ? headers.connection.split(",") : [];
  for (const name of named) delete headers[name.trim().toLowerCase()];
  for (const name of HOP_BY_HOP) delete headers[name];
}

export interface ProxyDeps {
  upstreams: readonly BffUpstream[];
  /** With DPoP: proofs for the upstream requests, made with the key the access tokens are bound to. */
  dpop?: DpopSigner | undefined;
  /** The access token for this request's session; answers the reply itself (401) when there is none. */
  accessTokenFor(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined>;
}

export async function proxyRoutes(fastify: FastifyInstance, deps: ProxyDeps): Promise<void> {
  await fastify.register(replyFrom, { disableRequestLogging: true });
  // Bodies pass through untouched, whatever their type.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser("*", (_request, payload, done) => done(null, payload));

  for (const upstream of deps.upstreams) {
    const mount = `/bff${upstream.prefix}`;
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method === "OPTIONS") return reply.code(204).send();
      const raw = request.raw.url ?? "";
      const query = raw.indexOf("?");
      const path = (query < 0 ? raw : raw.slice(0, query)).slice(mount.length);
      if (DOT_SEGMENT.test(path)) return reply.code(400).send({ error: "invalid_request" });
      const token = await deps.accessTokenFor(request, reply);
      if (token === undefined) return reply;
      const target = `${upstream.url}${path === "" ? "/" : path}${query < 0 ? "" : raw.slice(query)}`;
      // RFC 9449 §7: the bound token goes with the DPoP scheme and a proof for this method and URL.
      const proof = deps.dpop?.proof({ method: request.method, url: target, accessToken: token });
      return reply.from(target, {
        rewriteRequestHeaders(_request, headers: IncomingHttpHeaders) {
          const out: Record<string, unknown> = { ...headers };
          stripConnectionHeaders(out);
          delete out.cookie;
          delete out.authorization;
          delete out["x-bff-csrf"];
          delete out.dpop;
          if (proof === undefined) {
            out.authorization = `Bearer ${token}`;
          } else {
            out.authorization = `DPoP ${token}`;
            out.dpop = proof;
          }
          return out as IncomingHttpHeaders;
        },
        rewriteHeaders(headers) {
          const out: Record<string, unknown> = { ...headers };
          stripConnectionHeaders(out);
          delete out["set-cookie"];
          for (const name of Object.keys(out)) if (name.startsWith("access-control-")) delete out[name];
          return out as typeof headers;
        },
      });
    };
    fastify.all(mount, handler);
    fastify.all(`${mount}/*`, handler);
  }
}
