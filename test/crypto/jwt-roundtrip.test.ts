import { describe, expect, it } from "vitest";
import { generateSigningKey, signJwt, verifyJwt, verifyJwtWithJose } from "../../src/crypto/index.js";

describe("jwt round trip", () => {
  for (const alg of ["EdDSA", "ES256", "RS256"] as const) {
    it(`signs and verifies ${alg} with both verifiers`, async () => {
      const key = await generateSigningKey(alg);
      const now = Date.now();
      const token = signJwt({ sub: "u1", exp: Math.floor(now / 1000) + 60 }, { key, typ: "at+jwt" });
      const keys = (kid: string) => (kid === key.kid ? key : undefined);
      expect(verifyJwt(token, { keys, typ: "at+jwt" }).payload.sub).toBe("u1");
      expect((await verifyJwtWithJose(token, { keys, typ: "at+jwt" })).payload.sub).toBe("u1");
      const sigStart = token.lastIndexOf(".") + 1;
      const flipped = token[sigStart + 5] === "A" ? "B" : "A";
      const tampered = `${token.slice(0, sigStart + 5)}${flipped}${token.slice(sigStart + 6)}`;
      expect(() => verifyJwt(tampered, { keys })).toThrow();
      await expect(verifyJwtWithJose(tampered, { keys })).rejects.toThrow();
    });
  }
});
