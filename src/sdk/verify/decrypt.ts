/**
 * Encrypted access tokens (JWE, RFC 7516): when Tessera is set to encrypt the access tokens of this resource
 * server (docs/oauth.md, "Encrypted tokens"), the verifier decrypts them with the resource server's private
 * keys, then verifies the signed JWT inside like any other.
 *
 * - Only what Tessera sends: compact JWE, `alg` ECDH-ES+A256KW or RSA-OAEP-256, `enc` A256GCM or
 *   A128CBC-HS256, `cty: "JWT"` (a nested JWT, RFC 7519 §5.2), at most 16 KiB. Anything else is refused before
 *   any key is used.
 * - The key: the one whose `kid` the header names, when keys have ids; else the keys of the algorithm's type
 *   are tried in order (an RSA key for RSA-OAEP-256; an EC key on the header's `epk` curve, or X25519, for
 *   ECDH-ES+A256KW).
 * - Every failure (no key, wrong key, tampered ciphertext, not a nested JWT) is one refusal,
 *   `decryption_failed`, with nothing about why in the answer.
 */
import { createPrivateKey, type JsonWebKey, KeyObject, type webcrypto } from "node:crypto";
import { compactDecrypt, decodeProtectedHeader } from "jose";
import { JWE_ALGORITHMS, JWE_ENCRYPTIONS } from "../../crypto/jwe.js";
import { Refusal } from "./errors.js";

/** A private key the resource server decrypts with: a `KeyObject`, a `CryptoKey` or a private JWK. */
export type DecryptionKeyInput =
  | KeyObject
  | CryptoKey
  | JsonWebKey
  | { key: KeyObject | CryptoKey | JsonWebKey; kid?: string };

interface DecryptionKey {
  readonly key: KeyObject;
  readonly kid: string | undefined;
  /** `rsa`, or the curve of an ECDH key (`P-256`, …, `X25519`). */
  readonly type: string;
}

type CryptoKey = webcrypto.CryptoKey;

const MAX_JWE_LENGTH = 16 * 1024;
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const CURVES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

/** Whether a token has the shape of a compact JWE (five segments). */
export function looksEncrypted(token: string): boolean {
  return token.split(".", 6).length === 5;
}

function toKeyObject(input: KeyObject | CryptoKey | JsonWebKey): KeyObject {
  if (input instanceof KeyObject) return input;
  // The global class (Node ≥ 20 has it; `webcrypto.CryptoKey` is only a type there).
  const cryptoKey = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;
  if (cryptoKey !== undefined && input instanceof cryptoKey) return KeyObject.from(input as CryptoKey);
  return createPrivateKey({ key: input as JsonWebKey, format: "jwk" });
}

/** Checks and normalises the `decryptionKeys` option; TypeError for anything that cannot decrypt. */
export function decryptionKeysOf(inputs: readonly DecryptionKeyInput[]): readonly DecryptionKey[] {
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new TypeError("decryptionKeys must be a non-empty array of private keys");
  }
  return inputs.map((input) => {
    const wrapped = typeof input === "object" && input !== null && "key" in input && !("kty" in input);
    const source = wrapped ? (input as { key: KeyObject | CryptoKey | JsonWebKey }).key : input;
    let key: KeyObject;
    try {
      key = toKeyObject(source as KeyObject | CryptoKey | JsonWebKey);
    } catch {
      throw new TypeError("decryptionKeys: a key is not a private key");
    }
    if (key.type !== "private") throw new TypeError("decryptionKeys must be private keys");
    const kind = key.asymmetricKeyType;
    const type =
      kind === "rsa"
        ? "rsa"
        : kind === "x25519"
          ? "X25519"
          : kind === "ec"
            ? CURVES[String(key.asymmetricKeyDetails?.namedCurve)]
            : undefined;
    if (type === undefined) {
      throw new TypeError("decryptionKeys: keys are RSA, EC (P-256, P-384, P-521) or X25519 keys");
    }
    const kid = wrapped
      ? (input as { kid?: string }).kid
      : typeof (input as { kid?: unknown }).kid === "string"
        ? (input as { kid: string }).kid
        : undefined;
    return { key, kid, type };
  });
}

/**
 * Decrypts an encrypted access token to the signed JWT inside it; throws `Refusal("decryption_failed")`.
 * @see RFC 7516 §5.2, RFC 7519 §5.2
 */
export async function decryptAccessToken(token: string, keys: readonly DecryptionKey[]): Promise<string> {
  const fail = (): never => {
    throw new Refusal("decryption_failed");
  };
  if (token.length > MAX_JWE_LENGTH || !COMPACT_JWE.test(token)) fail();
  let h: Record<string, unknown> = {};
  try {
    h = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    fail();
  }
  if (typeof h.cty !== "string" || h.cty.toUpperCase() !== "JWT") fail();
  if (!(JWE_ALGORITHMS as readonly unknown[]).includes(h.alg)) fail();
  const curve = (h.epk as { crv?: unknown } | undefined)?.crv;
  const candidates = keys.filter(
    (k) =>
      (h.kid === undefined || k.kid === undefined || k.kid === h.kid) &&
      (h.alg === "RSA-OAEP-256" ? k.type === "rsa" : k.type === curve),
  );
  for (const candidate of candidates) {
    try {
      const { plaintext } = await compactDecrypt(token, candidate.key, {
        keyManagementAlgorithms: [...JWE_ALGORITHMS],
        contentEncryptionAlgorithms: [...JWE_ENCRYPTIONS],
      });
      return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
    } catch {
      // The next key, if any.
    }
  }
  return fail();
}
