/**
 * OAuth 2.x errors, answered as `{"error", "error_description"}` (RFC 6749 §5.2, §4.1.2.1; RFC 7009, 7662,
 * 8707). The code is the protocol's, so the HTTP layer sends it as is.
 */
import { TesseraError } from "../lib/errors.js";

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "invalid_dpop_proof"
  | "access_denied"
  | "login_required"
  | "consent_required"
  | "invalid_client_metadata"
  | "invalid_redirect_uri"
  | "authorization_pending"
  | "slow_down"
  | "expired_token";

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_dpop_proof: 400,
  access_denied: 403,
  login_required: 400,
  consent_required: 400,
  invalid_client_metadata: 400,
  invalid_redirect_uri: 400,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
};

export class OAuthError extends TesseraError {
  declare readonly code: OAuthErrorCode;
  constructor(code: OAuthErrorCode, message: string, detail?: string) {
    super({ code, message, status: STATUS[code], ...(detail === undefined ? {} : { detail }) });
  }
}
