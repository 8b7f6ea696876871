/**
 * Shared by the encrypted-token tests (test/oauth/jwe*.test.ts): the recipient's key pairs, and decrypting and
 * verifying with `jose` (an implementation independent of Tessera's) against Tessera's published JWKS.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import type { FastifyInstance } from "fastify";
import {
  type CompactJWEHeaderParameters,
  compactDecrypt,
  createLocalJWKSet,
  exportJWK,
  importJWK,
  type JWK,
  jwtVerify,
} from "jose";
import type { CryptoKey } from "openid-client";

export type KeyKind = "ec" | "rsa" | "x25519";

export interface RecipientKey {
  kid: string | undefined;
  privateKey: KeyObject;
  /** The public JWK as a client registers it (with `kid` and `use: "enc"` unless told otherwise). */
  publicJwk: JWK;
  /** The private key as a WebCrypto key for `alg` (openid-client wants one). */
  cryptoKey(alg: string): Promise<CryptoKey>;
}

/** A fresh key pair of `kind` (P-256, RSA 2048 or X25519). */
export async function recipientKey(
  kind: KeyKind,
  options: { kid?: string | null; use?: string | null; alg?: string; modulusLength?: number } = {},
): Promise<RecipientKey> {
  const { privateKey, publicKey } =
    kind === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : kind === "x25519"
        ? generateKeyPairSync("x25519")
        : generateKeyPairSync("rsa", { modulusLength: options.modulusLength ?? 2048 });
  const kid =
    options.kid === null ? undefined : (options.kid ?? `${kind}-${Math.random().toString(36).slice(2, 8)}`);
  const publicJwk: JWK = {
    ...(await exportJWK(publicKey)),
    ...(kid === undefined ? {} : { kid }),
    ...(options.use === null ? {} : { use: options.use ?? "enc" }),
    ...(options.alg === undefined ? {} : { alg: options.alg }),
  };
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    privateKey,
    publicJwk,
    cryptoKey: async (alg) => (await importJWK(privateJwk, alg)) as CryptoKey,
  };
}

/** The five segments of a compact JWE, decrypted with `key`: its protected header and the JWS inside. */
export async function decryptNested(
  token: string,
  key: KeyObject,
): Promise<{ header: CompactJWEHeaderParameters; inner: string }> {
  const { plaintext, protectedHeader } = await compactDecrypt(token, key);
  return { header: protectedHeader, inner: new TextDecoder().decode(plaintext) };
}

/** Verifies a JWS against the JWKS the app publishes (jose's `jwtVerify`). */
export async function verifyWithJwks(
  app: FastifyInstance,
  jws: string,
  options: { issuer: string; audience: string; typ?: string },
) {
  const jwks = (await app.inject({ url: "/.well-known/jwks.json" })).json();
  return jwtVerify(jws, createLocalJWKSet(jwks), options);
}

/** The number of dot-separated segments: 3 for a JWS, 5 for a JWE. */
export const segments = (token: string) => token.split(".").length;
