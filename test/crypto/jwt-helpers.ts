/**
 * Test helpers for the JWT tests: keys, a resolver, a raw JWS signer that does not use Tessera's `signJwt`
 * (so tests can sign arbitrary header and payload bytes), and a way to capture either verifier's verdict.
 */
import { sign as cryptoSign, type KeyObject } from "node:crypto";
import {
  type GeneratedKey,
  generateSigningKey,
  type JwsAlgorithm,
  type KeyResolver,
  type VerifiedJwt,
} from "../../src/crypto/index.js";
import { TokenError, type TokenErrorReason } from "../../src/lib/errors.js";

export const ALGORITHMS = ["EdDSA", "ES256", "RS256"] as const satisfies readonly JwsAlgorithm[];

export function b64u(data: string | Uint8Array): string {
  return (typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data)).toString("base64url");
}

/** Signs `signingInput` the way RFC 7515/7518 say, straight on node:crypto (ECDSA as R || S). */
export function rawSignature(alg: JwsAlgorithm, privateKey: KeyObject, signingInput: string): Buffer {
  const input = Buffer.from(signingInput, "ascii");
  switch (alg) {
    case "EdDSA":
      return cryptoSign(null, input, privateKey);
    case "ES256":
      return cryptoSign("sha256", input, { key: privateKey, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return cryptoSign("sha256", input, privateKey);
  }
}

/** A compact JWS over arbitrary header and payload bytes (strings are taken as UTF-8). */
export function signRaw(
  key: { alg: JwsAlgorithm; privateKey: KeyObject },
  header: string | Uint8Array,
  payload: string | Uint8Array,
): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  return `${input}.${rawSignature(key.alg, key.privateKey, input).toString("base64url")}`;
}

export interface TestKeys {
  EdDSA: GeneratedKey;
  ES256: GeneratedKey;
  RS256: GeneratedKey;
  resolver: KeyResolver;
}

export async function makeKeys(): Promise<TestKeys> {
  const [EdDSA, ES256, RS256] = await Promise.all(ALGORITHMS.map((alg) => generateSigningKey(alg)));
  const byKid = new Map([EdDSA, ES256, RS256].map((k) => [k!.kid, k!]));
  return { EdDSA: EdDSA!, ES256: ES256!, RS256: RS256!, resolver: (kid) => byKid.get(kid) };
}

export type Outcome =
  | { ok: true; result: VerifiedJwt }
  | { ok: false; reason: TokenErrorReason | "not_a_token_error"; error: unknown };

function toOutcome(error: unknown): Outcome {
  return error instanceof TokenError
    ? { ok: false, reason: error.reason, error }
    : { ok: false, reason: "not_a_token_error", error };
}

export function outcomeOf(run: () => VerifiedJwt): Outcome {
  try {
    return { ok: true, result: run() };
  } catch (error) {
    return toOutcome(error);
  }
}

export async function asyncOutcomeOf(run: () => Promise<VerifiedJwt>): Promise<Outcome> {
  try {
    return { ok: true, result: await run() };
  } catch (error) {
    return toOutcome(error);
  }
}
