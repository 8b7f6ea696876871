/**
 * Opens the session store named by `BFF_DATABASE_URL`: `redis://` / `rediss://` → Redis; anything else is a
 * Tessera database location (a SQLite path or `postgres://…?schema=…`). The store's schema is created.
 */
import { openStorage } from "../../storage/index.js";
import { createRedisSessionStore } from "./redis-store.js";
import type { SessionStore } from "./session-store.js";
import { createSqlSessionStore } from "./sql-store.js";

export async function openSessionStore(options: {
  databaseUrl: string;
  idleTimeoutMs: number;
  now: () => number;
  redisPrefix?: string;
}): Promise<SessionStore> {
  const store = /^rediss?:\/\//.test(options.databaseUrl)
    ? createRedisSessionStore({
        url: options.databaseUrl,
        idleTimeoutMs: options.idleTimeoutMs,
        now: options.now,
        ...(options.redisPrefix ? { prefix: options.redisPrefix } : {}),
      })
    : createSqlSessionStore(await openStorage(options.databaseUrl));
  await store.migrate();
  return store;
}
