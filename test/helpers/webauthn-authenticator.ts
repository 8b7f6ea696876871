/**
 * A software WebAuthn authenticator for tests: one P-256 (ES256) credential per instance, `none` attestation,
 * a signature counter the test controls. It builds the JSON that @simplewebauthn/browser would hand the server
 * (RegistrationResponseJSON, AuthenticationResponseJSON), from options the server produced. CBOR comes from
 * @simplewebauthn/server's own helpers (tiny-cbor), so no extra dependency.
 *
 * Authenticator data layout (WebAuthn §6.1): rpIdHash (32) | flags (1) | signCount (4, big-endian) |
 * [attested credential data: aaguid (16) | credentialIdLength (2) | credentialId | COSE public key].
 */
import { createHash, createSign, generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { isoCBOR } from "@simplewebauthn/server/helpers";

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export const ZERO_AAGUID = "00000000-0000-0000-0000-000000000000";

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64url");
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest();

export interface CeremonyOverrides {
  /** The origin in the client data (default: the authenticator's). */
  origin?: string;
  /** The RP ID whose hash goes into the authenticator data (default: the options' or the authenticator's). */
  rpId?: string;
  /** The challenge to sign (default: the options'). */
  challenge?: string;
  /** User verified (default: the authenticator's setting). */
  userVerified?: boolean;
  /** Counter value to report (default: the next one). */
  counter?: number;
  /** `userHandle` in an assertion (default: the one received at registration; null for none). */
  userHandle?: string | null;
}

export class SoftAuthenticator {
  readonly credentialId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  /** The next assertion reports `counter + 1` unless `counterless`. */
  counter = 0;
  userHandle: string | undefined;

  constructor(
    readonly options: {
      origin: string;
      rpId: string;
      aaguid?: string;
      userVerification?: boolean;
      /** Always reports 0 (as synced passkeys do). */
      counterless?: boolean;
      /** Backup eligible and backed up: a synced passkey. */
      synced?: boolean;
      /** Reported in the credProps extension. */
      residentKey?: boolean;
      transports?: string[];
    },
  ) {
    this.credentialId = b64url(randomBytes(32));
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    this.#privateKey = pair.privateKey;
    this.#publicKey = pair.publicKey;
  }

  #flags(userVerified: boolean, extra = 0): number {
    const backup = this.options.synced ? FLAG_BE | FLAG_BS : 0;
    return FLAG_UP | (userVerified ? FLAG_UV : 0) | backup | extra;
  }

  #cosePublicKey(): Uint8Array {
    const jwk = this.#publicKey.export({ format: "jwk" });
    const key = new Map<number, number | Uint8Array>([
      [1, 2], // kty: EC2
      [3, -7], // alg: ES256
      [-1, 1], // crv: P-256
      [-2, new Uint8Array(Buffer.from(jwk.x as string, "base64url"))],
      [-3, new Uint8Array(Buffer.from(jwk.y as string, "base64url"))],
    ]);
    return isoCBOR.encode(key);
  }

  #clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** A registration response to `options` (PublicKeyCredentialCreationOptionsJSON). */
  register(options: Record<string, unknown>, overrides: CeremonyOverrides = {}): Record<string, unknown> {
    const rp = options.rp as { id?: string };
    const user = options.user as { id: string };
    this.userHandle = user.id;
    const rpId = overrides.rpId ?? rp.id ?? this.options.rpId;
    const userVerified = overrides.userVerified ?? this.options.userVerification ?? true;
    const counter = overrides.counter ?? 0;
    const credentialId = Buffer.from(this.credentialId, "base64url");
    const aaguid = Buffer.from((this.options.aaguid ?? ZERO_AAGUID).replace(/-/g, ""), "hex");
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([
      sha256(rpId),
      Buffer.from([this.#flags(userVerified, FLAG_AT)]),
      uint32(counter),
      aaguid,
      idLength,
      credentialId,
      this.#cosePublicKey(),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", new Uint8Array(authData)],
      ]) as never,
    );
    const clientDataJSON = this.#clientData(
      "webauthn.create",
      overrides.challenge ?? (options.challenge as string),
      overrides.origin ?? this.options.origin,
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        attestationObject: b64url(attestationObject),
        transports: this.options.transports ?? ["usb"],
      },
      clientExtensionResults: { credProps: { rk: this.options.residentKey ?? true } },
      authenticatorAttachment: "cross-platform",
    };
  }

  /** An assertion for `options` (PublicKeyCredentialRequestOptionsJSON). */
  assert(options: Record<string, unknown>, overrides: CeremonyOverrides = {}): Record<string, unknown> {
    const rpId = overrides.rpId ?? (options.rpId as string | undefined) ?? this.options.rpId;
    const userVerified = overrides.userVerified ?? this.options.userVerification ?? true;
    let counter = 0;
    if (overrides.counter !== undefined) counter = overrides.counter;
    else if (!this.options.counterless) counter = this.counter + 1;
    if (counter > this.counter) this.counter = counter;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.#flags(userVerified)]), uint32(counter)]);
    const clientDataJSON = this.#clientData(
      "webauthn.get",
      overrides.challenge ?? (options.challenge as string),
      overrides.origin ?? this.options.origin,
    );
    const signature = createSign("sha256")
      .update(Buffer.concat([authData, sha256(clientDataJSON)]))
      .sign(this.#privateKey);
    const userHandle = overrides.userHandle === undefined ? this.userHandle : overrides.userHandle;
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(userHandle ? { userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "cross-platform",
    };
  }
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}
