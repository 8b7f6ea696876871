/**
 * The verifier's revocation feed client: revoked tokens are refused within a poll even when cached (JWT,
 * opaque and API tokens, by `jti` and by `sub`), repeated events are de-duplicated, outages keep the last
 * state, and nothing is accepted before the first successful poll.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
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

function verifierFor(options: Partial<VerifierOptions> = {}): Verifier {
  const verifier = createVerifier({
    issuer: issuer.url,
    audience: AUDIENCE,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
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

/** Resolves once the verifier has certainly applied the feed as it is now: two polls after this point. */
async function afterPolls(n = 2): Promise<void> {
  const target = issuer.count("/revocations") + n;
  await vi.waitFor(() => expect(issuer.count("/revocations")).toBeGreaterThanOrEqual(target), {
    timeout: 5000,
  });
  // The verifier applies an answer right after reading it; one more round-trip makes sure it has.
  await vi.waitFor(() => expect(issuer.count("/revocations")).toBeGreaterThan(target), { timeout: 5000 });
}

function apiToken(sub: string, extra: Record<string, unknown> = {}): string {
  const token = opaqueToken("tsr_pat_");
  issuer.tokens.set(token, {
    active: true,
    token_type: "Bearer",
    sub,
    scope: "orders:read",
    aud: AUDIENCE,
    iat: Math.floor(Date.now() / 1000) - 60,
    jti: `tok-${token.slice(-12)}`,
    tessera_token_kind: "personal",
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
  issuer.down.revocations = false;
  issuer.noFeed = false;
  issuer.intervalMs = 50;
});

describe("the revocation feed", () => {
  it("refuses a cached JWT within the next poll after its jti is revoked", async () => {
    const verifier = verifierFor();
    const jti = crypto.randomUUID();
    const token = await issuer.sign({ jti });
    const other = await issuer.sign();
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(other);
    issuer.revoke("jti", jti);
    await vi.waitFor(async () => expect((await refusal(verifier.verify(token))).reason).toBe("revoked"), {
      timeout: 5000,
    });
    const error = await refusal(verifier.verify(token));
    expect(error).toMatchObject({ status: 401, error: "invalid_token" });
    await expect(verifier.verify(other)).resolves.toBeDefined();
  });

  it("refuses a cached API token within the next poll after its id is revoked", async () => {
    const verifier = verifierFor({ introspectionCacheTtl: 60 });
    const token = apiToken("user-api");
    const claims = await verifier.verify(token);
    issuer.revoke("jti", claims.jti as string);
    await vi.waitFor(async () => expect((await refusal(verifier.verify(token))).reason).toBe("revoked"), {
      timeout: 5000,
    });
  });

  it("refuses a subject's tokens issued up to the revocation, and accepts later ones", async () => {
    const verifier = verifierFor();
    const now = Math.floor(Date.now() / 1000);
    const before = await issuer.sign({ sub: "user-gone", iat: now - 30 });
    const atRevocation = await issuer.sign({ sub: "user-gone", iat: now - 10 });
    const someoneElse = await issuer.sign({ sub: "user-stays", iat: now - 30 });
    await verifier.verify(before);
    issuer.revoke("sub", "user-gone", (now - 10) * 1000);
    await vi.waitFor(async () => expect((await refusal(verifier.verify(before))).reason).toBe("revoked"), {
      timeout: 5000,
    });
    expect((await refusal(verifier.verify(atRevocation))).reason).toBe("revoked");
    await expect(
      verifier.verify(await issuer.sign({ sub: "user-gone", iat: now - 5 })),
    ).resolves.toBeDefined();
    await expect(verifier.verify(someoneElse)).resolves.toBeDefined();
  });

  it("drops a subject's cached introspection answers once, despite repeated events", async () => {
    const verifier = verifierFor({ introspectionCacheTtl: 60 });
    const revokedAt = Date.now() - 120_000;
    // Issued after the revocation: introspection still says active, so it is accepted again after eviction.
    const token = apiToken("user-evicted", { iat: Math.floor(revokedAt / 1000) + 60 });
    await verifier.verify(token);
    const calls = issuer.count("/introspect");
    issuer.revoke("sub", "user-evicted", revokedAt);
    await vi.waitFor(
      async () => {
        await verifier.verify(token);
        expect(issuer.count("/introspect")).toBe(calls + 1);
      },
      { timeout: 5000 },
    );
    // The feed repeats the event in the next answers; the entry is not dropped again.
    await afterPolls();
    await verifier.verify(token);
    expect(issuer.count("/introspect")).toBe(calls + 1);
  });

  it("refuses tokens revoked before the verifier started (the first poll gates everything)", async () => {
    const jti = crypto.randomUUID();
    issuer.revoke("jti", jti);
    const token = await issuer.sign({ jti });
    expect((await refusal(verifierFor().verify(token))).reason).toBe("revoked");
  });

  it("fails closed (503) until the first poll succeeds, then accepts", async () => {
    issuer.down.revocations = true;
    const verifier = verifierFor();
    const token = await issuer.sign();
    const error = await refusal(verifier.verify(token));
    expect(error).toMatchObject({ status: 503, reason: "revocations_unavailable" });
    issuer.down.revocations = false;
    await vi.waitFor(() => expect(verifier.verify(token)).resolves.toBeDefined(), { timeout: 10_000 });
  });

  it("keeps the last state while the feed is down", async () => {
    const warnings: string[] = [];
    const jti = crypto.randomUUID();
    const revoked = await issuer.sign({ jti });
    issuer.revoke("jti", jti);
    const verifier = verifierFor({ onWarning: (m) => warnings.push(m) });
    await verifier.ready();
    issuer.down.revocations = true;
    await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0), { timeout: 5000 });
    expect((await refusal(verifier.verify(revoked))).reason).toBe("revoked");
    await expect(verifier.verify(await issuer.sign())).resolves.toBeDefined();
    expect(warnings.join("\n")).not.toContain(CLIENT_SECRET);
    expect(warnings[0]).toMatch(/revocation feed poll failed \(revocations: HTTP 503\)/);
  });

  it("polls with the cursor and client_secret_basic, and stops when closed", async () => {
    const first = issuer.requests.length;
    const verifier = verifierFor();
    await verifier.ready();
    await afterPolls(1);
    const polls = issuer.requests.slice(first).filter((r) => r.path === "/revocations");
    expect(polls[0]?.query).toBe("");
    expect(polls[1]?.query).toBe(`since=${issuer.events.length}`);
    verifier.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const count = issuer.count("/revocations");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(issuer.count("/revocations")).toBe(count);
  });

  it("does not poll without client credentials, or with revocations: false", async () => {
    const before = issuer.count("/revocations");
    const anonymous = verifierFor({ clientId: undefined, clientSecret: undefined });
    const off = verifierFor({ revocations: false });
    await anonymous.verify(await issuer.sign());
    await off.verify(await issuer.sign());
    expect(issuer.count("/revocations")).toBe(before);
  });

  it("works without revocation when the issuer advertises no feed, and says so", async () => {
    issuer.noFeed = true;
    const warnings: string[] = [];
    const verifier = verifierFor({ onWarning: (m) => warnings.push(m) });
    await expect(verifier.verify(await issuer.sign())).resolves.toBeDefined();
    expect(warnings.join("\n")).toContain("no tessera_revocations_endpoint");
  });
});
