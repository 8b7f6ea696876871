/**
 * What the OAuth endpoints share in HTTP: form bodies, the client credentials a request carries (RFC 6749
 * §2.3.1, RFC 7523 §2.2), client authentication with its `WWW-Authenticate` answer (RFC 6749 §5.2), the
 * signed-in user of a browser request, and the error page of the browser-facing endpoints.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { SignedInUser } from "../../../oauth/authorize.js";
import { CLIENT_ASSERTION_TYPE, type Client, type ClientCredentials } from "../../../oauth/clients.js";
import { OAuthError } from "../../../oauth/errors.js";
import type { OAuth } from "../../../oauth/index.js";
import { messagePage } from "../../../ui/pages/message.js";
import type { Web, WebAuth } from "../../web/web-context.js";

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** Whether the request's body is a form (`application/x-www-form-urlencoded`). */
export function isForm(request: FastifyRequest): boolean {
  const type = request.headers["content-type"];
  return typeof type === "string" && FORM_TYPE.test(type);
}

/** The form body of a back-channel endpoint; anything else is `invalid_request`. */
export function formBody(request: FastifyRequest): Record<string, unknown> {
  if (!isForm(request)) {
    throw new OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded.");
  }
  const body = request.body;
  return body && typeof body === "object" ? (body as Record<string, unknown>) : {};
}

function decodeBasicPart(text: string): string {
  // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Base64.
  return decodeURIComponent(text.replace(/\+/g, " "));
}

function isBasic(header: unknown): header is string {
  return typeof header === "string" && /^basic /i.test(header);
}

/** The client credentials the request carries; throws when it carries none or more than one kind. */
export function clientCredentials(request: FastifyRequest, body: Record<string, unknown>): ClientCredentials {
  const header = request.headers.authorization;
  const bodyId = body.client_id;
  const bodySecret = body.client_secret;
  if (bodyId !== undefined && typeof bodyId !== "string") {
    throw new OAuthError("invalid_request", "client_id must be given once.");
  }
  if (bodySecret !== undefined && typeof bodySecret !== "string") {
    throw new OAuthError("invalid_request", "client_secret must be given once.");
  }
  const assertionType = body.client_assertion_type;
  const assertion = body.client_assertion;
  if (assertionType !== undefined || assertion !== undefined) {
    // RFC 7523 §2.2: private_key_jwt, and no other method alongside it.
    if (isBasic(header) || bodySecret !== undefined) {
      throw new OAuthError("invalid_request", "Use one client authentication method, not several.");
    }
    if (assertionType !== CLIENT_ASSERTION_TYPE) {
      throw new OAuthError("invalid_request", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
    }
    if (typeof assertion !== "string" || assertion.length === 0 || assertion.length > 8192) {
      throw new OAuthError("invalid_request", "client_assertion must be given once.");
    }
    return { method: "private_key_jwt", clientId: bodyId, assertion };
  }
  if (isBasic(header)) {
    if (bodySecret !== undefined) {
      throw new OAuthError("invalid_request", "Use one client authentication method, not several.");
    }
    const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    let clientId: string;
    let secret: string;
    try {
      clientId = decodeBasicPart(colon < 0 ? decoded : decoded.slice(0, colon));
      secret = colon < 0 ? "" : decodeBasicPart(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError("invalid_client", "Client authentication failed.");
    }
    if (bodyId !== undefined && bodyId !== clientId) {
      throw new OAuthError("invalid_request", "client_id in the body differs from the authenticated client.");
    }
    return { method: "client_secret_basic", clientId, secret };
  }
  if (bodySecret !== undefined) {
    return { method: "client_secret_post", clientId: bodyId ?? "", secret: bodySecret };
  }
  if (bodyId !== undefined) return { method: "none", clientId: bodyId };
  throw new OAuthError("invalid_client", "Client authentication is required.");
}

/**
 * The client the request authenticates as (`confidential`: public clients refused). A failed authentication
 * tried with the Basic scheme is answered with its challenge (RFC 6749 §5.2).
 */
export async function authenticateClient(
  oauth: OAuth,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
  options: { confidential: boolean },
): Promise<Client> {
  try {
    return await oauth.clients.authenticate(clientCredentials(request, body), options);
  } catch (error) {
    if (
      error instanceof OAuthError &&
      error.code === "invalid_client" &&
      isBasic(request.headers.authorization)
    ) {
      reply.header("www-authenticate", 'Basic realm="tessera"');
    }
    throw error;
  }
}

/** The user signed in in this browser, as the authorization endpoint needs it. */
export function signedInUser(auth: WebAuth | undefined): SignedInUser | undefined {
  return auth
    ? {
        userId: auth.user.id,
        sessionId: auth.session.id,
        authTime: auth.session.authTime,
        amr: auth.session.amr,
      }
    : undefined;
}

/** The page of a browser-facing endpoint that cannot continue. */
export function errorPage(web: Web, reply: FastifyReply, message: string, status = 400) {
  return web.sendPage(
    reply,
    messagePage({ title: "This sign-in request cannot continue", message, status }),
    status,
  );
}
