/**
 * Published test vectors (test/vectors/*.json) through Tessera.
 *
 * Every fixture is first checked on its own with `node:crypto` (crypto.verify, and crypto.sign where the
 * algorithm is deterministic), so a mistyped byte in a fixture fails here and not somewhere obscure.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { calculateJwkThumbprint } from "jose";
import { describe, expect, it } from "vitest";
import {
  generateSigningKey,
  type JwsAlgorithm,
  publicJwkOf,
  signJwt,
  type VerificationKey,
  verifyJwt,
  verifyJwtWithJose,
} from "../../src/crypto/index.js";
import { TokenError } from "../../src/lib/errors.js";

interface JwsVector {
  source: string;
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
  protectedHeader: string;
  payload: string;
  jws: string;
  kid?: string;
  thumbprint?: string;
  thumbprintInput?: string;
}

function load(name: string): JwsVector {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8")) as JwsVector;
}

const RFC8037 = load("rfc8037-a-ed25519.json");
const RFC7515_A3 = load("rfc7515-a3-es256.json");
const RFC7515_A2 = load("rfc7515-a2-rs256.json");
const RFC7520_41 = load("rfc7520-4.1-rs256.json");

const VECTORS: { name: string; alg: JwsAlgorithm; vector: JwsVector }[] = [
  { name: "RFC 8037 A.4 (EdDSA)", alg: "EdDSA", vector: RFC8037 },
  { name: "RFC 7515 A.3 (ES256)", alg: "ES256", vector: RFC7515_A3 },
  { name: "RFC 7515 A.2 (RS256)", alg: "RS256", vector: RFC7515_A2 },
  { name: "RFC 7520 4.1 (RS256)", alg: "RS256", vector: RFC7520_41 },
];

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];
const PUBLIC_MEMBERS = new Set(["kty", "crv", "x", "y", "n", "e"]);

function publicKeyOf(v: JwsVector): KeyObject {
  return createPublicKey({ key: v.publicJwk, format: "jwk" });
}

function privateKeyOf(v: JwsVector): KeyObject {
  return createPrivateKey({ key: v.privateJwk, format: "jwk" });
}

function parts(jws: string): { input: string; signature: Buffer; header: string; payload: string } {
  const [h, p, s] = jws.split(".") as [string, string, string];
  return {
    input: `${h}.${p}`,
    signature: Buffer.from(s, "base64url"),
    header: Buffer.from(h, "base64url").toString("utf8"),
    payload: Buffer.from(p, "base64url").toString("utf8"),
  };
}

function nodeVerify(alg: JwsAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  const data = Buffer.from(input, "ascii");
  if (alg === "EdDSA") return cryptoVerify(null, data, key, signature);
  if (alg === "ES256") return cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
  return cryptoVerify("sha256", data, key, signature);
}

function refusalReason(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof TokenError) return error.reason;
    throw error;
  }
  throw new Error("expected a refusal");
}

async function asyncRefusalReason(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof TokenError) return error.reason;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("fixtures (checked independently with node:crypto)", () => {
  for (const { name, alg, vector } of VECTORS) {
    it(`${name}: names its source, decodes to the RFC's header and payload, and crypto.verify accepts it`, () => {
      expect(vector.source).toMatch(/^RFC \d{4}/);
      const { input, signature, header, payload } = parts(vector.jws);
      expect(header).toBe(vector.protectedHeader);
      expect(payload).toBe(vector.payload);
      expect(nodeVerify(alg, publicKeyOf(vector), input, signature)).toBe(true);
      // A single flipped bit in the signature no longer verifies.
      const tampered = Buffer.from(signature);
      tampered[7]! ^= 0x01;
      expect(nodeVerify(alg, publicKeyOf(vector), input, tampered)).toBe(false);
    });

    it(`${name}: the private key's public half is the RFC's public key`, () => {
      const derived = createPublicKey(privateKeyOf(vector)).export({ format: "jwk" });
      for (const [member, value] of Object.entries(vector.publicJwk)) {
        expect(derived[member as keyof JsonWebKey]).toBe(value);
      }
    });
  }

  it("RFC 8037 A.4 and RFC 7515 A.2 / RFC 7520 4.1 are deterministic: crypto.sign reproduces the RFC bytes", () => {
    for (const { alg, vector } of VECTORS) {
      if (alg === "ES256") continue; // ECDSA is randomised; A.3 is checked by verification only.
      const { input, signature } = parts(vector.jws);
      const algorithm = alg === "EdDSA" ? null : "sha256";
      expect(cryptoSign(algorithm, Buffer.from(input, "ascii"), privateKeyOf(vector))).toEqual(signature);
    }
  });
});

describe("RFC 7638 / RFC 8037 A.3 thumbprint", () => {
  it("the RFC 8037 thumbprint input hashes to the RFC's value (independent SHA-256)", () => {
    expect(createHash("sha256").update(RFC8037.thumbprintInput!, "utf8").digest("base64url")).toBe(
      "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
    );
    expect(RFC8037.thumbprint).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  });

  it("Tessera's kid derivation (calculateJwkThumbprint over publicJwkOf) gives the RFC 8037 thumbprint", async () => {
    const fromPublic = await calculateJwkThumbprint(publicJwkOf(publicKeyOf(RFC8037)), "sha256");
    expect(fromPublic).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    // The same key reached through createPublicKey(private JWK), as the brief's pipeline does.
    const fromPrivateJwk = await calculateJwkThumbprint(
      publicJwkOf(createPublicKey({ key: RFC8037.privateJwk, format: "jwk" })),
      "sha256",
    );
    expect(fromPrivateJwk).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  });

  it("publicJwkOf returns exactly the RFC public members, even when handed a private KeyObject", () => {
    for (const { vector } of VECTORS) {
      for (const key of [publicKeyOf(vector), privateKeyOf(vector)]) {
        const jwk = publicJwkOf(key) as Record<string, unknown>;
        expect(jwk).toStrictEqual(vector.publicJwk);
        for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      }
    }
  });

  it("publicJwkOf never returns private members for freshly generated keys of every algorithm", async () => {
    for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
      const key = await generateSigningKey(alg);
      for (const source of [key.publicKey, key.privateKey]) {
        const jwk = publicJwkOf(source) as Record<string, unknown>;
        for (const member of Object.keys(jwk)) expect(PUBLIC_MEMBERS.has(member)).toBe(true);
        for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      }
      for (const member of PRIVATE_MEMBERS) expect(key.publicJwk).not.toHaveProperty(member);
      expect(key.kid).toBe(await calculateJwkThumbprint(publicJwkOf(key.publicKey), "sha256"));
    }
  });
});

describe("the RFC tokens through Tessera's verifiers", () => {
  const resolverFor = (kid: string, alg: JwsAlgorithm, vector: JwsVector) => {
    const key: VerificationKey = { kid, alg, publicKey: publicKeyOf(vector) };
    return (k: string) => (k === kid ? key : undefined);
  };

  for (const { name, alg, vector } of VECTORS.filter((v) => v.vector.kid === undefined)) {
    it(`${name} is refused with header_invalid: its header has no kid`, async () => {
      const keys = resolverFor("any", alg, vector);
      expect(refusalReason(() => verifyJwt(vector.jws, { keys }))).toBe("header_invalid");
      expect(await asyncRefusalReason(() => verifyJwtWithJose(vector.jws, { keys }))).toBe("header_invalid");
    });
  }

  it("RFC 7520 4.1 (which has a kid) passes Tessera's RS256 signature check and is refused only for its non-JSON payload", async () => {
    const keys = resolverFor(RFC7520_41.kid!, "RS256", RFC7520_41);
    expect(refusalReason(() => verifyJwt(RFC7520_41.jws, { keys }))).toBe("claims_invalid");
    expect(await asyncRefusalReason(() => verifyJwtWithJose(RFC7520_41.jws, { keys }))).toBe(
      "claims_invalid",
    );
    // The same token with one signature bit flipped stops at the signature check instead.
    const { input, signature } = parts(RFC7520_41.jws);
    const flipped = Buffer.from(signature);
    flipped[100]! ^= 0x80;
    const tampered = `${input}.${flipped.toString("base64url")}`;
    expect(refusalReason(() => verifyJwt(tampered, { keys }))).toBe("signature_invalid");
    expect(await asyncRefusalReason(() => verifyJwtWithJose(tampered, { keys }))).toBe("signature_invalid");
    // And with the RFC 7515 A.2 key (also RS256) instead of the RFC 7520 key, too.
    const wrongKey = resolverFor(RFC7520_41.kid!, "RS256", RFC7515_A2);
    expect(refusalReason(() => verifyJwt(RFC7520_41.jws, { keys: wrongKey }))).toBe("signature_invalid");
  });

  it("signJwt with the RFC 8037 private key reproduces what crypto.sign computes (Ed25519 is deterministic)", () => {
    const privateKey = privateKeyOf(RFC8037);
    const key = { kid: RFC8037.thumbprint!, alg: "EdDSA" as const, privateKey };
    const claims = { sub: "rfc8037", exp: 2_000_000_000 };
    const token = signJwt(claims, { key, typ: "JWT" });
    const { input, signature, header, payload } = parts(token);
    expect(JSON.parse(header)).toStrictEqual({ alg: "EdDSA", kid: RFC8037.thumbprint, typ: "JWT" });
    expect(JSON.parse(payload)).toStrictEqual(claims);
    expect(cryptoVerify(null, Buffer.from(input, "ascii"), publicKeyOf(RFC8037), signature)).toBe(true);
    expect(signature).toEqual(cryptoSign(null, Buffer.from(input, "ascii"), privateKey));
  });

  for (const { name, alg, vector } of VECTORS.slice(0, 3)) {
    it(`a token signed by signJwt with the ${name} private key verifies against the RFC public key`, async () => {
      const kid = `rfc-${alg}`;
      const token = signJwt(
        { sub: "s", exp: 2_000_000_000 },
        { key: { kid, alg, privateKey: privateKeyOf(vector) } },
      );
      const { input, signature } = parts(token);
      expect(nodeVerify(alg, publicKeyOf(vector), input, signature)).toBe(true);
      const keys = resolverFor(kid, alg, vector);
      const now = () => 1_900_000_000_000;
      expect(verifyJwt(token, { keys, now }).payload).toStrictEqual({ sub: "s", exp: 2_000_000_000 });
      expect((await verifyJwtWithJose(token, { keys, now })).payload).toStrictEqual({
        sub: "s",
        exp: 2_000_000_000,
      });
    });
  }

  it("the RFC 8037 A.4 signature is exactly what the RFC key signs over the RFC signing input", () => {
    const { input, signature } = parts(RFC8037.jws);
    expect(cryptoSign(null, Buffer.from(input, "ascii"), privateKeyOf(RFC8037)).toString("base64url")).toBe(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    expect(signature.toString("base64url")).toBe(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
  });
});
