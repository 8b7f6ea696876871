/** The BFF's logout-token checks (OpenID Connect Back-Channel Logout 1.0 §2.6), with tokens signed by jose. */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { exportJWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { BACKCHANNEL_LOGOUT_EVENT, createLogoutTokenVerifier } from "../../src/bff/backchannel.js";

const ISSUER = "https://id.example.test";
const CLIENT = "bff";

async function setup() {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
  let now = Date.now();
  const fetchJwks = (async () => Response.json({ keys: [jwk] })) as unknown as typeof fetch;
  const verify = createLogoutTokenVerifier({
    issuer: ISSUER,
    clientId: CLIENT,
    jwksUri: `${ISSUER}/jwks`,
    now: () => now,
    fetch: fetchJwks,
  });
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      sub: "user-1",
      jti: randomUUID(),
      ...claims,
    })
      .setProtectedHeader({ alg: "EdDSA", kid: "k1", typ: "logout+jwt" })
      .setIssuer(ISSUER)
      .setAudience(CLIENT)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor(now / 1000) + 120)
      .sign(privateKey);
  return { verify, sign, advance: (ms: number) => (now += ms) };
}

describe("the BFF's logout-token verifier", () => {
  it("accepts a logout token once: a replay of the same jti is refused", async () => {
    const { verify, sign } = await setup();
    const token = await sign({ sid: "s1" });
    expect(await verify(token)).toEqual({ sid: "s1", sub: "user-1" });
    await expect(verify(token)).rejects.toThrow(/replayed/);
    // Another token (another jti) for the same subject is fine.
    expect(await verify(await sign({}))).toEqual({ sid: undefined, sub: "user-1" });
  });

  it("refuses a logout token without jti, and one older than five minutes", async () => {
    const { verify, sign, advance } = await setup();
    await expect(verify(await sign({ jti: undefined }))).rejects.toThrow(/jti/);
    const old = await sign({ exp: Math.floor(Date.now() / 1000) + 3600 });
    advance(6 * 60_000);
    await expect(verify(old)).rejects.toThrow();
  });

  it("refuses a token without the logout event, with a nonce, or naming neither sid nor sub", async () => {
    const { verify, sign } = await setup();
    await expect(verify(await sign({ events: {} }))).rejects.toThrow(/event/);
    await expect(verify(await sign({ nonce: "n" }))).rejects.toThrow(/nonce/);
    await expect(verify(await sign({ sub: undefined }))).rejects.toThrow(/neither/);
  });
});
