/**
 * Password reset by e-mail, and password change by the signed-in user.
 *
 * Reset:
 * - A request names a user name or e-mail address; the answer is the same whether or not an account matches,
 *   and the e-mail is sent in the background so timing does not tell either.
 * - Only active accounts with an e-mail address get a link. The token is 256 random bits (`tsr_rst_…`), stored
 *   as SHA-256, valid at most 15 minutes, single-use (consumed by a conditional update, so two concurrent uses
 *   cannot both win). A new request does not kill older unexpired links; completing any one kills all of them.
 * - Completing a reset sets the password (policy-checked) and is the `password_reset` access-ending event:
 *   every session, app grant (offline ones included) and access token of the user ends (src/access).
 *
 * Change:
 * - Needs the current password (throttled like sign-in) and a new one that passes the policy.
 * - "Sign out other devices" (the default on the page) makes it the `password_changed` access-ending event:
 *   every other session and every app grant ends. The current session's token is renewed (a privilege change).
 */
import type { AccessRevocation } from "../access/revocation.js";
import type { AuditLog } from "../audit/index.js";
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import { AccountError } from "../lib/errors.js";
import type { Mailer } from "../mail/index.js";
import type { Logger } from "../observability/log.js";
import type { Sessions } from "../sessions/index.js";
import type { PasswordResetTokensRepository } from "../storage/index.js";
import type { PasswordSignIn } from "./sign-in.js";
import type { Actor, User, Users } from "./users.js";

export const RESET_TOKEN_PREFIX = "tsr_rst_";
const FORMAT = { prefix: RESET_TOKEN_PREFIX, checksum: true } as const;

export interface PasswordReset {
  /** Always resolves the same way; sends a link when an active account with an e-mail matches. */
  request(identifier: string, context: { ip: string | null; userAgent: string | null }): Promise<void>;
  /** True when the token is live (for showing the form); does not consume it. */
  isLive(token: string): Promise<boolean>;
  complete(
    token: string,
    newPassword: string,
    context: { ip: string | null; userAgent: string | null },
  ): Promise<User>;
  /** Deletes used and expired links; returns how many. */
  purgeExpired(): Promise<number>;
}

export function createPasswordReset(deps: {
  /** Where reset links are stored: `passwordResetTokensRepository(storage.db)`. */
  repository: PasswordResetTokensRepository;
  clock: Clock;
  users: Users;
  sessions: Sessions;
  /** The access-ending events: a completed reset ends every session and app grant of the user. */
  access: AccessRevocation;
  mailer: Mailer;
  audit: AuditLog;
  log: Logger;
  issuer: string;
  ttlSeconds: number;
}): PasswordReset {
  const { repository, clock, users } = deps;

  async function findUser(identifier: string): Promise<User | undefined> {
    const text = identifier.trim().slice(0, 320);
    if (text.length === 0) return undefined;
    const byName = await users.findByUserName(text);
    if (byName) return byName;
    if (!text.includes("@")) return undefined;
    const byEmail = await users.findByEmail(text);
    // An address shared by several accounts is ambiguous: send nothing rather than guess.
    return byEmail.length === 1 ? byEmail[0] : undefined;
  }

  async function send(user: User, context: { ip: string | null; userAgent: string | null }) {
    const email = user.emails.find((e) => e.primary) ?? user.emails[0];
    if (!email) return;
    const token = generateOpaqueToken(FORMAT);
    const now = clock.now();
    await repository.insert({
      token_hash: hashToken(token),
      user_id: user.id,
      created_at: now,
      expires_at: now + deps.ttlSeconds * 1000,
      used_at: null,
    });
    const link = `${deps.issuer}/password/reset?token=${token}`;
    const minutes = Math.round(deps.ttlSeconds / 60);
    await deps.mailer.send({
      to: email.value,
      subject: "Reset your Tessera password",
      text: [
        `Hello ${user.displayName ?? user.userName},`,
        "",
        "Someone (hopefully you) asked to reset the password of your account.",
        `Open this link within ${minutes} minutes to choose a new password. It works once:`,
        "",
        link,
        "",
        "If you did not ask for this, ignore this message: your password stays as it is.",
      ].join("\n"),
    });
    await deps.audit.record({
      type: "password.reset_requested",
      outcome: "success",
      userId: user.id,
      actor: "anonymous",
      ip: context.ip,
      userAgent: context.userAgent,
    });
  }

  async function liveRow(token: string) {
    if (!isWellFormedOpaqueToken(token, FORMAT)) return undefined;
    const row = await repository.findByHash(hashToken(token));
    if (!row || row.used_at !== null || row.expires_at <= clock.now()) return undefined;
    return row;
  }

  return {
    async request(identifier, context) {
      const user = await findUser(identifier);
      if (!user?.active || user.emails.length === 0) return;
      // In the background: the response must not wait for (and so reveal) the mail server.
      send(user, context).catch((error: unknown) =>
        deps.log.error(
          { err: { message: error instanceof Error ? error.message : String(error) } },
          "reset mail failed",
        ),
      );
    },

    async isLive(token) {
      return (await liveRow(token)) !== undefined;
    },

    async complete(token, newPassword, context) {
      const row = await liveRow(token);
      const invalid = () =>
        new AccountError("invalid_reset_token", "This reset link is invalid or has expired.");
      if (!row) throw invalid();
      const user = await users.get(row.user_id);
      if (!user?.active) throw invalid();
      const verdict = users.checkPolicy(newPassword, user);
      if (!verdict.ok) throw new AccountError("password_rejected", verdict.message);
      const now = clock.now();
      if (!(await repository.consume(row.token_hash, now))) throw invalid();
      const by: Actor = {
        actor: `user:${user.id}`,
        authority: "self",
        ip: context.ip,
        userAgent: context.userAgent,
      };
      await users.setPassword(user.id, newPassword, by, "reset");
      await repository.useAllOf(user.id, now);
      await deps.access.end({ type: "password_reset", userId: user.id }, by);
      await deps.audit.record({
        type: "password.reset",
        outcome: "success",
        userId: user.id,
        actor: by.actor,
        ip: context.ip,
        userAgent: context.userAgent,
      });
      return user;
    },

    purgeExpired: () => repository.deleteExpiredOrUsed(clock.now()),
  };
}

export interface ChangePasswordInput {
  user: User;
  sessionId: string;
  currentPassword: string;
  newPassword: string;
  signOutOthers: boolean;
  ip: string | null;
  userAgent: string | null;
}

/** Returns the current session's new token. Throws `invalid_credentials`, `too_many_attempts` or `password_rejected`. */
export async function changePassword(
  deps: {
    users: Users;
    signIn: PasswordSignIn;
    sessions: Sessions;
    audit: AuditLog;
    access: AccessRevocation;
  },
  input: ChangePasswordInput,
): Promise<{ token: string | undefined; signedOut: number }> {
  const context = { ip: input.ip, userAgent: input.userAgent };
  const ok = await deps.signIn.verifyPassword(input.user, input.currentPassword, context);
  if (!ok) {
    await deps.audit.record({
      type: "password.changed",
      outcome: "failure",
      userId: input.user.id,
      actor: `user:${input.user.id}`,
      ...context,
      details: { reason: "wrong_current_password" },
    });
    throw new AccountError("invalid_credentials", "The current password is incorrect.", 401);
  }
  const by = { actor: `user:${input.user.id}`, authority: "self" as const, ...context };
  await deps.users.setPassword(input.user.id, input.newPassword, by);
  const signedOut = input.signOutOthers
    ? (
        await deps.access.end(
          { type: "password_changed", userId: input.user.id, keepSessionId: input.sessionId },
          by,
        )
      ).sessions
    : 0;
  const token = await deps.sessions.rotate(input.sessionId);
  return { token, signedOut };
}
