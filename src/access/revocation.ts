/**
 * Access-ending events: the one place that decides what dies when a user's access ends, whatever entry point
 * (pages, admin API, SCIM, CLI, OAuth endpoints, leak reports) caused it. Domain operations that end access
 * (`users.setActive(false)`, a completed password reset, …) call `end` themselves, so no entry point can do the
 * one without the other. `docs/security.md` has the same table in prose; a test checks every row through HTTP.
 *
 * What an event can end:
 * - `sessions`: the listed ones, all but the current one, or all of the user's;
 * - `grants`: what the ended sessions' sign-ins granted without `offline_access` (as OpenID Connect Core §11
 *   intends for a sign-out), or every grant of the user — offline ones, codes, device codes and every access
 *   token issued so far included (`GrantRevocation.endUserGrants`);
 * - `apiTokens`: the user's personal access tokens, revoked (not hidden: re-enabling brings nothing back);
 * - `resetLinks`: unused password-reset links;
 * - always: back-channel logout for each ended session's clients, a `sub` event on the revocation feed when
 *   every token of the user dies (resource servers that cache verified tokens drop them), and one
 *   `access.ended` audit record with the counts.
 * - Domain events (src/events), each in the transaction of its change: `session.ended` per session ended
 *   (`reason`: the access event's type), and `refresh_token.reused` with the family's revocation.
 */
import type { AuditLog } from "../audit/audit-log.js";
import type { EventOutbox } from "../events/outbox.js";
import type { DomainEvent } from "../events/types.js";
import type { BackchannelLogout, SessionClient } from "../oauth/backchannel.js";
import type { GrantRevocation } from "../oauth/grant-revocation.js";
import type { RevocationFeed } from "../revocation/feed.js";

/** Builds the events of the sessions a deletion really removed (called inside its transaction). */
type SessionEndedEvents = (sessionIds: readonly string[]) => readonly DomainEvent[];

export type AccessEvent =
  /** The user signed out of this session (sign-out page, end-session endpoint). */
  | { type: "signed_out"; userId: string; sessionId: string }
  /** Chosen sessions ended: by the user (session list), an administrator, or a leaked session token. */
  | { type: "sessions_revoked"; userId: string; sessionIds: readonly string[] }
  /** A new sign-in in the same browser replaced its session (fixation defence). */
  | { type: "session_replaced"; userId: string; sessionId: string }
  /** "Sign out all other devices". */
  | { type: "signed_out_others"; userId: string; keepSessionId: string }
  /** Password changed with "sign out other devices". */
  | { type: "password_changed"; userId: string; keepSessionId: string }
  | { type: "password_reset"; userId: string }
  /** An administrator ended every session of the user. */
  | { type: "all_sessions_revoked"; userId: string }
  /** An administrator removed the user's second factors. */
  | { type: "mfa_reset"; userId: string }
  | { type: "user_disabled"; userId: string }
  | { type: "user_deleted"; userId: string }
  /** A rotated refresh token was presented again (suspected theft): its family dies. */
  | { type: "refresh_reused"; userId: string; familyId: string; clientId?: string }
  /** A refresh token was reported leaked: its family dies. */
  | { type: "refresh_leaked"; userId: string; familyId: string };

export type AccessEventType = AccessEvent["type"];

interface Rule {
  sessions: "listed" | "others" | "all" | "none";
  grants: "of-sessions" | "all" | "family";
  apiTokens: boolean;
  resetLinks: boolean;
}

/** The table: one row per event. */
export const ACCESS_RULES: Readonly<Record<AccessEventType, Rule>> = {
  signed_out: { sessions: "listed", grants: "of-sessions", apiTokens: false, resetLinks: false },
  sessions_revoked: { sessions: "listed", grants: "of-sessions", apiTokens: false, resetLinks: false },
  session_replaced: { sessions: "listed", grants: "of-sessions", apiTokens: false, resetLinks: false },
  signed_out_others: { sessions: "others", grants: "all", apiTokens: false, resetLinks: false },
  password_changed: { sessions: "others", grants: "all", apiTokens: false, resetLinks: true },
  password_reset: { sessions: "all", grants: "all", apiTokens: false, resetLinks: true },
  all_sessions_revoked: { sessions: "all", grants: "all", apiTokens: false, resetLinks: false },
  mfa_reset: { sessions: "all", grants: "all", apiTokens: false, resetLinks: false },
  user_disabled: { sessions: "all", grants: "all", apiTokens: true, resetLinks: true },
  user_deleted: { sessions: "all", grants: "all", apiTokens: true, resetLinks: true },
  refresh_reused: { sessions: "none", grants: "family", apiTokens: false, resetLinks: false },
  refresh_leaked: { sessions: "none", grants: "family", apiTokens: false, resetLinks: false },
};

export interface AccessEnded {
  sessions: number;
  /** Refresh-token families ended. */
  grants: number;
  apiTokens: number;
}

export interface AccessRevocation {
  /** Ends what the event must end (see ACCESS_RULES); `actor` is recorded in the audit log. */
  end(event: AccessEvent, by: { actor: string }): Promise<AccessEnded>;
}

export interface AccessRevocationDeps {
  sessions: {
    list(userId: string): Promise<{ id: string }[]>;
    /** `events`: the `session.ended` events of the ids really deleted, written in the deletion's transaction. */
    revoke(userId: string, sessionId: string, events?: SessionEndedEvents): Promise<boolean>;
    revokeOthers(userId: string, keepSessionId: string, events?: SessionEndedEvents): Promise<number>;
    revokeAll(userId: string, events?: SessionEndedEvents): Promise<number>;
  };
  resetLinks: { deleteForUser(userId: string): Promise<void> };
  audit: AuditLog;
  // The parts beyond accounts; absent where accounts run alone (the accounts tests).
  grants?: GrantRevocation;
  backchannel?: BackchannelLogout;
  apiTokens?: { revokeAllOf(ownerId: string, options: { actor: string; reason: string }): Promise<number> };
  feed?: Pick<RevocationFeed, "record">;
  /** Where `session.ended` and `refresh_token.reused` events are written (absent: none). */
  events?: EventOutbox;
}

export function createAccessRevocation(deps: AccessRevocationDeps): AccessRevocation {
  const { sessions, grants, backchannel, audit } = deps;

  /** The sessions the event ends, ended; their ids. */
  async function endSessions(event: AccessEvent, rule: Rule): Promise<string[]> {
    // One `session.ended` per session the deletion really removed, written in its transaction.
    const ended = deps.events?.eventsOf((ids: readonly string[]) =>
      ids.map((sessionId) => ({
        type: "session.ended" as const,
        userId: event.userId,
        data: { sessionId, reason: event.type },
      })),
    );
    switch (rule.sessions) {
      case "none":
        return [];
      case "listed": {
        const ids = "sessionIds" in event ? event.sessionIds : "sessionId" in event ? [event.sessionId] : [];
        const revoked: string[] = [];
        for (const id of new Set(ids)) if (await sessions.revoke(event.userId, id, ended)) revoked.push(id);
        return revoked;
      }
      case "others":
      case "all": {
        // Listed first: back-channel logout needs the ids of what one statement then deletes.
        const keep = "keepSessionId" in event ? event.keepSessionId : undefined;
        const live = (await sessions.list(event.userId)).map((s) => s.id).filter((id) => id !== keep);
        if (keep === undefined) await sessions.revokeAll(event.userId, ended);
        else await sessions.revokeOthers(event.userId, keep, ended);
        return live;
      }
    }
  }

  return {
    async end(event, by) {
      const rule = ACCESS_RULES[event.type];
      const ended = await endSessions(event, rule);
      deps.events?.committed();
      let families = 0;
      let clients: SessionClient[] = [];
      if (!grants) {
        // Accounts alone: no grants exist.
      } else if (rule.grants === "family" && "familyId" in event) {
        const reused =
          event.type === "refresh_reused"
            ? deps.events?.events({
                type: "refresh_token.reused",
                userId: event.userId,
                data: { familyId: event.familyId, clientId: event.clientId ?? null },
              })
            : undefined;
        await grants.revokeFamily(event.familyId, reused);
        families = 1;
      } else {
        const result =
          rule.grants === "all"
            ? await grants.endUserGrants(event.userId, ended)
            : await grants.endSessionGrants(ended);
        families = result.families;
        clients = result.clients;
      }
      const apiTokens =
        rule.apiTokens && deps.apiTokens
          ? await deps.apiTokens.revokeAllOf(event.userId, {
              actor: by.actor,
              reason: event.type === "user_deleted" ? "owner_deleted" : "owner_disabled",
            })
          : 0;
      if (rule.resetLinks) await deps.resetLinks.deleteForUser(event.userId);
      if (rule.grants === "all") await deps.feed?.record([{ type: "sub", value: event.userId }]);
      if (rule.grants === "family") deps.events?.committed();
      await backchannel?.notify(event.userId, clients);
      await audit.record({
        type: "access.ended",
        outcome: "success",
        userId: event.userId,
        actor: by.actor,
        details: { event: event.type, sessions: ended.length, grants: families, apiTokens },
      });
      return { sessions: ended.length, grants: families, apiTokens };
    },
  };
}
