/**
 * Users: the one place that creates, changes and removes accounts (CLI, SCIM and the account pages all call it).
 *
 * - `userName` is unique case-insensitively: compared on its NFKC, lower-cased form (`userNameKey`).
 * - Passwords are checked against the policy (length, blocklist, context words), NFKC-normalised, then hashed
 *   with argon2id before any transaction opens; only the hash is stored and nothing returns it.
 * - Every change bumps `version` (SCIM `meta.version`) and `updated_at`, and writes an audit event.
 * - Deactivating or deleting a user is an access-ending event (src/access): sessions, OAuth grants and API tokens
 *   end, for good; session checks also refuse inactive users, so nothing the user holds keeps working between
 *   the two steps, and re-enabling brings nothing back.
 * - Who may change what: `access/policy.ts`. Provisioning (SCIM) cannot take over an administrator's account.
 * - Every change writes its domain events (src/events: `user.created`, `user.updated`, `user.disabled`,
 *   `user.enabled`, `user.deleted`, `credential.changed` for a password) in the change's own transaction.
 */
import { randomUUID } from "node:crypto";
import { type Authority, type ProvisionedChange, refusalForAdministratorChange } from "../access/policy.js";
import type { AccessEvent } from "../access/revocation.js";
import type { AuditLog } from "../audit/index.js";
import { type EventDraft, type EventOutbox, NO_EVENTS } from "../events/outbox.js";
import type { Clock } from "../lib/clock.js";
import { AccountError } from "../lib/errors.js";
import {
  isUniqueViolation,
  type SignInRow,
  type UserEmailRow,
  type UserRow,
  type UsersRepository,
} from "../storage/index.js";
import { type PageOptions, pageQuery } from "./paging.js";
import type { PasswordHasher } from "./passwords/hasher.js";
import { checkPassword, normalizePassword, type PasswordPolicy } from "./passwords/policy.js";

export interface UserEmail {
  value: string;
  type: string | null;
  primary: boolean;
}

export interface User {
  id: string;
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
  emails: UserEmail[];
  groups: { id: string; displayName: string }[];
  hasPassword: boolean;
  passwordUpdatedAt: number | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface UserAttributes {
  userName: string;
  externalId?: string | null;
  displayName?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  active?: boolean;
  emails?: UserEmail[];
  /** Write-only: set (or, on replace, change) the password. */
  password?: string;
}

/** What password sign-in reads about an account: one row, no e-mails or groups. */
export interface SignInRecord {
  id: string;
  userName: string;
  active: boolean;
  passwordHash: string | null;
}

/** Who is acting: for the audit log, and with which authority (what they may change). */
export interface Actor {
  actor: string;
  authority: Authority;
  ip?: string | null;
  userAgent?: string | null;
}

export type ListUsersOptions = PageOptions;

export interface UsersDeps {
  /**
   * Where accounts are stored: `usersRepository(storage.db, storage.dialect, storage.prepare)` (the sign-in
   * look-up is a prepared query declared there).
   */
  repository: UsersRepository;
  clock: Clock;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  audit: AuditLog;
  /** Ends what a deactivated or deleted user holds (the access-ending events, src/access). */
  endAccess(event: AccessEvent, by: { actor: string }): Promise<unknown>;
  /** Whether the user holds the administrator right. */
  isAdministrator(userId: string): Promise<boolean>;
  /** Where the changes' domain events are written (absent: none). */
  events?: EventOutbox;
}

export const MAX_USER_NAME = 256;
const MAX_NAME = 256;
const CONTROL = /\p{Cc}/u;
const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@[^\s@<>()[\]\\,;:"]{1,255}$/u;

export function userNameKey(userName: string): string {
  return userName.normalize("NFKC").toLowerCase();
}

function cleanUserName(value: unknown): string {
  if (typeof value !== "string") throw new AccountError("invalid_request", "userName is required.");
  const name = value.normalize("NFKC").trim();
  if (name.length === 0 || name.length > MAX_USER_NAME || CONTROL.test(name)) {
    throw new AccountError(
      "invalid_request",
      `userName must be 1 to ${MAX_USER_NAME} characters without control characters.`,
    );
  }
  return name;
}

function cleanText(value: string | null | undefined, field: string): string | null {
  if (value === undefined || value === null) return null;
  const text = value.trim();
  if (text.length > MAX_NAME || CONTROL.test(text)) {
    throw new AccountError(
      "invalid_request",
      `${field} must be at most ${MAX_NAME} characters without control characters.`,
    );
  }
  return text.length === 0 ? null : text;
}

function cleanEmails(emails: UserEmail[] | undefined): UserEmail[] {
  const seen = new Set<string>();
  const out: UserEmail[] = [];
  for (const email of emails ?? []) {
    const value = email.value.trim();
    if (!EMAIL.test(value)) throw new AccountError("invalid_request", "An e-mail address is not valid.");
    const key = value.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ value, type: cleanText(email.type, "emails.type"), primary: email.primary === true });
  }
  if (out.filter((e) => e.primary).length > 1) {
    throw new AccountError("invalid_request", "At most one e-mail address can be primary.");
  }
  if (out.length > 20) throw new AccountError("invalid_request", "At most 20 e-mail addresses.");
  return out;
}

export interface Users {
  create(attributes: UserAttributes, by: Actor): Promise<User>;
  replace(id: string, attributes: UserAttributes, by: Actor & { expectedVersion?: number }): Promise<User>;
  get(id: string): Promise<User | undefined>;
  findByUserName(userName: string): Promise<User | undefined>;
  /**
   * Sign-in only: the account behind a user name with its stored hash, in one query (what `findByUserName`
   * plus `passwordHash` read in four), since every sign-in attempt runs it on the event loop.
   */
  findForSignIn(userName: string): Promise<SignInRecord | undefined>;
  /** `findForSignIn` without a promise when the database can answer at once (SQLite, connection free). */
  findForSignInNow(userName: string): SignInRecord | undefined | Promise<SignInRecord | undefined>;
  /** Users whose e-mail matches (case-insensitive). */
  findByEmail(email: string): Promise<User[]>;
  list(options?: ListUsersOptions): Promise<{ total: number; users: User[] }>;
  delete(id: string, by: Actor): Promise<void>;
  setActive(id: string, active: boolean, by: Actor): Promise<User>;
  /**
   * Sets a new password after the policy check (admin or reset: no current password needed). `change` is what
   * the `credential.changed` event says (`reset` for a completed password reset).
   */
  setPassword(id: string, password: string, by: Actor, change?: "update" | "reset"): Promise<void>;
  /** Reads the stored hash (sign-in only). */
  passwordHash(id: string): Promise<string | null>;
  /** Replaces the stored hash without a policy check: the transparent rehash after sign-in. */
  upgradePasswordHash(id: string, oldHash: string, newHash: string): Promise<void>;
  /** Checks a candidate password against the policy for this user (page hints and pre-checks). */
  checkPolicy(password: string, user: Pick<User, "userName" | "emails">): ReturnType<typeof checkPassword>;
}

export function createUsers(deps: UsersDeps): Users {
  const { repository, clock } = deps;
  const outbox = deps.events ?? NO_EVENTS;
  const userEvent = (type: EventDraft["type"], userId: string, by: Actor, data: EventDraft["data"] = {}) =>
    ({ type, userId, data: { ...data, actor: by.actor } }) satisfies EventDraft;

  const toSignInRecord = (row: SignInRow | undefined): SignInRecord | undefined =>
    row && {
      id: row.id,
      userName: row.user_name,
      active: row.active === 1,
      passwordHash: row.password_hash,
    };

  async function load(where: { id: string } | { key: string }): Promise<User | undefined> {
    const row = await ("id" in where ? repository.findById(where.id) : repository.findByNameKey(where.key));
    if (!row) return undefined;
    return (await hydrate([row]))[0];
  }

  async function hydrate(rows: UserRow[]): Promise<User[]> {
    if (rows.length === 0) return [];
    const { emails, groups } = await repository.details(rows.map((r) => r.id));
    return rows.map((r) => ({
      id: r.id,
      userName: r.user_name,
      externalId: r.external_id,
      displayName: r.display_name,
      givenName: r.given_name,
      familyName: r.family_name,
      active: r.active === 1,
      emails: emails
        .filter((e) => e.user_id === r.id)
        .map((e) => ({ value: e.value, type: e.type, primary: e.primary === 1 })),
      groups: groups
        .filter((g) => g.user_id === r.id)
        .map((g) => ({ id: g.id, displayName: g.display_name })),
      hasPassword: r.password_hash !== null,
      passwordUpdatedAt: r.password_updated_at,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      version: r.version,
    }));
  }

  function policyCheck(password: string, user: Pick<User, "userName" | "emails">) {
    const context = [user.userName, ...user.emails.map((e) => e.value.split("@")[0] ?? "")];
    // Second factors arrive with the MFA issue; until then every account is single-factor.
    return checkPassword(password, { policy: deps.policy, hasSecondFactor: false, context });
  }

  async function hashChecked(password: string, user: Pick<User, "userName" | "emails">): Promise<string> {
    const verdict = policyCheck(password, user);
    if (!verdict.ok) throw new AccountError("password_rejected", verdict.message);
    return deps.hasher.hash(verdict.normalized);
  }

  function emailRows(userId: string, emails: UserEmail[]): UserEmailRow[] {
    return emails.map((e, position) => ({
      user_id: userId,
      value: e.value,
      value_key: e.value.toLowerCase(),
      type: e.type,
      primary: e.primary ? 1 : 0,
      position,
    }));
  }

  function conflict(error: unknown): never {
    if (isUniqueViolation(error))
      throw new AccountError("user_exists", "A user with this userName already exists.", 409);
    throw error;
  }

  const users: Users = {
    async create(attributes, by) {
      const userName = cleanUserName(attributes.userName);
      const emails = cleanEmails(attributes.emails);
      const key = userNameKey(userName);
      if (await load({ key }))
        throw new AccountError("user_exists", "A user with this userName already exists.", 409);
      const passwordHash =
        attributes.password === undefined
          ? null
          : await hashChecked(attributes.password, { userName, emails });
      const now = clock.now();
      const id = randomUUID();
      try {
        await repository.insert(
          {
            id,
            user_name: userName,
            user_name_key: key,
            external_id: cleanText(attributes.externalId, "externalId"),
            display_name: cleanText(attributes.displayName, "displayName"),
            given_name: cleanText(attributes.givenName, "name.givenName"),
            family_name: cleanText(attributes.familyName, "name.familyName"),
            active: attributes.active === false ? 0 : 1,
            password_hash: passwordHash,
            password_updated_at: passwordHash ? now : null,
            created_at: now,
            updated_at: now,
            version: 1,
          },
          emailRows(id, emails),
          outbox.events(userEvent("user.created", id, by, { userName })),
        );
      } catch (error) {
        conflict(error);
      }
      outbox.committed();
      await deps.audit.record({
        type: "user.created",
        outcome: "success",
        userId: id,
        actor: by.actor,
        ip: by.ip,
        userAgent: by.userAgent,
        details: { userName },
      });
      return (await load({ id }))!;
    },

    async replace(id, attributes, by) {
      const existing = await load({ id });
      if (!existing) throw new AccountError("user_not_found", "No such user.", 404);
      const userName = cleanUserName(attributes.userName);
      const emails = cleanEmails(attributes.emails);
      const passwordHash =
        attributes.password === undefined
          ? undefined
          : await hashChecked(attributes.password, { userName, emails });
      // Omitted `active` keeps the current state: a replace that does not mention it never re-enables a user.
      const active = attributes.active ?? existing.active;
      await checkAuthority(existing, by, {
        userNameChanged: userNameKey(userName) !== userNameKey(existing.userName),
        emailsChanged: !sameEmails(existing.emails, emails),
        passwordSet: passwordHash !== undefined,
        enabling: !existing.active && active,
      });
      const now = clock.now();
      let replaced: boolean;
      try {
        replaced = await repository.replace(
          id,
          by.expectedVersion ?? existing.version,
          {
            user_name: userName,
            user_name_key: userNameKey(userName),
            external_id: cleanText(attributes.externalId, "externalId"),
            display_name: cleanText(attributes.displayName, "displayName"),
            given_name: cleanText(attributes.givenName, "name.givenName"),
            family_name: cleanText(attributes.familyName, "name.familyName"),
            active: active ? 1 : 0,
            ...(passwordHash === undefined ? {} : { password_hash: passwordHash, password_updated_at: now }),
            updated_at: now,
            version: existing.version + 1,
          },
          emailRows(id, emails),
          outbox.events(
            userEvent("user.updated", id, by, { userName }),
            ...(existing.active && !active ? [userEvent("user.disabled", id, by)] : []),
            ...(!existing.active && active ? [userEvent("user.enabled", id, by)] : []),
            ...(passwordHash === undefined
              ? []
              : [userEvent("credential.changed", id, by, { credential: "password", change: "update" })]),
          ),
        );
      } catch (error) {
        conflict(error);
      }
      if (!replaced) {
        throw new AccountError("user_changed", "The user changed meanwhile; fetch it and retry.", 412);
      }
      outbox.committed();
      await deps.audit.record({
        type: "user.updated",
        outcome: "success",
        userId: id,
        actor: by.actor,
        ip: by.ip,
        userAgent: by.userAgent,
        details: { passwordChanged: passwordHash !== undefined },
      });
      if (existing.active && !active) await deactivated(id, by);
      if (!existing.active && active) await audit("user.enabled", id, by);
      return (await load({ id }))!;
    },

    get: (id) => load({ id }),
    findByUserName: (userName) => load({ key: userNameKey(userName) }),

    async findForSignIn(userName) {
      return users.findForSignInNow(userName);
    },

    findForSignInNow(userName) {
      const row = repository.findForSignInNow(userNameKey(userName));
      return row instanceof Promise ? row.then(toSignInRecord) : toSignInRecord(row);
    },

    async findByEmail(email) {
      return hydrate(await repository.findByEmailKey(email.trim().toLowerCase()));
    },

    async list(options = {}) {
      const { total, rows } = await repository.page(pageQuery(options));
      return { total, users: await hydrate(rows) };
    },

    async delete(id, by) {
      const existing = await load({ id });
      if (!existing) throw new AccountError("user_not_found", "No such user.", 404);
      await deps.endAccess({ type: "user_deleted", userId: id }, by);
      await repository.delete(
        id,
        outbox.events(userEvent("user.deleted", id, by, { userName: existing.userName })),
      );
      outbox.committed();
      await deps.audit.record({
        type: "user.deleted",
        outcome: "success",
        userId: id,
        actor: by.actor,
        ip: by.ip,
        userAgent: by.userAgent,
        details: { userName: existing.userName },
      });
    },

    async setActive(id, active, by) {
      const existing = await load({ id });
      if (!existing) throw new AccountError("user_not_found", "No such user.", 404);
      await checkAuthority(existing, by, {
        userNameChanged: false,
        emailsChanged: false,
        passwordSet: false,
        enabling: !existing.active && active,
      });
      if (existing.active !== active) {
        await repository.setActive(
          id,
          active,
          clock.now(),
          outbox.events(userEvent(active ? "user.enabled" : "user.disabled", id, by)),
        );
        outbox.committed();
        if (active) await audit("user.enabled", id, by);
        else await deactivated(id, by);
      }
      return (await load({ id }))!;
    },

    async setPassword(id, password, by, change = "update") {
      const existing = await load({ id });
      if (!existing) throw new AccountError("user_not_found", "No such user.", 404);
      await checkAuthority(existing, by, {
        userNameChanged: false,
        emailsChanged: false,
        passwordSet: true,
        enabling: false,
      });
      const hash = await hashChecked(password, existing);
      await repository.setPasswordHash(
        id,
        hash,
        clock.now(),
        outbox.events(userEvent("credential.changed", id, by, { credential: "password", change })),
      );
      outbox.committed();
      await audit("password.changed", id, by);
    },

    passwordHash: (id) => repository.passwordHash(id),

    async upgradePasswordHash(id, oldHash, newHash) {
      // Conditional on the old hash: a password change racing with sign-in wins.
      await repository.upgradePasswordHash(id, oldHash, newHash);
    },

    checkPolicy: (password, user) => policyCheck(password, user),
  };

  async function audit(type: "user.enabled" | "password.changed", id: string, by: Actor) {
    await deps.audit.record({
      type,
      outcome: "success",
      userId: id,
      actor: by.actor,
      ip: by.ip,
      userAgent: by.userAgent,
    });
  }

  /** Refuses a change the actor's authority does not allow on this user (access/policy.ts). */
  async function checkAuthority(user: User, by: Actor, change: ProvisionedChange): Promise<void> {
    // The rule first: only a change it would refuse costs the administrator look-up.
    const refusal = refusalForAdministratorChange(by.authority, change);
    if (refusal !== undefined && (await deps.isAdministrator(user.id))) {
      throw new AccountError("forbidden_change", refusal, 403);
    }
  }

  async function deactivated(id: string, by: Actor) {
    await deps.endAccess({ type: "user_disabled", userId: id }, by);
    await deps.audit.record({
      type: "user.disabled",
      outcome: "success",
      userId: id,
      actor: by.actor,
      ip: by.ip,
      userAgent: by.userAgent,
    });
  }

  return users;
}

function sameEmails(before: readonly UserEmail[], after: readonly UserEmail[]): boolean {
  const keys = (list: readonly UserEmail[]) =>
    list
      .map((e) => e.value.toLowerCase())
      .sort()
      .join("\n");
  return keys(before) === keys(after);
}

export { normalizePassword };
