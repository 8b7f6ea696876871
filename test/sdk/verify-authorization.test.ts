/**
 * Reading the bearer token (RFC 6750 §2.1): property tests for the `Authorization` header parser, and
 * `authenticate`'s answers for missing, malformed and misplaced tokens.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasQueryToken } from "../../src/sdk/verify/authorization.js";
import {
  createVerifier,
  parseAuthorization,
  type Verifier,
  VerifyError,
} from "../../src/sdk/verify/index.js";
import { AUDIENCE, type FakeIssuer, startIssuer } from "./verify-issuer.js";

const token68 = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,200}$/),
    fc.integer({ min: 0, max: 2 }).map((n) => "=".repeat(n)),
  )
  .map(([body, pad]) => body + pad);
const bearerSpelling = fc
  .array(fc.boolean(), { minLength: 6, maxLength: 6 })
  .map((upper) => [..."bearer"].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(""));

describe("parseAuthorization", () => {
  it("reads a bearer token whatever the scheme's case and the number of spaces", () => {
    fc.assert(
      fc.property(bearerSpelling, fc.integer({ min: 1, max: 3 }), token68, (scheme, spaces, token) => {
        expect(parseAuthorization(`${scheme}${" ".repeat(spaces)}${token}`)).toEqual({
          kind: "bearer",
          token,
        });
      }),
    );
  });

  it("never throws, and any result is one of the three kinds", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
        ),
        (header) => {
          expect(["none", "malformed", "bearer"]).toContain(parseAuthorization(header).kind);
        },
      ),
    );
  });

  it("a bearer token it returns is always a token68 (no spaces, commas, quotes or controls)", () => {
    fc.assert(
      fc.property(
        fc.string().map((s) => `Bearer ${s}`),
        (header) => {
          const result = parseAuthorization(header);
          if (result.kind === "bearer") expect(result.token).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
        },
      ),
    );
  });

  it("calls a Bearer header with a missing, doubled or malformed token malformed", () => {
    fc.assert(
      fc.property(bearerSpelling, token68, token68, (scheme, a, b) => {
        for (const header of [
          scheme,
          `${scheme} `,
          `${scheme} ${a}, ${scheme} ${b}`,
          `${scheme} ${a} ${b}`,
          `${scheme} "${a}"`,
          `${scheme}\t${a}`,
          `${scheme} ${a},`,
        ]) {
          expect(parseAuthorization(header), header).toEqual({ kind: "malformed" });
        }
      }),
    );
    expect(parseAuthorization(["Bearer a", "Bearer b"])).toEqual({ kind: "malformed" });
    expect(parseAuthorization(`Bearer ${"a".repeat(20_000)}`)).toEqual({ kind: "malformed" });
  });

  it("treats other schemes and an absent header as no bearer token", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("Basic", "DPoP", "Digest", "Bearerx", "Token", "bear"),
        token68,
        (scheme, token) => {
          expect(parseAuthorization(`${scheme} ${token}`)).toEqual({ kind: "none" });
        },
      ),
    );
    for (const header of [undefined, null, "", []])
      expect(parseAuthorization(header)).toEqual({ kind: "none" });
    expect(parseAuthorization(["Bearer abc"])).toEqual({ kind: "bearer", token: "abc" });
  });
});

describe("hasQueryToken", () => {
  it("finds access_token in the query only", () => {
    expect(hasQueryToken("/orders?access_token=abc")).toBe(true);
    expect(hasQueryToken("https://api.example/orders?a=1&access_token=")).toBe(true);
    expect(hasQueryToken("/orders?not_access_token=1")).toBe(false);
    expect(hasQueryToken("/access_token")).toBe(false);
    expect(hasQueryToken("/orders#?access_token=1")).toBe(false);
    expect(hasQueryToken(undefined)).toBe(false);
  });
});

describe("authenticate", () => {
  let issuer: FakeIssuer;
  let verifier: Verifier;
  beforeAll(async () => {
    issuer = await startIssuer();
    verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, realm: "orders" });
  });
  afterAll(async () => {
    verifier.close();
    await issuer.close();
  });

  async function refusal(promise: Promise<unknown>): Promise<VerifyError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VerifyError);
    return error as VerifyError;
  }

  it("accepts a bearer token from the Authorization header", async () => {
    const token = await issuer.sign();
    await expect(verifier.authenticate({ authorization: `bearer ${token}` })).resolves.toMatchObject({
      sub: "user-1",
    });
  });

  it("answers 401 without an error code when there is no bearer token", async () => {
    for (const authorization of [undefined, "Basic dXNlcjpwYXNz", "DPoP abc"]) {
      const error = await refusal(verifier.authenticate({ authorization }));
      expect(error).toMatchObject({ status: 401, error: "unauthorized", reason: "no_token" });
      expect(error.wwwAuthenticate).toBe('Bearer realm="orders"');
    }
  });

  it("answers 400 invalid_request for a malformed header", async () => {
    const error = await refusal(verifier.authenticate({ authorization: "Bearer a b" }));
    expect(error).toMatchObject({ status: 400, error: "invalid_request", reason: "header_malformed" });
    expect(error.wwwAuthenticate).toBe(
      'Bearer realm="orders", error="invalid_request", error_description="The Authorization header is malformed."',
    );
  });

  it("answers 400 invalid_request for a token in the query, alone or besides the header", async () => {
    const token = await issuer.sign();
    for (const authorization of [undefined, `Bearer ${token}`]) {
      const error = await refusal(
        verifier.authenticate({ authorization, url: `/orders?access_token=${token}` }),
      );
      expect(error).toMatchObject({ status: 400, error: "invalid_request", reason: "token_in_query" });
    }
  });

  it("answers 401 invalid_token with the realm for a bad token", async () => {
    const error = await refusal(verifier.authenticate({ authorization: "Bearer not-a-token" }));
    expect(error.wwwAuthenticate).toBe(
      'Bearer realm="orders", error="invalid_token", error_description="The access token is invalid, expired or revoked."',
    );
    expect(error.toJSON()).toEqual({
      error: "invalid_token",
      error_description: "The access token is invalid, expired or revoked.",
    });
  });
});
