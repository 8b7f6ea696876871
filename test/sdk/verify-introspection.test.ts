/**
 * `createVerifier` on opaque access tokens and API tokens: shape checks without network, RFC 7662
 * introspection with client_secret_basic, its cache, IP allow-lists, and outages.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createVerifier,
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

let issuer: FakeIssuer;
const open: Verifier[] = [];
let clock = Date.now();

function verifierFor(options: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    revocations: false,
    now: () => clock,
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

const seconds = () => Math.floor(Date.now() / 1000);

/** Registers an API token's introspection answer. */
function apiToken(kind: "personal" | "service", extra: Record<string, unknown> = {}): string {
  const token = opaqueToken(kind === "personal" ? "tsr_pat_" : "tsr_svc_");
  issuer.tokens.set(token, {
    active: true,
    token_type: "Bearer",
    sub: kind === "personal" ? "user-7" : "svc-billing",
    scope: "orders:read orders:write",
    aud: [AUDIENCE],
    iat: seconds() - 60,
    jti: `tok-${token.slice(-10)}`,
    tessera_token_kind: kind,
    ...(kind === "personal" ? { username: "ada" } : {}),
    ...extra,
  });
  return token;
}

function opaqueAccessToken(extra: Record<string, unknown> = {}): string {
  const token = opaqueToken("tsr_at_");
  issuer.tokens.set(token, {
    active: true,
    token_type: "Bearer",
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
});
afterAll(async () => {
  await issuer.close();
});
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  clock = Date.now();
  issuer.down.introspection = false;
});

describe("opaque and API tokens", () => {
  it("accepts a personal API token through introspection, with client_secret_basic", async () => {
    const token = apiToken("personal");
    const claims = await verifierFor().verify(token, { scopes: ["orders:write"] });
    expect(claims).toMatchObject({
      tokenKind: "personal",
      iss: issuer.url,
      sub: "user-7",
      username: "ada",
      scopes: ["orders:read", "orders:write"],
      aud: [AUDIENCE],
    });
    expect(claims.exp).toBeUndefined();
    expect(claims).not.toHaveProperty("active");
    expect(claims).not.toHaveProperty("tessera_token_kind");
  });

  it("accepts a service API token and an opaque access token", async () => {
    const verifier = verifierFor();
    expect((await verifier.verify(apiToken("service"))).tokenKind).toBe("service");
    const claims = await verifier.verify(opaqueAccessToken({ acr: "mfa", auth_time: seconds() - 5 }));
    expect(claims).toMatchObject({ tokenKind: "opaque", client_id: "web-app", acr: "mfa" });
    await expect(verifier.verify(opaqueAccessToken(), { scopes: ["orders:write"] })).rejects.toMatchObject({
      status: 403,
    });
  });

  it("refuses a Tessera-prefixed token with a bad checksum or length without a network call", async () => {
    const verifier = verifierFor();
    const good = apiToken("personal");
    const before = issuer.requests.length;
    const last = good.at(-1) === "A" ? "B" : "A";
    const bad = [
      `${good.slice(0, -1)}${last}`,
      good.slice(0, -1),
      `${good}A`,
      `${good.slice(0, 10)}-${good.slice(11)}`,
      `tsr_svc_${good.slice(8)}`,
      `tsr_at_${"A".repeat(49)}`,
    ];
    for (const token of bad)
      expect((await refusal(verifier.verify(token))).reason, token).toBe("checksum_invalid");
    expect(issuer.requests.length).toBe(before);
  });

  it("refuses a token with an unknown prefix without a network call", async () => {
    const verifier = verifierFor();
    const before = issuer.requests.length;
    for (const token of [opaqueToken("tsr_ses_"), opaqueToken("tsr_rt_"), opaqueToken("ghp_"), "tsr_pat"]) {
      expect((await refusal(verifier.verify(token))).reason).toBe("prefix_unknown");
    }
    expect(issuer.requests.length).toBe(before);
  });

  it("refuses an unknown or inactive token, caching the inactive answer only briefly", async () => {
    const verifier = verifierFor({ inactiveCacheTtl: 1 });
    const unknown = opaqueToken("tsr_pat_");
    const before = issuer.count("/introspect");
    expect((await refusal(verifier.verify(unknown))).reason).toBe("inactive");
    expect((await refusal(verifier.verify(unknown))).reason).toBe("inactive");
    expect(issuer.count("/introspect") - before).toBe(1);
    clock += 1_001;
    await refusal(verifier.verify(unknown));
    expect(issuer.count("/introspect") - before).toBe(2);
  });

  it("caches an active answer for introspectionCacheTtl, never past exp", async () => {
    const verifier = verifierFor({ introspectionCacheTtl: 60, clockTolerance: 0 });
    const token = opaqueAccessToken({ exp: seconds() + 10 });
    const before = issuer.count("/introspect");
    for (let i = 0; i < 5; i++) await verifier.verify(token);
    expect(issuer.count("/introspect") - before).toBe(1);
    clock = (seconds() + 10) * 1000;
    expect((await refusal(verifier.verify(token))).reason).toBe("expired");
    expect(issuer.count("/introspect") - before).toBe(2);

    const apiTokenValue = apiToken("service");
    await verifier.verify(apiTokenValue);
    const after = issuer.count("/introspect");
    clock += 59_000;
    await verifier.verify(apiTokenValue);
    expect(issuer.count("/introspect")).toBe(after);
    clock += 2_000;
    await verifier.verify(apiTokenValue);
    expect(issuer.count("/introspect")).toBe(after + 1);
  });

  it("shares one introspection call among concurrent checks of one token", async () => {
    const verifier = verifierFor();
    const token = apiToken("personal");
    const before = issuer.count("/introspect");
    await Promise.all(Array.from({ length: 10 }, () => verifier.verify(token)));
    expect(issuer.count("/introspect") - before).toBe(1);
  });

  it("refuses an answer for another audience, issuer, kind or token type", async () => {
    const verifier = verifierFor();
    const cases: [string, string][] = [
      [apiToken("personal", { aud: "https://other.example" }), "audience_mismatch"],
      [apiToken("personal", { aud: undefined }), "audience_mismatch"],
      [apiToken("personal", { iss: "https://evil.example" }), "issuer_mismatch"],
      [apiToken("personal", { tessera_token_kind: "service" }), "kind_mismatch"],
      [apiToken("service", { tessera_token_kind: undefined }), "kind_mismatch"],
      [opaqueAccessToken({ tessera_token_kind: "personal" }), "kind_mismatch"],
      [apiToken("personal", { token_type: "refresh_token" }), "inactive"],
      [apiToken("personal", { exp: seconds() - 60 }), "expired"],
      [apiToken("personal", { nbf: seconds() + 600 }), "not_yet_valid"],
      [opaqueAccessToken({ exp: undefined }), "claims_invalid"],
      [apiToken("personal", { sub: 42 }), "claims_invalid"],
      [apiToken("personal", { cnf: { jkt: "x" } }), "dpop_bound"],
    ];
    for (const [token, reason] of cases) {
      const error = await refusal(verifier.verify(token));
      expect(error.reason, reason).toBe(reason);
      expect(error.status).toBe(401);
    }
  });

  it("refuses opaque and API tokens when no client credentials are configured, without a network call", async () => {
    const verifier = verifierFor({ clientId: undefined, clientSecret: undefined });
    const before = issuer.requests.length;
    expect((await refusal(verifier.verify(apiToken("personal")))).reason).toBe(
      "introspection_not_configured",
    );
    expect(issuer.requests.length).toBe(before);
  });

  it("fails closed (503) when introspection is down or refuses the resource server's credentials", async () => {
    const token = apiToken("service");
    issuer.down.introspection = true;
    const error = await refusal(verifierFor().verify(token));
    expect(error).toMatchObject({
      status: 503,
      error: "temporarily_unavailable",
      reason: "introspection_unavailable",
    });
    issuer.down.introspection = false;
    const wrongSecret = await refusal(verifierFor({ clientSecret: "wrong" }).verify(token));
    expect(wrongSecret.status).toBe(503);
    // Not cached: once Tessera answers, the token is accepted.
    await expect(verifierFor().verify(token)).resolves.toBeDefined();
  });
});

describe("IP allow-lists of API tokens", () => {
  it("accepts the token from an allowed address and refuses it from elsewhere", async () => {
    const verifier = verifierFor();
    const token = apiToken("service", { tessera_allowed_ips: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"] });
    for (const ip of ["10.1.2.3", "::ffff:10.200.0.1", "2001:db8::1", "2001:DB8:ffff::1", "192.0.2.7"]) {
      await expect(verifier.verify(token, { ip }), ip).resolves.toBeDefined();
    }
    for (const ip of [
      "11.0.0.1",
      "192.0.2.8",
      "2001:db9::1",
      "::ffff:11.0.0.1",
      "127.0.0.1",
      "garbage",
      undefined,
    ]) {
      const error = await refusal(verifier.verify(token, { ip }));
      expect(error.reason, String(ip)).toBe("ip_not_allowed");
      expect(error.error).toBe("invalid_token");
    }
  });

  it("matches IPv4-mapped blocks and zoned caller addresses", async () => {
    const verifier = verifierFor();
    const token = apiToken("personal", { tessera_allowed_ips: ["::ffff:10.0.0.0/104", "fe80::/10"] });
    await expect(verifier.verify(token, { ip: "10.9.9.9" })).resolves.toBeDefined();
    await expect(verifier.verify(token, { ip: "fe80::1%eth0" })).resolves.toBeDefined();
  });

  it("refuses a token whose allow-list cannot be read (fail closed)", async () => {
    const verifier = verifierFor();
    for (const list of [["10.0.0.0/33"], ["not-an-ip"], "10.0.0.0/8", [42], ["10.0.0.0/8x"]]) {
      const token = apiToken("service", { tessera_allowed_ips: list });
      expect((await refusal(verifier.verify(token, { ip: "10.0.0.1" }))).reason).toBe("claims_invalid");
    }
  });
});
