/**
 * `createVerifier` on JWT access tokens against a stand-in issuer (real HTTP): every refusal by name, the
 * JWKS cache and its refetch limits, outages, step-up and scopes. The clock moves through the `now` option.
 */
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  VerifyError,
} from "../../src/sdk/verify/index.js";
import { AUDIENCE, type FakeIssuer, makeKey, startIssuer } from "./verify-issuer.js";

/** Background refreshes are awaited generously (no timing is asserted). */
const WAIT = { timeout: 5000 };
let issuer: FakeIssuer;
const open: Verifier[] = [];
let clock = Date.now();

function verifierFor(options: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, now: () => clock, ...options });
  open.push(verifier);
  return verifier;
}

/** The refusal a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

beforeAll(async () => {
  issuer = await startIssuer();
});
afterAll(async () => {
  await issuer.close();
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  clock = Date.now();
  issuer.down.jwks = false;
  issuer.down.discovery = false;
  issuer.served = () => issuer.keys.map((k) => k.jwk);
  issuer.jwksCacheControl = "public, max-age=300";
});

describe("JWT access tokens", () => {
  it("accepts a valid token signed with each algorithm and returns its claims", async () => {
    const verifier = verifierFor();
    for (const key of issuer.keys) {
      const token = await issuer.sign({ sub: `user-${key.alg}`, acr: "mfa", amr: ["pwd", "otp"] }, { key });
      const claims = await verifier.verify(token);
      expect(claims).toMatchObject({
        tokenKind: "jwt",
        iss: issuer.url,
        sub: `user-${key.alg}`,
        aud: AUDIENCE,
        client_id: "web-app",
        scope: "orders:read profile",
        scopes: ["orders:read", "profile"],
        acr: "mfa",
        amr: ["pwd", "otp"],
      });
      expect(Object.isFrozen(claims)).toBe(true);
    }
  });

  it("accepts a token whose aud is an array naming this resource server", async () => {
    const token = await issuer.sign({ aud: ["https://other.example", AUDIENCE] });
    expect((await verifierFor().verify(token)).aud).toEqual(["https://other.example", AUDIENCE]);
  });

  it("refuses an expired token", async () => {
    const now = Math.floor(Date.now() / 1000);
    const error = await refusal(verifierFor().verify(await issuer.sign({ iat: now - 600, exp: now - 60 })));
    expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "expired" });
    expect(error.wwwAuthenticate).toBe(
      'Bearer error="invalid_token", error_description="The access token expired."',
    );
  });

  it("refuses a token whose nbf is in the future", async () => {
    const nbf = Math.floor(Date.now() / 1000) + 120;
    const error = await refusal(verifierFor().verify(await issuer.sign({ nbf })));
    expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "not_yet_valid" });
  });

  it("tolerates small clock skew on exp and nbf (clockTolerance)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const verifier = verifierFor({ clockTolerance: 30 });
    await expect(verifier.verify(await issuer.sign({ nbf: now + 10 }))).resolves.toBeDefined();
    await expect(verifier.verify(await issuer.sign({ exp: now - 10 }))).resolves.toBeDefined();
  });

  it("never serves a cached token past its exp", async () => {
    const verifier = verifierFor({ clockTolerance: 0 });
    const exp = Math.floor(clock / 1000) + 10;
    const token = await issuer.sign({ exp });
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    clock = exp * 1000;
    expect((await refusal(verifier.verify(token))).reason).toBe("expired");
  });

  it("refuses a token for another audience", async () => {
    const error = await refusal(verifierFor().verify(await issuer.sign({ aud: "https://other.example" })));
    expect(error.reason).toBe("audience_mismatch");
    expect(error.error).toBe("invalid_token");
  });

  it("refuses a token from another issuer", async () => {
    const error = await refusal(verifierFor().verify(await issuer.sign({ iss: "https://evil.example" })));
    expect(error.reason).toBe("issuer_mismatch");
  });

  it("refuses a token whose typ is not at+jwt (an ID token, or none)", async () => {
    const verifier = verifierFor();
    expect((await refusal(verifier.verify(await issuer.sign({}, { typ: "JWT" })))).reason).toBe(
      "typ_mismatch",
    );
    expect((await refusal(verifier.verify(await issuer.sign({}, { typ: null })))).reason).toBe(
      "typ_mismatch",
    );
  });

  it("refuses alg none and HS256, whatever the key material", async () => {
    const verifier = verifierFor();
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const payload = b64({
      iss: issuer.url,
      aud: AUDIENCE,
      sub: "x",
      client_id: "c",
      iat: now,
      exp: now + 60,
      jti: "j",
    });
    const kid = issuer.keys[0]!.kid;
    const none = `${b64({ alg: "none", kid, typ: "at+jwt" })}.${payload}.`;
    expect((await refusal(verifier.verify(none))).error).toBe("invalid_token");
    const noneSigned = `${b64({ alg: "none", kid, typ: "at+jwt" })}.${payload}.AAAA`;
    expect((await refusal(verifier.verify(noneSigned))).reason).toBe("alg_not_allowed");
    // HMAC keyed with the public key's bytes: the classic algorithm-confusion forgery.
    const secret = new TextEncoder().encode(JSON.stringify(issuer.keys[0]!.jwk));
    const hs256 = await new SignJWT({ iss: issuer.url, aud: AUDIENCE, sub: "x", client_id: "c", jti: "j" })
      .setProtectedHeader({ alg: "HS256", kid, typ: "at+jwt" })
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(secret);
    expect((await refusal(verifier.verify(hs256))).reason).toBe("alg_not_allowed");
  });

  it("refuses a tampered signature and a tampered payload", async () => {
    const verifier = verifierFor();
    const token = await issuer.sign();
    const [h, p, s] = token.split(".") as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), sub: "admin" })).toString("base64url")}.${s}`;
    expect((await refusal(verifier.verify(forged))).reason).toBe("signature_invalid");
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith("AA") ? "BB" : "AA"}`;
    expect((await refusal(verifier.verify(flipped))).reason).toBe("signature_invalid");
  });

  it("refuses a token missing RFC 9068's required claims", async () => {
    const verifier = verifierFor();
    for (const claim of ["client_id", "jti", "iat", "sub"]) {
      const token = await issuer.sign({ [claim]: undefined });
      expect((await refusal(verifier.verify(token))).reason, claim).toBe("claims_invalid");
    }
  });

  it("refuses a DPoP-bound token presented as a bearer token", async () => {
    const token = await issuer.sign({ cnf: { jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } });
    expect((await refusal(verifierFor().verify(token))).reason).toBe("dpop_bound");
  });

  it("refuses what is neither a JWT nor a Tessera token, without a network call", async () => {
    const verifier = verifierFor();
    const before = issuer.requests.length;
    for (const token of ["", "abc", "a.b", "a.b.c.d", "ghp_0123456789", "a..c"]) {
      expect((await refusal(verifier.verify(token))).error).toBe("invalid_token");
    }
    expect(issuer.requests.length).toBe(before);
  });

  it("never puts the token or a claim in the error", async () => {
    const token = await issuer.sign({ aud: "https://other.example", sub: "secret-subject" });
    const error = await refusal(verifierFor().verify(token));
    const text = `${error.message} ${error.description} ${error.wwwAuthenticate} ${JSON.stringify(error)}`;
    expect(text).not.toContain(token.split(".")[2]);
    expect(text).not.toContain("secret-subject");
    expect(text).not.toContain("other.example");
  });
});

describe("the JWKS cache", () => {
  it("fetches discovery and the JWKS once, not per request", async () => {
    const verifier = verifierFor();
    const [jwks, discovery] = [issuer.count("/jwks"), issuer.count("/.well-known/openid-configuration")];
    for (let i = 0; i < 20; i++) await verifier.verify(await issuer.sign());
    expect(issuer.count("/jwks") - jwks).toBe(1);
    expect(issuer.count("/.well-known/openid-configuration") - discovery).toBe(1);
  });

  it("refetches once on an unknown kid, then accepts the new key's tokens", async () => {
    const verifier = verifierFor({ jwksRefetchInterval: 15 });
    await verifier.verify(await issuer.sign());
    const fresh = await makeKey("ES256");
    const served = issuer.served;
    issuer.served = () => [...served(), fresh.jwk];
    const before = issuer.count("/jwks");
    clock += 16_000;
    await expect(verifier.verify(await issuer.sign({}, { key: fresh }))).resolves.toMatchObject({
      sub: "user-1",
    });
    expect(issuer.count("/jwks") - before).toBe(1);
  });

  it("does not refetch for an unknown kid within the rate-limit window", async () => {
    const verifier = verifierFor({ jwksRefetchInterval: 15 });
    await verifier.verify(await issuer.sign());
    const before = issuer.count("/jwks");
    const error = await refusal(verifier.verify(await issuer.sign({}, { kid: "unknown-kid" })));
    expect(error.reason).toBe("key_unknown");
    expect(issuer.count("/jwks")).toBe(before);
  });

  it("a burst of unknown kids triggers at most one refetch per window", async () => {
    const verifier = verifierFor({ jwksRefetchInterval: 15 });
    await verifier.verify(await issuer.sign());
    const before = issuer.count("/jwks");
    clock += 16_000;
    const forged = await Promise.all(
      Array.from({ length: 25 }, () => issuer.sign({}, { kid: randomUUID() })),
    );
    const errors = await Promise.all(forged.map((t) => refusal(verifier.verify(t))));
    expect(errors.every((e) => e.reason === "key_unknown")).toBe(true);
    expect(issuer.count("/jwks") - before).toBe(1);
    // Still inside the window: no more fetches.
    clock += 5_000;
    await Promise.all(forged.map((t) => refusal(verifier.verify(t))));
    expect(issuer.count("/jwks") - before).toBe(1);
    // Next window: one more.
    clock += 15_000;
    await Promise.all(forged.map((t) => refusal(verifier.verify(t))));
    expect(issuer.count("/jwks") - before).toBe(2);
  });

  it("honours Cache-Control max-age within the configured bounds", async () => {
    issuer.jwksCacheControl = "public, max-age=120";
    const verifier = verifierFor({ jwksMinAge: 10, jwksMaxAge: 3600 });
    const token = await issuer.sign();
    await verifier.verify(token);
    const before = issuer.count("/jwks");
    clock += 100_000;
    await verifier.verify(await issuer.sign());
    expect(issuer.count("/jwks")).toBe(before);
    clock += 21_000;
    await verifier.verify(await issuer.sign());
    await vi.waitFor(() => expect(issuer.count("/jwks")).toBe(before + 1), WAIT);
  });

  it("clamps a huge max-age to jwksMaxAge, and no-cache to jwksMinAge", async () => {
    issuer.jwksCacheControl = "max-age=999999";
    const verifier = verifierFor({ jwksMinAge: 30, jwksMaxAge: 600 });
    const exp = Math.floor(Date.now() / 1000) + 7200;
    await verifier.verify(await issuer.sign({ exp }));
    const before = issuer.count("/jwks");
    clock += 601_000;
    issuer.jwksCacheControl = "no-cache";
    await verifier.verify(await issuer.sign({ exp }));
    await vi.waitFor(() => expect(issuer.count("/jwks")).toBe(before + 1), WAIT);
    clock += 20_000;
    await verifier.verify(await issuer.sign({ exp }));
    expect(issuer.count("/jwks")).toBe(before + 1);
    clock += 11_000;
    await verifier.verify(await issuer.sign({ exp }));
    await vi.waitFor(() => expect(issuer.count("/jwks")).toBe(before + 2), WAIT);
  });

  it("drops a cached token when its key leaves the JWKS", async () => {
    const verifier = verifierFor({ jwksMinAge: 10, jwksMaxAge: 10 });
    const [first, second] = issuer.keys as [
      NonNullable<(typeof issuer.keys)[0]>,
      NonNullable<(typeof issuer.keys)[0]>,
    ];
    const token = await issuer.sign({}, { key: first });
    await verifier.verify(token);
    issuer.served = () => [second.jwk];
    clock += 11_000;
    await verifier.verify(await issuer.sign({}, { key: second })); // starts the background refresh
    await vi.waitFor(
      async () => expect((await refusal(verifier.verify(token))).reason).toBe("key_unknown"),
      WAIT,
    );
  });

  it("keeps working on cached keys while the JWKS endpoint is down", async () => {
    const verifier = verifierFor({ jwksMinAge: 10, jwksMaxAge: 10, jwksRefetchInterval: 1 });
    await verifier.verify(await issuer.sign());
    issuer.down.jwks = true;
    const before = issuer.count("/jwks");
    clock += 11_000;
    for (const key of issuer.keys) {
      await expect(verifier.verify(await issuer.sign({}, { key }))).resolves.toBeDefined();
    }
    await vi.waitFor(() => expect(issuer.count("/jwks")).toBeGreaterThan(before), WAIT);
    await expect(verifier.verify(await issuer.sign())).resolves.toBeDefined();
  });

  it("fails closed (503) when there are no keys and the JWKS endpoint is down", async () => {
    issuer.down.jwks = true;
    const verifier = verifierFor();
    const error = await refusal(verifier.verify(await issuer.sign()));
    expect(error).toMatchObject({
      status: 503,
      error: "temporarily_unavailable",
      reason: "jwks_unavailable",
    });
    expect(error.wwwAuthenticate).toBeUndefined();
    // Retried after a pause, not per request.
    const before = issuer.count("/jwks");
    await refusal(verifier.verify(await issuer.sign()));
    expect(issuer.count("/jwks")).toBe(before);
    issuer.down.jwks = false;
    clock += 3_000;
    await expect(verifier.verify(await issuer.sign())).resolves.toBeDefined();
  });

  it("fails closed (503) when discovery is down, and when the issuer cannot be reached at all", async () => {
    issuer.down.discovery = true;
    expect((await refusal(verifierFor().verify(await issuer.sign()))).reason).toBe("discovery_unavailable");
    const unreachable = verifierFor({ issuer: "http://127.0.0.1:1", timeoutMs: 2000 });
    expect((await refusal(unreachable.verify(await issuer.sign()))).status).toBe(503);
  });

  it("refuses discovery for another issuer", async () => {
    const verifier = verifierFor({ issuer: `${issuer.url.replace("127.0.0.1", "localhost")}` });
    expect((await refusal(verifier.verify(await issuer.sign()))).reason).toBe("discovery_unavailable");
  });

  it("ready() loads discovery and keys, and rejects while the issuer is down", async () => {
    const verifier = verifierFor();
    await verifier.ready();
    issuer.down.discovery = true;
    await expect(verifierFor().ready()).rejects.toMatchObject({ status: 503 });
  });
});

describe("route requirements", () => {
  it("answers 403 insufficient_scope with the scope needed", async () => {
    const verifier = verifierFor({ realm: "orders" });
    const token = await issuer.sign({ scope: "orders:read" });
    await expect(verifier.verify(token, { scopes: ["orders:read"] })).resolves.toBeDefined();
    await expect(verifier.verify(token, { scopes: "orders:read" })).resolves.toBeDefined();
    const error = await refusal(verifier.verify(token, { scopes: ["orders:read", "orders:write"] }));
    expect(error).toMatchObject({ status: 403, error: "insufficient_scope" });
    expect(error.wwwAuthenticate).toBe(
      'Bearer realm="orders", error="insufficient_scope", error_description="The access token lacks a scope this resource requires.", scope="orders:read orders:write"',
    );
  });

  it("refuses a token without scope when a scope is needed", async () => {
    const token = await issuer.sign({ scope: undefined });
    expect((await refusal(verifierFor().verify(token, { scopes: ["a"] }))).status).toBe(403);
  });

  it("step-up: answers insufficient_user_authentication with acr_values when the acr is not accepted", async () => {
    const verifier = verifierFor();
    const requirements = { acrValues: ["urn:tessera:mfa", "urn:tessera:phr"] };
    await expect(
      verifier.verify(await issuer.sign({ acr: "urn:tessera:mfa" }), requirements),
    ).resolves.toBeDefined();
    for (const acr of ["urn:tessera:pwd", undefined]) {
      const error = await refusal(verifier.verify(await issuer.sign({ acr }), requirements));
      expect(error).toMatchObject({
        status: 401,
        error: "insufficient_user_authentication",
        reason: "acr_not_accepted",
      });
      expect(error.wwwAuthenticate).toBe(
        'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required.", acr_values="urn:tessera:mfa urn:tessera:phr"',
      );
    }
  });

  it("step-up: answers insufficient_user_authentication with max_age when auth_time is too old", async () => {
    const verifier = verifierFor({ clockTolerance: 0 });
    const now = Math.floor(Date.now() / 1000);
    await expect(
      verifier.verify(await issuer.sign({ auth_time: now - 30 }), { maxAge: 60 }),
    ).resolves.toBeDefined();
    for (const auth_time of [now - 600, undefined]) {
      const error = await refusal(verifier.verify(await issuer.sign({ auth_time }), { maxAge: 60 }));
      expect(error).toMatchObject({
        status: 401,
        error: "insufficient_user_authentication",
        reason: "auth_time_too_old",
      });
      expect(error.wwwAuthenticate).toBe(
        'Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age="60"',
      );
    }
    const both = await refusal(
      verifier.verify(await issuer.sign({ acr: "a", auth_time: now - 600 }), { acrValues: ["a"], maxAge: 5 }),
    );
    expect(both.wwwAuthenticate).toContain('acr_values="a", max_age="5"');
  });

  it("refuses nonsense requirements as a programming error", async () => {
    const verifier = verifierFor();
    const token = await issuer.sign();
    await expect(verifier.verify(token, { scopes: ['a"b'] })).rejects.toBeInstanceOf(TypeError);
    await expect(verifier.verify(token, { maxAge: -1 })).rejects.toBeInstanceOf(TypeError);
    await expect(verifier.verify(token, { acrValues: [] })).rejects.toBeInstanceOf(TypeError);
  });
});

describe("options", () => {
  it("refuses an http issuer off loopback unless allowHttp", () => {
    expect(() => createVerifier({ issuer: "http://id.example.com", audience: AUDIENCE })).toThrow(TypeError);
    expect(() => createVerifier({ issuer: "https://id.example.com", audience: [] })).toThrow(TypeError);
    expect(() =>
      createVerifier({ issuer: "https://id.example.com", audience: AUDIENCE, clockTolerance: 600 }),
    ).toThrow(TypeError);
    createVerifier({ issuer: "http://id.internal", audience: AUDIENCE, allowHttp: true }).close();
  });

  it("ignores a trailing slash on the issuer", async () => {
    await expect(
      verifierFor({ issuer: `${issuer.url}/` }).verify(await issuer.sign()),
    ).resolves.toBeDefined();
  });

  it("accepts only the configured algorithms", async () => {
    const verifier = verifierFor({ algorithms: ["EdDSA"] });
    const rsa = issuer.keys.find((k) => k.alg === "RS256")!;
    expect((await refusal(verifier.verify(await issuer.sign({}, { key: rsa })))).reason).toBe(
      "alg_not_allowed",
    );
  });
});
