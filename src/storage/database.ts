/**
 * The `Database` interface: every table Tessera stores, as Kysely sees it.
 *
 * - Times are epoch milliseconds in `bigint` columns (read back as JS numbers on both dialects).
 * - Secrets are never stored in the clear: tokens as SHA-256 digests (`*_hash`), private keys sealed with
 *   the master key (`crypto/master-key.ts`).
 */
export type SigningKeyStatus = "next" | "active" | "retired";

export interface SigningKeysTable {
  /** RFC 7638 JWK thumbprint (SHA-256) of the public key. */
  kid: string;
  alg: string;
  status: SigningKeyStatus;
  /** The public JWK (JSON text) as served in the JWKS. */
  public_jwk: string;
  /** PKCS#8 DER of the private key, sealed with the master key (AAD `signing-key:<kid>`). */
  private_key: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  /** After this instant the public key leaves the JWKS: every token it signed has expired. */
  expires_at: number | null;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface Database {
  signing_keys: SigningKeysTable;
  admin_tokens: AdminTokensTable;
}
