/**
 * Every stable error code Tessera answers with, and what it means. docs/errors.md lists the same codes;
 * test/lib/error-codes.test.ts fails when the page, this list or the code drift apart.
 */
export const ERROR_CODES = {
  invalid_request:
    "The request is malformed: bad JSON or form body, a missing or invalid parameter. HTTP 400.",
  unsupported_media_type: "The body's Content-Type is not accepted by this endpoint. HTTP 415.",
  request_too_large: "The body is larger than `bodyLimit`. HTTP 413.",
  not_found: "No such resource. HTTP 404.",
  unauthorized: "The endpoint needs credentials and none were sent. HTTP 401 with `WWW-Authenticate`.",
  invalid_token: "A bearer token was sent but is invalid, expired or revoked (RFC 6750 §3.1). HTTP 401.",
  key_rotation_too_soon:
    "A rotation would activate a key published for less than the JWKS max-age; retry later or force it. HTTP 409.",
  key_not_found: "No active signing key exists for the requested algorithm. HTTP 409.",
  master_key_mismatch:
    "Stored secrets were sealed with another master key than the configured one. HTTP 409 / start-up failure.",
  scim_error:
    "A SCIM request was refused; the body is a SCIM Error message with `status` and, for 400/409, `scimType` (RFC 7644 §3.12).",
  user_exists: "A user with this userName already exists (case-insensitive). HTTP 409.",
  group_changed:
    "The group changed since it was read (version mismatch), e.g. a concurrent member change; read it again and retry. HTTP 412.",
  user_changed: "The user changed since it was read (version mismatch); read it again and retry. HTTP 412.",
  user_not_found: "No such user. HTTP 404.",
  forbidden_change:
    "The caller's authority does not allow this change (e.g. SCIM setting an administrator's password or e-mail, or a non-administrator granting the administrator right). HTTP 403.",
  already_admin: "The user already holds the administrator right. HTTP 409.",
  not_admin: "The user does not hold the administrator right. HTTP 409.",
  group_exists: "A group with this displayName already exists. HTTP 409.",
  group_not_found: "No such group. HTTP 404.",
  password_rejected:
    "The new password breaks the password policy (too short, too long, or on the blocklist of common and breached passwords). HTTP 400.",
  invalid_credentials:
    "The user name or password is wrong, or the account cannot sign in; deliberately one answer for all three. HTTP 401.",
  too_many_attempts:
    "Too many failed sign-ins for this account or client, or too many requests from one address to an open endpoint (leak reports, passkey sign-in); wait `Retry-After` seconds. HTTP 429.",
  invalid_reset_token: "The password-reset link is unknown, used or expired. HTTP 400.",
  email_domain_not_allowed:
    "Self-service sign-up: the e-mail address's domain is not on the allow-list (`TESSERA_SIGN_UP_ALLOWED_DOMAINS`). HTTP 400.",
  email_taken:
    "An account with this e-mail address already exists (accepting an invitation, confirming a sign-up, inviting an address). HTTP 409.",
  invalid_sign_up_link:
    "The sign-up confirmation link is unknown, used, expired or had too many wrong passwords. HTTP 400.",
  invalid_invitation: "The invitation link is unknown, used, revoked or expired. HTTP 400.",
  invitation_not_found: "Admin API: no invitation has this id. HTTP 404.",
  invitation_accepted:
    "Admin API: the invitation was already accepted and cannot be revoked (disable the account instead). HTTP 409.",
  invalid_client:
    "OAuth: client authentication failed (unknown client, wrong secret, wrong method) or is missing (RFC 6749 §5.2). HTTP 401, with `WWW-Authenticate: Basic` when the Basic scheme was tried.",
  invalid_grant:
    "OAuth: the authorization code or refresh token is invalid, expired, revoked, already used, or was issued to another client; or PKCE verification or the redirect URI check failed. HTTP 400.",
  unauthorized_client:
    "OAuth: this client may not use this grant type or flow. HTTP 400 (or on the redirect URI).",
  unsupported_grant_type:
    "OAuth: the grant type is not supported (Tessera has no implicit or password grant). HTTP 400.",
  unsupported_response_type: "OAuth: only `response_type=code` is supported; sent on the redirect URI.",
  invalid_scope:
    "OAuth: a scope is malformed, outside the client's allow-list, or not accepted by the requested resource. HTTP 400 (or on the redirect URI).",
  invalid_dpop_proof:
    'OAuth DPoP (RFC 9449): the `DPoP` proof is missing where the client, code or refresh token requires one, malformed, signed with a key it does not carry, for another method or URL, too old, replayed, or for another key or access token than the one bound. HTTP 400 at the token and PAR endpoints; HTTP 401 with `WWW-Authenticate: DPoP error="invalid_dpop_proof"` at userinfo and resource servers.',
  invalid_target:
    "OAuth: a `resource` (RFC 8707) is not an absolute URI or not one this client may ask tokens for. HTTP 400 (or on the redirect URI).",
  access_denied: "OAuth: the user denied the request on the consent page; sent on the redirect URI.",
  login_required:
    "OpenID Connect: `prompt=none` but the user must sign in; sent on the redirect URI. BFF: no session, or its refresh token is dead (HTTP 401); send the user to `/bff/login`.",
  consent_required: "OpenID Connect: `prompt=none` but the user must consent; sent on the redirect URI.",
  request_not_supported:
    "OpenID Connect: request objects (`request`) are not supported; sent on the redirect URI.",
  invalid_client_metadata:
    "OAuth: a client's registration data is invalid (RFC 7591 §3.2.2): redirect URIs, grant types, lifetimes. HTTP 400.",
  insufficient_scope:
    "The access token lacks a scope the endpoint needs (RFC 6750 §3.1), e.g. `openid` at userinfo. HTTP 403 with `WWW-Authenticate`.",
  insufficient_user_authentication:
    "SDK (resource servers): the token's authentication is too weak or too old for this route (RFC 9470); the challenge carries `acr_values` and/or `max_age`. HTTP 401.",
  temporarily_unavailable:
    "The database is down, restarting, out of space or locked too long: retry after `Retry-After` seconds (Tessera's endpoints, in the protocol's format). In the SDK (resource servers): Tessera could not be reached and nothing cached decides the answer; the token is neither accepted nor called invalid. HTTP 503.",
  webauthn_failed:
    "A WebAuthn ceremony was refused: unknown, expired or used challenge, wrong origin or RP ID, bad signature, another user's credential, a counter that went backwards. HTTP 400 (401 when the pending sign-in has ended).",
  authenticator_not_allowed:
    "The authenticator's model (AAGUID) is not on the organisation's allow-list (`TESSERA_WEBAUTHN_AAGUIDS`). HTTP 400.",
  factor_not_found: "No such second factor (security key) for this user. HTTP 404.",
  authorization_pending:
    "OAuth device grant (RFC 8628 §3.5): the user has not answered yet; keep polling at the interval. HTTP 400.",
  slow_down: "OAuth device grant: the device polls too fast; the interval grew by 5 seconds. HTTP 400.",
  expired_token:
    "OAuth device grant: the device code expired before the user answered; start again. HTTP 400.",
  invalid_redirect_uri:
    "OAuth: a redirect URI in a client registration is not allowed (RFC 7591 §3.2.2): not https, http off loopback, a fragment, user information. HTTP 400.",
  client_not_found: "Admin API: no OAuth client has this id. HTTP 404.",
  client_exists: "Admin API: an OAuth client with this client id already exists. HTTP 409.",
  client_has_no_secret:
    "Admin API: the client authenticates without a secret (public or `private_key_jwt`), so there is none to rotate. HTTP 409.",
  resource_server_not_found: "Admin API: no resource server has this audience. HTTP 404.",
  resource_server_exists: "Admin API: a resource server with this audience already exists. HTTP 409.",
  api_token_not_found: "No API token has this id. HTTP 404.",
  service_account_not_found: "No (active) service account has this id or name. HTTP 404.",
  service_account_exists: "A service account with this name already exists (case-insensitive). HTTP 409.",
  session_not_found: "Admin API: the user has no live session with this id. HTTP 404.",
  config_invalid: "A configuration value is missing or invalid; start-up stops. CLI exit code 2.",
  server_error: "An unexpected internal error; details are in the server log only. HTTP 500.",
  csrf: "BFF: a state-changing request without `x-bff-csrf: 1`, or from an origin not allowed (`Origin`, else `Sec-Fetch-Site`). HTTP 403.",
  invalid_return_to:
    "BFF: `returnTo` on `/bff/login` is not a same-origin path under an allowed prefix (`BFF_RETURN_TO`). HTTP 400.",
  login_failed:
    "BFF: the sign-in could not be completed at `/bff/callback` (no or expired login cookie, state or nonce mismatch, refused code). HTTP 400.",
  bad_gateway: "BFF: the upstream API could not be reached or answered nonsense. HTTP 502.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
