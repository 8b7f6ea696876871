/**
 * Versioned migrations, applied at start-up and by `tessera migrate`.
 *
 * Kysely's migrator takes a lock (a table on SQLite, an advisory lock on PostgreSQL), so several instances
 * starting at once apply each migration exactly once.
 */
import { type MigrationResultSet, Migrator } from "kysely";
import type { Storage } from "./connect.js";
import { migrations } from "./migrations/index.js";

export interface MigrationReport {
  applied: string[];
}

function migratorFor(storage: Storage): Migrator {
  return new Migrator({
    db: storage.db,
    provider: { getMigrations: async () => migrations },
    // Kysely looks for its bookkeeping tables in every schema unless told which one: with several Tessera
    // schemas in one database (one per deployment or test run) it must look in ours only.
    ...(storage.schema ? { migrationTableSchema: storage.schema } : {}),
  });
}

export async function migrateToLatest(storage: Storage): Promise<MigrationReport> {
  const migrator = migratorFor(storage);
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(
      `migration ${failed} failed: ${result.error instanceof Error ? result.error.message : String(result.error)}`,
      {
        cause: result.error,
      },
    );
  }
  const applied = (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  return { applied };
}
