/**
 * Checking a signed checkpoint with nothing but a JWKS (`jose`): the JWS verifies with a published key (EdDSA,
 * ES256 or RS256; `typ` `audit-checkpoint+jwt`), its stored fields equal its signed payload. A key no longer in the
 * JWKS makes it `unverifiable` (a retired key gone), not invalid; two verified checkpoints naming different hashes
 * at one seq are a problem.
 */
import { type CompactVerifyResult, compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from "jose";
import { isHash } from "./record-hash.js";
import {
  type AuditProblem,
  type AuditProblemKind,
  CHECKPOINT_TYP,
  type CheckpointPayload,
  type CheckpointRecord,
} from "./verify-types.js";

const ALGORITHMS = ["EdDSA", "ES256", "RS256"];

export type CheckpointCheck =
  | { status: "verified"; payload: CheckpointPayload; kid: string }
  | { status: "unverifiable"; kid: string | undefined }
  | { status: "invalid"; problem: AuditProblem };

const checkpointProblem = (
  checkpoint: CheckpointRecord,
  kind: AuditProblemKind,
  what: string,
): { status: "invalid"; problem: AuditProblem } => ({
  status: "invalid",
  problem: {
    kind,
    chainId: checkpoint.chain_id,
    seq: checkpoint.seq,
    recordId: checkpoint.id,
    message: `checkpoint ${checkpoint.id} of chain ${checkpoint.chain_id} at seq ${checkpoint.seq}: ${what}`,
  },
});

function isPayload(value: unknown): value is CheckpointPayload {
  const p = value as Partial<CheckpointPayload> | null;
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.chain_id === "string" &&
    Number.isSafeInteger(p.seq) &&
    (p.seq as number) >= 1 &&
    isHash(p.hash) &&
    Number.isSafeInteger(p.at) &&
    typeof p.iat === "number" &&
    (p.iss === undefined || typeof p.iss === "string")
  );
}

/** A JWKS as a key finder for `jose`, built once per verification. */
export function checkpointKeys(jwks: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  return createLocalJWKSet(jwks);
}

/**
 * Checks a checkpoint's JWS against the JWKS and its stored columns against what was signed. A JWS whose key is not
 * in the JWKS is `unverifiable` (a key retired and gone), not invalid.
 */
export async function verifyCheckpoint(
  checkpoint: CheckpointRecord,
  keys: ReturnType<typeof createLocalJWKSet>,
): Promise<CheckpointCheck> {
  let result: CompactVerifyResult;
  try {
    result = await compactVerify(checkpoint.jws, keys, { algorithms: ALGORITHMS });
  } catch (error) {
    if (error instanceof errors.JWKSNoMatchingKey) {
      let kid: string | undefined;
      try {
        const header = JSON.parse(
          Buffer.from(checkpoint.jws.split(".")[0] ?? "", "base64url").toString("utf8"),
        );
        kid = typeof header?.kid === "string" ? header.kid : undefined;
      } catch {
        kid = undefined;
      }
      return { status: "unverifiable", kid };
    }
    return checkpointProblem(
      checkpoint,
      "checkpoint-invalid",
      "its signature does not verify (forged or changed)",
    );
  }
  if (result.protectedHeader.typ !== CHECKPOINT_TYP || typeof result.protectedHeader.kid !== "string") {
    return checkpointProblem(checkpoint, "checkpoint-invalid", `the JWS is not an audit checkpoint (typ)`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(result.payload));
  } catch {
    payload = undefined;
  }
  if (!isPayload(payload)) {
    return checkpointProblem(checkpoint, "checkpoint-invalid", "its signed payload is not a checkpoint");
  }
  if (
    payload.chain_id !== checkpoint.chain_id ||
    payload.seq !== checkpoint.seq ||
    payload.hash !== checkpoint.hash ||
    payload.at !== checkpoint.at
  ) {
    return checkpointProblem(
      checkpoint,
      "checkpoint-changed",
      `its stored fields differ from what was signed (signed: seq ${payload.seq}, hash ${payload.hash})`,
    );
  }
  return { status: "verified", payload, kid: result.protectedHeader.kid };
}

/** Checks a chain's checkpoints; the signed hashes by seq and the counts for its report. */
export async function checkCheckpoints(
  checkpoints: readonly CheckpointRecord[],
  keys: ReturnType<typeof createLocalJWKSet>,
): Promise<{
  signed: Map<number, string>;
  verified: number;
  unverifiable: number;
  problems: AuditProblem[];
}> {
  const signed = new Map<number, string>();
  const problems: AuditProblem[] = [];
  let verified = 0;
  let unverifiable = 0;
  for (const checkpoint of checkpoints) {
    const check = await verifyCheckpoint(checkpoint, keys);
    if (check.status === "verified") {
      verified++;
      const earlier = signed.get(check.payload.seq);
      if (earlier !== undefined && earlier !== check.payload.hash) {
        problems.push({
          kind: "checkpoint-invalid",
          chainId: checkpoint.chain_id,
          seq: checkpoint.seq,
          recordId: checkpoint.id,
          message: `checkpoint ${checkpoint.id} of chain ${checkpoint.chain_id}: two signed checkpoints name different hashes at seq ${checkpoint.seq}`,
        });
      }
      signed.set(check.payload.seq, check.payload.hash);
    } else if (check.status === "unverifiable") unverifiable++;
    else problems.push(check.problem);
  }
  return { signed, verified, unverifiable, problems };
}
