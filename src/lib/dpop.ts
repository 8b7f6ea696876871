/**
 * DPoP proofs (RFC 9449): checking one proof JWT against the request it came with, and the RFC 7638 thumbprint
 * (`jkt`) of its key that binds tokens to it.
 *
 * - Pure (`node:crypto` only): the token endpoint, userinfo, and the SDK's resource-server verifier all use it.
 *   What it cannot see is the caller's: whether the `jti` was used before (a `ReplayCache`), and whether the
 *   `jkt` matches the token's `cnf.jkt` or a code's `dpop_jkt`.
 * - The checks of RFC 9449 §4.3, in its order: one compact JWS; `typ` is `dpop+jwt`; `alg` is one of
 *   `DPOP_ALGORITHMS` (asymmetric; `none` and HMAC can never be); `jwk` is a public key of the kind `alg`
 *   needs, with no private member; the signature verifies with it; `htm` and `htu` match the request (`htu`
 *   compared after URL normalisation, without query and fragment); `iat` is recent (`maxAge` seconds back, a
 *   little clock skew forward); `jti` is present; `ath` is the hash of the access token when one is presented
 *   (and absent is refused then).
 * - Server-provided nonces (§8) are not used: `jti` replay is tracked instead, for the proof's whole lifetime.
 */
import {
  createHash,
  createPublicKey,
  constants as cryptoConstants,
  type KeyObject,
  randomUUID,
  sign,
  verify,
} from "node:crypto";

/** Signature algorithms accepted in proofs (all asymmetric). */
export const DPOP_ALGORITHMS = ["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

export const MAX_DPOP_PROOF_LENGTH = 8 * 1024;
/** How far back `iat` may be, by default (seconds). */
export const DEFAULT_DPOP_MAX_AGE = 60;
/** How far ahead of our clock `iat` may be (seconds). */
export const DPOP_FUTURE_SKEW = 5;

export type DpopRefusal =
  | "malformed"
  | "typ"
  | "alg"
  | "jwk"
  | "signature"
  | "htm"
  | "htu"
  | "iat"
  | "jti"
  | "ath"
  | "replayed";

/** A refused proof: `invalid_dpop_proof` in the protocol's error format. */
export class DpopProofError extends Error {
  readonly reason: DpopRefusal;
  constructor(reason: DpopRefusal, message: string) {
    super(message);
    this.name = "DpopProofError";
    this.reason = reason;
  }
}

export interface DpopRequest {
  /** The request's method (`POST`, `GET`, …). */
  method: string;
  /** The request's full URL as the client addressed it (scheme, host, path; query and fragment ignored). */
  url: string;
  /** The access token presented with the proof (resource requests): `ath` must be its hash. */
  accessToken?: string | undefined;
  /** Current time, epoch milliseconds. */
  now: number;
  /** Oldest acceptable `iat`, seconds back from now. */
  maxAge?: number;
  algorithms?: readonly string[];
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url. */
  jkt: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  /** Epoch milliseconds after which the proof is refused anyway (for replay caches). */
  expiresAt: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

function refuse(reason: DpopRefusal, message: string): never {
  throw new DpopProofError(reason, message);
}

function decodeObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    refuse("malformed", `The DPoP proof's ${what} is not JSON.`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    refuse("malformed", `The DPoP proof's ${what} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/** The members RFC 7638 hashes, per key type, in their (lexicographic) order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"],
};

/** The JSON RFC 7638 hashes: the key's required members, sorted, no whitespace; undefined if one is missing. */
function thumbprintInput(jwk: Record<string, unknown>): string | undefined {
  const members = typeof jwk.kty === "string" ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const parts: string[] = [];
  for (const name of members) {
    const value = jwk[name];
    if (typeof value !== "string" || value.length === 0) return undefined;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }
  return `{${parts.join(",")}}`;
}

/** RFC 7638 JWK thumbprint with SHA-256, base64url; undefined for a key type it does not define here. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const input = thumbprintInput(jwk);
  return input === undefined ? undefined : createHash("sha256").update(input).digest("base64url");
}

/**
 * Imported proof keys by their RFC 7638 members (all that defines the key): a client proves with one key for
 * many requests, and importing a JWK costs as much as checking the signature. Bounded; cleared when full.
 */
const importedKeys = new Map<string, { key: KeyObject; jkt: string }>();
const IMPORTED_KEYS_MAX = 1024;

/** base64url(SHA-256(access token)): the `ath` claim. */
export function accessTokenHash(accessToken: string): string {
  return createHash("sha256").update(accessToken, "ascii").digest("base64url");
}

/** The key the proof's `jwk` describes, checked against `alg`, and its thumbprint. */
function proofKey(alg: DpopAlgorithm, jwk: Record<string, unknown>): { key: KeyObject; jkt: string } {
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) refuse("jwk", "The DPoP proof's jwk holds private key material.");
  }
  const expected: Record<DpopAlgorithm, { kty: string; crv?: string }> = {
    ES256: { kty: "EC", crv: "P-256" },
    ES384: { kty: "EC", crv: "P-384" },
    EdDSA: { kty: "OKP", crv: "Ed25519" },
    Ed25519: { kty: "OKP", crv: "Ed25519" },
    RS256: { kty: "RSA" },
    PS256: { kty: "RSA" },
  };
  const want = expected[alg];
  if (jwk.kty !== want.kty || (want.crv !== undefined && jwk.crv !== want.crv)) {
    refuse("jwk", `The DPoP proof's jwk is not a key for ${alg}.`);
  }
  const input = thumbprintInput(jwk);
  if (input === undefined) refuse("jwk", "The DPoP proof's jwk lacks a member its key type needs.");
  const known = importedKeys.get(input);
  if (known !== undefined) return known;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as never, format: "jwk" });
  } catch {
    refuse("jwk", "The DPoP proof's jwk is not a valid public key.");
  }
  if (want.kty === "RSA" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    refuse("jwk", "The DPoP proof's RSA key is shorter than 2048 bits.");
  }
  const imported = { key, jkt: createHash("sha256").update(input).digest("base64url") };
  if (importedKeys.size >= IMPORTED_KEYS_MAX) importedKeys.clear();
  importedKeys.set(input, imported);
  return imported;
}

function signatureValid(alg: DpopAlgorithm, key: KeyObject, input: Buffer, signature: Buffer): boolean {
  try {
    switch (alg) {
      case "ES256":
        return verify("sha256", input, { key, dsaEncoding: "ieee-p1363" }, signature);
      case "ES384":
        return verify("sha384", input, { key, dsaEncoding: "ieee-p1363" }, signature);
      case "EdDSA":
      case "Ed25519":
        return verify(null, input, key, signature);
      case "RS256":
        return verify("sha256", input, key, signature);
      case "PS256":
        return verify(
          "sha256",
          input,
          { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          signature,
        );
    }
  } catch {
    return false;
  }
}

/** scheme://host[:port]/path after WHATWG normalisation (case, default port, dot segments); undefined if not a URL. */
export function normaliseHtu(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** Checks `proof` against the request; returns its key's thumbprint and its `jti`, or throws `DpopProofError`. */
export function verifyDpopProof(proof: string, request: DpopRequest): VerifiedDpopProof {
  if (typeof proof !== "string" || proof.length > MAX_DPOP_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    refuse("malformed", "The DPoP proof is not a compact JWS.");
  }
  const [headerPart, payloadPart, signaturePart] = proof.split(".") as [string, string, string];
  const header = decodeObject(headerPart, "header");
  if (header.typ !== "dpop+jwt") refuse("typ", 'The DPoP proof\'s typ is not "dpop+jwt".');
  const allowed = request.algorithms ?? DPOP_ALGORITHMS;
  if (typeof header.alg !== "string" || !allowed.includes(header.alg)) {
    refuse("alg", `The DPoP proof's alg is not one of ${allowed.join(", ")}.`);
  }
  // RFC 7515 §4.1.11: extensions we do not understand, marked critical, must be refused.
  if ("crit" in header) refuse("malformed", "The DPoP proof's header has a crit parameter.");
  const jwk = header.jwk;
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) {
    refuse("jwk", "The DPoP proof's header has no jwk.");
  }
  const alg = header.alg as DpopAlgorithm;
  const { key, jkt } = proofKey(alg, jwk as Record<string, unknown>);
  const signature = Buffer.from(signaturePart, "base64url");
  if (!signatureValid(alg, key, Buffer.from(`${headerPart}.${payloadPart}`, "ascii"), signature)) {
    refuse("signature", "The DPoP proof's signature does not verify with its jwk.");
  }
  const claims = decodeObject(payloadPart, "payload");

  if (typeof claims.jti !== "string" || claims.jti.length === 0 || claims.jti.length > 256) {
    refuse("jti", "The DPoP proof has no usable jti.");
  }
  if (claims.htm !== request.method.toUpperCase()) {
    refuse("htm", `The DPoP proof's htm does not match the request method ${request.method.toUpperCase()}.`);
  }
  const htu = typeof claims.htu === "string" ? normaliseHtu(claims.htu) : undefined;
  if (htu === undefined || htu !== normaliseHtu(request.url)) {
    refuse("htu", "The DPoP proof's htu does not match the request URL.");
  }
  const iat = claims.iat;
  const nowSeconds = request.now / 1000;
  const maxAge = request.maxAge ?? DEFAULT_DPOP_MAX_AGE;
  if (typeof iat !== "number" || !Number.isFinite(iat)) refuse("iat", "The DPoP proof has no numeric iat.");
  if (iat > nowSeconds + DPOP_FUTURE_SKEW || iat < nowSeconds - maxAge) {
    refuse("iat", `The DPoP proof's iat is not within the last ${maxAge} seconds.`);
  }
  if (request.accessToken !== undefined) {
    if (typeof claims.ath !== "string" || claims.ath !== accessTokenHash(request.accessToken)) {
      refuse("ath", "The DPoP proof's ath is not the hash of the access token presented with it.");
    }
  }
  return {
    jkt,
    jti: claims.jti,
    iat,
    expiresAt: Math.ceil((iat + maxAge + DPOP_FUTURE_SKEW) * 1000),
  };
}

/**
 * Remembers proofs until they expire, so that each is accepted once. `firstUse` resolves true the first time it
 * sees a (jkt, jti) pair and false afterwards.
 */
export interface DpopReplayCache {
  firstUse(proof: VerifiedDpopProof): Promise<boolean>;
}

/** The replay key for a proof: its jti under its key, hashed to a fixed length. */
export function dpopReplayKey(proof: VerifiedDpopProof): string {
  return createHash("sha256").update(`${proof.jkt}\n${proof.jti}`).digest("base64url");
}

/** An in-process replay cache, bounded in size (oldest forgotten first; they expire within a minute anyway). */
export function createMemoryDpopReplayCache(
  options: { max?: number; now?: () => number } = {},
): DpopReplayCache {
  const max = options.max ?? 100_000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  return {
    async firstUse(proof) {
      const key = dpopReplayKey(proof);
      const at = now();
      const until = seen.get(key);
      if (until !== undefined && until > at) return false;
      seen.delete(key);
      seen.set(key, proof.expiresAt);
      if (seen.size > max) {
        for (const [k, expiry] of seen) {
          if (seen.size <= max && expiry > at) break;
          seen.delete(k);
        }
      }
      return true;
    },
  };
}

/** Makes proofs with one key (a client's side: the BFF's proxy). */
export interface DpopSigner {
  /** The key's RFC 7638 thumbprint. */
  readonly jkt: string;
  readonly alg: "ES256" | "EdDSA";
  /** A fresh proof for one request; `accessToken` adds its `ath`. */
  proof(request: { method: string; url: string; accessToken?: string }): string;
}

/** A proof signer for an EC P-256 (ES256) or Ed25519 (EdDSA) private key. */
export function createDpopSigner(privateKey: KeyObject, now: () => number = Date.now): DpopSigner {
  const type = privateKey.asymmetricKeyType;
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  let alg: "ES256" | "EdDSA";
  if (type === "ed25519") alg = "EdDSA";
  else if (type === "ec" && (curve === "prime256v1" || curve === "P-256")) alg = "ES256";
  else throw new TypeError("A DPoP key must be EC P-256 or Ed25519.");
  const full = createPublicKey(privateKey).export({ format: "jwk" }) as Record<string, unknown>;
  const members = THUMBPRINT_MEMBERS[full.kty as string] as readonly string[];
  const jwk = Object.fromEntries(members.map((m) => [m, full[m]]));
  const jkt = jwkThumbprint(jwk) as string;
  const header = Buffer.from(JSON.stringify({ typ: "dpop+jwt", alg, jwk })).toString("base64url");
  return {
    jkt,
    alg,
    proof(request) {
      const claims = {
        jti: randomUUID(),
        htm: request.method.toUpperCase(),
        htu: normaliseHtu(request.url) ?? request.url,
        iat: Math.floor(now() / 1000),
        ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
      const signature =
        alg === "ES256"
          ? sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" })
          : sign(null, Buffer.from(input), privateKey);
      return `${input}.${signature.toString("base64url")}`;
    },
  };
}
