/**
 * Leaked-token reports, for secret-scanning services (GitHub secret scanning and the like) and for anyone who
 * finds a Tessera token where it should not be.
 *
 * - Given up to 100 values, each one that is a live Tessera secret is revoked at once: API tokens, admin
 *   tokens, refresh tokens (their whole family), session tokens and opaque access tokens. Each revocation is
 *   audited against the token's owner (`token.leak_reported`), which is how the owner is alerted.
 * - The answer is only counts: how many values were received, how many were shaped like Tessera tokens
 *   (prefix, length and checksum), how many were revoked by this report. Knowing a token is the only
 *   credential needed to report it; a reporter learns nothing it could not learn by using the token.
 */
import type { AuditLog } from "../audit/audit-log.js";
import { isWellFormedOpaqueToken } from "../crypto/index.js";
import type { ServiceAccounts } from "./service-accounts.js";
import type { ApiTokens } from "./tokens.js";

export const MAX_LEAK_REPORT = 100;
const TESSERA_TOKEN = /^tsr_[a-z]{2,4}_[0-9A-Za-z]{49}$/;

/** Revokes `token` if it is a live secret of one kind; says whose it was. */
export type LeakRevoker = (
  token: string,
) => Promise<{ kind: string; userId: string | null; details?: Record<string, string | null> } | undefined>;

export interface LeakReportResult {
  received: number;
  recognised: number;
  revoked: number;
}

export function isTesseraTokenShape(value: string): boolean {
  if (!TESSERA_TOKEN.test(value)) return false;
  const prefix = value.slice(0, value.indexOf("_", 4) + 1);
  return isWellFormedOpaqueToken(value, { prefix, checksum: true });
}

/**
 * Personal tokens and service-account keys. A service key's alert goes to the account's owning user (when a
 * user owns it) and names the account.
 */
export function apiTokenLeakRevoker(deps: {
  tokens: ApiTokens;
  serviceAccounts: ServiceAccounts;
}): LeakRevoker {
  return async (token) => {
    const hit = await deps.tokens.revokeLeaked(token);
    if (!hit) return undefined;
    if (hit.kind === "personal") return { kind: hit.kind, userId: hit.ownerId };
    const account = await deps.serviceAccounts.get(hit.ownerId);
    return {
      kind: hit.kind,
      userId: account?.ownerUserId ?? null,
      details: { serviceAccountId: hit.ownerId, ownerGroupId: account?.ownerGroupId ?? null },
    };
  };
}

export function createLeakReports(deps: { audit: AuditLog; revokers: readonly LeakRevoker[] }) {
  return {
    async report(values: readonly string[], meta: { ip?: string | null; source?: string | null }) {
      const unique = [...new Set(values)];
      const result: LeakReportResult = { received: values.length, recognised: 0, revoked: 0 };
      for (const value of unique) {
        if (!isTesseraTokenShape(value)) continue;
        result.recognised += 1;
        for (const revoke of deps.revokers) {
          const hit = await revoke(value);
          if (!hit) continue;
          result.revoked += 1;
          await deps.audit.record({
            type: "token.leak_reported",
            outcome: "success",
            userId: hit.userId,
            actor: "leak-report",
            ip: meta.ip ?? null,
            details: { ...hit.details, kind: hit.kind, source: meta.source?.slice(0, 200) ?? null },
          });
          break;
        }
      }
      return result;
    },
  };
}
