/** A `signing_keys` row for storage tests (the columns the table needs; the key material is a stand-in). */
export type KeyStatus = "next" | "active" | "retired";

export const signingKeyRow = (kid: string, status: KeyStatus, created = 1000) => ({
  kid,
  alg: "EdDSA",
  status,
  public_jwk: "{}",
  private_key: "sealed",
  created_at: created,
  activated_at: status === "active" ? created : null,
  retired_at: null,
  expires_at: null,
});
