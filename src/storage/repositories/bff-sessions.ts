/**
 * BFF sessions in SQLite or PostgreSQL (bff/stores/sql-store.ts): one table, `bff_sessions`, with its own
 * migration bookkeeping (`bff_migrations`) so the BFF can share a database with Tessera or use its own. The
 * table is therefore not in `Database` nor in Tessera's migrations: `migrate` creates it.
 *
 * - Times are epoch ms in `bigint` columns (read back as numbers on both dialects, see storage/connect.ts).
 * - Token replacement is one conditional `UPDATE … WHERE generation = ?`; its row count names the winner.
 */
import { type Kysely, type Migration, Migrator } from "kysely";
import type { Storage } from "../connect.js";

/** One BFF session as stored: the same shape as the BFF's `StoredSession` (bff/stores/session-store.ts). */
export interface BffSessionRecord {
  /** SHA-256 of the session id, base64url (the id itself is never stored). */
  idHash: string;
  sub: string;
  sid: string | null;
  claims: string;
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  accessExpiresAt: number;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  generation: number;
}

export type BffSessionTokens = Pick<
  BffSessionRecord,
  "accessToken" | "refreshToken" | "idToken" | "accessExpiresAt" | "claims" | "generation"
>;

export interface BffSessionsRepository {
  /** Creates the table and its indexes when missing (idempotent; its own migration bookkeeping). */
  migrate(): Promise<void>;
  create(session: BffSessionRecord): Promise<void>;
  get(idHash: string): Promise<BffSessionRecord | undefined>;
  /** Replaces the tokens when the stored generation is `expectedGeneration`; true when this call won. */
  replaceTokens(idHash: string, expectedGeneration: number, tokens: BffSessionTokens): Promise<boolean>;
  touch(idHash: string, lastSeenAt: number): Promise<void>;
  /** Deletes one session; answers it as it was, or undefined. */
  delete(idHash: string): Promise<BffSessionRecord | undefined>;
  /** Deletes every session with this `sid`; answers them as they were. */
  deleteBySid(sid: string): Promise<BffSessionRecord[]>;
  /** Deletes every session of this `sub`; answers them as they were. */
  deleteBySub(sub: string): Promise<BffSessionRecord[]>;
  /** Deletes sessions whose `expiresAt` is at or before `now`, or last seen before `idleBefore`. */
  purgeExpired(now: number, idleBefore: number): Promise<number>;
}

type BffSessionsTable = {
  id_hash: string;
  sub: string;
  sid: string | null;
  claims: string;
  access_token: string;
  refresh_token: string | null;
  id_token: string | null;
  access_expires_at: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  generation: number;
};

type BffTables = {
  bff_sessions: BffSessionsTable;
};

const migrations: Record<string, Migration> = {
  "0001_bff_sessions": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("bff_sessions")
        .ifNotExists()
        .addColumn("id_hash", "text", (c) => c.primaryKey())
        .addColumn("sub", "text", (c) => c.notNull())
        .addColumn("sid", "text")
        .addColumn("claims", "text", (c) => c.notNull())
        .addColumn("access_token", "text", (c) => c.notNull())
        .addColumn("refresh_token", "text")
        .addColumn("id_token", "text")
        .addColumn("access_expires_at", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("last_seen_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("generation", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("bff_sessions_sid")
        .ifNotExists()
        .on("bff_sessions")
        .column("sid")
        .execute();
      await db.schema
        .createIndex("bff_sessions_sub")
        .ifNotExists()
        .on("bff_sessions")
        .column("sub")
        .execute();
      await db.schema
        .createIndex("bff_sessions_expires_at")
        .ifNotExists()
        .on("bff_sessions")
        .column("expires_at")
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable("bff_sessions").ifExists().execute();
    },
  },
};

function toRecord(row: BffSessionsTable): BffSessionRecord {
  return {
    idHash: row.id_hash,
    sub: row.sub,
    sid: row.sid,
    claims: row.claims,
    accessToken: row.access_token,
    refreshToken: row.refresh_token,
    idToken: row.id_token,
    accessExpiresAt: Number(row.access_expires_at),
    createdAt: Number(row.created_at),
    lastSeenAt: Number(row.last_seen_at),
    expiresAt: Number(row.expires_at),
    generation: Number(row.generation),
  };
}

export function bffSessionsRepository(storage: Pick<Storage, "db" | "schema">): BffSessionsRepository {
  const db = storage.db.withTables<BffTables>() as unknown as Kysely<BffTables>;
  return {
    async migrate() {
      const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => migrations },
        migrationTableName: "bff_migrations",
        migrationLockTableName: "bff_migrations_lock",
        ...(storage.schema ? { migrationTableSchema: storage.schema } : {}),
      });
      const result = await migrator.migrateToLatest();
      if (result.error) throw result.error;
    },
    async create(s) {
      await db
        .insertInto("bff_sessions")
        .values({
          id_hash: s.idHash,
          sub: s.sub,
          sid: s.sid,
          claims: s.claims,
          access_token: s.accessToken,
          refresh_token: s.refreshToken,
          id_token: s.idToken,
          access_expires_at: s.accessExpiresAt,
          created_at: s.createdAt,
          last_seen_at: s.lastSeenAt,
          expires_at: s.expiresAt,
          generation: s.generation,
        })
        .execute();
    },
    async get(idHash) {
      const row = await db
        .selectFrom("bff_sessions")
        .selectAll()
        .where("id_hash", "=", idHash)
        .executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async replaceTokens(idHash, expectedGeneration, t) {
      const result = await db
        .updateTable("bff_sessions")
        .set({
          access_token: t.accessToken,
          refresh_token: t.refreshToken,
          id_token: t.idToken,
          access_expires_at: t.accessExpiresAt,
          claims: t.claims,
          generation: t.generation,
        })
        .where("id_hash", "=", idHash)
        .where("generation", "=", expectedGeneration)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async touch(idHash, lastSeenAt) {
      await db
        .updateTable("bff_sessions")
        .set({ last_seen_at: lastSeenAt })
        .where("id_hash", "=", idHash)
        .execute();
    },
    async delete(idHash) {
      const row = await db
        .deleteFrom("bff_sessions")
        .where("id_hash", "=", idHash)
        .returningAll()
        .executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async deleteBySid(sid) {
      const rows = await db.deleteFrom("bff_sessions").where("sid", "=", sid).returningAll().execute();
      return rows.map(toRecord);
    },
    async deleteBySub(sub) {
      const rows = await db.deleteFrom("bff_sessions").where("sub", "=", sub).returningAll().execute();
      return rows.map(toRecord);
    },
    async purgeExpired(now, idleBefore) {
      const result = await db
        .deleteFrom("bff_sessions")
        .where((eb) => eb.or([eb("expires_at", "<=", now), eb("last_seen_at", "<", idleBefore)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
