/**
 * The `Database` interface: every table Tessera stores, as Kysely sees it.
 *
 * - Times are epoch milliseconds in `bigint` columns (read back as JS numbers on both dialects).
 * - Secrets are never stored in the clear: tokens as SHA-256 digests (`*_hash`), private keys sealed with
 *   the master key (`crypto/master-key.ts`).
 */
import type { Generated } from "kysely";
export type SigningKeyStatus = "next" | "active" | "retired";

export interface SigningKeysTable {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key. */
  kid: string;
  alg: string;
  status: SigningKeyStatus;
  /** The public JWK (JSON text) as served in the JWKS. */
  public_jwk: string;
  /** PKCS#8 DER of the private key, sealed with the master key (AAD `signing-key:<kid>`). */
  private_key: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  /** After this instant the public key leaves the JWKS: every token it signed has expired. */
  expires_at: number | null;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** Booleans are stored as integers (0/1) so both dialects share one column type. */
export type IntBool = 0 | 1;

export interface UsersTable {
  id: string;
  user_name: string;
  /** `userName` normalised (NFKC, lower case): unique, and what look-ups and filters compare. */
  user_name_key: string;
  external_id: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  active: IntBool;
  /** argon2id PHC string; null for accounts that cannot sign in with a password. */
  password_hash: string | null;
  password_updated_at: number | null;
  created_at: number;
  updated_at: number;
  /** Epoch ms (a whole second): the user's access tokens issued before it are refused (migration 0008). */
  tokens_not_before: Generated<number>;
  /** Incremented on every change: SCIM `meta.version` (a weak ETag). */
  version: number;
  /** Per-user "MFA required" (0/1); defaults to 0 in the table. */
  mfa_required: Generated<IntBool>;
}

export interface UserEmailsTable {
  user_id: string;
  value: string;
  /** Lower-cased address: what uniqueness within a user and filters compare. */
  value_key: string;
  type: string | null;
  primary: IntBool;
  /** Order as given by the client. */
  position: number;
}

export interface GroupsTable {
  id: string;
  display_name: string;
  display_name_key: string;
  external_id: string | null;
  created_at: number;
  updated_at: number;
  version: number;
}

/** Holders of Tessera's administrator right (migration 0008): granted explicitly, never through a group. */
export interface AdministratorsTable {
  user_id: string;
  granted_at: number;
  granted_by: string;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

export interface SessionsTable {
  /** Public identifier (shown in the session list, used by revoke buttons); never the token. */
  id: string;
  /** SHA-256 of the session token (the cookie value). */
  token_hash: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  /** The session ends when unused for this long. */
  idle_timeout_ms: number;
  /** Absolute end of the session, whatever its use. */
  expires_at: number;
  /** When the user last proved who they are in this session (OIDC auth_time, step-up). */
  auth_time: number;
  /** Authentication methods (RFC 8176) as a space-separated list, e.g. "pwd". */
  amr: string;
  remember: IntBool;
  user_agent: string | null;
  ip: string | null;
}

export interface PasswordResetTokensTable {
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface AuditEventsTable {
  /** Time-ordered id: sorts with `at`. */
  id: string;
  at: number;
  type: string;
  outcome: "success" | "failure";
  user_id: string | null;
  /** Who acted: "user:<id>", "admin:<token id>", "scim:<token id>", "cli", "system". */
  actor: string | null;
  ip: string | null;
  user_agent: string | null;
  /** JSON object with event-specific fields; never a secret. */
  details: string | null;
}

export interface OAuthClientsTable {
  id: string;
  name: string;
  /** SHA-256 (base64url) of the client secret; null for public clients. */
  secret_hash: string | null;
  auth_method: string;
  /** JSON arrays. */
  redirect_uris: string;
  post_logout_redirect_uris: string;
  grant_types: string;
  resources: string;
  /** Space-separated scopes the client may ask for. */
  scope: string;
  first_party: IntBool;
  /** Seconds. */
  access_token_ttl: number;
  access_token_format: string;
  id_token_alg: string;
  require_par: IntBool;
  backchannel_logout_uri: string | null;
  /** private_key_jwt: the client's public JWK Set (JSON). */
  jwks: string | null;
  /** RFC 7592: SHA-256 of the registration access token (dynamically registered clients only). */
  registration_token_hash: string | null;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof. */
  dpop_bound: IntBool;
  created_at: number;
  updated_at: number;
}

export interface ResourceServersTable {
  audience: string;
  name: string;
  scope: string;
  created_at: number;
}

export interface OAuthRequestsTable {
  id: string;
  client_id: string;
  /** JSON of the validated request. */
  params: string;
  created_at: number;
  expires_at: number;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  client_id: string;
  user_id: string;
  session_id: string | null;
  redirect_uri: string;
  code_challenge: string;
  scope: string;
  /** JSON array of audiences. */
  resources: string;
  nonce: string | null;
  auth_time: number;
  acr: string;
  /** Space-separated. */
  amr: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  issued_family_id: string | null;
  issued_jti: string | null;
  issued_jti_expires_at: number | null;
  /** RFC 9449 §10: the thumbprint of the key the token request's DPoP proof must use. */
  dpop_jkt: string | null;
}

export interface OAuthConsentsTable {
  user_id: string;
  client_id: string;
  scope: string;
  /** JSON array of the consented resources. */
  resources: string;
  created_at: number;
  updated_at: number;
}

export interface RefreshTokensTable {
  id: string;
  token_hash: string;
  family_id: string;
  client_id: string;
  user_id: string;
  session_id: string | null;
  scope: string;
  resources: string;
  auth_time: number;
  acr: string;
  amr: string;
  created_at: number;
  expires_at: number;
  family_expires_at: number;
  access_jti: string | null;
  access_expires_at: number | null;
  rotated_at: number | null;
  /** The successor pair sealed with the master key, kept only for the grace window. */
  successor: string | null;
  successor_until: number | null;
  revoked_at: number | null;
  /** RFC 9449 §5: public clients' refresh tokens are bound to their DPoP key. */
  dpop_jkt: string | null;
}

export interface InitialAccessTokensTable {
  id: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  uses_left: number | null;
}

export interface DeviceCodesTable {
  device_code_hash: string;
  user_code: string;
  client_id: string;
  scope: string;
  resources: string;
  status: "pending" | "approved" | "denied" | "consumed";
  user_id: string | null;
  session_id: string | null;
  auth_time: number | null;
  acr: string | null;
  amr: string | null;
  interval_s: number;
  last_polled_at: number | null;
  created_at: number;
  expires_at: number;
}

export interface ClientAssertionsTable {
  client_id: string;
  jti: string;
  expires_at: number;
}

export interface AccessTokensTable {
  token_hash: string;
  jti: string;
  client_id: string;
  /** The user id, or the client id for client_credentials. */
  subject: string;
  scope: string;
  /** JSON array. */
  audience: string;
  auth_time: number | null;
  acr: string | null;
  amr: string | null;
  created_at: number;
  expires_at: number;
  dpop_jkt: string | null;
}

export interface DpopProofsTable {
  /** SHA-256 of the proof key's thumbprint and the proof's jti. */
  id: string;
  expires_at: number;
}

export interface RevokedAccessTokensTable {
  jti: string;
  expires_at: number;
}

export interface ServiceAccountsTable {
  id: string;
  name: string;
  name_key: string;
  description: string | null;
  owner_user_id: string | null;
  owner_group_id: string | null;
  created_at: number;
  disabled_at: number | null;
}

export interface ApiTokensTable {
  id: string;
  kind: "personal" | "service";
  name: string;
  token_hash: string;
  user_id: string | null;
  service_account_id: string | null;
  scope: string;
  /** JSON array of resource indicators. */
  resources: string;
  /** JSON array of CIDR blocks; null allows any address. */
  allowed_ips: string | null;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  revoked_reason: string | null;
}

export interface RevocationEventsTable {
  id: string;
  type: "jti" | "sub";
  value: string;
  at: number;
  keep_until: number;
}

export interface TotpFactorsTable {
  user_id: string;
  secret_sealed: string;
  created_at: number;
  confirmed_at: number | null;
  last_step: number | null;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface WebAuthnCredentialsTable {
  id: string;
  user_id: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  aaguid: string;
  device_type: string;
  backed_up: IntBool;
  discoverable: IntBool;
  created_at: number;
  last_used_at: number | null;
}

export interface WebAuthnChallengesTable {
  id: string;
  user_id: string | null;
  purpose: "register" | "authenticate" | "passwordless";
  challenge: string;
  expires_at: number;
}

export interface PendingSignInsTable {
  token_hash: string;
  user_id: string;
  amr: string;
  auth_time: number;
  stage: "verify" | "enrol";
  remember: IntBool;
  return_to: string | null;
  attempts: number;
  expires_at: number;
}

export interface Database {
  signing_keys: SigningKeysTable;
  admin_tokens: AdminTokensTable;
  users: UsersTable;
  user_emails: UserEmailsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  administrators: AdministratorsTable;
  sessions: SessionsTable;
  password_reset_tokens: PasswordResetTokensTable;
  audit_events: AuditEventsTable;
  oauth_clients: OAuthClientsTable;
  resource_servers: ResourceServersTable;
  oauth_requests: OAuthRequestsTable;
  authorization_codes: AuthorizationCodesTable;
  oauth_consents: OAuthConsentsTable;
  refresh_tokens: RefreshTokensTable;
  revoked_access_tokens: RevokedAccessTokensTable;
  access_tokens: AccessTokensTable;
  client_assertions: ClientAssertionsTable;
  dpop_proofs: DpopProofsTable;
  device_codes: DeviceCodesTable;
  initial_access_tokens: InitialAccessTokensTable;
  service_accounts: ServiceAccountsTable;
  api_tokens: ApiTokensTable;
  revocation_events: RevocationEventsTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  webauthn_credentials: WebAuthnCredentialsTable;
  webauthn_challenges: WebAuthnChallengesTable;
  pending_sign_ins: PendingSignInsTable;
}
