/**
 * Encrypted JWTs (JWE, RFC 7516; algorithms RFC 7518): the algorithms Tessera encrypts with, which of a
 * recipient's public keys it encrypts to, and the encryption itself (with `jose`).
 *
 * - Key management: `ECDH-ES+A256KW` (an EC P-256, P-384 or P-521 key, or an X25519 key) and `RSA-OAEP-256` (an
 *   RSA key of at least 2048 bits). Nothing else: no `RSA1_5` (padding oracles), no `dir` or AES key wrap (they
 *   need a secret shared with the recipient), no plain `ECDH-ES`.
 * - Content encryption: `A256GCM`, and `A128CBC-HS256`, which OpenID Connect Dynamic Client Registration §2 makes
 *   the default `enc` when a client names only an `alg` (and RFC 7518 §5.1 makes mandatory to implement).
 * - Nested JWTs only: a token is signed first, then encrypted, with `cty: "JWT"` (RFC 7519 §5.2, OpenID
 *   Connect Core §10.2 and §16.14: signing before encrypting keeps the signer's identity verifiable).
 * - A recipient's key is the first key of its JWK Set that is public, meant for encryption (`use: "enc"` or no
 *   `use`), of the type the algorithm needs, and whose `alg`, if it has one, is that algorithm. Its `kid`, if
 *   any, goes into the JWE header so the recipient knows which private key to use.
 * - A registered JWK Set is checked up front (`checkJwkSet`): public keys only, at most 10, each parseable, RSA
 *   keys of 2048 bits or more, `kid` on every key of a set of several, `use` on every key of a set that holds
 *   both signing and encryption keys (OpenID Connect Core §10.1.1).
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { CompactEncrypt } from "jose";

export const JWE_ALGORITHMS = ["ECDH-ES+A256KW", "RSA-OAEP-256"] as const;
export type JweAlgorithm = (typeof JWE_ALGORITHMS)[number];
export const JWE_ENCRYPTIONS = ["A128CBC-HS256", "A256GCM"] as const;
export type JweEncryption = (typeof JWE_ENCRYPTIONS)[number];
/** OpenID Connect Dynamic Client Registration §2: the `enc` when only the `alg` is registered. */
export const DEFAULT_JWE_ENCRYPTION: JweEncryption = "A128CBC-HS256";
/** The most keys a registered JWK Set may hold. */
export const MAX_JWKS_KEYS = 10;
/** The most keys of a fetched JWK Set that are looked at. */
export const MAX_FETCHED_KEYS = 50;

/** How tokens for one recipient are encrypted. */
export interface JweSettings {
  readonly alg: JweAlgorithm;
  readonly enc: JweEncryption;
}

/** A public JWK as registered (RFC 7517 §4). */
export type PublicJwk = JsonWebKey & { kid?: string; use?: string; alg?: string; key_ops?: string[] };

/** A JWK Set (RFC 7517 §5). */
export interface JwkSet {
  keys: PublicJwk[];
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const ECDH_CURVES = new Set(["P-256", "P-384", "P-521"]);

/** Whether `value` names a supported key management algorithm. */
export function isJweAlgorithm(value: unknown): value is JweAlgorithm {
  return (JWE_ALGORITHMS as readonly unknown[]).includes(value);
}

/** Whether `value` names a supported content encryption algorithm. */
export function isJweEncryption(value: unknown): value is JweEncryption {
  return (JWE_ENCRYPTIONS as readonly unknown[]).includes(value);
}

/**
 * The settings of a registration's `alg` and `enc` (either may be undefined: nothing registered, or the default
 * `enc`); `fail` explains what is wrong (`what` names the metadata, e.g. `id_token_encrypted_response`).
 */
export function jweSettings(
  alg: unknown,
  enc: unknown,
  what: string,
  fail: (message: string) => never,
): JweSettings | null {
  if (alg === undefined || alg === null) {
    // OpenID Connect Dynamic Client Registration §2: "When *_enc is included, *_alg MUST also be provided."
    if (enc !== undefined && enc !== null) fail(`${what}_enc needs ${what}_alg.`);
    return null;
  }
  if (!isJweAlgorithm(alg)) {
    fail(`Unsupported ${what}_alg ${JSON.stringify(alg)}: use ${JWE_ALGORITHMS.join(" or ")}.`);
  }
  const encryption = enc ?? DEFAULT_JWE_ENCRYPTION;
  if (!isJweEncryption(encryption)) {
    fail(`Unsupported ${what}_enc ${JSON.stringify(enc)}: use ${JWE_ENCRYPTIONS.join(" or ")}.`);
  }
  return { alg, enc: encryption };
}

/** Whether a public JWK is of the type `alg` needs. */
function fitsAlgorithm(jwk: PublicJwk, alg: JweAlgorithm): boolean {
  if (alg === "RSA-OAEP-256") return jwk.kty === "RSA";
  return (
    (jwk.kty === "EC" && ECDH_CURVES.has(String(jwk.crv))) || (jwk.kty === "OKP" && jwk.crv === "X25519")
  );
}

/** The key of `keys` that tokens encrypted with `alg` go to (see the rules above); undefined when none fits. */
export function encryptionKeyOf(keys: readonly PublicJwk[], alg: JweAlgorithm): PublicJwk | undefined {
  return keys.find(
    (jwk) =>
      jwk !== null &&
      typeof jwk === "object" &&
      (jwk.use === undefined || jwk.use === "enc") &&
      (jwk.alg === undefined || jwk.alg === alg) &&
      !PRIVATE_MEMBERS.some((member) => member in jwk) &&
      fitsAlgorithm(jwk, alg),
  );
}

/** What is wrong with a public JWK (as registered or fetched), or undefined when nothing is. */
function jwkProblem(jwk: unknown, name: string): string | undefined {
  if (!jwk || typeof jwk !== "object" || Array.isArray(jwk)) return "Each key must be a JWK object.";
  const key = jwk as PublicJwk;
  if (key.kid !== undefined && (typeof key.kid !== "string" || key.kid === "" || key.kid.length > 128)) {
    return `Key ${name}: kid must be a string of 1 to 128 characters.`;
  }
  if (PRIVATE_MEMBERS.some((member) => member in key)) return `Key ${name} is not a public key.`;
  if (key.use !== undefined && key.use !== "sig" && key.use !== "enc")
    return `Key ${name}: use is "sig" or "enc".`;
  let parsed: KeyObject;
  try {
    parsed = createPublicKey({ key: key as JsonWebKey, format: "jwk" });
  } catch {
    return `Key ${name} is not a valid public JWK.`;
  }
  if (key.kty === "RSA" && (parsed.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    return `Key ${name}: RSA keys need at least 2048 bits.`;
  }
  return undefined;
}

const nameOf = (jwk: unknown, index: number) =>
  typeof (jwk as PublicJwk | null)?.kid === "string" ? String((jwk as PublicJwk).kid) : `#${index + 1}`;

/**
 * Checks a JWK Set as registered and answers it. `fail` explains what is wrong. `signing` says whether the set
 * also holds keys the client signs with (private_key_jwt), in which case every key must say what it is for.
 */
export function checkJwkSet(value: unknown, fail: (message: string) => never, signing = false): JwkSet {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!value || typeof value !== "object" || !Array.isArray(keys))
    fail('jwks must be a JWK Set: {"keys": [...]}.');
  if (keys.length === 0 || keys.length > MAX_JWKS_KEYS) fail(`jwks needs 1 to ${MAX_JWKS_KEYS} keys.`);
  for (const [index, jwk] of (keys as unknown[]).entries()) {
    const name = nameOf(jwk, index);
    const problem = jwkProblem(jwk, name);
    if (problem !== undefined) fail(problem);
    // OpenID Connect Core §10.1, §10.2: with several keys, the kid says which one a message used.
    if (keys.length > 1 && (jwk as PublicJwk).kid === undefined) {
      fail(`Key ${name} needs a kid (the set has several keys).`);
    }
    if (signing && (jwk as PublicJwk).use === undefined) {
      fail(`Key ${name} needs use ("sig" or "enc"): the set holds signing and encryption keys.`);
    }
  }
  const kids = (keys as PublicJwk[]).map((k) => k.kid).filter((kid) => kid !== undefined);
  if (new Set(kids).size !== kids.length) fail("Each key of jwks needs its own kid.");
  return { keys: keys as PublicJwk[] };
}

/**
 * The usable public keys of a JWK Set fetched from a recipient's `jwks_uri` (at most `MAX_FETCHED_KEYS`):
 * keys that are malformed, private or weak are left out rather than failing the set, since the set is the
 * recipient's to change at any time and may hold keys Tessera never uses. Undefined when it is no JWK Set.
 */
export function publicKeysOf(value: unknown): JwkSet | undefined {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!value || typeof value !== "object" || !Array.isArray(keys)) return undefined;
  return {
    keys: (keys as unknown[])
      .slice(0, MAX_FETCHED_KEYS)
      .filter((jwk, index) => jwkProblem(jwk, nameOf(jwk, index)) === undefined) as PublicJwk[],
  };
}

/** Refuses a JWK Set that has no key for one of the `settings` (`what` names the metadata). */
export function requireEncryptionKey(
  jwks: JwkSet,
  settings: JweSettings,
  what: string,
  fail: (message: string) => never,
): void {
  if (encryptionKeyOf(jwks.keys, settings.alg)) return;
  const type =
    settings.alg === "RSA-OAEP-256" ? "an RSA key" : "an EC key on P-256, P-384 or P-521, or an X25519 key,";
  fail(
    `${what}_alg ${settings.alg} needs ${type} in the JWK Set with use "enc" (or no use) and no other alg.`,
  );
}

/**
 * Encrypts a signed JWT to a recipient's public key: a nested JWT (`cty: "JWT"`), the key's `kid` in the header.
 * @see RFC 7516 §7.1, RFC 7519 §5.2, OpenID Connect Core §10.2
 */
export async function encryptJwt(jwt: string, settings: JweSettings, key: PublicJwk): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(jwt))
    .setProtectedHeader({
      alg: settings.alg,
      enc: settings.enc,
      cty: "JWT",
      ...(typeof key.kid === "string" ? { kid: key.kid } : {}),
    })
    .encrypt(publicKeyOf(key));
}

// Imported keys, per registered JWK object (clients and resource servers are cached as frozen objects, so the
// same object comes back until its entry is reloaded; a WeakMap lets the old ones go).
const imported = new WeakMap<object, KeyObject>();

function publicKeyOf(jwk: PublicJwk): KeyObject {
  let key = imported.get(jwk);
  if (key === undefined) {
    const { kid: _kid, use: _use, alg: _alg, key_ops: _ops, ...members } = jwk;
    key = createPublicKey({ key: members as JsonWebKey, format: "jwk" });
    imported.set(jwk, key);
  }
  return key;
}
