/**
 * What the HTTP layer is given by the composition root (src/server/services.ts builds it). Every route plugin
 * and web helper declares the part it uses, `Pick<HttpServices, …>`, so its dependencies are explicit and
 * checked; none reaches for more. The HTTP layer never imports src/server (the composition root imports it).
 */
import type { Redis } from "ioredis";
import type { Accounts } from "../accounts/index.js";
import type { AdminTokens, ApiTokens, createLeakReports, ServiceAccounts } from "../api-tokens/index.js";
import type { Config } from "../config/index.js";
import type { KeyStore, MasterKey } from "../crypto/index.js";
import type { Webhooks } from "../events/index.js";
import type { Federation } from "../federation/index.js";
import type { Clock } from "../lib/clock.js";
import type { Mfa } from "../mfa/index.js";
import type { OAuth } from "../oauth/index.js";
import type { Logger } from "../observability/log.js";
import type { Metrics } from "../observability/metrics.js";
import type { Onboarding } from "../onboarding/index.js";
import type { RevocationFeed } from "../revocation/index.js";
import type { Transmitter } from "../ssf/index.js";
import type { Storage } from "../storage/index.js";

export interface HttpServices {
  readonly config: Config;
  /** Only for readiness: can the database answer, and take a write. */
  readonly storage: Pick<Storage, "ping" | "probeWrite">;
  readonly masterKey: MasterKey;
  readonly keys: KeyStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly redis: Redis | undefined;
  readonly accounts: Accounts;
  readonly oauth: OAuth;
  readonly adminTokens: AdminTokens;
  readonly apiTokens: ApiTokens;
  readonly serviceAccounts: ServiceAccounts;
  readonly leakReports: ReturnType<typeof createLeakReports>;
  readonly revocations: RevocationFeed;
  readonly mfa: Mfa;
  /** Webhook endpoints and their deliveries (src/events). */
  readonly webhooks: Webhooks;
  /** Sign-in with upstream identity providers (issue 23). */
  readonly federation: Federation;
  /** The Shared Signals (SSF 1.0) transmitter: stream management, poll, metadata. */
  readonly ssf: Transmitter;
  /** Self-service sign-up and invitations. */
  readonly onboarding: Onboarding;
}
