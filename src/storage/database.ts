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
  /**
   * The record's place in its hash chain (migration 0009; audit/record-hash.ts): the chain (one per audit log
   * instance), 1, 2, … within it, the previous record's hash (64 zeros for the first) and this record's. Null on
   * rows stored before the chain existed (or written with the chain turned off).
   */
  chain_id: string | null;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
}

/** A chain's head signed with Tessera's signing key (migration 0009): the JWS is what verifiers trust. */
export interface AuditCheckpointsTable {
  id: string;
  chain_id: string;
  seq: number;
  hash: string;
  /** When the head was signed (epoch ms; the JWS's `at`). */
  at: number;
  /** The JWS header's key id. */
  kid: string;
  /** Compact JWS, `typ` "audit-checkpoint+jwt". */
  jws: string;
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
  /** RFC 8693: the audiences the client may ask exchanged tokens for (JSON array); null: its `resources`. */
  token_exchange_audiences: string | null;
  /** RFC 8693: 1 when the client may ask for exchanged tokens without `act` (impersonation). */
  token_exchange_impersonation: IntBool;
  /** Where the client publishes its (encryption) keys, instead of `jwks` (migration 0013). */
  jwks_uri: string | null;
  /** OIDC Registration §2 `userinfo_signed_response_alg`; null: userinfo answers JSON unless encrypted. */
  userinfo_signed_alg: string | null;
  /** OIDC Registration §2 `id_token_encrypted_response_alg` / `_enc`; null: not encrypted. */
  id_token_encryption_alg: string | null;
  id_token_encryption_enc: string | null;
  /** OIDC Registration §2 `userinfo_encrypted_response_alg` / `_enc`; null: not encrypted. */
  userinfo_encryption_alg: string | null;
  userinfo_encryption_enc: string | null;
  created_at: number;
  updated_at: number;
}

export interface ResourceServersTable {
  audience: string;
  name: string;
  scope: string;
  created_at: number;
  /** The API's public encryption keys (JWK Set as JSON), when it asks for encrypted access tokens (0013). */
  jwks: string | null;
  /** JWE `alg` / `enc` of its access tokens; null: signed JWTs as usual. */
  access_token_encryption_alg: string | null;
  access_token_encryption_enc: string | null;
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
  /**
   * An encrypted (JWE) access token: the JSON claims of the signed JWT inside it (migration 0013), so Tessera
   * can introspect a token it cannot decrypt. Null for opaque tokens.
   */
  claims: string | null;
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

/** A self-service sign-up waiting for its e-mail link (migration 0015): no account exists yet. */
export interface PendingSignUpsTable {
  id: string;
  /** SHA-256 of the link's token. */
  token_hash: string;
  user_name: string;
  email: string;
  /** argon2id of the chosen password: the confirmation step checks it (the password itself is never kept). */
  password_hash: string;
  return_to: string | null;
  /** Wrong passwords at the confirmation step. */
  attempts: Generated<number>;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** An administrator's invitation of an e-mail address (migration 0015). */
export interface InvitationsTable {
  id: string;
  /** SHA-256 of the link's token. */
  token_hash: string;
  email: string;
  /** Lower-cased address. */
  email_key: string;
  /** JSON array of group ids the new account joins. */
  groups: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  accepted_at: number | null;
  /** The account the acceptance created. */
  user_id: string | null;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** Domain events written with the change that caused them (migration 0010; src/events/outbox.ts). */
export interface EventOutboxTable {
  /** Row number: the order within a transaction, and on SQLite the commit order. */
  seq: Generated<number>;
  /** PostgreSQL: the writing transaction's id (`pg_current_xact_id()`); SQLite: 0. */
  tx: Generated<number>;
  /** The event's id (time-ordered; the `webhook-id` of its webhook deliveries). */
  id: string;
  type: string;
  at: number;
  user_id: string | null;
  /** JSON object: identifiers and outcomes, never a secret. */
  data: string;
}

/** How far each event sink has taken the outbox, and who holds its lease (migration 0010). */
export interface EventSinkCursorsTable {
  sink: string;
  tx: number;
  seq: number;
  lease_owner: string | null;
  lease_until: number;
  /** Last time an instance with this sink registered looked at it: older cursors stop holding back the purge. */
  active_at: number;
}

/** Webhook receivers (migration 0010; src/events/webhooks.ts). */
export interface WebhookEndpointsTable {
  id: string;
  url: string;
  /** JSON array of event types, or `["*"]`. */
  events: string;
  enabled: IntBool;
  /** The `whsec_…` signing secret, sealed with the master key (AAD `webhook-secret:<id>`). */
  secret_sealed: string;
  /** The secret before the last rotation, still signing (besides the new one) until `previous_secret_until`. */
  previous_secret_sealed: string | null;
  previous_secret_until: number | null;
  created_at: number;
  updated_at: number;
  created_by: string;
}

export type WebhookDeliveryState = "pending" | "delivered" | "dead";

/** One event for one endpoint (migration 0010). */
export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  event_at: number;
  /** The JSON body, the same on every attempt. */
  payload: string;
  state: WebhookDeliveryState;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: number | null;
  created_at: number;
}

/** Shared Signals (SSF 1.0) event streams, one per receiver configuration (migration 0011; src/ssf/). */
export interface SsfStreamsTable {
  /** The `stream_id`. */
  id: string;
  /** The OAuth client that created the stream: its receiver, and the SETs' `aud`. */
  client_id: string;
  description: string | null;
  /** JSON array of event type URIs the receiver asked for; null when it asked for none. */
  events_requested: string | null;
  /** `push` (RFC 8935) or `poll` (RFC 8936). */
  delivery_method: "push" | "poll";
  /** Push: the receiver's URL (null for poll: the poll URL is derived from the stream id). */
  endpoint_url: string | null;
  /** Push: the `Authorization` value to send, sealed with the master key (AAD `ssf-authorization:<id>`). */
  authorization_sealed: string | null;
  status: "enabled" | "paused" | "disabled";
  status_reason: string | null;
  /** When the receiver last asked for a verification event (rate limit), null if never. */
  verified_at: number | null;
  created_at: number;
  updated_at: number;
}

/** Subjects a receiver removed from a stream (SSF 1.0 §8.1.3; streams start with every subject). */
export interface SsfStreamSubjectsTable {
  stream_id: string;
  /** The user id (the `sub` of the removed `iss_sub` subject). */
  subject: string;
  created_at: number;
}

/** SETs queued per stream until accepted (push), acknowledged (poll) or past retention (migration 0011). */
export interface SsfSetsTable {
  /** Queue order (autoincrement). */
  seq: Generated<number>;
  stream_id: string;
  /** The SET's `jti`: derived from the stream and the event, so enqueuing an event twice is a no-op. */
  jti: string;
  /** The event type URI (logs, metrics). */
  event_type: string;
  /** JSON of the SET's claims; signed at each delivery with the signing key then active. */
  claims: string;
  created_at: number;
  keep_until: number;
  attempts: number;
  next_attempt_at: number;
  /** A delivery (push) or an unacknowledged poll answer holds the SET until then; 0: free. */
  lease_until: number;
  last_error: string | null;
}

/** An upstream identity provider (migration 0014, src/federation/): secrets sealed with the master key. */
export interface IdentityProvidersTable {
  id: string;
  kind: "oidc" | "google" | "entra" | "github";
  display_name: string;
  issuer: string;
  client_id: string;
  client_auth: "client_secret_basic" | "client_secret_post" | "private_key_jwt";
  /** Sealed (AAD `identity-provider:<id>:client-secret`); null for `private_key_jwt`. */
  client_secret_sealed: string | null;
  /** PKCS#8 DER, sealed (AAD `identity-provider:<id>:private-key`); only for `private_key_jwt`. */
  private_key_sealed: string | null;
  /** The public JWK (JSON text) the administrator registers at the upstream. */
  public_jwk: string | null;
  /** Space-separated. */
  scopes: string;
  jit: IntBool;
  trust_email: IntBool;
  satisfies_mfa: IntBool;
  enabled: IntBool;
  allow_private_network: IntBool;
  upstream_logout: IntBool;
  /** JSON object: claim names for userName, name, email, emailVerified, groups. */
  claim_mapping: string;
  /** JSON object: upstream group → Tessera group displayName. */
  group_mapping: string;
  /** JSON arrays. */
  allowed_domains: string;
  allowed_tenants: string;
  /** GitHub: the REST API's base URL. */
  api_url: string | null;
  /** As discovery last found it (or the preset's). */
  authorization_endpoint: string | null;
  created_at: number;
  updated_at: number;
}

/** An upstream account linked to a Tessera user (migration 0014). */
export interface LinkedIdentitiesTable {
  provider_id: string;
  subject: string;
  user_id: string;
  email: string | null;
  linked_at: number;
  last_sign_in_at: number | null;
}

/** One authorization round trip at an upstream (migration 0014): single use, bound to the browser. */
export interface FederationStatesTable {
  /** SHA-256 of `state`. */
  state_hash: string;
  /** SHA-256 of the browser-binding cookie. */
  browser_hash: string;
  provider_id: string;
  nonce: string;
  /**
   * The PKCE code_verifier, sealed with the master key; for `invitation`, JSON of the verifier and the token of
   * the invitation link being accepted (src/federation/invitations.ts), sealed the same way.
   */
  code_verifier_sealed: string;
  /** `signin`, `link` (from the account page) or `invitation` (accepting an invitation through the provider). */
  intent: "signin" | "link" | "invitation";
  /** For `link`: the signed-in user who asked to link. */
  user_id: string | null;
  return_to: string | null;
  created_at: number;
  expires_at: number;
}

/** An upstream account waiting to be linked to an account the user proves they own (migration 0014). */
export interface FederationPendingLinksTable {
  token_hash: string;
  provider_id: string;
  subject: string;
  /** JSON: the mapped profile (names, e-mail and whether it is verified, groups, amr); never a token. */
  profile: string;
  return_to: string | null;
  created_at: number;
  expires_at: number;
}

/** Which provider a session was started through (migration 0014). */
export interface FederatedSessionsTable {
  session_id: string;
  provider_id: string;
  created_at: number;
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
  audit_checkpoints: AuditCheckpointsTable;
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
  identity_providers: IdentityProvidersTable;
  linked_identities: LinkedIdentitiesTable;
  federation_states: FederationStatesTable;
  federation_pending_links: FederationPendingLinksTable;
  federated_sessions: FederatedSessionsTable;
  pending_sign_ups: PendingSignUpsTable;
  invitations: InvitationsTable;
  event_outbox: EventOutboxTable;
  event_sink_cursors: EventSinkCursorsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  ssf_streams: SsfStreamsTable;
  ssf_stream_subjects: SsfStreamSubjectsTable;
  ssf_sets: SsfSetsTable;
}
