import { createHash, generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import fc from "fast-check";
import { calculateJwkThumbprint, EmbeddedJWK, exportJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  accessTokenHash,
  createDpopSigner,
  createMemoryDpopReplayCache,
  DpopProofError,
  jwkThumbprint,
  verifyDpopProof,
} from "../../src/lib/dpop.js";

// RFC 9449 Figure 2 (line breaks removed) and the thumbprint the RFC gives for its key (§6.1, Figure 9).
const RFC_PROOF =
  "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
const RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const RFC_IAT = 1562262616;

// RFC 7638 §3.1: the RSA key and its SHA-256 thumbprint.
const RFC7638_KEY = {
  kty: "RSA",
  n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
  e: "AQAB",
  alg: "RS256",
  kid: "2011-04-29",
};
const RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

const URL_TOKEN = "https://id.example.test/token";
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

interface Holder {
  alg: string;
  privateKey: KeyObject;
  jwk: JWK;
}

async function holder(alg: "ES256" | "EdDSA" | "RS256" | "PS256" | "ES384"): Promise<Holder> {
  const pair =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : alg === "ES384"
        ? generateKeyPairSync("ec", { namedCurve: "P-384" })
        : alg === "EdDSA"
          ? generateKeyPairSync("ed25519")
          : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { alg, privateKey: pair.privateKey, jwk: await exportJWK(pair.publicKey) };
}

/** A proof made by jose, an independent implementation, with `overrides` applied. */
async function proof(
  h: Holder,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({
    htm: "POST",
    htu: URL_TOKEN,
    iat: Math.floor(NOW / 1000),
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: h.alg, typ: "dpop+jwt", jwk: h.jwk, ...header } as never)
    .sign(h.privateKey);
}

/** A proof signed with node:crypto directly (jose refuses RSA keys under 2048 bits). */
function handMade(h: Holder, extra: Record<string, unknown> = {}): string {
  const head = Buffer.from(JSON.stringify({ typ: "dpop+jwt", alg: h.alg, jwk: h.jwk, ...extra })).toString(
    "base64url",
  );
  const body = Buffer.from(
    JSON.stringify({ htm: "POST", htu: URL_TOKEN, iat: Math.floor(NOW / 1000), jti: randomUUID() }),
  ).toString("base64url");
  const key = h.alg === "ES256" ? { key: h.privateKey, dsaEncoding: "ieee-p1363" as const } : h.privateKey;
  return `${head}.${body}.${sign("sha256", Buffer.from(`${head}.${body}`), key).toString("base64url")}`;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof DpopProofError) return error.reason;
    throw error;
  }
  return "accepted";
}

const request = { method: "POST", url: URL_TOKEN, now: NOW };

describe("DPoP proofs (RFC 9449)", () => {
  it("accepts the RFC's own example proof, with the thumbprint the RFC gives", () => {
    const verified = verifyDpopProof(RFC_PROOF, {
      method: "POST",
      url: "https://server.example.com/token",
      now: RFC_IAT * 1000 + 2000,
    });
    expect(verified.jkt).toBe(RFC_JKT);
    expect(verified.jti).toBe("-BwC3ESc6acc2lTc");
    expect(verified.iat).toBe(RFC_IAT);
  });

  it("computes RFC 7638's thumbprint for its example key, and jose's for generated keys", async () => {
    expect(jwkThumbprint(RFC7638_KEY)).toBe(RFC7638_THUMBPRINT);
    for (const alg of ["ES256", "EdDSA", "RS256", "ES384"] as const) {
      const h = await holder(alg);
      expect(jwkThumbprint(h.jwk as Record<string, unknown>)).toBe(
        await calculateJwkThumbprint(h.jwk, "sha256"),
      );
    }
  });

  it.each(["ES256", "ES384", "EdDSA", "RS256", "PS256"] as const)(
    "accepts a fresh %s proof made by jose",
    async (alg) => {
      const h = await holder(alg);
      const verified = verifyDpopProof(await proof(h), request);
      expect(verified.jkt).toBe(await calculateJwkThumbprint(h.jwk, "sha256"));
      expect(verified.expiresAt).toBeGreaterThan(NOW);
    },
  );

  it("checks ath against the access token presented with the proof", async () => {
    const h = await holder("ES256");
    const token = "eyJhbGciOiJFZERTQSJ9.e30.sig";
    const ath = createHash("sha256").update(token).digest("base64url");
    expect(accessTokenHash(token)).toBe(ath);
    const good = await proof(h, { htm: "GET", htu: "https://api.example.test/orders", ath });
    const resource = {
      method: "GET",
      url: "https://api.example.test/orders?page=2",
      now: NOW,
      accessToken: token,
    };
    expect(verifyDpopProof(good, resource).jkt).toBeTypeOf("string");
    expect(refusal(() => verifyDpopProof(good, { ...resource, accessToken: `${token}x` }))).toBe("ath");
    const none = await proof(h, { htm: "GET", htu: "https://api.example.test/orders" });
    expect(refusal(() => verifyDpopProof(none, resource))).toBe("ath");
  });

  it("compares htu without query and fragment, after URL normalisation", async () => {
    const h = await holder("EdDSA");
    const p = await proof(h, { htu: "HTTPS://ID.Example.TEST:443/token" });
    expect(
      refusal(() => verifyDpopProof(p, { ...request, url: "https://id.example.test/token?x=1#y" })),
    ).toBe("accepted");
    expect(refusal(() => verifyDpopProof(p, { ...request, url: "https://id.example.test/userinfo" }))).toBe(
      "htu",
    );
    expect(refusal(() => verifyDpopProof(p, { ...request, url: "http://id.example.test/token" }))).toBe(
      "htu",
    );
    expect(refusal(() => verifyDpopProof(p, { ...request, url: "https://id.example.test:8443/token" }))).toBe(
      "htu",
    );
  });

  it("refuses every broken proof with the reason", async () => {
    const h = await holder("ES256");
    const other = await holder("ES256");
    const rsaSmall = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const small: Holder = {
      alg: "RS256",
      privateKey: rsaSmall.privateKey,
      jwk: await exportJWK(rsaSmall.publicKey),
    };
    const privateJwk = await exportJWK(h.privateKey);
    const cases: [string, Promise<string> | string, string][] = [
      ["not a JWS", "abc", "malformed"],
      ["two segments", "a.b", "malformed"],
      ["wrong typ", proof(h, {}, { typ: "JWT" }), "typ"],
      ["no typ", proof(h, {}, { typ: undefined }), "typ"],
      ["no jwk", proof(h, {}, { jwk: undefined }), "jwk"],
      ["jwk of another kind", proof(h, {}, { jwk: { kty: "OKP", crv: "Ed25519", x: "AA" } }), "jwk"],
      ["private key in jwk", proof(h, {}, { jwk: privateJwk }), "jwk"],
      ["another key's jwk", proof(h, {}, { jwk: other.jwk }), "signature"],
      ["RSA key under 2048 bits", handMade(small), "jwk"],
      ["crit header", handMade(h, { crit: ["x"], x: 1 }), "malformed"],
      ["hand-made control (no crit)", handMade(h), "accepted"],
      ["wrong method", proof(h, { htm: "GET" }), "htm"],
      ["lower-case method", proof(h, { htm: "post" }), "htm"],
      ["no htu", proof(h, { htu: undefined }), "htu"],
      ["relative htu", proof(h, { htu: "/token" }), "htu"],
      ["old iat", proof(h, { iat: Math.floor(NOW / 1000) - 61 }), "iat"],
      ["future iat", proof(h, { iat: Math.floor(NOW / 1000) + 30 }), "iat"],
      ["string iat", proof(h, { iat: String(Math.floor(NOW / 1000)) }), "iat"],
      ["no jti", proof(h, { jti: undefined }), "jti"],
      ["empty jti", proof(h, { jti: "" }), "jti"],
    ];
    for (const [name, p, reason] of cases) {
      const value = await p;
      expect([name, refusal(() => verifyDpopProof(value, request))]).toEqual([name, reason]);
    }
  });

  it("refuses alg none, HMAC and algorithms outside the allow-list", async () => {
    const h = await holder("ES256");
    const header = (alg: string) =>
      Buffer.from(JSON.stringify({ typ: "dpop+jwt", alg, jwk: h.jwk })).toString("base64url");
    const body = Buffer.from(
      JSON.stringify({ htm: "POST", htu: URL_TOKEN, iat: NOW / 1000, jti: "j" }),
    ).toString("base64url");
    expect(refusal(() => verifyDpopProof(`${header("none")}.${body}.AA`, request))).toBe("alg");
    expect(refusal(() => verifyDpopProof(`${header("HS256")}.${body}.AA`, request))).toBe("alg");
    const es = await proof(h);
    expect(refusal(() => verifyDpopProof(es, { ...request, algorithms: ["EdDSA"] }))).toBe("alg");
    // A signature made with the right key over other bytes.
    const forged = `${header("ES256")}.${body}.${sign("sha256", Buffer.from("x"), { key: h.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    expect(refusal(() => verifyDpopProof(forged, request))).toBe("signature");
  });

  it("never throws anything but a DpopProofError on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        expect(["malformed", "typ", "alg", "jwk"]).toContain(refusal(() => verifyDpopProof(text, request)));
      }),
    );
    const segment = fc
      .jsonValue()
      .map((v) => Buffer.from(JSON.stringify(v)).toString("base64url"))
      .filter((s) => s.length > 0);
    fc.assert(
      fc.property(segment, segment, fc.base64String(), (a, b, c) => {
        const sig = c.replace(/[=]/g, "").replace(/\+/g, "-").replace(/\//g, "_") || "AA";
        expect(refusal(() => verifyDpopProof(`${a}.${b}.${sig}`, request))).not.toBe("accepted");
      }),
    );
  });

  it("the memory replay cache accepts a proof once while it is valid", async () => {
    let now = NOW;
    const cache = createMemoryDpopReplayCache({ now: () => now, max: 3 });
    const h = await holder("EdDSA");
    const p = verifyDpopProof(await proof(h), request);
    expect(await cache.firstUse(p)).toBe(true);
    expect(await cache.firstUse(p)).toBe(false);
    expect(await cache.firstUse({ ...p, jkt: "other-key" })).toBe(true);
    now = p.expiresAt + 1;
    expect(await cache.firstUse(p)).toBe(true);
    // Bounded: older entries go first.
    for (let i = 0; i < 10; i++) await cache.firstUse({ ...p, jti: `j${i}`, expiresAt: now + 60_000 });
    expect(await cache.firstUse({ ...p, jti: "j9", expiresAt: now + 60_000 })).toBe(false);
  });

  it("createDpopSigner makes proofs that jose and the checker accept (ES256, Ed25519), and refuses other keys", async () => {
    for (const pair of [generateKeyPairSync("ec", { namedCurve: "P-256" }), generateKeyPairSync("ed25519")]) {
      const signer = createDpopSigner(pair.privateKey, () => NOW);
      const p = signer.proof({ method: "get", url: "https://api.example.test/x?y=1", accessToken: "tok" });
      const { payload, protectedHeader } = await jwtVerify(p, EmbeddedJWK, {
        typ: "dpop+jwt",
        currentDate: new Date(NOW),
      });
      expect(payload).toMatchObject({
        htm: "GET",
        htu: "https://api.example.test/x",
        ath: accessTokenHash("tok"),
      });
      expect(await calculateJwkThumbprint(protectedHeader.jwk as JWK, "sha256")).toBe(signer.jkt);
      const checked = verifyDpopProof(p, {
        method: "GET",
        url: "https://api.example.test/x",
        accessToken: "tok",
        now: NOW,
      });
      expect(checked.jkt).toBe(signer.jkt);
      expect(signer.proof({ method: "GET", url: "https://a.test/" })).not.toBe(
        signer.proof({ method: "GET", url: "https://a.test/" }),
      );
    }
    expect(() => createDpopSigner(generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey)).toThrow(
      TypeError,
    );
    expect(() => createDpopSigner(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey)).toThrow(
      TypeError,
    );
  });

  it("reuses an imported key only for the very same key: another point or member value is imported (and checked) anew", async () => {
    const h = await holder("ES256");
    expect(refusal(() => verifyDpopProof(handMade(h), request))).toBe("accepted");
    // Same key with an extra member: same thumbprint, accepted.
    const withKid = verifyDpopProof(handMade(h, { jwk: { ...h.jwk, kid: "k" } }), request);
    expect(withKid.jkt).toBe(await calculateJwkThumbprint(h.jwk, "sha256"));
    // The cached key's x with another y: not a point on the curve, refused.
    const other = await holder("ES256");
    const mixed = { ...h.jwk, y: other.jwk.y };
    expect(refusal(() => verifyDpopProof(handMade(h, { jwk: mixed }), request))).toMatch(/^(jwk|signature)$/);
    // Another key's jwk over a signature by the cached key: refused.
    expect(refusal(() => verifyDpopProof(handMade(h, { jwk: other.jwk }), request))).toBe("signature");
  });
});
