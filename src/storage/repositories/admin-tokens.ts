/** Admin tokens at rest: only their SHA-256 digest is stored. */
import type { Kysely } from "kysely";
import type { AdminTokensTable, Database } from "../database.js";

export type AdminTokenRow = AdminTokensTable;

export async function insertAdminToken(db: Kysely<Database>, row: AdminTokenRow): Promise<void> {
  await db.insertInto("admin_tokens").values(row).execute();
}

export function findActiveAdminTokenByHash(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<AdminTokenRow | undefined> {
  return db
    .selectFrom("admin_tokens")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
}

export function listAdminTokens(db: Kysely<Database>): Promise<AdminTokenRow[]> {
  return db.selectFrom("admin_tokens").selectAll().orderBy("created_at", "asc").execute();
}

export async function revokeAdminToken(db: Kysely<Database>, id: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable("admin_tokens")
    .set({ revoked_at: at })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Records use at most once a minute per token, so a busy admin client does not write on every call. */
export async function touchAdminToken(db: Kysely<Database>, id: string, at: number): Promise<void> {
  await db
    .updateTable("admin_tokens")
    .set({ last_used_at: at })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<", at - 60_000)]))
    .execute();
}

/** Admin tokens (api-tokens/admin-tokens.ts): looked up by digest, listed, revoked once. */
export interface AdminTokensRepository {
  insert(row: AdminTokenRow): Promise<void>;
  /** The unrevoked token with this SHA-256 digest. */
  findActiveByHash(tokenHash: string): Promise<AdminTokenRow | undefined>;
  /** Every token, revoked ones included, oldest first. */
  list(): Promise<AdminTokenRow[]>;
  /** Revokes an unrevoked token; false when there is none with this id (or it was revoked already). */
  revoke(id: string, at: number): Promise<boolean>;
  /** Sets the last-use time, unless the stored one is less than a minute older than `at`. */
  touch(id: string, at: number): Promise<void>;
}

export function adminTokensRepository(db: Kysely<Database>): AdminTokensRepository {
  return {
    insert: (row) => insertAdminToken(db, row),
    findActiveByHash: (tokenHash) => findActiveAdminTokenByHash(db, tokenHash),
    list: () => listAdminTokens(db),
    revoke: (id, at) => revokeAdminToken(db, id, at),
    touch: (id, at) => touchAdminToken(db, id, at),
  };
}
