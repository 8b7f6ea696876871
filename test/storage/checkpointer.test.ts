import SQLite from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { auditEventId } from "../../src/audit/index.js";
import { openTestStorage } from "../helpers/databases.js";

describe("SQLite WAL checkpoints run off the event loop", () => {
  it("a background worker checkpoints the WAL written by the main connection, and close() stops it", async () => {
    const storage = await openTestStorage("sqlite");
    try {
      const path = storage.url;
      const main = new SQLite(path);
      // The main connection no longer checkpoints at SQLite's default 1000 pages.
      const cap = (await import("kysely")).sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`;
      const [row] = (await cap.execute(storage.db)).rows;
      expect(row?.wal_autocheckpoint).toBeGreaterThan(1000);
      main.close();
      for (let batch = 0; batch < 20; batch++) {
        await storage.db
          .insertInto("audit_events")
          .values(
            Array.from({ length: 50 }, (_, i) => ({
              id: auditEventId(Date.now() + batch * 100 + i),
              at: Date.now(),
              type: "signout",
              outcome: "success" as const,
              user_id: null,
              actor: "test",
              ip: null,
              user_agent: "x".repeat(400),
              details: null,
            })),
          )
          .execute();
      }
      // Within a few checkpoint intervals, every WAL frame is copied back (log == checkpointed).
      await vi.waitFor(
        () => {
          const probe = new SQLite(path);
          try {
            const [result] = probe.pragma("wal_checkpoint(NOOP)") as { log: number; checkpointed: number }[];
            expect(result!.log).toBeGreaterThan(0);
            expect(result!.checkpointed).toBe(result!.log);
          } finally {
            probe.close();
          }
        },
        { timeout: 3000, interval: 100 },
      );
    } finally {
      await storage.close();
    }
  });
});
