/**
 * Personal access tokens and service-account keys at rest (api-tokens/tokens.ts decides the rules): only the
 * token's SHA-256 is stored.
 *
 * - Revocation is one conditional UPDATE (`revoked_at IS NULL`): its row count says how many this call revoked.
 * - Creation and revocation write their domain events (`events`) in their own transaction (event-outbox.ts);
 *   a revocation's events are built from the tokens it really revoked.
 * - Besides its own table, the token rules read three facts about what a token names, answered here so the
 *   domain needs one repository: a resource server's scopes, a personal token owner's name and `active`, a
 *   service account's name and disabled time.
 */
import type { Kysely } from "kysely";
import type { ApiTokensTable, Database, IntBool } from "../database.js";
import { type OutboxEvent, withOutboxEvents } from "./event-outbox.js";

export type ApiTokenRow = ApiTokensTable;

/** Who owns a token, as revocation audits it. */
export type ApiTokenOwnerRow = Pick<ApiTokenRow, "id" | "user_id" | "kind" | "service_account_id">;

/** A last use to record: the time, and the address when known (null keeps the stored one). */
export interface ApiTokenUse {
  at: number;
  ip: string | null;
}

export interface ApiTokensRepository {
  insert(row: ApiTokenRow, events?: readonly OutboxEvent[]): Promise<void>;
  findByHash(tokenHash: string): Promise<ApiTokenRow | undefined>;
  findById(id: string): Promise<ApiTokenRow | undefined>;
  /** Tokens of one kind and/or one owner (user or service account), newest first (ties by id). */
  list(filter: { kind?: ApiTokenRow["kind"]; ownerId?: string }): Promise<ApiTokenRow[]>;
  /** Ids of the unrevoked tokens of an owner (user or service account). */
  liveIdsOf(ownerId: string): Promise<string[]>;
  /**
   * Marks the unrevoked ones among these tokens revoked; how many this call revoked. `events`: built from
   * the owners of the tokens this call revoked, written in the same transaction.
   */
  revoke(
    ids: readonly string[],
    at: number,
    reason: string,
    events?: (revoked: readonly ApiTokenOwnerRow[]) => readonly OutboxEvent[],
  ): Promise<number>;
  /** The owners of these tokens. */
  owners(ids: readonly string[]): Promise<ApiTokenOwnerRow[]>;
  /** Records a last use (the address only when given). */
  recordUse(id: string, use: ApiTokenUse): Promise<void>;
  /** The scopes (space-separated) of the resource server with this audience. */
  resourceServerScope(audience: string): Promise<string | undefined>;
  /** A user's name and `active`, for a personal token's owner. */
  userOwner(userId: string): Promise<{ user_name: string; active: IntBool } | undefined>;
  /** A service account's name and disabled time, for a service key's owner. */
  serviceAccountOwner(id: string): Promise<{ name: string; disabled_at: number | null } | undefined>;
}

export function apiTokensRepository(db: Kysely<Database>): ApiTokensRepository {
  return {
    async insert(row, events) {
      await withOutboxEvents(db, events, (db) => db.insertInto("api_tokens").values(row).execute());
    },

    findByHash: (tokenHash) =>
      db.selectFrom("api_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    findById: (id) => db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst(),

    list(filter) {
      let query = db.selectFrom("api_tokens").selectAll().orderBy("created_at", "desc").orderBy("id");
      if (filter.kind) query = query.where("kind", "=", filter.kind);
      if (filter.ownerId) {
        const ownerId = filter.ownerId;
        query = query.where((eb) =>
          eb.or([eb("user_id", "=", ownerId), eb("service_account_id", "=", ownerId)]),
        );
      }
      return query.execute();
    },

    async liveIdsOf(ownerId) {
      const rows = await db
        .selectFrom("api_tokens")
        .select("id")
        .where((eb) => eb.or([eb("user_id", "=", ownerId), eb("service_account_id", "=", ownerId)]))
        .where("revoked_at", "is", null)
        .execute();
      return rows.map((r) => r.id);
    },

    async revoke(ids, at, reason, events) {
      if (ids.length === 0) return 0;
      if (events) {
        const revoked = await withOutboxEvents(db, events, (db) =>
          db
            .updateTable("api_tokens")
            .set({ revoked_at: at, revoked_reason: reason })
            .where("id", "in", [...ids])
            .where("revoked_at", "is", null)
            .returning(["id", "user_id", "kind", "service_account_id"])
            .execute(),
        );
        return revoked.length;
      }
      const result = await db
        .updateTable("api_tokens")
        .set({ revoked_at: at, revoked_reason: reason })
        .where("id", "in", [...ids])
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async owners(ids) {
      if (ids.length === 0) return [];
      return db
        .selectFrom("api_tokens")
        .select(["id", "user_id", "kind", "service_account_id"])
        .where("id", "in", [...ids])
        .execute();
    },

    async recordUse(id, use) {
      await db
        .updateTable("api_tokens")
        .set(use.ip === null ? { last_used_at: use.at } : { last_used_at: use.at, last_used_ip: use.ip })
        .where("id", "=", id)
        .execute();
    },

    async resourceServerScope(audience) {
      const row = await db
        .selectFrom("resource_servers")
        .select("scope")
        .where("audience", "=", audience)
        .executeTakeFirst();
      return row?.scope;
    },

    userOwner: (userId) =>
      db.selectFrom("users").select(["user_name", "active"]).where("id", "=", userId).executeTakeFirst(),

    serviceAccountOwner: (id) =>
      db
        .selectFrom("service_accounts")
        .select(["name", "disabled_at"])
        .where("id", "=", id)
        .executeTakeFirst(),
  };
}
