export {
  type BackgroundWriter,
  type DatabaseLocation,
  type DialectName,
  openStorage,
  parseDatabaseUrl,
  type Storage,
} from "./connect.js";
export type { Database, SigningKeyStatus, WebhookDeliveryState } from "./database.js";
export { isStorageUnavailable, isUniqueViolation } from "./errors.js";
export { migrateToLatest } from "./migrate.js";
export {
  type ColumnRef,
  compilePredicate,
  type Predicate,
  type SqlPredicate,
  type TableName,
} from "./predicates.js";
export { createPrepare, type PreparedQuery, type PrepareQuery } from "./prepared.js";
export * as adminTokens from "./repositories/admin-tokens.js";
export {
  type AdminTokenRow,
  type AdminTokensRepository,
  adminTokensRepository,
} from "./repositories/admin-tokens.js";
export {
  type ApiTokenOwnerRow,
  type ApiTokenRow,
  type ApiTokensRepository,
  type ApiTokenUse,
  apiTokensRepository,
} from "./repositories/api-tokens.js";
export {
  type AuditChainSummary,
  type AuditCheckpointRow,
  type AuditEventFilter,
  type AuditEventRow,
  type AuditEventsRepository,
  auditEventsRepository,
} from "./repositories/audit-events.js";
export {
  type BffSessionRecord,
  type BffSessionsRepository,
  type BffSessionTokens,
  bffSessionsRepository,
} from "./repositories/bff-sessions.js";
export {
  type EventOutboxRepository,
  type EventsOf,
  eventOutboxRepository,
  insertOutboxEvents,
  OUTBOX_START,
  type OutboxEvent,
  type OutboxEventData,
  type OutboxPosition,
  type StoredOutboxEvent,
  withOutboxEvents,
} from "./repositories/event-outbox.js";
export {
  type GroupMemberRow,
  type GroupReplacement,
  type GroupRow,
  type GroupsRepository,
  groupsRepository,
} from "./repositories/groups.js";
export {
  type FederationPendingLinkRow,
  type FederationStateRow,
  type IdentityProviderRow,
  type IdentityProvidersRepository,
  identityProvidersRepository,
} from "./repositories/identity-providers.js";
export {
  type InvitationRow,
  type InvitationStatus,
  type InvitationsPageQuery,
  type InvitationsRepository,
  invitationsRepository,
} from "./repositories/invitations.js";
export {
  type LinkedIdentitiesRepository,
  type LinkedIdentityRow,
  type LinkedIdentityWithProviderRow,
  linkedIdentitiesRepository,
} from "./repositories/linked-identities.js";
export type { Page, PageQuery } from "./repositories/paging.js";
export {
  type PasswordResetTokenRow,
  type PasswordResetTokensRepository,
  passwordResetTokensRepository,
} from "./repositories/password-reset-tokens.js";
export {
  type PendingSignInRow,
  type PendingSignInsRepository,
  pendingSignInsRepository,
} from "./repositories/pending-sign-ins.js";
export {
  type NewPendingSignUpRow,
  type PendingSignUpRow,
  type PendingSignUpsRepository,
  pendingSignUpsRepository,
} from "./repositories/pending-sign-ups.js";
export {
  type RecoveryCodeRow,
  type RecoveryCodesRepository,
  recoveryCodesRepository,
} from "./repositories/recovery-codes.js";
export {
  type RevocationEventEntry,
  type RevocationEventRow,
  type RevocationEventsRepository,
  revocationEventsRepository,
} from "./repositories/revocation-events.js";
export {
  type ServiceAccountRow,
  type ServiceAccountsRepository,
  serviceAccountsRepository,
} from "./repositories/service-accounts.js";
export {
  type SessionEndedEvents,
  type SessionRow,
  type SessionsRepository,
  type SessionWithUserRow,
  sessionsRepository,
} from "./repositories/sessions.js";
export * as signingKeys from "./repositories/signing-keys.js";
export {
  type SigningKeyRow,
  type SigningKeysRepository,
  type SigningKeyTransition,
  signingKeysRepository,
} from "./repositories/signing-keys.js";
export {
  type TotpFactorRow,
  type TotpFactorsRepository,
  totpFactorsRepository,
} from "./repositories/totp-factors.js";
export {
  type NewUserRow,
  type SignInRow,
  type UserEmailRow,
  type UserGroupRow,
  type UserReplacement,
  type UserRow,
  type UsersRepository,
  usersRepository,
} from "./repositories/users.js";
export {
  type WebAuthnChallengeRow,
  type WebAuthnChallengesRepository,
  webauthnChallengesRepository,
} from "./repositories/webauthn-challenges.js";
export {
  type WebAuthnCredentialRow,
  type WebAuthnCredentialsRepository,
  webauthnCredentialsRepository,
} from "./repositories/webauthn-credentials.js";
export {
  type DeliveryFailure,
  type DueDeliveryRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  type WebhooksRepository,
  webhooksRepository,
} from "./repositories/webhooks.js";
