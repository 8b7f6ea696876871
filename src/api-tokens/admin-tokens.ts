/**
 * Admin tokens: bearer secrets for Tessera's admin API.
 *
 * - Format `tsr_adm_` + 256 random bits (base62) + CRC32 checksum: recognisable by secret scanners, and a
 *   mistyped token is refused without a database call.
 * - Stored only as SHA-256; the plain value is returned once, by `createAdminToken`.
 * - The bootstrap `TESSERA_ADMIN_TOKEN` from the configuration is compared in constant time.
 */
import { randomUUID } from "node:crypto";
import {
  constantTimeEqual,
  generateOpaqueToken,
  hashToken,
  isWellFormedOpaqueToken,
} from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { AdminTokensRepository } from "../storage/index.js";
import { createWriteBehind, type WriteBehind } from "../storage/write-behind.js";

export const ADMIN_TOKEN_FORMAT = { prefix: "tsr_adm_", checksum: true } as const;

export interface AdminPrincipal {
  /** `bootstrap` for the configured token, else the stored token's id. */
  tokenId: string;
  name: string;
}

export interface AdminTokenDeps {
  /** Where admin tokens are stored: `adminTokensRepository(storage.db)`. */
  repository: AdminTokensRepository;
  clock: Clock;
  /** The configured bootstrap token, if any. */
  bootstrapToken?: string | undefined;
  /** Writes last-use times behind the check (absent: written before answering). */
  lastUsed?: WriteBehind;
}

/** Mints an admin token. The returned `token` is the only copy of the secret. */
export async function createAdminToken(
  deps: AdminTokenDeps,
  input: { name: string },
): Promise<{ id: string; name: string; token: string }> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) throw new TypeError("name must be 1–200 characters");
  const token = generateOpaqueToken(ADMIN_TOKEN_FORMAT);
  const id = randomUUID();
  await deps.repository.insert({
    id,
    name,
    token_hash: hashToken(token),
    created_at: deps.clock.now(),
    last_used_at: null,
    revoked_at: null,
  });
  return { id, name, token };
}

/** Returns the principal for a valid admin token, or undefined. */
export async function authenticateAdminToken(
  deps: AdminTokenDeps,
  token: string,
): Promise<AdminPrincipal | undefined> {
  if (deps.bootstrapToken !== undefined && constantTimeEqual(token, deps.bootstrapToken)) {
    return { tokenId: "bootstrap", name: "TESSERA_ADMIN_TOKEN" };
  }
  if (!isWellFormedOpaqueToken(token, ADMIN_TOKEN_FORMAT)) return undefined;
  const row = await deps.repository.findActiveByHash(hashToken(token));
  if (row === undefined) return undefined;
  const now = deps.clock.now();
  // The row just read tells whether last use is stale: skip the write (and its round trip) when it is not.
  if (row.last_used_at === null || row.last_used_at < now - 60_000) {
    if (deps.lastUsed) deps.lastUsed.set(row.id, now);
    else await deps.repository.touch(row.id, now);
  }
  return { tokenId: row.id, name: row.name };
}

export async function listAdminTokens(deps: AdminTokenDeps) {
  const rows = await deps.repository.list();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

export function revokeAdminToken(deps: AdminTokenDeps, id: string): Promise<boolean> {
  return deps.repository.revoke(id, deps.clock.now());
}

/** Admin tokens as one service: what the admin API, the CLI and leak reports use. */
export interface AdminTokens {
  authenticate(token: string): Promise<AdminPrincipal | undefined>;
  create(input: { name: string }): Promise<{ id: string; name: string; token: string }>;
  list(): ReturnType<typeof listAdminTokens>;
  revoke(id: string): Promise<boolean>;
  /** For the leaked-token report: revokes a live stored admin token (never the configured bootstrap one). */
  revokeLeaked(token: string): Promise<{ kind: "admin"; userId: null } | undefined>;
  /** Writes pending last-use times now (they are otherwise written within a second). */
  flush(): Promise<void>;
  /** Writes pending last-use times and stops the writer. */
  close(): Promise<void>;
}

export function createAdminTokens(
  deps: Omit<AdminTokenDeps, "lastUsed"> & {
    /** Last-use times written behind the check, batched each second. Absent: written before answering. */
    writeBehind?: { onError(error: unknown): void };
  },
): AdminTokens {
  const lastUsed =
    deps.writeBehind &&
    createWriteBehind<number>({
      intervalMs: 1000,
      onError: deps.writeBehind.onError,
      async write(entries) {
        for (const [id, at] of entries) await deps.repository.touch(id, at);
      },
    });
  const full: AdminTokenDeps = { ...deps, ...(lastUsed ? { lastUsed } : {}) };
  return {
    authenticate: (token) => authenticateAdminToken(full, token),
    create: (input) => createAdminToken(full, input),
    list: () => listAdminTokens(full),
    revoke: (id) => revokeAdminToken(full, id),
    async revokeLeaked(token) {
      if (!isWellFormedOpaqueToken(token, ADMIN_TOKEN_FORMAT)) return undefined;
      const row = await deps.repository.findActiveByHash(hashToken(token));
      if (!row) return undefined;
      return (await deps.repository.revoke(row.id, deps.clock.now()))
        ? { kind: "admin", userId: null }
        : undefined;
    },
    flush: async () => {
      await lastUsed?.flush();
    },
    close: async () => {
      await lastUsed?.close();
    },
  };
}
