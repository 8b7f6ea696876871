/**
 * Refresh tokens at rest (oauth/grants/refresh-token.ts): SHA-256 of each token, its family, what it grants,
 * the access token issued with it, and, once rotated, its successor's answer sealed for the grace window.
 *
 * Rotation is one conditional write: the token is marked rotated only if it was not rotated or revoked yet
 * and no member of its family is revoked, and the successor is inserted with it. PostgreSQL: one statement (a
 * data-modifying CTE), so one round trip instead of four; a concurrent rotation waits on the row lock, then
 * finds `rotated_at` set and inserts nothing. SQLite: a transaction (in-process, no round trips; writers are
 * serialised).
 */
import { type Kysely, sql } from "kysely";
import type { DialectName } from "../connect.js";
import type { Database, RefreshTokensTable } from "../database.js";

export type RefreshTokenRow = RefreshTokensTable;

/** What rotating a token sets on it. */
export interface Rotation {
  rotated_at: number;
  /** The successor's answer, sealed; null when there is no grace window. */
  successor: string | null;
  successor_until: number | null;
}

/**
 * `rotated`: this call won. `lost`: the token was rotated or revoked meanwhile (or, on PostgreSQL, a member of
 * its family is revoked). `family_revoked`: (SQLite) a member of its family is revoked.
 */
export type RotationOutcome = "rotated" | "lost" | "family_revoked";

export interface RefreshTokensRepository {
  findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  /** The token and its user's `active` flag, in one read; undefined when unknown (or the user is gone). */
  findByHashWithUser(tokenHash: string): Promise<(RefreshTokenRow & { user_active: number }) | undefined>;
  findById(id: string): Promise<RefreshTokenRow | undefined>;
  insert(row: RefreshTokenRow): Promise<void>;
  /** Marks `id` rotated and inserts its successor, atomically (see above). */
  rotate(id: string, rotation: Rotation, successor: RefreshTokenRow): Promise<RotationOutcome>;
  /** The families with a live member that the user holds at this client. */
  liveFamilies(userId: string, clientId: string): Promise<string[]>;
  /** Forgets the sealed successor answers whose grace window ended at or before `now`. */
  clearSealedSuccessors(now: number): Promise<void>;
  /** Deletes every token of the families that ended at or before `now`. */
  deleteExpiredFamilies(now: number): Promise<number>;
}

/** Parameters in an INSERT … SELECT have no type to infer from: they are cast to their column's type. */
const BIGINT_COLUMNS = new Set<string>([
  "auth_time",
  "created_at",
  "expires_at",
  "family_expires_at",
  "access_expires_at",
  "rotated_at",
  "successor_until",
  "revoked_at",
]);

/** Rolls the SQLite rotation's transaction back when the family has a revoked member. */
class FamilyRevoked extends Error {}

export function refreshTokensRepository(db: Kysely<Database>, dialect: DialectName): RefreshTokensRepository {
  async function rotateOnPostgres(
    id: string,
    rotation: Rotation,
    successor: RefreshTokenRow,
  ): Promise<RotationOutcome> {
    const columns = Object.keys(successor) as (keyof RefreshTokenRow)[];
    const result = await sql<{ id: string }>`
      with rotated as (
        update refresh_tokens
           set rotated_at = ${rotation.rotated_at}, successor = ${rotation.successor},
               successor_until = ${rotation.successor_until}
         where id = ${id} and rotated_at is null and revoked_at is null
           and not exists (
             select 1 from refresh_tokens f
              where f.family_id = ${successor.family_id} and f.revoked_at is not null
           )
        returning id
      )
      insert into refresh_tokens (${sql.join(columns.map((c) => sql.ref(c)))})
      select ${sql.join(
        columns.map((c) =>
          BIGINT_COLUMNS.has(c) ? sql`${successor[c] ?? null}::bigint` : sql`${successor[c] ?? null}::text`,
        ),
      )} from rotated
      returning id`.execute(db);
    return result.rows.length === 1 ? "rotated" : "lost";
  }

  function rotateOnSqlite(
    id: string,
    rotation: Rotation,
    successor: RefreshTokenRow,
  ): Promise<RotationOutcome> {
    return db
      .transaction()
      .execute(async (trx) => {
        const rotated = await trx
          .updateTable("refresh_tokens")
          .set(rotation)
          .where("id", "=", id)
          .where("rotated_at", "is", null)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        if (Number(rotated.numUpdatedRows) === 0) return "lost" as const;
        const revokedMember = await trx
          .selectFrom("refresh_tokens")
          .select("id")
          .where("family_id", "=", successor.family_id)
          .where("revoked_at", "is not", null)
          .executeTakeFirst();
        // Thrown to roll the rotation back; answered below.
        if (revokedMember) throw new FamilyRevoked();
        await trx.insertInto("refresh_tokens").values(successor).execute();
        return "rotated" as const;
      })
      .catch((error: unknown) => {
        if (error instanceof FamilyRevoked) return "family_revoked";
        throw error;
      });
  }

  return {
    findByHash: (tokenHash) =>
      db.selectFrom("refresh_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst(),

    findByHashWithUser: (tokenHash) =>
      db
        .selectFrom("refresh_tokens")
        .innerJoin("users", "users.id", "refresh_tokens.user_id")
        .selectAll("refresh_tokens")
        .select("users.active as user_active")
        .where("refresh_tokens.token_hash", "=", tokenHash)
        .executeTakeFirst(),

    findById: (id) => db.selectFrom("refresh_tokens").selectAll().where("id", "=", id).executeTakeFirst(),

    async insert(row) {
      await db.insertInto("refresh_tokens").values(row).execute();
    },

    rotate: (id, rotation, successor) =>
      dialect === "postgres"
        ? rotateOnPostgres(id, rotation, successor)
        : rotateOnSqlite(id, rotation, successor),

    async liveFamilies(userId, clientId) {
      const rows = await db
        .selectFrom("refresh_tokens")
        .select("family_id")
        .distinct()
        .where("user_id", "=", userId)
        .where("client_id", "=", clientId)
        .where("revoked_at", "is", null)
        .execute();
      return rows.map((r) => r.family_id);
    },

    async clearSealedSuccessors(now) {
      await db
        .updateTable("refresh_tokens")
        .set({ successor: null })
        .where("successor_until", "<=", now)
        .where("successor", "is not", null)
        .execute();
    },

    async deleteExpiredFamilies(now) {
      const result = await db
        .deleteFrom("refresh_tokens")
        .where("family_expires_at", "<=", now)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
