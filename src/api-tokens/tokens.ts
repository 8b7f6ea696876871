/**
 * API tokens: long-lived, scoped bearer credentials for scripts and services.
 *
 * - Two kinds: personal access tokens (`tsr_pat_…`, owned by a user, never more than the user's rights) and
 *   service-account keys (`tsr_svc_…`, owned by a service account: a non-human principal that an admin or a
 *   group owns).
 * - Format built for secret scanning: prefix naming the kind, 256 bits from the CSPRNG (base62) and a CRC32
 *   checksum, so a mistyped or foreign token is refused without a database call. Stored only as SHA-256;
 *   the plain value is returned once, by `create`.
 * - Scopes: `tessera:admin` (the admin API) and `tessera:scim` (SCIM) for Tessera itself; any other scope must
 *   be one a listed resource server accepts (`resources`, RFC 8707 indicators). A personal token may carry
 *   Tessera's scopes only while its owner is in the admin group; that is checked again on every use.
 * - Optional expiry (bounded by `apiTokenMaxLifetime`), optional IP allow-list (CIDR), last use written at
 *   most once a minute per token (behind the request), revocation effective at once here and, through the
 *   revocation feed, at resource servers within a poll.
 * - Domain events (src/events) in the transaction of the change: `api_token.created`, `api_token.revoked`
 *   and, for a token reported leaked, `api_token.leaked`.
 */
import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { generateOpaqueToken, hashToken, isWellFormedOpaqueToken } from "../crypto/index.js";
import { type EventOutbox, NO_EVENTS } from "../events/outbox.js";
import { createIpAllowList, parseCidr } from "../lib/cidr.js";
import type { Clock } from "../lib/clock.js";
import { ApiTokenError } from "../lib/errors.js";
import type { RevocationFeed } from "../revocation/index.js";
import type { ApiTokenOwnerRow, ApiTokenRow, ApiTokensRepository, ApiTokenUse } from "../storage/index.js";
import { createWriteBehind, type WriteBehind } from "../storage/write-behind.js";

export const PERSONAL_TOKEN_FORMAT = { prefix: "tsr_pat_", checksum: true } as const;
export const SERVICE_TOKEN_FORMAT = { prefix: "tsr_svc_", checksum: true } as const;
export const TESSERA_SCOPES = ["tessera:admin", "tessera:scim"] as const;
/** What the pages and the CLI offer when no expiry is given. */
export const DEFAULT_API_TOKEN_LIFETIME = 90 * 86_400;
const MAX_NAME = 200;
const MAX_SCOPES = 50;
const MAX_CIDRS = 50;
const LAST_USED_EVERY_MS = 60_000;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export type ApiTokenKind = "personal" | "service";

export interface ApiToken {
  id: string;
  kind: ApiTokenKind;
  name: string;
  /** The owning user (personal) or service account (service). */
  ownerId: string;
  scopes: string[];
  resources: string[];
  allowedIps: string[] | null;
  expiresAt: number | null;
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
  revokedAt: number | null;
  revokedReason: string | null;
}

/** A live token, as its bearer is allowed to use it right now. */
export interface ApiTokenPrincipal {
  tokenId: string;
  kind: ApiTokenKind;
  name: string;
  /** User id or service-account id: the token's `sub`. */
  subject: string;
  /** The owner's userName (personal) or the service account's name. */
  subjectName: string;
  scopes: string[];
  resources: string[];
  allowedIps: string[] | null;
  expiresAt: number | null;
  createdAt: number;
}

export interface CreateApiTokenInput {
  kind: ApiTokenKind;
  name: string;
  ownerId: string;
  scopes: readonly string[];
  resources?: readonly string[];
  /** Seconds from now; `null` for no expiry (only when the organisation allows it); default 90 days. */
  expiresIn?: number | null;
  allowedIps?: readonly string[] | null;
  /** Who asked (audit actor: `user:<id>`, `admin:<token id>`, `cli`). */
  createdBy: string;
}

export interface ApiTokenDeps {
  /** Where tokens are stored: `apiTokensRepository(storage.db)`. */
  repository: ApiTokensRepository;
  clock: Clock;
  audit: AuditLog;
  feed: RevocationFeed;
  /** Seconds; 0 = tokens may never expire. */
  maxLifetime: number;
  /** Whether the user holds the administrator right (only administrators' tokens carry Tessera's scopes). */
  isAdministrator(userId: string): Promise<boolean>;
  /**
   * Last-use times written behind the check (batched each second; `close` writes the rest). Absent: written
   * before answering (tests that read them at once).
   */
  writeBehind?: { onError(error: unknown): void };
  /** A writer of one's own instead (tests observe the writes). */
  lastUsed?: WriteBehind<ApiTokenUse>;
  /** Where the domain events of creations and revocations are written (absent: none). */
  events?: EventOutbox;
}

export interface ApiTokens {
  create(input: CreateApiTokenInput): Promise<{ token: string; apiToken: ApiToken }>;
  /**
   * The principal for a live token presented from `ip`, or undefined (one answer for every failure).
   * `checkIp: false` skips the allow-list (introspection: the caller is not the bearer).
   */
  authenticate(
    token: string,
    options?: { ip?: string | undefined; checkIp?: boolean },
  ): Promise<ApiTokenPrincipal | undefined>;
  get(id: string): Promise<ApiToken | undefined>;
  list(filter?: { kind?: ApiTokenKind; ownerId?: string }): Promise<ApiToken[]>;
  /** Revokes one token; false when it was unknown or already revoked. */
  revoke(id: string, options: { actor: string; reason?: string; ownerId?: string }): Promise<boolean>;
  /** Revokes every live token of an owner (user or service account). */
  revokeAllOf(ownerId: string, options: { actor: string; reason: string }): Promise<number>;
  /** Looks a presented value up for the leaked-token report: revokes it when it is a live API token. */
  revokeLeaked(token: string): Promise<ApiToken | undefined>;
  isAdmin(userId: string): Promise<boolean>;
  /** Writes pending last-use times and stops the writer. */
  close(): Promise<void>;
}

export function kindOfToken(token: string): ApiTokenKind | undefined {
  if (isWellFormedOpaqueToken(token, PERSONAL_TOKEN_FORMAT)) return "personal";
  if (isWellFormedOpaqueToken(token, SERVICE_TOKEN_FORMAT)) return "service";
  return undefined;
}

/** True for a value shaped like any API token prefix, even when its checksum is wrong. */
export function hasApiTokenPrefix(token: string): boolean {
  return token.startsWith(PERSONAL_TOKEN_FORMAT.prefix) || token.startsWith(SERVICE_TOKEN_FORMAT.prefix);
}

function toApiToken(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    ownerId: (row.kind === "personal" ? row.user_id : row.service_account_id) ?? "",
    scopes: row.scope === "" ? [] : row.scope.split(" "),
    resources: JSON.parse(row.resources) as string[],
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokedReason: row.revoked_reason,
  };
}

function cleanName(value: unknown): string {
  const name = typeof value === "string" ? value.normalize("NFKC").trim() : "";
  if (name.length === 0 || name.length > MAX_NAME || /\p{Cc}/u.test(name)) {
    throw new ApiTokenError("invalid_request", `The token name must be 1 to ${MAX_NAME} characters.`);
  }
  return name;
}

function cleanCidrs(value: readonly string[] | null | undefined): string[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_CIDRS) {
    throw new ApiTokenError("invalid_request", `allowedIps must list 1 to ${MAX_CIDRS} CIDR blocks.`);
  }
  const out: string[] = [];
  for (const entry of value) {
    const cidr = typeof entry === "string" ? parseCidr(entry.trim()) : undefined;
    if (!cidr) throw new ApiTokenError("invalid_request", `Not a CIDR block: ${JSON.stringify(entry)}.`);
    if (!out.includes(cidr.text)) out.push(cidr.text);
  }
  return out;
}

export function createApiTokens(deps: ApiTokenDeps): ApiTokens {
  const { repository, clock, audit, feed } = deps;
  const outbox = deps.events ?? NO_EVENTS;
  const lastUsed =
    deps.lastUsed ??
    (deps.writeBehind &&
      createWriteBehind<ApiTokenUse>({
        intervalMs: 1000,
        newer: (previous, next) => next.at > previous.at,
        onError: deps.writeBehind.onError,
        async write(entries) {
          for (const [id, use] of entries) await repository.recordUse(id, use);
        },
      }));
  const allowLists = new Map<string, (ip: string | undefined) => boolean>();

  function ipAllowed(cidrs: string, ip: string | undefined): boolean {
    let check = allowLists.get(cidrs);
    if (check === undefined) {
      check = createIpAllowList(JSON.parse(cidrs) as string[]);
      if (allowLists.size > 1000) allowLists.clear();
      allowLists.set(cidrs, check);
    }
    return check(ip);
  }

  const isAdmin = (userId: string) => deps.isAdministrator(userId);

  async function checkScopes(scopes: readonly string[], resources: readonly string[]): Promise<void> {
    if (scopes.length > MAX_SCOPES) throw new ApiTokenError("invalid_scope", "Too many scopes.");
    const registered = new Set<string>();
    for (const audience of resources) {
      const scope = await repository.resourceServerScope(audience);
      if (scope === undefined)
        throw new ApiTokenError("invalid_request", `Unknown resource server: ${audience}.`);
      for (const s of scope.split(" ")) if (s) registered.add(s);
    }
    for (const scope of scopes) {
      if (!SCOPE_TOKEN.test(scope)) throw new ApiTokenError("invalid_scope", "A scope is malformed.");
      if ((TESSERA_SCOPES as readonly string[]).includes(scope)) continue;
      if (!registered.has(scope)) {
        throw new ApiTokenError(
          "invalid_scope",
          `The scope ${scope} is not one of Tessera's or of a listed resource server's.`,
        );
      }
    }
  }

  async function owner(kind: ApiTokenKind, ownerId: string): Promise<{ name: string } | undefined> {
    if (kind === "personal") {
      const user = await repository.userOwner(ownerId);
      return user?.active === 1 ? { name: user.user_name } : undefined;
    }
    const account = await repository.serviceAccountOwner(ownerId);
    return account && account.disabled_at === null ? { name: account.name } : undefined;
  }

  async function markRevoked(rows: { id: string }[], actor: string, reason: string): Promise<number> {
    if (rows.length === 0) return 0;
    const now = clock.now();
    const ids = rows.map((r) => r.id);
    const count = await repository.revoke(
      ids,
      now,
      reason,
      outbox.eventsOf((revoked: readonly ApiTokenOwnerRow[]) =>
        revoked.map((row) => ({
          type: reason === "leaked" ? ("api_token.leaked" as const) : ("api_token.revoked" as const),
          userId: row.user_id,
          data: { tokenId: row.id, kind: row.kind, serviceAccountId: row.service_account_id, reason, actor },
        })),
      ),
    );
    if (count > 0) outbox.committed();
    await feed.record(ids.map((id) => ({ type: "jti" as const, value: id })));
    for (const id of ids) lastUsed?.delete(id);
    if (count > 0) {
      for (const row of await repository.owners(ids)) {
        await audit.record({
          type: reason === "leaked" ? "api_token.leaked" : "api_token.revoked",
          outcome: "success",
          userId: row.user_id,
          actor,
          details: { tokenId: row.id, kind: row.kind, serviceAccountId: row.service_account_id, reason },
        });
      }
    }
    return count;
  }

  return {
    isAdmin,

    close: async () => {
      await lastUsed?.close();
    },

    async create(input) {
      const name = cleanName(input.name);
      const kind = input.kind;
      if (kind !== "personal" && kind !== "service") {
        throw new ApiTokenError("invalid_request", "kind must be personal or service.");
      }
      const resources = [...new Set(input.resources ?? [])];
      const scopes = [...new Set(input.scopes)];
      await checkScopes(scopes, resources);
      const principal = await owner(kind, input.ownerId);
      if (!principal) {
        throw kind === "personal"
          ? new ApiTokenError("invalid_request", "The owner is not an active user.")
          : new ApiTokenError("service_account_not_found", "No such active service account.", 404);
      }
      if (
        kind === "personal" &&
        scopes.some((s) => (TESSERA_SCOPES as readonly string[]).includes(s)) &&
        !(await isAdmin(input.ownerId))
      ) {
        throw new ApiTokenError(
          "invalid_scope",
          "Only administrators may give a token Tessera's admin or SCIM scopes (tessera users grant-admin).",
        );
      }
      const expiresIn = input.expiresIn === undefined ? DEFAULT_API_TOKEN_LIFETIME : input.expiresIn;
      if (expiresIn === null) {
        if (deps.maxLifetime > 0) {
          throw new ApiTokenError(
            "invalid_request",
            `Tokens must expire: this organisation allows at most ${deps.maxLifetime} seconds.`,
          );
        }
      } else if (!Number.isInteger(expiresIn) || expiresIn < 60) {
        throw new ApiTokenError(
          "invalid_request",
          "expiresIn must be a whole number of seconds, at least 60.",
        );
      } else if (deps.maxLifetime > 0 && expiresIn > deps.maxLifetime) {
        throw new ApiTokenError(
          "invalid_request",
          `expiresIn may be at most ${deps.maxLifetime} seconds (the organisation's maximum).`,
        );
      }
      const allowedIps = cleanCidrs(input.allowedIps);
      const now = clock.now();
      const token = generateOpaqueToken(kind === "personal" ? PERSONAL_TOKEN_FORMAT : SERVICE_TOKEN_FORMAT);
      const row: ApiTokenRow = {
        id: randomUUID(),
        kind,
        name,
        token_hash: hashToken(token),
        user_id: kind === "personal" ? input.ownerId : null,
        service_account_id: kind === "service" ? input.ownerId : null,
        scope: scopes.join(" "),
        resources: JSON.stringify(resources),
        allowed_ips: allowedIps === null ? null : JSON.stringify(allowedIps),
        expires_at: expiresIn === null ? null : now + expiresIn * 1000,
        created_at: now,
        created_by: input.createdBy,
        last_used_at: null,
        last_used_ip: null,
        revoked_at: null,
        revoked_reason: null,
      };
      await repository.insert(
        row,
        outbox.events({
          type: "api_token.created",
          userId: row.user_id,
          data: {
            tokenId: row.id,
            kind,
            serviceAccountId: row.service_account_id,
            scope: row.scope,
            actor: input.createdBy,
          },
        }),
      );
      outbox.committed();
      await audit.record({
        type: "api_token.created",
        outcome: "success",
        userId: row.user_id,
        actor: input.createdBy,
        details: { tokenId: row.id, kind, serviceAccountId: row.service_account_id, scope: row.scope },
      });
      return { token, apiToken: toApiToken(row) };
    },

    async authenticate(token, options = {}) {
      const kind = kindOfToken(token);
      if (kind === undefined) return undefined;
      const row = await repository.findByHash(hashToken(token));
      if (!row || row.kind !== kind || row.revoked_at !== null) return undefined;
      const now = clock.now();
      if (row.expires_at !== null && Number(row.expires_at) <= now) return undefined;
      if (row.allowed_ips !== null && options.checkIp !== false && !ipAllowed(row.allowed_ips, options.ip)) {
        return undefined;
      }
      const apiToken = toApiToken(row);
      const principal = await owner(kind, apiToken.ownerId);
      if (!principal) return undefined;
      let scopes = apiToken.scopes;
      if (kind === "personal" && scopes.some((s) => (TESSERA_SCOPES as readonly string[]).includes(s))) {
        if (!(await isAdmin(apiToken.ownerId))) {
          scopes = scopes.filter((s) => !(TESSERA_SCOPES as readonly string[]).includes(s));
        }
      }
      if (apiToken.lastUsedAt === null || apiToken.lastUsedAt < now - LAST_USED_EVERY_MS) {
        // Introspection passes no address (the caller is the resource server, not the bearer): the last
        // known address is kept then.
        const use = { at: now, ip: options.ip ?? null };
        if (lastUsed) lastUsed.set(row.id, use);
        else await repository.recordUse(row.id, use);
      }
      return {
        tokenId: row.id,
        kind,
        name: row.name,
        subject: apiToken.ownerId,
        subjectName: principal.name,
        scopes,
        resources: apiToken.resources,
        allowedIps: apiToken.allowedIps,
        expiresAt: apiToken.expiresAt,
        createdAt: apiToken.createdAt,
      };
    },

    async get(id) {
      const row = await repository.findById(id);
      return row ? toApiToken(row) : undefined;
    },

    async list(filter = {}) {
      return (await repository.list(filter)).map(toApiToken);
    },

    async revoke(id, options) {
      const row = await repository.findById(id);
      if (!row || row.revoked_at !== null) return false;
      if (options.ownerId !== undefined && options.ownerId !== (row.user_id ?? row.service_account_id)) {
        return false;
      }
      return (await markRevoked([row], options.actor, options.reason ?? "revoked")) > 0;
    },

    async revokeAllOf(ownerId, options) {
      const ids = await repository.liveIdsOf(ownerId);
      return markRevoked(
        ids.map((id) => ({ id })),
        options.actor,
        options.reason,
      );
    },

    async revokeLeaked(token) {
      if (kindOfToken(token) === undefined) return undefined;
      const row = await repository.findByHash(hashToken(token));
      if (!row || row.revoked_at !== null) return undefined;
      await markRevoked([row], "leak-report", "leaked");
      return toApiToken({ ...row, revoked_at: clock.now(), revoked_reason: "leaked" });
    },
  };
}
