/**
 * The proxy: `ALL /bff<prefix>/*` → `<upstream><rest>`, with the session's access token as a Bearer token.
 *
 * - Where the request goes and with which headers is decided in upstream-request.ts: the upstream URL is
 *   built only from the configured upstream (origin + base path), the path below `/bff<prefix>` and the query
 *   string. A target that is anything else (absolute-form naming another host, user-info, encoded `/` or `\`,
 *   dot segments, control characters, …) is refused with 400 `invalid_request` before the session is read.
 * - Bodies stream both ways (@fastify/reply-from); the BFF never buffers or parses them.
 * - To the upstream: the browser's credentials, hop-by-hop, forwarding and identity headers are removed;
 *   `authorization: Bearer <access token>` and the BFF's own `x-forwarded-for/-host/-proto` are added.
 * - To the browser: status and headers pass, except `set-cookie` (the upstream's cookies would land on the
 *   BFF's origin), hop-by-hop headers and `access-control-*` (the BFF never grants CORS).
 * - `OPTIONS` is answered here with 204 and no CORS headers: a preflight is never forwarded or granted.
 */
import replyFrom from "@fastify/reply-from";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { DpopSigner } from "../lib/dpop.js";
import type { BffUpstream } from "./config.js";
import { upstreamHeaders, upstreamUrl, withoutHopByHop } from "./upstream-request.js";

export interface ProxyDeps {
  upstreams: readonly BffUpstream[];
  /** The BFF's public origin: the only authority an absolute-form request target may name. */
  publicOrigin: string;
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
      const target = upstreamUrl(request.raw.url ?? "", mount, upstream, deps.publicOrigin);
      if (target === undefined) return reply.code(400).send({ error: "invalid_request" });
      const token = await deps.accessTokenFor(request, reply);
      if (token === undefined) return reply;
      // RFC 9449 §7: the bound token goes with the DPoP scheme and a proof for this method and URL.
      const proof = deps.dpop?.proof({ method: request.method, url: target.url, accessToken: token });
      return reply.from(target.url, {
        queryString: () => target.query,
        rewriteRequestHeaders: (_request, headers) =>
          upstreamHeaders(headers, {
            accessToken: token,
            dpopProof: proof,
            clientIp: request.ip,
            publicOrigin: deps.publicOrigin,
          }),
        rewriteHeaders(headers) {
          const out: Record<string, unknown> = withoutHopByHop(headers);
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
