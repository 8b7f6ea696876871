/**
 * Signed checkpoints: a chain's head (chain id, seq, hash) signed with Tessera's current signing key as a compact
 * JWS, so that anyone holding the JWKS can check that the chain up to that seq is what Tessera wrote.
 *
 * - Protected header `{"alg","kid","typ":"audit-checkpoint+jwt"}`; payload `{iss, iat, chain_id, seq, hash, at}`.
 *   No `exp`, no `aud`, no `sub`: it grants nothing, and Tessera's token verifiers (which require `exp`) and any
 *   relying party (which requires `aud`) refuse it as a token.
 * - Signed off the request path: by the audit log's writer after a batch, on its timer, and at close.
 * - Keys retire: a retired key leaves the JWKS once every token it signed has expired, and the checkpoints it
 *   signed could no longer be checked. When the signing key changes, the newest checkpoint of each chain that is
 *   not yet signed with the new key is verified with the old (still published) key and signed again with the new
 *   one, keeping its `at`; the newest checkpoint vouches for the whole chain before it.
 */
import { CompactSign, compactVerify } from "jose";
import type { SigningKeyHandle, VerificationKey } from "../crypto/index.js";
import type { Clock } from "../lib/clock.js";
import type { AuditCheckpointRow, AuditEventsRepository } from "../storage/index.js";
import type { ChainState } from "./chain.js";
import { isHash } from "./record-hash.js";
import { CHECKPOINT_TYP, type CheckpointPayload } from "./verify.js";

/** The part of the key store checkpoints use (`KeyStore`). */
export interface CheckpointKeys {
  /** The key that signs now. */
  signingKey(): SigningKeyHandle;
  /** A published key by kid (for checking a checkpoint before signing it again). */
  resolve(kid: string): VerificationKey | undefined;
}

export async function signCheckpoint(key: SigningKeyHandle, payload: CheckpointPayload): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: CHECKPOINT_TYP })
    .sign(key.privateKey);
}

/** A checkpoint's row, from what was signed. */
export function checkpointRow(
  id: string,
  payload: CheckpointPayload,
  jws: string,
  kid: string,
): AuditCheckpointRow {
  return { id, chain_id: payload.chain_id, seq: payload.seq, hash: payload.hash, at: payload.at, kid, jws };
}

/** The payload of a stored checkpoint if it verifies with its (published) key and matches its row. */
async function verifiedPayload(
  row: AuditCheckpointRow,
  keys: CheckpointKeys,
): Promise<CheckpointPayload | undefined> {
  const key = keys.resolve(row.kid);
  if (key === undefined) return undefined;
  try {
    const { payload, protectedHeader } = await compactVerify(row.jws, key.publicKey, {
      algorithms: [key.alg],
    });
    if (protectedHeader.typ !== CHECKPOINT_TYP || protectedHeader.kid !== row.kid) return undefined;
    const p = JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload;
    const matches =
      p.chain_id === row.chain_id &&
      p.seq === row.seq &&
      p.hash === row.hash &&
      p.at === row.at &&
      isHash(p.hash);
    return matches ? p : undefined;
  } catch {
    return undefined;
  }
}

export interface ReattestOptions {
  repository: AuditEventsRepository;
  keys: CheckpointKeys;
  clock: Clock;
  issuer?: string;
  /** A new checkpoint id. */
  newId: () => string;
}

/**
 * Signs again, with the current key, the newest checkpoint of every chain that has none signed with it, after
 * checking the old signature with its still-published key. Returns how many were signed again; a checkpoint whose
 * key is already gone (or whose signature fails) is left alone (`tessera audit verify` reports it).
 */
export async function reattestCheckpoints(options: ReattestOptions): Promise<number> {
  const key = options.keys.signingKey();
  const byChain = new Map<string, AuditCheckpointRow[]>();
  for (const row of await options.repository.latestCheckpoints()) {
    byChain.get(row.chain_id)?.push(row) ?? byChain.set(row.chain_id, [row]);
  }
  let signed = 0;
  for (const rows of byChain.values()) {
    if (rows.some((row) => row.kid === key.kid)) continue;
    for (const row of rows) {
      const payload = await verifiedPayload(row, options.keys);
      if (payload === undefined) continue;
      const again: CheckpointPayload = {
        ...(options.issuer === undefined ? {} : { iss: options.issuer }),
        iat: Math.floor(options.clock.now() / 1000),
        chain_id: payload.chain_id,
        seq: payload.seq,
        hash: payload.hash,
        at: payload.at,
      };
      const jws = await signCheckpoint(key, again);
      await options.repository.insertCheckpoint(checkpointRow(options.newId(), again, jws, key.kid));
      signed++;
      break;
    }
  }
  return signed;
}

export interface CheckpointOptions {
  /** `KeyStore` (its `signingKey` and `resolve`). */
  keys: CheckpointKeys;
  /** The `iss` of the signed checkpoints. */
  issuer?: string;
  /** Records between checkpoints (default 1000, `CHECKPOINT_EVERY`). */
  every?: number;
  /**
   * Longest wait, ms, between a record being stored and a checkpoint covering it (default
   * 30 000, `CHECKPOINT_INTERVAL_MS`); also how often a change of signing key is looked for.
   */
  intervalMs?: number;
  /** Signing or storing a checkpoint failed (it is tried again at the next one; no event is lost). */
  onError?: (error: unknown) => void;
}

export interface Checkpointer {
  /** Signs the chain's acknowledged head if records came after its last checkpoint (errors go to `onError`). */
  sign(chain: ChainState): Promise<void>;
  /** When the signing key changed since the last call (or this is the first), signs other chains' heads again. */
  signAgainAfterKeyChange(): Promise<void>;
}

/** The audit log's checkpoints: signed off the request path, failures reported, never thrown. */
export function createCheckpointer(
  options: CheckpointOptions & { repository: AuditEventsRepository; clock: Clock; newId: () => string },
): Checkpointer {
  const { repository, clock, keys, issuer } = options;
  const report = (error: unknown) => {
    if (options.onError) options.onError(error);
    else process.emitWarning(`audit log: checkpoint failed: ${(error as Error)?.message ?? error}`);
  };
  /** The signing key's id when checkpoints were last signed again (undefined: not yet in this process). */
  let attestedKid: string | undefined;
  return {
    async sign(chain) {
      if (chain.confirmedSeq <= chain.signedSeq) return;
      try {
        const key = keys.signingKey();
        const now = clock.now();
        const payload: CheckpointPayload = {
          ...(issuer === undefined ? {} : { iss: issuer }),
          iat: Math.floor(now / 1000),
          chain_id: chain.id,
          seq: chain.confirmedSeq,
          hash: chain.confirmedHead.toString("hex"),
          at: now,
        };
        const jws = await signCheckpoint(key, payload);
        await repository.insertCheckpoint(checkpointRow(options.newId(), payload, jws, key.kid));
        chain.signedSeq = payload.seq;
      } catch (error) {
        report(error);
      }
    },
    async signAgainAfterKeyChange() {
      try {
        const kid = keys.signingKey().kid;
        if (kid === attestedKid) return;
        await reattestCheckpoints({
          repository,
          keys,
          clock,
          newId: options.newId,
          ...(issuer === undefined ? {} : { issuer }),
        });
        attestedKid = kid;
      } catch (error) {
        report(error);
      }
    },
  };
}
