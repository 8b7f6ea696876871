/**
 * Invitations: an administrator invites an e-mail address, optionally into groups; the invitee's single-use link
 * creates an active account with that address, already proven by the link, and those groups.
 *
 * - Who may invite: the callers decide (admin API behind `requireAdmin`, the CLI); `by` is recorded as the
 *   inviter in the row and the audit log. Invitations work whether or not self-service sign-up is on, and the
 *   sign-up domain allow-list does not apply to them (the administrator chose the address).
 * - Creating: the address must not belong to an account yet (`email_taken`); every group must exist
 *   (`invalid_request`); the lifetime is `invitationTtl` unless given (300 s to 30 days). The link is mailed;
 *   a mail failure is logged and answered as `mailed: false` (the invitation stays; revoke and invite again).
 * - The link: 256 random bits (`tsr_inv_…`), stored as SHA-256 only, single-use. Accepting is one conditional
 *   update that wins once against a second acceptance and against revocation; an account that could not be
 *   created (a user name taken meanwhile) gives the invitation back.
 * - Accepting with a password: the invitee chooses a user name (the address when left blank) and a password
 *   that passes every password rule; the account is created through `users.create`, joins the groups that
 *   still exist (a deleted group is skipped), and the caller signs the user in.
 * - Accepting through an upstream identity provider (`acceptWithUpstream`, for federation): the same account
 *   without a password, linked by the caller's `linkAccount` step; if that step fails the account is deleted and
 *   the invitation given back.
 * - Revoking: a pending or expired invitation ends at once (revoking a revoked one changes nothing); an
 *   accepted one cannot be revoked (`invitation_accepted`: disable the account instead).
 */
import { randomUUID } from "node:crypto";
import type { Actor, Groups, User, Users } from "../accounts/index.js";
import type { AuditLog } from "../audit/index.js";
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import { TesseraError } from "../lib/errors.js";
import type { Mailer } from "../mail/index.js";
import type { Logger } from "../observability/log.js";
import type { InvitationRow, InvitationStatus, InvitationsRepository } from "../storage/index.js";
import { cleanAddress } from "./addresses.js";
import { fieldErrors, OnboardingError } from "./errors.js";
import { invitationMessage } from "./messages.js";
import {
  accountRefusal,
  checkChosenPassword,
  cleanChosenUserName,
  type FieldRefusal,
  type RequestContext,
} from "./shared.js";

export const INVITATION_TOKEN_PREFIX = "tsr_inv_";
const FORMAT = { prefix: INVITATION_TOKEN_PREFIX, checksum: true } as const;

/** Bounds of an invitation's lifetime, seconds. */
export const MIN_INVITATION_TTL = 300;
export const MAX_INVITATION_TTL = 2_592_000;
/** Groups one invitation may name. */
export const MAX_INVITATION_GROUPS = 100;

export type { InvitationStatus };

export interface Invitation {
  id: string;
  email: string;
  /** Ids of the groups the new account joins. */
  groups: string[];
  status: InvitationStatus;
  createdAt: number;
  /** The administrator who invited (`admin:<token id>`, `cli`, …). */
  createdBy: string;
  expiresAt: number;
  acceptedAt: number | null;
  /** The account the acceptance created. */
  userId: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

/** What the acceptance page shows about a live link. */
export interface PendingInvitation {
  email: string;
  expiresAt: number;
  /** Names of the groups (that still exist) the account will join. */
  groups: string[];
}

/** Accepting through an upstream identity provider (federation): no password; the caller links the provider. */
export interface UpstreamAcceptance {
  /** Blank or absent: the invited address. */
  userName?: string;
  displayName?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  /**
   * Links the upstream identity to the account just created (e.g. stores the provider's `iss` + `sub`). Runs
   * before the invitation is marked as used by this account; if it throws, the account is deleted, the
   * invitation can be accepted again, and the error is rethrown.
   */
  linkAccount(user: User): Promise<void>;
}

export interface Invitations {
  /** Invites an address; answers the invitation, its link (for the caller alone) and whether it was mailed. */
  create(
    input: { email: string; groups?: readonly string[]; expiresIn?: number },
    by: Actor,
  ): Promise<{ invitation: Invitation; link: string; mailed: boolean }>;
  /** Newest first, a page at a time, optionally only those with one status. */
  list(options?: {
    startIndex?: number;
    count?: number;
    status?: InvitationStatus;
  }): Promise<{ total: number; invitations: Invitation[] }>;
  get(id: string): Promise<Invitation | undefined>;
  /** Throws `invitation_not_found` (404) or `invitation_accepted` (409). */
  revoke(id: string, by: Actor): Promise<Invitation>;
  /** The invitation behind a live link (for showing the form); does not consume it. */
  pending(token: string): Promise<PendingInvitation | undefined>;
  /**
   * Creates the invited account with a chosen user name and password. Throws `invalid_invitation`,
   * `email_taken`, `user_exists` (field `userName`), `password_rejected` (field `password`), `invalid_request`
   * (field `confirmPassword` when the confirmation is given and differs).
   */
  accept(
    token: string,
    input: { userName?: string; password: string; confirmPassword?: string },
    context: RequestContext,
  ): Promise<User>;
  /**
   * The hook for sign-in through an upstream identity provider: completes an invitation by creating the account
   * without a password and letting `input.linkAccount` link the provider to it. Same refusals as `accept`
   * (without the password's).
   */
  acceptWithUpstream(token: string, input: UpstreamAcceptance, context: RequestContext): Promise<User>;
}

export interface InvitationsDeps {
  /** `invitationsRepository(storage.db)`. */
  repository: InvitationsRepository;
  users: Users;
  groups: Groups;
  audit: AuditLog;
  mailer: Mailer;
  clock: Clock;
  log: Logger;
  issuer: string;
  /** Default lifetime of a link, seconds (`invitationTtl`). */
  ttlSeconds: number;
}

export function createInvitations(deps: InvitationsDeps): Invitations {
  const { repository, users, groups, clock } = deps;

  const notFound = () => new OnboardingError("invitation_not_found", "No such invitation.", { status: 404 });
  const invalidLink = () =>
    new OnboardingError(
      "invalid_invitation",
      "This invitation link is invalid, was already used, was withdrawn or has expired.",
    );
  const emailTaken = () =>
    new OnboardingError("email_taken", "An account with this e-mail address exists already.", {
      status: 409,
    });

  function statusOf(row: InvitationRow, now: number): InvitationStatus {
    if (row.revoked_at !== null) return "revoked";
    if (row.accepted_at !== null) return "accepted";
    return row.expires_at <= now ? "expired" : "pending";
  }

  function toInvitation(row: InvitationRow, now = clock.now()): Invitation {
    return {
      id: row.id,
      email: row.email,
      groups: JSON.parse(row.groups) as string[],
      status: statusOf(row, now),
      createdAt: row.created_at,
      createdBy: row.created_by,
      expiresAt: row.expires_at,
      acceptedAt: row.accepted_at,
      userId: row.user_id,
      revokedAt: row.revoked_at,
      revokedBy: row.revoked_by,
    };
  }

  async function liveRow(token: string): Promise<InvitationRow | undefined> {
    if (!isWellFormedOpaqueToken(token, FORMAT)) return undefined;
    const row = await repository.findByHash(hashToken(token));
    return row && statusOf(row, clock.now()) === "pending" ? row : undefined;
  }

  async function checkGroups(ids: readonly string[]): Promise<{ id: string; displayName: string }[]> {
    const unique = [...new Set(ids)];
    if (unique.length > MAX_INVITATION_GROUPS) {
      throw new OnboardingError("invalid_request", `At most ${MAX_INVITATION_GROUPS} groups per invitation.`);
    }
    const found: { id: string; displayName: string }[] = [];
    for (const id of unique) {
      const group = await groups.get(id);
      if (!group) throw new OnboardingError("invalid_request", `No group has the id ${JSON.stringify(id)}.`);
      found.push({ id: group.id, displayName: group.displayName });
    }
    return found;
  }

  /** Adds the user to each group that still exists, conditional on the version read (retried when raced). */
  async function joinGroups(userId: string, ids: readonly string[], by: Actor): Promise<void> {
    for (const id of ids) {
      for (let attempt = 1; ; attempt++) {
        const group = await groups.get(id);
        if (!group || group.members.some((m) => m.id === userId)) break;
        try {
          await groups.replace(
            id,
            {
              displayName: group.displayName,
              externalId: group.externalId,
              members: [...group.members.map((m) => m.id), userId],
            },
            { ...by, expectedVersion: group.version },
          );
          break;
        } catch (error) {
          const raced = error instanceof TesseraError && error.code === "group_changed";
          if (!raced || attempt >= 5) throw error;
        }
      }
    }
  }

  /**
   * The steps both acceptances share: checks, the one conditional acceptance, the account, the caller's extra
   * step, then the groups and the audit record.
   */
  async function acceptInvitation(
    token: string,
    attributes: {
      userName?: string;
      password?: string;
      confirmPassword?: string;
      displayName?: string | null;
      givenName?: string | null;
      familyName?: string | null;
    },
    context: RequestContext,
    afterCreate: (user: User) => Promise<void>,
    method: "password" | "upstream",
  ): Promise<User> {
    const row = await liveRow(token);
    if (!row) throw invalidLink();
    const refusals: FieldRefusal[] = [];
    const chosen = cleanChosenUserName(attributes.userName);
    if (!chosen.ok) refusals.push({ field: "userName", code: "invalid_request", message: chosen.message });
    const userName = (chosen.ok ? chosen.userName : undefined) ?? row.email;
    const emails = [{ value: row.email, type: null, primary: true }];
    if (attributes.password !== undefined) {
      refusals.push(
        ...checkChosenPassword(users, attributes.password, attributes.confirmPassword, { userName, emails })
          .refusals,
      );
    }
    const refused = fieldErrors(refusals);
    if (refused) throw refused;
    if ((await users.findByEmail(row.email)).length > 0) throw emailTaken();
    if ((await users.findByUserName(userName)) !== undefined) {
      const message = "This user name is taken. Choose another.";
      throw new OnboardingError("user_exists", message, { status: 409, fields: { userName: message } });
    }
    const now = clock.now();
    if (!(await repository.accept(row.id, now))) throw invalidLink();
    const by: Actor = {
      actor: `invitation:${row.id}`,
      authority: "self",
      ip: context.ip,
      userAgent: context.userAgent,
    };
    let user: User;
    try {
      user = await users.create(
        {
          userName,
          emails,
          ...(attributes.password === undefined ? {} : { password: attributes.password }),
          ...(attributes.displayName !== undefined ? { displayName: attributes.displayName } : {}),
          ...(attributes.givenName !== undefined ? { givenName: attributes.givenName } : {}),
          ...(attributes.familyName !== undefined ? { familyName: attributes.familyName } : {}),
        },
        by,
      );
    } catch (error) {
      await repository.release(row.id, now);
      throw error instanceof TesseraError ? accountRefusal(error) : error;
    }
    try {
      await afterCreate(user);
    } catch (error) {
      await users.delete(user.id, { actor: `invitation:${row.id}`, authority: "system" });
      await repository.release(row.id, now);
      throw error;
    }
    await repository.setUser(row.id, user.id);
    await joinGroups(user.id, JSON.parse(row.groups) as string[], {
      actor: `invitation:${row.id}`,
      authority: "system",
    });
    await deps.audit.record({
      type: "invitation.accepted",
      outcome: "success",
      userId: user.id,
      actor: `user:${user.id}`,
      ip: context.ip,
      userAgent: context.userAgent,
      details: { invitationId: row.id, invitedBy: row.created_by, email: row.email, method },
    });
    return (await users.get(user.id)) ?? user;
  }

  return {
    async create(input, by) {
      const email = cleanAddress(typeof input.email === "string" ? input.email : "");
      if (email === undefined) {
        throw new OnboardingError(
          "invalid_request",
          "email must be an e-mail address, like name@example.com.",
        );
      }
      const ttl = input.expiresIn ?? deps.ttlSeconds;
      if (!Number.isSafeInteger(ttl) || ttl < MIN_INVITATION_TTL || ttl > MAX_INVITATION_TTL) {
        throw new OnboardingError(
          "invalid_request",
          `expiresIn must be between ${MIN_INVITATION_TTL} and ${MAX_INVITATION_TTL} seconds.`,
        );
      }
      const joined = await checkGroups(input.groups ?? []);
      if ((await users.findByEmail(email)).length > 0) throw emailTaken();
      const token = generateOpaqueToken(FORMAT);
      const now = clock.now();
      const row: InvitationRow = {
        id: randomUUID(),
        token_hash: hashToken(token),
        email,
        email_key: email.toLowerCase(),
        groups: JSON.stringify(joined.map((g) => g.id)),
        created_at: now,
        created_by: by.actor,
        expires_at: now + ttl * 1000,
        accepted_at: null,
        user_id: null,
        revoked_at: null,
        revoked_by: null,
      };
      await repository.insert(row);
      const link = `${deps.issuer}/invitations/accept?token=${token}`;
      let mailed = true;
      try {
        await deps.mailer.send(
          invitationMessage({ to: email, link, ttlSeconds: ttl, groups: joined.map((g) => g.displayName) }),
        );
      } catch (error) {
        mailed = false;
        deps.log.error(
          { err: { message: error instanceof Error ? error.message : String(error) }, invitation: row.id },
          "invitation mail failed",
        );
      }
      await deps.audit.record({
        type: "invitation.created",
        outcome: "success",
        actor: by.actor,
        ip: by.ip ?? null,
        userAgent: by.userAgent ?? null,
        details: {
          invitationId: row.id,
          email,
          groups: joined.map((g) => g.id).join(","),
          expiresAt: row.expires_at,
          mailed,
        },
      });
      return { invitation: toInvitation(row, now), link, mailed };
    },

    async list(options = {}) {
      const startIndex = Math.max(1, Math.floor(options.startIndex ?? 1));
      const count = Math.min(1000, Math.max(0, Math.floor(options.count ?? 100)));
      const now = clock.now();
      const { total, rows } = await repository.page({
        offset: startIndex - 1,
        limit: count,
        now,
        ...(options.status ? { status: options.status } : {}),
      });
      return { total, invitations: rows.map((r) => toInvitation(r, now)) };
    },

    async get(id) {
      const row = await repository.findById(id);
      return row && toInvitation(row);
    },

    async revoke(id, by) {
      const row = await repository.findById(id);
      if (!row) throw notFound();
      if (row.accepted_at === null && row.revoked_at === null) {
        const now = clock.now();
        if (await repository.revoke(id, now, by.actor)) {
          await deps.audit.record({
            type: "invitation.revoked",
            outcome: "success",
            actor: by.actor,
            ip: by.ip ?? null,
            userAgent: by.userAgent ?? null,
            details: { invitationId: id, email: row.email },
          });
        }
      }
      const after = await repository.findById(id);
      if (!after) throw notFound();
      if (after.revoked_at === null && after.accepted_at !== null) {
        throw new OnboardingError(
          "invitation_accepted",
          "This invitation was accepted; disable the account it created instead.",
          { status: 409 },
        );
      }
      return toInvitation(after);
    },

    async pending(token) {
      const row = await liveRow(token);
      if (!row) return undefined;
      const names: string[] = [];
      for (const id of JSON.parse(row.groups) as string[]) {
        const group = await groups.get(id);
        if (group) names.push(group.displayName);
      }
      return { email: row.email, expiresAt: row.expires_at, groups: names };
    },

    accept: (token, input, context) =>
      acceptInvitation(
        token,
        {
          password: typeof input.password === "string" ? input.password : "",
          ...(input.userName === undefined ? {} : { userName: input.userName }),
          ...(input.confirmPassword === undefined ? {} : { confirmPassword: input.confirmPassword }),
        },
        context,
        async () => undefined,
        "password",
      ),

    acceptWithUpstream: (token, input, context) =>
      acceptInvitation(
        token,
        {
          ...(input.userName === undefined ? {} : { userName: input.userName }),
          ...(input.displayName === undefined ? {} : { displayName: input.displayName }),
          ...(input.givenName === undefined ? {} : { givenName: input.givenName }),
          ...(input.familyName === undefined ? {} : { familyName: input.familyName }),
        },
        context,
        (user) => input.linkAccount(user),
        "upstream",
      ),
  };
}
