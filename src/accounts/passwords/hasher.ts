/**
 * Password hashing with argon2id (`@node-rs/argon2`).
 *
 * - Parameters at least OWASP's (m = 19 MiB, t = 2, p = 1); the configuration may only raise them.
 * - Hashing and verifying never run on the event loop: on a pool of low-priority worker threads
 *   (`hash-pool.ts`, what the server uses) or else on libuv's thread pool.
 * - `needsRehash` tells when a stored hash used other parameters, so sign-in can upgrade it transparently.
 * - `verifyDummy` costs what a real verification costs: unknown users, disabled accounts and wrong passwords
 *   take the same time.
 * - The caller passes the NFKC-normalised password (`normalizePassword`); this module hashes what it gets.
 */
import { randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import type { HashPool } from "./hash-pool.js";

// `Algorithm` is an ambient const enum in the typings; 2 is Argon2id.
const ARGON2ID = 2;

export interface Argon2Parameters {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

export const OWASP_ARGON2: Argon2Parameters = { memoryKib: 19456, iterations: 2, parallelism: 1 };

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export interface PasswordHasher {
  readonly parameters: Argon2Parameters;
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a stored value that is not an argon2id hash. */
  verify(storedHash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification and returns false. */
  verifyDummy(password: string): Promise<false>;
  needsRehash(storedHash: string): boolean;
}

export function parseArgon2Parameters(storedHash: string): Argon2Parameters | undefined {
  const m = PHC.exec(storedHash);
  if (!m) return undefined;
  return { memoryKib: Number(m[1]), iterations: Number(m[2]), parallelism: Number(m[3]) };
}

export function createPasswordHasher(
  parameters: Argon2Parameters = OWASP_ARGON2,
  /** Low-priority worker threads for the hashing (recommended on servers); without, libuv's pool. */
  pool?: HashPool,
): PasswordHasher {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: parameters.memoryKib,
    timeCost: parameters.iterations,
    parallelism: parameters.parallelism,
    outputLen: 32,
  };
  // A hash at the current parameters starts with exactly this (what `needsRehash` checks first).
  const currentPrefix = `$argon2id$v=19$m=${parameters.memoryKib},t=${parameters.iterations},p=${parameters.parallelism}$`;
  let dummy: Promise<string> | undefined;
  const hasher: PasswordHasher = {
    parameters,
    hash: (password) => (pool ? pool.hash(password, options) : hash(password, options)),
    verify(storedHash, password) {
      if (!PHC.test(storedHash)) return Promise.resolve(false);
      // A plain promise chain, not an async function: one frame fewer to resume after each hash.
      try {
        return (pool ? pool.verify(storedHash, password) : verify(storedHash, password)).catch(() => false);
      } catch {
        return Promise.resolve(false);
      }
    },
    async verifyDummy(password) {
      dummy ??= hash(randomBytes(32).toString("base64url"), options);
      await hasher.verify(await dummy, password);
      return false;
    },
    needsRehash(storedHash) {
      // The common answer without parsing the parameters out: a well-formed hash at the current ones.
      if (storedHash.startsWith(currentPrefix) && PHC.test(storedHash)) return false;
      const stored = parseArgon2Parameters(storedHash);
      return (
        stored === undefined ||
        stored.memoryKib !== parameters.memoryKib ||
        stored.iterations !== parameters.iterations ||
        stored.parallelism !== parameters.parallelism
      );
    },
  };
  return hasher;
}
