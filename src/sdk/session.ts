/**
 * Session check for applications on the same site as Tessera (the SDK side of `GET /session`).
 *
 * - Given the session token an application received (the `__Host-tessera_session` cookie value), asks Tessera
 *   whether it is live and who it belongs to. No storage access: one HTTPS call, nothing cached, so a revoked
 *   session fails at once.
 * - A token that is not shaped like a Tessera session token is refused without a network call.
 * - Any answer but 200 with the expected shape means "no session"; a network failure throws (fail closed, and
 *   the caller can tell an outage from a sign-out).
 */

export interface SessionInfo {
  user: { id: string; userName: string; displayName: string | null };
  session: { id: string; expiresAt: Date; absoluteExpiresAt: Date; authTime: Date; amr: string[] };
}

export interface SessionCheckerOptions {
  /** Tessera's issuer URL, e.g. `https://id.example.com`. */
  issuer: string;
  /** Cookie name Tessera uses (`__Host-tessera_session`, or `tessera_session` on plain-http localhost). */
  cookieName?: string;
  fetch?: typeof fetch;
  /** Milliseconds before the check is abandoned (default 5000). */
  timeoutMs?: number;
}

const SESSION_TOKEN = /^tsr_ses_[0-9A-Za-z]{49}$/;

export function createSessionChecker(options: SessionCheckerOptions) {
  const issuer = options.issuer.replace(/\/+$/, "");
  const cookieName =
    options.cookieName ?? (issuer.startsWith("https://") ? "__Host-tessera_session" : "tessera_session");
  const doFetch = options.fetch ?? fetch;
  return {
    async check(token: string): Promise<SessionInfo | undefined> {
      if (!SESSION_TOKEN.test(token)) return undefined;
      const response = await doFetch(`${issuer}/session`, {
        headers: { cookie: `${cookieName}=${token}`, accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as {
        user?: { id?: unknown; userName?: unknown; displayName?: unknown };
        session?: {
          id?: unknown;
          expires_at?: unknown;
          absolute_expires_at?: unknown;
          auth_time?: unknown;
          amr?: unknown;
        };
      };
      const { user, session } = body;
      if (
        typeof user?.id !== "string" ||
        typeof user.userName !== "string" ||
        typeof session?.id !== "string" ||
        typeof session.expires_at !== "number" ||
        typeof session.absolute_expires_at !== "number" ||
        typeof session.auth_time !== "number" ||
        !Array.isArray(session.amr)
      ) {
        return undefined;
      }
      return {
        user: {
          id: user.id,
          userName: user.userName,
          displayName: typeof user.displayName === "string" ? user.displayName : null,
        },
        session: {
          id: session.id,
          expiresAt: new Date(session.expires_at * 1000),
          absoluteExpiresAt: new Date(session.absolute_expires_at * 1000),
          authTime: new Date(session.auth_time * 1000),
          amr: session.amr.filter((v): v is string => typeof v === "string"),
        },
      };
    },
  };
}
