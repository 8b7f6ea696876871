/**
 * User accounts at rest: `users` with their `user_emails`, and what reads join to them (group memberships for
 * the user's groups). accounts/users.ts decides the rules; this module only stores and reads.
 *
 * - The sign-in look-up (id, name, `active` and hash by `user_name_key`) is a prepared query declared once per
 *   repository (storage/prepared.ts): it runs once per password sign-in, on the event loop, while argon2id
 *   keeps the caches cold.
 * - A user and its e-mails are written together in one transaction; `replace` is conditional on the version
 *   that was read (its answer says whether it won) and replaces the e-mails in the same transaction.
 * - `delete` removes the user and everything that points at it (administrator right, memberships, e-mails,
 *   sessions, reset links) in one transaction.
 * - Unique violations (`user_name_key`) reach the caller as the driver reports them (`isUniqueViolation`).
 * - Changes take the domain events that describe them (`events`) and write them to the outbox in their own
 *   transaction (event-outbox.ts): a change that fails or loses its condition writes none.
 */
import type { Kysely, Selectable } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database, IntBool, UserEmailsTable, UsersTable } from "../database.js";
import { createPrepare, type PreparedQuery, type PrepareQuery } from "../prepared.js";
import { eventsIfChanged, insertOutboxEvents, type OutboxEvent, withOutboxEvents } from "./event-outbox.js";
import { type Page, type PageQuery, pageOf } from "./paging.js";

export type UserRow = Selectable<UsersTable>;
/** A new user's row: `tokens_not_before` and `mfa_required` take the table's defaults. */
export type NewUserRow = Omit<UserRow, "tokens_not_before" | "mfa_required">;
export type UserEmailRow = UserEmailsTable;

/** One group membership of a user, with the group's name. */
export interface UserGroupRow {
  user_id: string;
  id: string;
  display_name: string;
}

/** What password sign-in reads about an account. */
export interface SignInRow {
  id: string;
  user_name: string;
  active: IntBool;
  password_hash: string | null;
}

/** What a full replacement of a user writes (the password only when given). */
export type UserReplacement = Pick<
  UserRow,
  | "user_name"
  | "user_name_key"
  | "external_id"
  | "display_name"
  | "given_name"
  | "family_name"
  | "active"
  | "updated_at"
  | "version"
> &
  Partial<Pick<UserRow, "password_hash" | "password_updated_at">>;

export interface UsersRepository {
  findById(id: string): Promise<UserRow | undefined>;
  findByNameKey(userNameKey: string): Promise<UserRow | undefined>;
  /**
   * The sign-in look-up by `user_name_key`, without a promise when the database can answer at once (SQLite,
   * connection free); otherwise a promise of it.
   */
  findForSignInNow(userNameKey: string): SignInRow | undefined | Promise<SignInRow | undefined>;
  /** Users with an e-mail whose `value_key` is this. */
  findByEmailKey(valueKey: string): Promise<UserRow[]>;
  /** The e-mails (in position order) and group memberships (by group name key) of these users. */
  details(userIds: readonly string[]): Promise<{ emails: UserEmailRow[]; groups: UserGroupRow[] }>;
  /** One page in creation order (`created_at, id`) and the matching total. */
  page(query: PageQuery): Promise<Page<UserRow>>;
  /** Inserts the user and its e-mails (and `events`) in one transaction. */
  insert(user: NewUserRow, emails: readonly UserEmailRow[], events?: readonly OutboxEvent[]): Promise<void>;
  /**
   * Replaces the user's attributes and e-mails in one transaction, if its version is still `expectedVersion`;
   * false (nothing written, `events` neither) when it is not, or the user is gone.
   */
  replace(
    id: string,
    expectedVersion: number,
    changes: UserReplacement,
    emails: readonly UserEmailRow[],
    events?: readonly OutboxEvent[],
  ): Promise<boolean>;
  /** Deletes the user, its administrator right, memberships, e-mails, sessions and reset links together. */
  delete(id: string, events?: readonly OutboxEvent[]): Promise<void>;
  /** Sets `active`, `updated_at` and increments `version`. */
  setActive(id: string, active: boolean, at: number, events?: readonly OutboxEvent[]): Promise<void>;
  /** Sets the password hash and its time, `updated_at`, and increments `version`. */
  setPasswordHash(id: string, hash: string, at: number, events?: readonly OutboxEvent[]): Promise<void>;
  /** The stored hash (null: no password, or no such user). */
  passwordHash(id: string): Promise<string | null>;
  /** Replaces the hash only if it still is `oldHash` (a password change racing with it wins); true if it did. */
  upgradePasswordHash(id: string, oldHash: string, newHash: string): Promise<boolean>;
  /** The user's own "MFA required" flag (false for an unknown user). */
  mfaRequired(id: string): Promise<boolean>;
  setMfaRequired(id: string, required: boolean): Promise<void>;
}

const signInRecord = (db: Kysely<Database>, key: string) =>
  db
    .selectFrom("users")
    .select(["id", "user_name", "active", "password_hash"])
    .where("user_name_key", "=", key);

/**
 * `dialect` compiles page filters; `prepare` is where the sign-in look-up is prepared (`storage.prepare`, which
 * reads directly on SQLite), by default a compiled query run by Kysely.
 */
export function usersRepository(
  db: Kysely<Database>,
  dialect: DialectName,
  prepare?: PrepareQuery,
): UsersRepository {
  const signIn: PreparedQuery<[string], SignInRow> = (prepare ?? createPrepare(db))(signInRecord);

  return {
    findById: (id) => db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst(),

    findByNameKey: (key) =>
      db.selectFrom("users").selectAll().where("user_name_key", "=", key).executeTakeFirst(),

    findForSignInNow: (key) => signIn.firstNow(key),

    findByEmailKey: (valueKey) =>
      db
        .selectFrom("users")
        .selectAll("users")
        .innerJoin("user_emails", "user_emails.user_id", "users.id")
        .where("user_emails.value_key", "=", valueKey)
        .execute(),

    async details(userIds) {
      const ids = [...userIds];
      if (ids.length === 0) return { emails: [], groups: [] };
      const [emails, groups] = await Promise.all([
        db.selectFrom("user_emails").selectAll().where("user_id", "in", ids).orderBy("position").execute(),
        db
          .selectFrom("group_members")
          .innerJoin("groups", "groups.id", "group_members.group_id")
          .select(["group_members.user_id", "groups.id", "groups.display_name"])
          .where("group_members.user_id", "in", ids)
          .orderBy("groups.display_name_key")
          .execute(),
      ]);
      return { emails, groups };
    },

    page: (query) => pageOf(db, dialect, "users", query),

    async insert(user, emails, events = []) {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto("users").values(user).execute();
        if (emails.length > 0)
          await trx
            .insertInto("user_emails")
            .values([...emails])
            .execute();
        await insertOutboxEvents(trx, events);
      });
    },

    async replace(id, expectedVersion, changes, emails, events = []) {
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable("users")
          .set(changes)
          .where("id", "=", id)
          .where("version", "=", expectedVersion)
          .executeTakeFirst();
        if (result.numUpdatedRows !== 1n) return false;
        await trx.deleteFrom("user_emails").where("user_id", "=", id).execute();
        if (emails.length > 0)
          await trx
            .insertInto("user_emails")
            .values([...emails])
            .execute();
        await insertOutboxEvents(trx, events);
        return true;
      });
    },

    async delete(id, events = []) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("administrators").where("user_id", "=", id).execute();
        await trx.deleteFrom("group_members").where("user_id", "=", id).execute();
        await trx.deleteFrom("user_emails").where("user_id", "=", id).execute();
        await trx.deleteFrom("sessions").where("user_id", "=", id).execute();
        await trx.deleteFrom("password_reset_tokens").where("user_id", "=", id).execute();
        await trx.deleteFrom("users").where("id", "=", id).execute();
        await insertOutboxEvents(trx, events);
      });
    },

    async setActive(id, active, at, events) {
      await withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db
          .updateTable("users")
          .set((eb) => ({ active: active ? 1 : 0, updated_at: at, version: eb("version", "+", 1) }))
          .where("id", "=", id)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      });
    },

    async setPasswordHash(id, hash, at, events) {
      await withOutboxEvents(db, eventsIfChanged(events), async (db) => {
        const result = await db
          .updateTable("users")
          .set((eb) => ({
            password_hash: hash,
            password_updated_at: at,
            updated_at: at,
            version: eb("version", "+", 1),
          }))
          .where("id", "=", id)
          .executeTakeFirst();
        return Number(result.numUpdatedRows);
      });
    },

    async passwordHash(id) {
      const row = await db
        .selectFrom("users")
        .select("password_hash")
        .where("id", "=", id)
        .executeTakeFirst();
      return row?.password_hash ?? null;
    },

    async upgradePasswordHash(id, oldHash, newHash) {
      const result = await db
        .updateTable("users")
        .set({ password_hash: newHash })
        .where("id", "=", id)
        .where("password_hash", "=", oldHash)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },

    async mfaRequired(id) {
      const row = await db.selectFrom("users").select("mfa_required").where("id", "=", id).executeTakeFirst();
      return row?.mfa_required === 1;
    },

    async setMfaRequired(id, required) {
      await db
        .updateTable("users")
        .set({ mfa_required: required ? 1 : 0 })
        .where("id", "=", id)
        .execute();
    },
  };
}
