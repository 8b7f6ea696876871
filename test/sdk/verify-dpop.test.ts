/**
 * DPoP-bound access tokens (RFC 9449 §7) in the resource-server verifier, against the stand-in issuer (real
 * HTTP). Proofs are made here with `jose` (`SignJWT`, `calculateJwkThumbprint`) and `ath` with node:crypto,
 * independently of src/lib/dpop.ts. Covers acceptance, every refusal by reason and code, the exact
 * `WWW-Authenticate` forms, introspected bound tokens, the caches, `verify` with a proof context, and the
 * adapters passing method, URL and the `DPoP` header (Express and raw node:http on a listening port, Fastify
 * `inject`, Hono `app.request`, Fetch `Request`).
 */
import { createHash, randomUUID } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requireAuth as expressAuth } from "../../src/sdk/verify/express.js";
import { requireAuth as fastifyAuth } from "../../src/sdk/verify/fastify.js";
import { createRequestVerifier, errorResponse } from "../../src/sdk/verify/fetch.js";
import { requireAuth as honoAuth, type TesseraAuthEnv } from "../../src/sdk/verify/hono.js";
import {
  createVerifier,
  type DpopReplayCache,
  parseAuthorization,
  type RequestInfo,
  type Verifier,
  type VerifierOptions,
  VerifyError,
} from "../../src/sdk/verify/index.js";
import {
  AUDIENCE,
  CLIENT_ID,
  CLIENT_SECRET,
  type FakeIssuer,
  opaqueToken,
  startIssuer,
} from "./verify-issuer.js";

const ALGS = "ES256 ES384 EdDSA Ed25519 RS256 PS256";
const API = "https://api.example.test";
const URL_ORDERS = `${API}/orders`;

interface ClientKey {
  alg: "ES256" | "ES384" | "EdDSA" | "PS256";
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  jwk: JWK;
  jkt: string;
}

async function clientKey(alg: ClientKey["alg"] = "ES256"): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

const ath = (token: string) => createHash("sha256").update(token).digest("base64url");
const seconds = () => Math.floor(Date.now() / 1000);

interface ProofOptions {
  htm?: string;
  htu?: string;
  /** The access token whose hash is `ath`; null leaves `ath` out. */
  token?: string | null;
  athValue?: string;
  iat?: number;
  jti?: string;
  typ?: string;
}

/** A DPoP proof JWT (RFC 9449 §4.2), signed with `key`. */
function proofFor(key: ClientKey, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: o.htm ?? "GET",
    htu: o.htu ?? URL_ORDERS,
    iat: o.iat ?? seconds(),
    jti: o.jti ?? randomUUID(),
  };
  if (o.athValue !== undefined) claims.ath = o.athValue;
  else if (typeof o.token === "string") claims.ath = ath(o.token);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: o.typ ?? "dpop+jwt", jwk: key.jwk })
    .sign(key.privateKey);
}

let issuer: FakeIssuer;
let key: ClientKey;
let otherKey: ClientKey;
const open: Verifier[] = [];

function verifierFor(options: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    revocations: false,
    realm: "orders",
    ...options,
  });
  open.push(verifier);
  return verifier;
}

async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerifyError);
  return error as VerifyError;
}

/** A bound JWT access token for `key` (or for `jkt`). */
const boundJwt = (k: ClientKey = key, extra: Record<string, unknown> = {}) =>
  issuer.sign({ cnf: { jkt: k.jkt }, ...extra });

/** A request made with the DPoP scheme: `GET https://api.example.test/orders`. */
async function dpopRequest(token: string, o: ProofOptions & { k?: ClientKey } = {}): Promise<RequestInfo> {
  return {
    authorization: `DPoP ${token}`,
    method: "GET",
    url: URL_ORDERS,
    dpop: await proofFor(o.k ?? key, { token, ...o }),
  };
}

/** An opaque access token whose introspection answer is DPoP-bound to `k`. */
function boundOpaque(k: ClientKey = key, extra: Record<string, unknown> = {}): string {
  const token = opaqueToken("tsr_at_");
  issuer.tokens.set(token, {
    active: true,
    token_type: "DPoP",
    cnf: { jkt: k.jkt },
    scope: "orders:read",
    client_id: "web-app",
    sub: "user-1",
    aud: AUDIENCE,
    iss: issuer.url,
    iat: seconds(),
    exp: seconds() + 300,
    jti: `at-${token.slice(-10)}`,
    ...extra,
  });
  return token;
}

beforeAll(async () => {
  issuer = await startIssuer();
  [key, otherKey] = await Promise.all([clientKey("ES256"), clientKey("ES256")]);
});
afterAll(async () => {
  await issuer.close();
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
});

describe("parseAuthorization with the DPoP scheme", () => {
  it("reads DPoP <token68> only when asked to, and keeps Bearer as it was", () => {
    expect(parseAuthorization("DPoP abc.def-_~+/=", { dpop: true })).toEqual({
      kind: "dpop",
      token: "abc.def-_~+/=",
    });
    expect(parseAuthorization("dpop  abc", { dpop: true })).toEqual({ kind: "dpop", token: "abc" });
    expect(parseAuthorization(["DPoP abc"], { dpop: true })).toEqual({ kind: "dpop", token: "abc" });
    expect(parseAuthorization("DPoP abc")).toEqual({ kind: "none" });
    expect(parseAuthorization("Bearer abc", { dpop: true })).toEqual({ kind: "bearer", token: "abc" });
    expect(parseAuthorization("Bearer a b", { dpop: true })).toEqual({ kind: "malformed" });
    for (const header of ["DPoP", "DPoP a b", "DPoP a, DPoP b", 'DPoP "a"', `DPoP ${"a".repeat(20_000)}`]) {
      expect(parseAuthorization(header, { dpop: true }), header).toEqual({
        kind: "malformed",
        scheme: "dpop",
      });
    }
    expect(parseAuthorization("DPoPx abc", { dpop: true })).toEqual({ kind: "none" });
    expect(parseAuthorization(["DPoP a", "DPoP b"], { dpop: true })).toEqual({ kind: "malformed" });
  });
});

describe("authenticate: DPoP-bound JWT access tokens", () => {
  it("accepts a bound token with a proof of its key, for this method, URL and token", async () => {
    const verifier = verifierFor();
    const token = await boundJwt();
    const claims = await verifier.authenticate(await dpopRequest(token));
    expect(claims).toMatchObject({ tokenKind: "jwt", sub: "user-1", cnf: { jkt: key.jkt } });
    expect(Object.isFrozen(claims.cnf)).toBe(true);
    // The scheme in any case, the method in any case, a query on the request URL (htu has none).
    const post = await boundJwt();
    await expect(
      verifier.authenticate({
        authorization: `dpop ${post}`,
        method: "post",
        url: `${URL_ORDERS}?page=2`,
        dpop: await proofFor(key, { htm: "POST", token: post }),
      }),
    ).resolves.toMatchObject({ sub: "user-1" });
  });

  it("accepts proofs made with other algorithms (ES384, EdDSA, PS256)", async () => {
    const verifier = verifierFor();
    for (const alg of ["ES384", "EdDSA", "PS256"] as const) {
      const k = await clientKey(alg);
      const token = await boundJwt(k);
      await expect(verifier.authenticate(await dpopRequest(token, { k })), alg).resolves.toMatchObject({
        cnf: { jkt: k.jkt },
      });
    }
  });

  it("refuses each bad or missing proof with invalid_dpop_proof, by reason", async () => {
    const verifier = verifierFor();
    const cases: [string, (token: string) => Promise<RequestInfo>, string][] = [
      ["no DPoP header", async (t) => ({ ...(await dpopRequest(t)), dpop: undefined }), "dpop_proof_missing"],
      ["an empty DPoP header", async (t) => ({ ...(await dpopRequest(t)), dpop: "" }), "dpop_proof_missing"],
      [
        "two DPoP headers",
        async (t) => ({
          ...(await dpopRequest(t)),
          dpop: [await proofFor(key, { token: t }), await proofFor(key, { token: t })],
        }),
        "dpop_proof_multiple",
      ],
      [
        "two DPoP headers joined",
        async (t) => ({
          ...(await dpopRequest(t)),
          dpop: `${await proofFor(key, { token: t })}, ${await proofFor(key, { token: t })}`,
        }),
        "dpop_proof_multiple",
      ],
      ["wrong htm", (t) => dpopRequest(t, { htm: "POST" }), "dpop_proof_htm"],
      ["wrong htu path", (t) => dpopRequest(t, { htu: `${API}/invoices` }), "dpop_proof_htu"],
      [
        "wrong htu origin",
        (t) => dpopRequest(t, { htu: "https://other.example.test/orders" }),
        "dpop_proof_htu",
      ],
      ["missing ath", (t) => dpopRequest(t, { token: null }), "dpop_proof_ath"],
      ["ath of another token", (t) => dpopRequest(t, { athValue: ath(`${t}x`) }), "dpop_proof_ath"],
      ["iat two minutes old", (t) => dpopRequest(t, { iat: seconds() - 120 }), "dpop_proof_iat"],
      ["iat a minute ahead", (t) => dpopRequest(t, { iat: seconds() + 60 }), "dpop_proof_iat"],
      ["typ JWT", (t) => dpopRequest(t, { typ: "JWT" }), "dpop_proof_typ"],
      [
        "a signature by another key",
        async (t) => {
          const forged = await proofFor({ ...otherKey, jwk: key.jwk }, { token: t });
          return { ...(await dpopRequest(t)), dpop: forged };
        },
        "dpop_proof_signature",
      ],
      [
        "not a JWS",
        async (t) => ({ ...(await dpopRequest(t)), dpop: "not-a-proof" }),
        "dpop_proof_malformed",
      ],
    ];
    for (const [name, build, reason] of cases) {
      const token = await boundJwt();
      const error = await refusal(verifier.authenticate(await build(token)));
      expect(error.reason, name).toBe(reason);
      expect(error.status, name).toBe(401);
      expect(error.error, name).toBe("invalid_dpop_proof");
      expect(error.wwwAuthenticate, name).toMatch(/^DPoP realm="orders", error="invalid_dpop_proof", /);
      expect(error.wwwAuthenticate, name).toContain(`algs="${ALGS}"`);
    }
  });

  it("refuses a proof made with another key than the token's (invalid_token)", async () => {
    const token = await boundJwt(key);
    const error = await refusal(verifierFor().authenticate(await dpopRequest(token, { k: otherKey })));
    expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "dpop_key_mismatch" });
    expect(error.wwwAuthenticate).toBe(
      `DPoP realm="orders", error="invalid_token", error_description="The DPoP proof's key is not the key the access token is bound to.", algs="${ALGS}"`,
    );
  });

  it("accepts a proof once: the same proof again is refused as replayed", async () => {
    const verifier = verifierFor();
    const token = await boundJwt();
    const request = await dpopRequest(token);
    await expect(verifier.authenticate(request)).resolves.toBeDefined();
    const error = await refusal(verifier.authenticate(request));
    expect(error).toMatchObject({ status: 401, error: "invalid_dpop_proof", reason: "dpop_proof_replayed" });
    expect(error.wwwAuthenticate).toBe(
      `DPoP realm="orders", error="invalid_dpop_proof", error_description="The DPoP proof was already used.", algs="${ALGS}"`,
    );
    // A fresh proof for the same (cached) token is fine.
    await expect(verifier.authenticate(await dpopRequest(token))).resolves.toBeDefined();
  });

  it("never lets a cached bound token skip the proof", async () => {
    const verifier = verifierFor();
    const token = await boundJwt();
    const jwksCalls = issuer.count("/jwks");
    await verifier.authenticate(await dpopRequest(token));
    for (const request of [
      { authorization: `DPoP ${token}`, method: "GET", url: URL_ORDERS },
      { authorization: `Bearer ${token}`, method: "GET", url: URL_ORDERS },
    ]) {
      await refusal(verifier.authenticate(request));
    }
    expect((await refusal(verifier.verify(token))).reason).toBe("dpop_bound");
    await expect(verifier.authenticate(await dpopRequest(token))).resolves.toBeDefined();
    // The token itself came from the cache: at most the one JWKS load of this verifier.
    expect(issuer.count("/jwks") - jwksCalls).toBeLessThanOrEqual(1);
  });

  it("refuses a bound token presented as a bearer token, naming both schemes", async () => {
    const token = await boundJwt();
    const verifier = verifierFor();
    // With a valid proof alongside or not: the scheme is what counts (RFC 9449 §7.2).
    for (const dpop of [undefined, await proofFor(key, { token })]) {
      const error = await refusal(
        verifier.authenticate({ authorization: `Bearer ${token}`, method: "GET", url: URL_ORDERS, dpop }),
      );
      expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "dpop_bound" });
      expect(error.wwwAuthenticate).toBe(
        `Bearer realm="orders", error="invalid_token", error_description="The access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof.", DPoP realm="orders", algs="${ALGS}"`,
      );
    }
  });

  it("refuses an unbound token presented with the DPoP scheme", async () => {
    const token = await issuer.sign();
    const error = await refusal(verifierFor().authenticate(await dpopRequest(token)));
    expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "dpop_not_bound" });
    expect(error.wwwAuthenticate).toMatch(/^DPoP realm="orders", error="invalid_token", /);
    // The same token as a bearer token is fine.
    await expect(
      verifierFor().authenticate({ authorization: `Bearer ${token}`, method: "GET", url: URL_ORDERS }),
    ).resolves.toMatchObject({ sub: "user-1" });
  });

  it("answers a DPoP-scheme request without a token, or with a malformed one, in the DPoP scheme", async () => {
    const verifier = verifierFor();
    const malformed = await refusal(verifier.authenticate({ authorization: "DPoP a b", method: "GET" }));
    expect(malformed).toMatchObject({ status: 400, reason: "header_malformed" });
    expect(malformed.wwwAuthenticate).toBe(
      `DPoP realm="orders", error="invalid_request", error_description="The Authorization header is malformed.", algs="${ALGS}"`,
    );
    const inQuery = await refusal(
      verifier.authenticate({
        authorization: `DPoP ${await boundJwt()}`,
        method: "GET",
        url: `${URL_ORDERS}?access_token=x`,
      }),
    );
    expect(inQuery.reason).toBe("token_in_query");
    expect(inQuery.wwwAuthenticate).toMatch(/^DPoP realm="orders", error="invalid_request"/);
  });

  it("keeps the old meaning of the DPoP scheme for a caller that gives no method", async () => {
    const token = await boundJwt();
    const error = await refusal(
      verifierFor().authenticate({ authorization: `DPoP ${token}`, dpop: await proofFor(key, { token }) }),
    );
    expect(error).toMatchObject({ status: 401, reason: "no_token" });
    expect(error.wwwAuthenticate).toBe('Bearer realm="orders"');
  });

  it("checks the proof before any network call", async () => {
    const verifier = verifierFor();
    const token = boundOpaque();
    const before = issuer.requests.length;
    const error = await refusal(verifier.authenticate(await dpopRequest(token, { htm: "DELETE" })));
    expect(error.reason).toBe("dpop_proof_htm");
    expect(issuer.requests.length).toBe(before);
  });

  it("refuses a scope it lacks with 403, in the DPoP scheme", async () => {
    const token = await boundJwt();
    const error = await refusal(
      verifierFor().authenticate(await dpopRequest(token), { scopes: ["orders:write"] }),
    );
    expect(error.status).toBe(403);
    expect(error.wwwAuthenticate).toBe(
      `DPoP realm="orders", error="insufficient_scope", error_description="The access token lacks a scope this resource requires.", scope="orders:write", algs="${ALGS}"`,
    );
  });

  it("answers without realm when none is configured, and with the configured algorithms", async () => {
    const verifier = verifierFor({ realm: undefined, dpopAlgorithms: ["ES256"] });
    const token = await boundJwt();
    const missing = await refusal(
      verifier.authenticate({ authorization: `DPoP ${token}`, method: "GET", url: URL_ORDERS }),
    );
    expect(missing.wwwAuthenticate).toBe(
      'DPoP error="invalid_dpop_proof", error_description="A DPoP proof is required.", algs="ES256"',
    );
    expect(missing.toJSON()).toEqual({
      error: "invalid_dpop_proof",
      error_description: "A DPoP proof is required.",
    });
    const es384 = await clientKey("ES384");
    const other = await boundJwt(es384);
    expect((await refusal(verifier.authenticate(await dpopRequest(other, { k: es384 })))).reason).toBe(
      "dpop_proof_alg",
    );
  });

  it("honours dpopMaxAge and the verifier's clock", async () => {
    let clock = Date.now();
    const verifier = verifierFor({ dpopMaxAge: 10, now: () => clock });
    const token = await boundJwt();
    expect(
      (await refusal(verifier.authenticate(await dpopRequest(token, { iat: seconds() - 20 })))).reason,
    ).toBe("dpop_proof_iat");
    const request = await dpopRequest(token, { iat: seconds() - 5 });
    clock += 30_000;
    expect((await refusal(verifier.authenticate(request))).reason).toBe("dpop_proof_iat");
    clock -= 30_000;
    await expect(verifier.authenticate(request)).resolves.toBeDefined();
  });
});

describe('dpop: "required"', () => {
  it("refuses bearer tokens with a DPoP challenge, and accepts bound tokens with their proof", async () => {
    const verifier = verifierFor({ dpop: "required" });
    const unbound = await issuer.sign();
    const before = issuer.requests.length;
    const error = await refusal(
      verifier.authenticate({ authorization: `Bearer ${unbound}`, method: "GET", url: URL_ORDERS }),
    );
    expect(error).toMatchObject({ status: 401, error: "invalid_token", reason: "dpop_required" });
    expect(error.wwwAuthenticate).toBe(
      `DPoP realm="orders", error="invalid_token", error_description="A DPoP-bound access token is required.", algs="${ALGS}"`,
    );
    expect(issuer.requests.length).toBe(before);
    const none = await refusal(verifier.authenticate({ authorization: undefined, method: "GET" }));
    expect(none.wwwAuthenticate).toBe(`DPoP realm="orders", algs="${ALGS}"`);
    // A bound token as a bearer token: refused too.
    const bound = await boundJwt();
    expect(
      (
        await refusal(
          verifier.authenticate({ authorization: `Bearer ${bound}`, method: "GET", url: URL_ORDERS }),
        )
      ).reason,
    ).toBe("dpop_required");
    await expect(verifier.authenticate(await dpopRequest(bound))).resolves.toMatchObject({ sub: "user-1" });
    // verify() without a proof context refuses an unbound token as well.
    expect((await refusal(verifier.verify(unbound))).reason).toBe("dpop_required");
  });

  it("refuses an option value it does not know", () => {
    expect(() => verifierFor({ dpop: "sometimes" as "allowed" })).toThrow(TypeError);
    expect(() => verifierFor({ dpopAlgorithms: ["HS256"] })).toThrow(TypeError);
    expect(() => verifierFor({ dpopAlgorithms: [] })).toThrow(TypeError);
    expect(() => verifierFor({ dpopMaxAge: 0 })).toThrow(TypeError);
  });
});

describe("the request URL and publicOrigin", () => {
  it("without publicOrigin, needs an absolute URL for DPoP requests", async () => {
    const token = await boundJwt();
    const request = { ...(await dpopRequest(token)), url: "/orders" };
    const error = await refusal(verifierFor().authenticate(request));
    expect(error).toMatchObject({ status: 401, error: "invalid_dpop_proof", reason: "dpop_url_unknown" });
    const noUrl = { ...(await dpopRequest(token)), url: undefined };
    expect((await refusal(verifierFor().authenticate(noUrl))).reason).toBe("dpop_url_unknown");
  });

  it("with publicOrigin, checks htu against it and the request's path, whatever the internal URL", async () => {
    const verifier = verifierFor({ publicOrigin: `${API}/` });
    for (const url of ["http://10.0.0.5:8080/orders?x=1", "/orders", "/orders?x=1"]) {
      const token = await boundJwt();
      await expect(verifier.authenticate({ ...(await dpopRequest(token)), url }), url).resolves.toBeDefined();
    }
    // A proof naming the internal URL is for another URL.
    const token = await boundJwt();
    const internal = await dpopRequest(token, { htu: "http://10.0.0.5:8080/orders" });
    expect(
      (await refusal(verifier.authenticate({ ...internal, url: "http://10.0.0.5:8080/orders" }))).reason,
    ).toBe("dpop_proof_htu");
    // The path still counts.
    expect(
      (await refusal(verifier.authenticate({ ...(await dpopRequest(token)), url: "/invoices" }))).reason,
    ).toBe("dpop_proof_htu");
  });

  it("refuses a publicOrigin that is not an origin", () => {
    for (const publicOrigin of [
      "https://api.example.test/v1",
      "ftp://api.example.test",
      "api.example.test",
      "https://u:p@api.example.test",
    ]) {
      expect(() => verifierFor({ publicOrigin }), publicOrigin).toThrow(TypeError);
    }
  });
});

describe("introspected DPoP-bound tokens", () => {
  it("accepts an opaque token whose answer carries cnf.jkt, with a proof of that key", async () => {
    const verifier = verifierFor();
    const token = boundOpaque();
    const before = issuer.count("/introspect");
    await expect(verifier.authenticate(await dpopRequest(token))).resolves.toMatchObject({
      tokenKind: "opaque",
      cnf: { jkt: key.jkt },
    });
    // The cached answer still needs a proof on every request.
    expect(
      (
        await refusal(
          verifier.authenticate({ authorization: `DPoP ${token}`, method: "GET", url: URL_ORDERS }),
        )
      ).reason,
    ).toBe("dpop_proof_missing");
    await expect(verifier.authenticate(await dpopRequest(token))).resolves.toBeDefined();
    expect(issuer.count("/introspect") - before).toBe(1);
  });

  it("refuses it as a bearer token, with another key's proof, or answered DPoP without cnf", async () => {
    const verifier = verifierFor();
    const token = boundOpaque();
    expect(
      (
        await refusal(
          verifier.authenticate({ authorization: `Bearer ${token}`, method: "GET", url: URL_ORDERS }),
        )
      ).reason,
    ).toBe("dpop_bound");
    expect((await refusal(verifier.authenticate(await dpopRequest(token, { k: otherKey })))).reason).toBe(
      "dpop_key_mismatch",
    );
    // A bound answer that still says Bearer counts as bound (fail closed).
    const saysBearer = boundOpaque(key, { token_type: "Bearer" });
    expect((await refusal(verifier.verify(saysBearer))).reason).toBe("dpop_bound");
    const noCnf = boundOpaque(key, { cnf: undefined });
    expect((await refusal(verifier.authenticate(await dpopRequest(noCnf)))).reason).toBe("claims_invalid");
    const badCnf = boundOpaque(key, { cnf: { jkt: 42 } });
    expect((await refusal(verifier.authenticate(await dpopRequest(badCnf)))).reason).toBe("claims_invalid");
  });

  it("accepts a bound API token the same way", async () => {
    const token = opaqueToken("tsr_pat_");
    issuer.tokens.set(token, {
      active: true,
      token_type: "DPoP",
      cnf: { jkt: key.jkt },
      sub: "user-7",
      scope: "orders:read",
      aud: [AUDIENCE],
      iat: seconds(),
      jti: `tok-${token.slice(-10)}`,
      tessera_token_kind: "personal",
    });
    await expect(verifierFor().authenticate(await dpopRequest(token))).resolves.toMatchObject({
      tokenKind: "personal",
    });
  });
});

describe("verify(token, { dpop })", () => {
  it("accepts a bound token with the proof context and refuses it without", async () => {
    const verifier = verifierFor();
    const token = await boundJwt();
    const proof = await proofFor(key, { token, htm: "PATCH" });
    const claims = await verifier.verify(token, { dpop: { proof, method: "PATCH", url: URL_ORDERS } });
    expect(claims.cnf?.jkt).toBe(key.jkt);
    const bare = await refusal(verifier.verify(token));
    expect(bare).toMatchObject({ reason: "dpop_bound", error: "invalid_token" });
    // The same proof a second time: replayed.
    expect(
      (await refusal(verifier.verify(token, { dpop: { proof, method: "PATCH", url: URL_ORDERS } }))).reason,
    ).toBe("dpop_proof_replayed");
    // No proof in the context.
    expect(
      (await refusal(verifier.verify(token, { dpop: { proof: null, method: "GET", url: URL_ORDERS } })))
        .reason,
    ).toBe("dpop_proof_missing");
  });

  it("refuses an unbound token with a proof context", async () => {
    const token = await issuer.sign();
    const proof = await proofFor(key, { token });
    const error = await refusal(
      verifierFor().verify(token, { dpop: { proof, method: "GET", url: URL_ORDERS } }),
    );
    expect(error.reason).toBe("dpop_not_bound");
    expect(error.wwwAuthenticate).toMatch(/^DPoP realm="orders", error="invalid_token"/);
  });
});

describe("the replay cache", () => {
  it("can be shared: a proof accepted by one verifier is refused by another", async () => {
    const seen = new Set<string>();
    const shared: DpopReplayCache = {
      async firstUse(proof) {
        const id = `${proof.jkt}:${proof.jti}`;
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      },
    };
    const a = verifierFor({ dpopReplayCache: shared });
    const b = verifierFor({ dpopReplayCache: shared });
    const token = await boundJwt();
    const request = await dpopRequest(token);
    await expect(a.authenticate(request)).resolves.toBeDefined();
    expect((await refusal(b.authenticate(request))).reason).toBe("dpop_proof_replayed");
    expect(seen.size).toBe(1);
    // Without a shared cache, each verifier has its own memory.
    const c = verifierFor();
    await expect(c.authenticate(request)).resolves.toBeDefined();
  });

  it("fails closed (503) when the replay cache fails", async () => {
    const warnings: string[] = [];
    const verifier = verifierFor({
      dpopReplayCache: {
        firstUse: () => Promise.reject(new Error("store down")),
      },
      onWarning: (message) => warnings.push(message),
    });
    const error = await refusal(verifier.authenticate(await dpopRequest(await boundJwt())));
    expect(error).toMatchObject({
      status: 503,
      error: "temporarily_unavailable",
      reason: "dpop_replay_unavailable",
    });
    expect(error.wwwAuthenticate).toBeUndefined();
    expect(warnings).toHaveLength(1);
  });

  it("is only asked about proofs that passed every other check", async () => {
    const asked: string[] = [];
    const verifier = verifierFor({
      dpopReplayCache: {
        async firstUse(proof) {
          asked.push(proof.jti);
          return true;
        },
      },
    });
    const token = await boundJwt();
    await refusal(verifier.authenticate(await dpopRequest(token, { k: otherKey })));
    await refusal(verifier.authenticate(await dpopRequest(await issuer.sign())));
    expect(asked).toEqual([]);
    await verifier.authenticate(await dpopRequest(token, { jti: "the-one" }));
    expect(asked).toEqual(["the-one"]);
  });
});

describe("adapters pass method, URL and the DPoP header", () => {
  let verifier: Verifier;
  beforeAll(() => {
    verifier = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      revocations: false,
      realm: "orders",
    });
  });
  afterAll(() => verifier.close());

  describe("Express (listening)", () => {
    let base: string;
    let server: ReturnType<ReturnType<typeof express>["listen"]>;
    beforeAll(async () => {
      const app = express();
      app.set("trust proxy", "loopback");
      app.post("/orders", expressAuth(verifier), (req, res) => {
        res.json({ sub: req.auth?.sub, jkt: req.auth?.cnf?.jkt });
      });
      await new Promise<void>((resolve) => {
        server = app.listen(0, "127.0.0.1", () => resolve());
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it("accepts a bound token with a proof for POST and the URL it was sent to", async () => {
      const token = await boundJwt();
      const response = await fetch(`${base}/orders?x=1`, {
        method: "POST",
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await proofFor(key, { htm: "POST", htu: `${base}/orders`, token }),
        },
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ sub: "user-1", jkt: key.jkt });
    });

    it("uses X-Forwarded-Proto and -Host from a trusted proxy for htu", async () => {
      const token = await boundJwt();
      const response = await fetch(`${base}/orders`, {
        method: "POST",
        headers: {
          authorization: `DPoP ${token}`,
          "x-forwarded-proto": "https",
          "x-forwarded-host": "api.example.test",
          dpop: await proofFor(key, { htm: "POST", htu: URL_ORDERS, token }),
        },
      });
      expect(response.status).toBe(200);
    });

    it("answers a proof for another method with 401 and a DPoP challenge", async () => {
      const token = await boundJwt();
      const response = await fetch(`${base}/orders`, {
        method: "POST",
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await proofFor(key, { htm: "GET", htu: `${base}/orders`, token }),
        },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(
        `DPoP realm="orders", error="invalid_dpop_proof", error_description="The DPoP proof's htm does not match the request method.", algs="${ALGS}"`,
      );
      expect(await response.json()).toEqual({
        error: "invalid_dpop_proof",
        error_description: "The DPoP proof's htm does not match the request method.",
      });
    });

    it("refuses two DPoP header lines", async () => {
      const token = await boundJwt();
      const proof = () => proofFor(key, { htm: "POST", htu: `${base}/orders`, token });
      const headers = { authorization: `DPoP ${token}`, dpop: [await proof(), await proof()] };
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${base}/orders`, { method: "POST", headers }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on("error", reject);
        req.end();
      });
      expect(status).toBe(401);
      expect(JSON.parse(body)).toEqual({
        error: "invalid_dpop_proof",
        error_description: "Send exactly one DPoP proof.",
      });
    });
  });

  it("Fastify: request.method, protocol://host + url and the DPoP header", async () => {
    const app = Fastify();
    app.delete("/orders/7", { preHandler: fastifyAuth(verifier) }, async (request) => ({
      jkt: request.auth?.cnf?.jkt,
    }));
    await app.ready();
    try {
      const token = await boundJwt();
      const ok = await app.inject({
        method: "DELETE",
        url: "/orders/7",
        headers: {
          host: "api.example.test",
          authorization: `DPoP ${token}`,
          dpop: await proofFor(key, { htm: "DELETE", htu: "http://api.example.test/orders/7", token }),
        },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ jkt: key.jkt });
      const wrongUrl = await app.inject({
        method: "DELETE",
        url: "/orders/7",
        headers: {
          host: "api.example.test",
          authorization: `DPoP ${token}`,
          dpop: await proofFor(key, { htm: "DELETE", htu: "http://api.example.test/orders/8", token }),
        },
      });
      expect(wrongUrl.statusCode).toBe(401);
      expect(wrongUrl.headers["www-authenticate"]).toContain('error="invalid_dpop_proof"');
      expect(wrongUrl.headers["www-authenticate"]).toMatch(/^DPoP /);
    } finally {
      await app.close();
    }
  });

  it("Hono: c.req.method, c.req.url and the DPoP header", async () => {
    const app = new Hono<TesseraAuthEnv>();
    app.put("/orders", honoAuth(verifier), (c) => c.json({ jkt: c.get("auth").cnf?.jkt }));
    const token = await boundJwt();
    const send = async (htm: string) =>
      app.request(URL_ORDERS, {
        method: "PUT",
        headers: { authorization: `DPoP ${token}`, dpop: await proofFor(key, { htm, token }) },
      });
    const ok = await send("PUT");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ jkt: key.jkt });
    const refused = await send("GET");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(
      /^DPoP realm="orders", error="invalid_dpop_proof"/,
    );
  });

  it("Fetch API: request.method, request.url and the DPoP header", async () => {
    const auth = createRequestVerifier(verifier);
    const token = await boundJwt();
    const request = async (proofOptions: ProofOptions) =>
      new Request(`${URL_ORDERS}?page=1`, {
        method: "POST",
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await proofFor(key, { htm: "POST", token, ...proofOptions }),
        },
      });
    await expect(auth(await request({}))).resolves.toMatchObject({ cnf: { jkt: key.jkt } });
    const error = await auth(await request({ htu: `${API}/other` })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerifyError);
    const response = errorResponse(error as VerifyError);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      `DPoP realm="orders", error="invalid_dpop_proof", error_description="The DPoP proof's htu does not match the request URL.", algs="${ALGS}"`,
    );
    // Bound token as Bearer through the adapter.
    const bearer = await auth(
      new Request(URL_ORDERS, { headers: { authorization: `Bearer ${token}` } }),
    ).catch((e: unknown) => e);
    expect(bearer).toMatchObject({ reason: "dpop_bound" });
  });
});
