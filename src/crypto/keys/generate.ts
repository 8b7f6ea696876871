/**
 * Key generation: Ed25519 (EdDSA, the default), P-256 (ES256) and RSA-2048 (RS256).
 *
 * - Generated off the event loop (`generateKeyPair` runs on the libuv pool): RSA takes tens of milliseconds.
 * - `kid` is the RFC 7638 JWK thumbprint (SHA-256) of the public key, so it is stable and derivable.
 * - The public JWK carries `kid`, `alg` and `use: "sig"`, and nothing private.
 */
import { generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { JwsAlgorithm } from "../jwt/index.js";

const generate = promisify(generateKeyPair);

export interface GeneratedKey {
  kid: string;
  alg: JwsAlgorithm;
  publicJwk: JWK;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

/** The members a public JWK may carry (RFC 7517/7518/8037); anything else, `d` above all, is dropped. */
const PUBLIC_MEMBERS = ["kty", "crv", "x", "y", "n", "e"] as const;

export function publicJwkOf(publicKey: KeyObject): JWK {
  const exported = publicKey.export({ format: "jwk" }) as Record<string, unknown>;
  const jwk: Record<string, unknown> = {};
  for (const name of PUBLIC_MEMBERS) if (exported[name] !== undefined) jwk[name] = exported[name];
  return jwk as JWK;
}

async function keyPair(alg: JwsAlgorithm): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  switch (alg) {
    case "EdDSA":
      return generate("ed25519");
    case "ES256":
      return generate("ec", { namedCurve: "P-256" });
    case "RS256":
      return generate("rsa", { modulusLength: 2048, publicExponent: 0x10001 });
  }
}

export async function generateSigningKey(alg: JwsAlgorithm): Promise<GeneratedKey> {
  const { publicKey, privateKey } = await keyPair(alg);
  const base = publicJwkOf(publicKey);
  const kid = await calculateJwkThumbprint(base, "sha256");
  return { kid, alg, publicKey, privateKey, publicJwk: { ...base, kid, alg, use: "sig" } };
}
