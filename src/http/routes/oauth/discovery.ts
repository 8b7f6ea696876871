/**
 * `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and
 * `GET /.well-known/oauth-authorization-server` (RFC 8414): the same document, listing only what Tessera
 * implements. CORS-readable: it is public, and browser-based clients discover with it.
 */

import type { FastifyInstance } from "fastify";
import { JWE_ALGORITHMS, JWE_ENCRYPTIONS } from "../../../crypto/jwe.js";
import { JWS_ALGORITHMS } from "../../../crypto/jwt/policy.js";
import { PROMPT_VALUES } from "../../../oauth/authorize.js";
import { DPOP_SIGNING_ALGS } from "../../../oauth/dpop.js";
import { TOKEN_EXCHANGE_GRANT } from "../../../oauth/grants/token-exchange.js";
import { ACR_VALUES } from "../../../oauth/issuer.js";
import { OIDC_SCOPES } from "../../../oauth/scopes.js";
import type { HttpServices } from "../../services.js";

export function discoveryDocument(issuer: string): Record<string, unknown> {
  const base = issuer.replace(/\/+$/, "");
  return {
    issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    userinfo_endpoint: `${base}/userinfo`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    introspection_endpoint: `${base}/introspect`,
    // Tessera's own metadata (namespaced, RFC 8414 §2 allows additional parameters): the revocation feed
    // that the SDK's verifier polls (docs/sdk.md).
    tessera_revocations_endpoint: `${base}/revocations`,
    revocation_endpoint: `${base}/revoke`,
    end_session_endpoint: `${base}/end-session`,
    pushed_authorization_request_endpoint: `${base}/par`,
    device_authorization_endpoint: `${base}/device_authorization`,
    registration_endpoint: `${base}/register`,
    require_pushed_authorization_requests: false,
    scopes_supported: [...OIDC_SCOPES],
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: [
      "authorization_code",
      "refresh_token",
      "client_credentials",
      "urn:ietf:params:oauth:grant-type:device_code",
      TOKEN_EXCHANGE_GRANT,
    ],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...JWS_ALGORITHMS],
    // Encrypted tokens (JWE, docs/oauth.md "Encrypted tokens"): what clients may register.
    id_token_encryption_alg_values_supported: [...JWE_ALGORITHMS],
    id_token_encryption_enc_values_supported: [...JWE_ENCRYPTIONS],
    userinfo_signing_alg_values_supported: [...JWS_ALGORITHMS],
    userinfo_encryption_alg_values_supported: [...JWE_ALGORITHMS],
    userinfo_encryption_enc_values_supported: [...JWE_ENCRYPTIONS],
    token_endpoint_auth_methods_supported: [
      "client_secret_basic",
      "client_secret_post",
      "private_key_jwt",
      "none",
    ],
    token_endpoint_auth_signing_alg_values_supported: [...JWS_ALGORITHMS],
    introspection_endpoint_auth_methods_supported: [
      "client_secret_basic",
      "client_secret_post",
      "private_key_jwt",
    ],
    introspection_endpoint_auth_signing_alg_values_supported: [...JWS_ALGORITHMS],
    revocation_endpoint_auth_methods_supported: [
      "client_secret_basic",
      "client_secret_post",
      "private_key_jwt",
      "none",
    ],
    revocation_endpoint_auth_signing_alg_values_supported: [...JWS_ALGORITHMS],
    code_challenge_methods_supported: ["S256"],
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    prompt_values_supported: [...PROMPT_VALUES],
    acr_values_supported: [...ACR_VALUES],
    claims_supported: [
      "iss",
      "sub",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "nonce",
      "acr",
      "amr",
      "azp",
      "sid",
      "name",
      "given_name",
      "family_name",
      "preferred_username",
      "updated_at",
      "email",
      "email_verified",
      "groups",
    ],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    ui_locales_supported: ["en"],
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: false,
  };
}

export function discoveryRoutes(ctx: Pick<HttpServices, "config">) {
  const document = discoveryDocument(ctx.config.issuer);
  return async (app: FastifyInstance) => {
    for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
      app.get(path, async (_request, reply) => {
        reply.header("cache-control", "public, max-age=300").header("access-control-allow-origin", "*");
        return document;
      });
    }
  };
}
