/**
 * One test per refusal of Tessera's JWT policy, on both verifiers: `verifyJwt` (fast path) and
 * `verifyJwtWithJose` (jose reference). Tokens are built here with node:crypto (`signRaw`), not with
 * `signJwt`, so a refusal is never the signer's doing; each refused token differs from an accepted one in
 * the one property the test names.
 */
import { createHmac, sign as cryptoSign, verify as cryptoVerify, generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type JwsAlgorithm,
  MAX_CLOCK_TOLERANCE,
  MAX_JWT_LENGTH,
  signJwt,
  type VerifyJwtOptions,
  verifyJwt,
  verifyJwtWithJose,
} from "../../src/crypto/index.js";
import type { TokenErrorReason } from "../../src/lib/errors.js";
import {
  ALGORITHMS,
  asyncOutcomeOf,
  b64u,
  makeKeys,
  outcomeOf,
  rawSignature,
  signRaw,
  type TestKeys,
} from "./jwt-helpers.js";

const NOW = 1_750_000_000;
const NOW_MS = NOW * 1000;
const now = () => NOW_MS;
const ISSUER = "https://issuer.example";

let keys: TestKeys;
beforeAll(async () => {
  keys = await makeKeys();
});

function base(alg: JwsAlgorithm = "EdDSA"): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  return {
    header: { alg, kid: keys[alg].kid, typ: "at+jwt" },
    claims: { iss: ISSUER, aud: "api", sub: "u1", iat: NOW, exp: NOW + 60 },
  };
}

/** A token signed by the key for `alg`, with `header` and `claims` overrides (undefined removes a member). */
function token(
  overrides: { header?: Record<string, unknown>; claims?: Record<string, unknown> } = {},
  alg: JwsAlgorithm = "EdDSA",
): string {
  const b = base(alg);
  const header = JSON.stringify({ ...b.header, ...overrides.header });
  const claims = JSON.stringify({ ...b.claims, ...overrides.claims });
  return signRaw(keys[alg], header, claims);
}

function options(extra: Partial<VerifyJwtOptions> = {}): VerifyJwtOptions {
  return { keys: keys.resolver, now, ...extra };
}

async function verdicts(jwt: unknown, opts: VerifyJwtOptions) {
  const fast = outcomeOf(() => verifyJwt(jwt as string, opts));
  const ref = await asyncOutcomeOf(() => verifyJwtWithJose(jwt as string, opts));
  return {
    fast: fast.ok ? "accepted" : fast.reason,
    ref: ref.ok ? "accepted" : ref.reason,
  };
}

async function expectRefused(jwt: unknown, opts: VerifyJwtOptions, reason: TokenErrorReason): Promise<void> {
  expect(await verdicts(jwt, opts)).toStrictEqual({ fast: reason, ref: reason });
}

async function expectAccepted(jwt: string, opts: VerifyJwtOptions): Promise<void> {
  expect(await verdicts(jwt, opts)).toStrictEqual({ fast: "accepted", ref: "accepted" });
}

describe("baseline", () => {
  for (const alg of ALGORITHMS) {
    it(`accepts a well-formed ${alg} token with every check enabled`, async () => {
      await expectAccepted(
        token({}, alg),
        options({ typ: "at+jwt", issuer: ISSUER, audience: "api", clockTolerance: 0 }),
      );
    });
  }
});

describe("algorithm", () => {
  it('refuses alg "none" as an unsecured JWS (empty signature segment) as malformed', async () => {
    const unsecured = `${b64u(JSON.stringify({ alg: "none", kid: keys.EdDSA.kid }))}.${b64u(JSON.stringify(base().claims))}.`;
    await expectRefused(unsecured, options(), "malformed");
  });

  it('refuses alg "none" (and "None", "NONE") with a signature segment as alg_not_allowed', async () => {
    for (const alg of ["none", "None", "NONE"]) {
      await expectRefused(token({ header: { alg } }), options(), "alg_not_allowed");
    }
  });

  it("refuses HS256 whose HMAC secret is the public key (algorithm confusion) as alg_not_allowed", async () => {
    for (const alg of ALGORITHMS) {
      const key = keys[alg];
      const secrets = [
        key.publicKey.export({ format: "pem", type: "spki" }),
        key.publicKey.export({ format: "der", type: "spki" }),
        JSON.stringify(key.publicJwk),
      ];
      for (const secret of secrets) {
        const input = `${b64u(JSON.stringify({ alg: "HS256", kid: key.kid, typ: "at+jwt" }))}.${b64u(JSON.stringify(base().claims))}`;
        const mac = createHmac("sha256", secret).update(input).digest("base64url");
        await expectRefused(`${input}.${mac}`, options(), "alg_not_allowed");
      }
    }
  });

  it("refuses HS384/HS512/PS256/ES384/Ed25519 and other algorithms outside the allowlist", async () => {
    for (const alg of ["HS384", "HS512", "PS256", "ES384", "RS512", "Ed25519", "eddsa", ""]) {
      await expectRefused(token({ header: { alg } }), options(), "alg_not_allowed");
    }
  });

  it("refuses a non-string alg", async () => {
    for (const alg of [null, 1, ["EdDSA"], { alg: "EdDSA" }]) {
      await expectRefused(token({ header: { alg } }), options(), "alg_not_allowed");
    }
  });

  it("refuses an allowed algorithm that options.algorithms leaves out", async () => {
    await expectRefused(token({}, "EdDSA"), options({ algorithms: ["ES256", "RS256"] }), "alg_not_allowed");
    await expectAccepted(token({}, "ES256"), options({ algorithms: ["ES256"] }));
  });

  it("throws TypeError when options.algorithms names an algorithm outside the allowlist (HS256, none)", async () => {
    for (const alg of ["HS256", "none"]) {
      const opts = options({ algorithms: [alg as JwsAlgorithm] });
      expect(() => verifyJwt(token(), opts)).toThrow(TypeError);
      await expect(verifyJwtWithJose(token(), opts)).rejects.toThrow(TypeError);
    }
  });
});

describe("protected header", () => {
  const attacker = generateKeyPairSync("ed25519");
  const attackerJwk = attacker.publicKey.export({ format: "jwk" });
  const forbidden: Record<string, unknown> = {
    jwk: attackerJwk,
    jku: "https://attacker.example/jwks.json",
    x5u: "https://attacker.example/cert.pem",
    x5c: ["MIIBszCCAVmgAwIBAgIUJ"],
    crit: ["exp"],
    b64: true,
  };
  for (const [name, value] of Object.entries(forbidden)) {
    it(`refuses a header carrying "${name}" as header_invalid`, async () => {
      await expectRefused(token({ header: { [name]: value } }), options(), "header_invalid");
    });
  }

  it('refuses the RFC 7797 unencoded payload option ({"b64":false,"crit":["b64"]}) as header_invalid', async () => {
    await expectRefused(token({ header: { b64: false, crit: ["b64"] } }), options(), "header_invalid");
  });

  it("refuses a header with an embedded jwk signed by the attacker's own key as header_invalid", async () => {
    const header = JSON.stringify({ alg: "EdDSA", kid: keys.EdDSA.kid, jwk: attackerJwk });
    const forged = signRaw(
      { alg: "EdDSA", privateKey: attacker.privateKey },
      header,
      JSON.stringify(base().claims),
    );
    await expectRefused(forged, options(), "header_invalid");
  });

  it("refuses any other header member (x5t, cty, zip, enc, epk) as header_invalid", async () => {
    for (const name of ["x5t", "x5t#S256", "cty", "zip", "enc", "epk", "foo", "__proto__"]) {
      const header = `{"alg":"EdDSA","kid":${JSON.stringify(keys.EdDSA.kid)},${JSON.stringify(name)}:"x"}`;
      await expectRefused(
        signRaw(keys.EdDSA, header, JSON.stringify(base().claims)),
        options(),
        "header_invalid",
      );
    }
  });

  it("refuses a header that is not a JSON object (array, string, number, null, invalid JSON)", async () => {
    for (const header of ["[]", '"EdDSA"', "1", "null", "{", "{'alg':'EdDSA'}", ""]) {
      const jwt = signRaw(keys.EdDSA, header, JSON.stringify(base().claims));
      // An empty header encodes to an empty segment, which is a shape error.
      await expectRefused(jwt, options(), header === "" ? "malformed" : "header_invalid");
    }
  });

  it("refuses a header that is not valid UTF-8 as header_invalid", async () => {
    const header = Buffer.concat([
      Buffer.from(`{"alg":"EdDSA","kid":${JSON.stringify(keys.EdDSA.kid)},"typ":"at+jwt`),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    await expectRefused(
      signRaw(keys.EdDSA, header, JSON.stringify(base().claims)),
      options(),
      "header_invalid",
    );
  });

  it("refuses a missing kid as header_invalid", async () => {
    await expectRefused(token({ header: { kid: undefined } }), options(), "header_invalid");
  });

  it("refuses an empty or non-string kid as header_invalid", async () => {
    for (const kid of ["", 1, null, [keys.EdDSA.kid], { kid: keys.EdDSA.kid }]) {
      await expectRefused(token({ header: { kid } }), options(), "header_invalid");
    }
  });

  it("refuses an unknown kid as key_unknown", async () => {
    for (const kid of ["unknown", `${keys.EdDSA.kid}x`, "__proto__", "constructor", "toString"]) {
      await expectRefused(token({ header: { kid } }), options(), "key_unknown");
    }
  });

  it("refuses a kid that names a key of another algorithm as key_unknown", async () => {
    for (const alg of ALGORITHMS) {
      for (const other of ALGORITHMS.filter((a) => a !== alg)) {
        // Signed with the right key for `alg`; only the kid points at the `other` key.
        await expectRefused(token({ header: { kid: keys[other].kid } }, alg), options(), "key_unknown");
      }
    }
  });

  it("refuses a non-string typ as header_invalid", async () => {
    for (const typ of [1, null, ["at+jwt"]]) {
      await expectRefused(token({ header: { typ } }), options(), "header_invalid");
    }
  });
});

describe("typ", () => {
  it("refuses a typ other than the one asked for as typ_mismatch", async () => {
    for (const typ of [
      "JWT",
      "application/jwt",
      "at+jwt ",
      "x-at+jwt",
      "at-jwt",
      "application/at+jwt; q=1",
    ]) {
      await expectRefused(token({ header: { typ } }), options({ typ: "at+jwt" }), "typ_mismatch");
    }
  });

  it("refuses a missing typ when one is asked for as typ_mismatch", async () => {
    await expectRefused(token({ header: { typ: undefined } }), options({ typ: "at+jwt" }), "typ_mismatch");
  });

  it("accepts typ case-insensitively and with or without the application/ prefix (RFC 8725 3.11)", async () => {
    for (const typ of ["at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "Application/AT+JWT"]) {
      await expectAccepted(token({ header: { typ } }), options({ typ: "at+jwt" }));
      await expectAccepted(token({ header: { typ } }), options({ typ: "application/AT+jwt" }));
    }
  });
});

describe("time claims", () => {
  it("refuses a missing exp as claims_invalid", async () => {
    await expectRefused(token({ claims: { exp: undefined } }), options(), "claims_invalid");
  });

  it("refuses a non-number exp, nbf or iat as claims_invalid", async () => {
    for (const value of [String(NOW + 60), null, true, [NOW + 60], { v: NOW + 60 }]) {
      await expectRefused(token({ claims: { exp: value } }), options(), "claims_invalid");
      await expectRefused(token({ claims: { nbf: value } }), options(), "claims_invalid");
      await expectRefused(token({ claims: { iat: value } }), options(), "claims_invalid");
    }
  });

  it("refuses an expired token (exp at or before now) as expired", async () => {
    for (const exp of [NOW, NOW - 1, NOW - 3600, 0, -1]) {
      await expectRefused(token({ claims: { exp } }), options(), "expired");
    }
    await expectAccepted(token({ claims: { exp: NOW + 1 } }), options());
  });

  it("floors the current time to whole seconds: exp = now + 1 is accepted up to the last millisecond", async () => {
    const jwt = token({ claims: { exp: NOW + 1 } });
    await expectAccepted(jwt, options({ now: () => NOW_MS + 999 }));
    await expectRefused(jwt, options({ now: () => NOW_MS + 1000 }), "expired");
  });

  it("accepts an expired token within clockTolerance, up to 60 seconds, and refuses it beyond", async () => {
    for (const tolerance of [1, 30, MAX_CLOCK_TOLERANCE]) {
      await expectAccepted(
        token({ claims: { exp: NOW - tolerance + 1 } }),
        options({ clockTolerance: tolerance }),
      );
      await expectRefused(
        token({ claims: { exp: NOW - tolerance } }),
        options({ clockTolerance: tolerance }),
        "expired",
      );
    }
    expect(MAX_CLOCK_TOLERANCE).toBe(60);
  });

  it("throws TypeError for clockTolerance 61 (and negative or non-finite) on both verifiers", async () => {
    for (const clockTolerance of [
      61,
      MAX_CLOCK_TOLERANCE + 0.001,
      -1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]) {
      const opts = options({ clockTolerance });
      expect(() => verifyJwt(token(), opts)).toThrow(TypeError);
      await expect(verifyJwtWithJose(token(), opts)).rejects.toThrow(TypeError);
    }
  });

  it("refuses nbf in the future as not_yet_valid, and accepts nbf = now", async () => {
    await expectRefused(token({ claims: { nbf: NOW + 1 } }), options(), "not_yet_valid");
    await expectRefused(token({ claims: { nbf: NOW + 3600 } }), options(), "not_yet_valid");
    await expectAccepted(token({ claims: { nbf: NOW } }), options());
  });

  it("accepts nbf in the future within clockTolerance and refuses it beyond", async () => {
    await expectAccepted(token({ claims: { nbf: NOW + 30 } }), options({ clockTolerance: 30 }));
    await expectRefused(
      token({ claims: { nbf: NOW + 31 } }),
      options({ clockTolerance: 30 }),
      "not_yet_valid",
    );
  });
});

describe("issuer and audience", () => {
  it("refuses a wrong issuer as issuer_mismatch", async () => {
    for (const iss of ["https://other.example", `${ISSUER}/`, ISSUER.toUpperCase(), "", [ISSUER], 1, null]) {
      await expectRefused(token({ claims: { iss } }), options({ issuer: ISSUER }), "issuer_mismatch");
    }
  });

  it("refuses a missing issuer as issuer_mismatch, and accepts one of several issuers", async () => {
    await expectRefused(
      token({ claims: { iss: undefined } }),
      options({ issuer: ISSUER }),
      "issuer_mismatch",
    );
    await expectAccepted(token(), options({ issuer: ["https://a.example", ISSUER] }));
  });

  it("refuses a wrong audience as audience_mismatch", async () => {
    for (const aud of ["web", "API", "", ["web", "admin"], [], 1, null, { api: true }]) {
      await expectRefused(token({ claims: { aud } }), options({ audience: "api" }), "audience_mismatch");
    }
  });

  it("refuses a missing audience as audience_mismatch, and accepts any overlap of the lists", async () => {
    await expectRefused(
      token({ claims: { aud: undefined } }),
      options({ audience: "api" }),
      "audience_mismatch",
    );
    await expectAccepted(token({ claims: { aud: ["web", "api"] } }), options({ audience: "api" }));
    await expectAccepted(token({ claims: { aud: "api" } }), options({ audience: ["web", "api"] }));
  });
});

describe("payload", () => {
  it("refuses a payload that is an array, number, string, null or boolean as claims_invalid", async () => {
    for (const payload of [`[{"exp":${NOW + 60}}]`, `${NOW + 60}`, '"exp"', "null", "true"]) {
      await expectRefused(
        signRaw(keys.EdDSA, JSON.stringify(base().header), payload),
        options(),
        "claims_invalid",
      );
    }
  });

  it("refuses a payload that is not JSON as claims_invalid", async () => {
    for (const payload of ["{", "exp=1", `{"exp":${NOW + 60},}`, `{'exp':${NOW + 60}}`, "{}{}"]) {
      await expectRefused(
        signRaw(keys.EdDSA, JSON.stringify(base().header), payload),
        options(),
        "claims_invalid",
      );
    }
  });

  it("refuses a payload that is not valid UTF-8 as claims_invalid", async () => {
    const invalid = [
      [0xff], // never valid
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // UTF-16 surrogate D800
      [0xe2, 0x82], // truncated sequence
      [0x80], // lone continuation byte
    ];
    for (const bytes of invalid) {
      const payload = Buffer.concat([
        Buffer.from(`{"exp":${NOW + 60},"name":"`),
        Buffer.from(bytes),
        Buffer.from('"}'),
      ]);
      await expectRefused(
        signRaw(keys.EdDSA, JSON.stringify(base().header), payload),
        options(),
        "claims_invalid",
      );
    }
  });
});

describe("compact serialization", () => {
  /**
   * A valid token whose segment `index` contains `char` ('-' or '_'). ">>>" and "???" encode to "-" and "_"
   * at the right alignment, so varying a few padding characters finds one quickly; the search is bounded.
   */
  function tokenWhereSegmentHas(index: number, char: "-" | "_"): string {
    for (let i = 0; i < 300; i++) {
      const pad = "x".repeat(i % 3);
      const jwt = token(
        { header: { typ: `at+jwt${pad}>>>???` }, claims: { jti: `${"y".repeat(i)}>>>???` } },
        "RS256",
      );
      if (jwt.split(".")[index]!.includes(char)) return jwt;
    }
    throw new Error(`no token with ${char} in segment ${index}`);
  }

  it("refuses padded base64 ('=') in any segment as malformed", async () => {
    const jwt = token({ claims: { sub: "ab" } });
    const segments = jwt.split(".");
    for (let i = 0; i < 3; i++) {
      for (const pad of ["=", "==", "===="]) {
        const padded = segments.map((s, j) => (j === i ? s + pad : s)).join(".");
        await expectRefused(padded, options(), "malformed");
      }
    }
  });

  it("refuses whitespace anywhere in the token as malformed", async () => {
    const jwt = token();
    for (const ws of [" ", "\n", "\r\n", "\t", "\u00a0"]) {
      for (const at of [0, 5, jwt.indexOf(".") + 3, jwt.lastIndexOf(".") + 4, jwt.length]) {
        await expectRefused(jwt.slice(0, at) + ws + jwt.slice(at), options(), "malformed");
      }
    }
  });

  it("refuses the standard base64 alphabet ('+' for '-', '/' for '_') in any segment as malformed", async () => {
    for (let i = 0; i < 3; i++) {
      for (const [from, to] of [
        ["-", "+"],
        ["_", "/"],
      ] as const) {
        const jwt = tokenWhereSegmentHas(i, from);
        await expectAccepted(jwt, options());
        const swapped = jwt
          .split(".")
          .map((s, j) => (j === i ? s.replace(from, to) : s))
          .join(".");
        // Node's base64url decoder would read '+' and '/' as the same bytes: only the shape check refuses.
        expect(Buffer.from(swapped.split(".")[i]!, "base64url")).toEqual(
          Buffer.from(jwt.split(".")[i]!, "base64url"),
        );
        await expectRefused(swapped, options(), "malformed");
      }
    }
  });

  it("refuses 2 or 4 (or 1, 5) segments, and empty segments, as malformed", async () => {
    const jwt = token();
    const [h, p, s] = jwt.split(".") as [string, string, string];
    for (const bad of [
      `${h}.${p}`,
      `${jwt}.${s}`,
      `${jwt}.`,
      `${h}.${p}.${s}.${s}.${s}`,
      h,
      `.${p}.${s}`,
      `${h}..${s}`,
      `${h}.${p}.`,
      "..",
      "",
    ]) {
      await expectRefused(bad, options(), "malformed");
    }
  });

  it("refuses a segment whose length is 1 mod 4 (not whole bytes) as malformed", async () => {
    const [h, p, s] = token().split(".") as [string, string, string];
    // The longest prefix whose length is 1 mod 4.
    const oneMod4 = (seg: string) => seg.slice(0, seg.length - ((seg.length - 1) % 4));
    for (const seg of [h, p, s]) expect(oneMod4(seg).length % 4).toBe(1);
    await expectRefused(`${oneMod4(h)}.${p}.${s}`, options(), "malformed");
    await expectRefused(`${h}.${oneMod4(p)}.${s}`, options(), "malformed");
    await expectRefused(`${h}.${p}.${oneMod4(s)}`, options(), "malformed");
  });

  it("refuses a non-string token as malformed", async () => {
    for (const value of [undefined, null, 1, {}, ["a.b.c"], Buffer.from(token())]) {
      await expectRefused(value, options(), "malformed");
    }
  });

  it("refuses a validly signed token longer than MAX_JWT_LENGTH as malformed, and accepts one of exactly that length", async () => {
    // Grow a claim until the whole token has the wanted length. A base64url segment never has a length of
    // 1 mod 4, so the header's length (via typ) is varied too to reach every total length.
    const sized = (length: number): string | undefined => {
      for (const typ of ["at+jwt", "at+jwt1", "at+jwt12"]) {
        for (let n = Math.floor((length * 3) / 4) - 400; n < length; n++) {
          const jwt = token({ header: { typ }, claims: { sub: "x".repeat(n) } });
          if (jwt.length === length) return jwt;
          if (jwt.length > length) break;
        }
      }
      return undefined;
    };
    const exact = sized(MAX_JWT_LENGTH);
    expect(exact?.length).toBe(MAX_JWT_LENGTH);
    await expectAccepted(exact!, options());
    let refusedCount = 0;
    for (const length of [MAX_JWT_LENGTH + 1, MAX_JWT_LENGTH + 2, MAX_JWT_LENGTH + 3, MAX_JWT_LENGTH * 4]) {
      const over = sized(length);
      if (over === undefined) continue;
      expect(over.length).toBeGreaterThan(MAX_JWT_LENGTH);
      await expectRefused(over, options(), "malformed");
      refusedCount++;
    }
    expect(refusedCount).toBe(4);
  });
});

describe("signature", () => {
  it("refuses an ES256 signature in DER (a valid ECDSA signature, wrong encoding) as signature_invalid", async () => {
    const header = JSON.stringify(base("ES256").header);
    const input = `${b64u(header)}.${b64u(JSON.stringify(base().claims))}`;
    const der = cryptoSign("sha256", Buffer.from(input), keys.ES256.privateKey); // default dsaEncoding: der
    expect(der[0]).toBe(0x30);
    expect(cryptoVerify("sha256", Buffer.from(input), keys.ES256.publicKey, der)).toBe(true);
    await expectRefused(`${input}.${der.toString("base64url")}`, options(), "signature_invalid");
    // The same signature converted to R || S is accepted, so the encoding alone decides.
    const p1363 = rawSignature("ES256", keys.ES256.privateKey, input);
    await expectAccepted(`${input}.${p1363.toString("base64url")}`, options());
  });

  for (const alg of ALGORITHMS) {
    it(`refuses a truncated or extended ${alg} signature as signature_invalid`, async () => {
      const jwt = token({}, alg);
      const sigStart = jwt.lastIndexOf(".") + 1;
      const sig = Buffer.from(jwt.slice(sigStart), "base64url");
      const input = jwt.slice(0, sigStart);
      for (const bad of [
        sig.subarray(0, sig.length - 1),
        sig.subarray(0, sig.length / 2),
        sig.subarray(0, 1),
      ]) {
        await expectRefused(input + bad.toString("base64url"), options(), "signature_invalid");
      }
      await expectRefused(
        input + Buffer.concat([sig, Buffer.from([0])]).toString("base64url"),
        options(),
        "signature_invalid",
      );
      await expectRefused(
        input + Buffer.concat([Buffer.from([0]), sig]).toString("base64url"),
        options(),
        "signature_invalid",
      );
    });

    it(`refuses a ${alg} token with one flipped signature bit, payload byte or header byte as signature_invalid`, async () => {
      const jwt = token({}, alg);
      const [h, p, s] = jwt.split(".") as [string, string, string];
      const flip = (seg: string, byte: number) => {
        const bytes = Buffer.from(seg, "base64url");
        bytes[byte % bytes.length]! ^= 0x01;
        return bytes.toString("base64url");
      };
      await expectRefused(`${h}.${p}.${flip(s, 10)}`, options(), "signature_invalid");
      await expectRefused(`${h}.${p}.${flip(s, 0)}`, options(), "signature_invalid");
      await expectRefused(`${h}.${flip(p, 3)}.${s}`, options(), "signature_invalid");
      // A header byte changed where the header stays valid and resolvable: typ "at+jwt" -> "at+jwu".
      const header = Buffer.from(h, "base64url").toString("utf8");
      expect(header).toContain('"typ":"at+jwt"');
      await expectRefused(
        `${b64u(header.replace("at+jwt", "at+jwu"))}.${p}.${s}`,
        options(),
        "signature_invalid",
      );
    });

    it(`refuses a ${alg} token signed by another key under a registered kid as signature_invalid`, async () => {
      const other = await makeKeys();
      const forged = signRaw(other[alg], JSON.stringify(base(alg).header), JSON.stringify(base().claims));
      await expectRefused(forged, options(), "signature_invalid");
    });
  }

  it("refuses a signature over a different but equivalent encoding of the same header as signature_invalid", async () => {
    // Same JSON with a space: both decode to the same header, but the signing input differs.
    const jwt = token();
    const [, p, s] = jwt.split(".") as [string, string, string];
    const respaced = b64u(JSON.stringify(base().header).replace(",", ", "));
    await expectRefused(`${respaced}.${p}.${s}`, options(), "signature_invalid");
  });
});

describe("signJwt refusals", () => {
  const key = () => keys.EdDSA;

  it("refuses claims without exp (TypeError)", () => {
    expect(() => signJwt({ sub: "u" }, { key: key() })).toThrow(TypeError);
  });

  it("refuses a non-finite or non-number exp (TypeError)", () => {
    for (const exp of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "2000000000", null]) {
      expect(() => signJwt({ exp } as never, { key: key() })).toThrow(TypeError);
    }
  });

  it("refuses a non-finite iat or nbf (TypeError)", () => {
    expect(() => signJwt({ exp: NOW + 60, iat: Number.NaN }, { key: key() })).toThrow(TypeError);
    expect(() => signJwt({ exp: NOW + 60, nbf: Number.POSITIVE_INFINITY }, { key: key() })).toThrow(
      TypeError,
    );
  });

  it("refuses a lifetime over maxLifetime (RangeError) and signs one of exactly maxLifetime", () => {
    const opts = { key: key(), maxLifetime: 300, now };
    expect(() => signJwt({ exp: NOW + 301 }, opts)).toThrow(RangeError);
    expect(() => signJwt({ exp: NOW + 10_000_000 }, opts)).toThrow(RangeError);
    const jwt = signJwt({ exp: NOW + 300 }, opts);
    expect(verifyJwt(jwt, options()).payload.exp).toBe(NOW + 300);
  });
});
