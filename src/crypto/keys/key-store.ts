/**
 * Tessera's signing keys: generated on first start, sealed at rest, rotated ahead of use, published as JWKS.
 *
 * Rules:
 * - For each algorithm there is one `active` key (signs) and one `next` key (published, not yet signing), so
 *   verifiers that cache the JWKS already know a key before the first token signed with it arrives.
 * - Rotation promotes `next` to `active` only once it has been published for at least `publishLeadTime`
 *   (the JWKS `max-age`), unless forced; the old active key becomes `retired`.
 * - A retired key stays in the JWKS until every token it signed has expired: `jwtMaxLifetime` (which
 *   `sign` enforces on every token) plus the 60 s clock tolerance. Then it is deleted.
 * - Private keys are sealed with the master key (AES-256-GCM, AAD `signing-key:<kid>`); only the private
 *   keys of `active` keys are ever decrypted, and never leave this module except as KeyObjects.
 * - Rotation steps are conditional updates in one transaction: concurrent rotations on several instances
 *   produce one winner, and only the winner's transaction writes the `key.rotated` domain event (src/events).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import type { JWK } from "jose";
import { type EventOutbox, NO_EVENTS } from "../../events/outbox.js";
import type { Clock } from "../../lib/clock.js";
import { KeyError } from "../../lib/errors.js";
import type { SigningKeyRow, SigningKeyStatus, SigningKeysRepository } from "../../storage/index.js";
import {
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  type JwtClaims,
  MAX_CLOCK_TOLERANCE,
  type SigningKeyHandle,
  signJwt,
  type VerificationKey,
  type VerifiedJwt,
  type VerifyJwtOptions,
  verifyJwt,
} from "../jwt/index.js";
import type { MasterKey } from "../master-key.js";
import { generateSigningKey } from "./generate.js";

export interface KeyStoreOptions {
  /** Where the keys are stored: `signingKeysRepository(storage.db)`. */
  repository: SigningKeysRepository;
  masterKey: MasterKey;
  clock: Clock;
  /** Longest lifetime, in seconds, of any JWT signed by Tessera. */
  jwtMaxLifetime: number;
  /** Seconds a next key must have been published before it may sign (the JWKS cache max-age). */
  publishLeadTime: number;
  /** Seconds between scheduled rotations; 0 disables them. */
  rotationInterval: number;
  algorithms?: readonly JwsAlgorithm[];
  /** Called once per signed token with its kind (the `typ`, or `jwt`), e.g. to count issuance. */
  onIssue?: (kind: string) => void;
  /** Where `key.rotated` events are written (absent: none). */
  events?: EventOutbox;
}

export interface KeySummary {
  kid: string;
  alg: JwsAlgorithm;
  status: SigningKeyStatus;
  createdAt: number;
  activatedAt: number | null;
  retiredAt: number | null;
  expiresAt: number | null;
}

export interface RotationResult {
  alg: JwsAlgorithm;
  rotated: boolean;
  activated?: string;
  retired: string[];
  published?: string;
}

interface LoadedKey extends VerificationKey {
  status: SigningKeyStatus;
  publicJwk: JWK;
  expiresAt: number | null;
}

interface Snapshot {
  byKid: Map<string, LoadedKey>;
  active: Map<JwsAlgorithm, SigningKeyHandle>;
  summaries: KeySummary[];
}

const sealContext = (kid: string) => `signing-key:${kid}`;

export class KeyStore {
  readonly #options: KeyStoreOptions;
  readonly #algorithms: readonly JwsAlgorithm[];
  #snapshot: Snapshot = { byKid: new Map(), active: new Map(), summaries: [] };

  private constructor(options: KeyStoreOptions) {
    this.#options = options;
    this.#algorithms = options.algorithms ?? JWS_ALGORITHMS;
  }

  /** Opens the key store: creates missing active/next keys, then loads them. */
  static async open(options: KeyStoreOptions): Promise<KeyStore> {
    const store = new KeyStore(options);
    await store.ensureKeys();
    return store;
  }

  /** Creates an active and a next key for every algorithm that lacks one. Safe to call repeatedly. */
  async ensureKeys(): Promise<void> {
    const rows = await this.#options.repository.list();
    const now = this.#options.clock.now();
    for (const alg of this.#algorithms) {
      const mine = rows.filter((r) => r.alg === alg);
      if (!mine.some((r) => r.status === "active")) await this.#insertNew(alg, "active", now);
      if (!mine.some((r) => r.status === "next")) await this.#insertNew(alg, "next", now);
    }
    await this.reload();
  }

  async #insertNew(alg: JwsAlgorithm, status: "active" | "next", now: number): Promise<string> {
    const row = await this.#newKeyRow(alg, status, now);
    await this.#options.repository.insert(row);
    return row.kid;
  }

  /** A new key, sealed, as its row: generated before any transaction (RSA key generation takes a while). */
  async #newKeyRow(alg: JwsAlgorithm, status: "active" | "next", now: number): Promise<SigningKeyRow> {
    const key = await generateSigningKey(alg);
    const der = key.privateKey.export({ format: "der", type: "pkcs8" });
    return {
      kid: key.kid,
      alg,
      status,
      public_jwk: JSON.stringify(key.publicJwk),
      private_key: this.#options.masterKey.seal(der, sealContext(key.kid)),
      created_at: now,
      activated_at: status === "active" ? now : null,
      retired_at: null,
      expires_at: null,
    };
  }

  /** Re-reads the keys from the database (another instance may have rotated). */
  async reload(): Promise<void> {
    const rows = await this.#options.repository.list();
    const byKid = new Map<string, LoadedKey>();
    const active = new Map<JwsAlgorithm, SigningKeyHandle>();
    // Several active keys for one algorithm happen only when instances race at first start: sign with the
    // most recently activated; the others stay valid until the next rotation retires them.
    const byActivation = [...rows].sort(
      (a, b) => (b.activated_at ?? 0) - (a.activated_at ?? 0) || a.kid.localeCompare(b.kid),
    );
    for (const row of byActivation) {
      const alg = row.alg as JwsAlgorithm;
      const publicJwk = JSON.parse(row.public_jwk) as JWK;
      const publicKey: KeyObject = createPublicKey({
        key: publicJwk as import("node:crypto").JsonWebKey,
        format: "jwk",
      });
      byKid.set(row.kid, {
        kid: row.kid,
        alg,
        publicKey,
        status: row.status,
        publicJwk,
        expiresAt: row.expires_at,
      });
      if (row.status === "active" && !active.has(alg)) {
        const der = this.#options.masterKey.open(row.private_key, sealContext(row.kid));
        active.set(alg, {
          kid: row.kid,
          alg,
          privateKey: createPrivateKey({ key: der, format: "der", type: "pkcs8" }),
        });
      }
    }
    const summaries = rows.map((r) => ({
      kid: r.kid,
      alg: r.alg as JwsAlgorithm,
      status: r.status,
      createdAt: r.created_at,
      activatedAt: r.activated_at,
      retiredAt: r.retired_at,
      expiresAt: r.expires_at,
    }));
    this.#snapshot = { byKid, active, summaries };
  }

  #isPublished(key: LoadedKey, now: number): boolean {
    return key.expiresAt === null || key.expiresAt > now;
  }

  /** The key that signs for `alg` now. */
  signingKey(alg: JwsAlgorithm = "EdDSA"): SigningKeyHandle {
    const key = this.#snapshot.active.get(alg);
    if (key === undefined) throw new KeyError("key_not_found", `no active ${alg} signing key`);
    return key;
  }

  /** Finds a published key by kid (next, active, or retired and not yet expired). */
  readonly resolve = (kid: string): VerificationKey | undefined => {
    const key = this.#snapshot.byKid.get(kid);
    return key !== undefined && this.#isPublished(key, this.#options.clock.now()) ? key : undefined;
  };

  /** Signs a JWT with the active key for `alg`; `exp` may not be further than `jwtMaxLifetime` away. */
  sign(claims: JwtClaims, options: { typ?: string; alg?: JwsAlgorithm } = {}): string {
    const token = signJwt(claims, {
      key: this.signingKey(options.alg),
      ...(options.typ === undefined ? {} : { typ: options.typ }),
      maxLifetime: this.#options.jwtMaxLifetime,
      now: this.#options.clock.now,
    });
    this.#options.onIssue?.(options.typ ?? "jwt");
    return token;
  }

  /** Verifies a JWT signed by one of this store's published keys. */
  verify(token: string, options: Omit<VerifyJwtOptions, "keys" | "now"> = {}): VerifiedJwt {
    return verifyJwt(token, { ...options, keys: this.resolve, now: this.#options.clock.now });
  }

  /** The public JWK Set (RFC 7517 §5): next, active and unexpired retired keys. */
  jwks(): { keys: JWK[] } {
    const now = this.#options.clock.now();
    const keys: JWK[] = [];
    for (const key of this.#snapshot.byKid.values())
      if (this.#isPublished(key, now)) keys.push(key.publicJwk);
    return { keys };
  }

  list(): KeySummary[] {
    return this.#snapshot.summaries.map((s) => ({ ...s }));
  }

  /**
   * Rotates the keys of one algorithm (or all): next → active, active → retired, and a new next key.
   * Refuses (`key_rotation_too_soon`) while the next key is younger than `publishLeadTime`, unless `force`.
   */
  async rotate(options: { alg?: JwsAlgorithm; force?: boolean } = {}): Promise<RotationResult[]> {
    const now = this.#options.clock.now();
    const algs = options.alg ? [options.alg] : this.#algorithms;
    const rows = await this.#options.repository.list();
    // Check every algorithm before changing any, so a refusal changes nothing.
    const plans = algs.map((alg) => {
      const next = rows
        .filter((r) => r.alg === alg && r.status === "next")
        .sort((a, b) => a.created_at - b.created_at)[0];
      if (next && !options.force && now - next.created_at < this.#options.publishLeadTime * 1000) {
        const wait = Math.ceil((next.created_at + this.#options.publishLeadTime * 1000 - now) / 1000);
        throw new KeyError(
          "key_rotation_too_soon",
          `the next ${alg} key was published ${Math.floor((now - next.created_at) / 1000)}s ago; verifiers may cache the JWKS for ${this.#options.publishLeadTime}s. Retry in ${wait}s, or force it.`,
        );
      }
      return { alg, next, actives: rows.filter((r) => r.alg === alg && r.status === "active") };
    });
    const results: RotationResult[] = [];
    const outbox = this.#options.events ?? NO_EVENTS;
    const retention = (this.#options.jwtMaxLifetime + MAX_CLOCK_TOLERANCE) * 1000;
    for (const { alg, next, actives } of plans) {
      // The keys are made before the transaction: it holds the database's write lock (SQLite) while it runs,
      // and key generation (RSA: hundreds of milliseconds) would hold up every other writer that long.
      const activeRow = next === undefined ? await this.#newKeyRow(alg, "active", now) : undefined;
      const nextRow = await this.#newKeyRow(alg, "next", now);
      const result = await this.#options.repository.transaction(async (trx) => {
        let activated = next?.kid;
        if (activeRow !== undefined) {
          await trx.insert(activeRow);
          activated = activeRow.kid;
        } else if (
          activated === undefined ||
          !(await trx.transition({
            kid: activated,
            from: "next",
            to: "active",
            at: now,
          }))
        ) {
          return { alg, rotated: false, retired: [] } satisfies RotationResult;
        }
        const retired: string[] = [];
        for (const row of actives) {
          const ok = await trx.transition({
            kid: row.kid,
            from: "active",
            to: "retired",
            at: now,
            expiresAt: now + retention,
          });
          if (ok) retired.push(row.kid);
        }
        await trx.insert(nextRow);
        await trx.insertEvents(
          outbox.events({
            type: "key.rotated",
            userId: null,
            data: { alg, activated: activated ?? null, retired: retired.join(" "), published: nextRow.kid },
          }),
        );
        return { alg, rotated: true, activated, retired, published: nextRow.kid } satisfies RotationResult;
      });
      if (result.rotated) outbox.committed();
      results.push(result);
    }
    await this.#options.repository.deleteExpired(now);
    await this.reload();
    return results;
  }

  /** Rotates every algorithm whose active key is older than `rotationInterval`. */
  async rotateDue(): Promise<RotationResult[]> {
    const interval = this.#options.rotationInterval * 1000;
    if (interval <= 0) return [];
    const now = this.#options.clock.now();
    const results: RotationResult[] = [];
    for (const alg of this.#algorithms) {
      const active = this.#snapshot.summaries.find((s) => s.alg === alg && s.status === "active");
      if (active && (active.activatedAt ?? active.createdAt) + interval <= now) {
        try {
          results.push(...(await this.rotate({ alg })));
        } catch (error) {
          if (!(error instanceof KeyError && error.code === "key_rotation_too_soon")) throw error;
        }
      }
    }
    return results;
  }
}
