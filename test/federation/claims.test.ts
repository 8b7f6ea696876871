/**
 * The pure rules of federation: claim mapping (what counts as a verified e-mail), user names for accounts made
 * just in time, and Entra ID's multi-tenant check (the token's `iss` must name the token's own `tid`, which
 * must be an allowed tenant when the provider lists some).
 */
import { describe, expect, it } from "vitest";
import { baseUserName, DEFAULT_CLAIM_MAPPING, entraTenantOf, mapClaims } from "../../src/federation/index.js";

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER = "9188040d-6c67-4c5b-b112-36a304b66dad";

describe("claim mapping", () => {
  it("counts an e-mail as verified only when the upstream says true", () => {
    const verified = (value: unknown) =>
      mapClaims("s", { email: "a@b.example", email_verified: value }, DEFAULT_CLAIM_MAPPING).emailVerified;
    expect(verified(true)).toBe(true);
    expect(verified("true")).toBe(true);
    for (const no of [false, "false", 1, "yes", undefined, null, {}])
      expect(verified(no), String(no)).toBe(false);
  });

  it("drops an address that is not one, and what is not text", () => {
    const profile = mapClaims(
      "s",
      { email: "not an address", name: 42, preferred_username: "  pat\u0000 ", groups: ["a", 7, "a", "b"] },
      DEFAULT_CLAIM_MAPPING,
    );
    expect(profile).toMatchObject({
      email: null,
      emailVerified: false,
      name: null,
      userName: "pat",
      groups: ["a", "b"],
    });
  });

  it("reads the claims the provider's mapping names", () => {
    const profile = mapClaims(
      "s",
      {
        upn: "pat@corp.example",
        mail: "pat@corp.example",
        roles: ["Admins"],
        email_verified: true,
        amr: ["pwd", "mfa", "<x>"],
      },
      { ...DEFAULT_CLAIM_MAPPING, userName: "upn", email: "mail", groups: "roles" },
    );
    expect(profile).toMatchObject({
      userName: "pat@corp.example",
      email: "pat@corp.example",
      groups: ["Admins"],
      amr: ["pwd", "mfa"],
    });
  });
});

describe("user names of accounts made just in time", () => {
  it("keeps safe characters, lower-cased, and falls back in order", () => {
    expect(baseUserName({ userName: "Alice.Smith", email: null, name: null })).toBe("alice.smith");
    expect(baseUserName({ userName: "../../etc/passwd", email: null, name: null })).toBe("etc-passwd");
    expect(baseUserName({ userName: null, email: "Bob+x@corp.example", name: null })).toBe("bob-x");
    expect(baseUserName({ userName: null, email: null, name: "Zoë O'Neil" })).toBe("zoë-o-neil");
    expect(baseUserName({ userName: "  ", email: null, name: null })).toBe("user");
    expect(baseUserName({ userName: "x".repeat(300), email: null, name: null })).toHaveLength(64);
  });
});

describe("Entra ID multi-tenant issuers", () => {
  const provider = {
    issuer: "https://login.microsoftonline.com/organizations/v2.0",
    allowedTenants: [] as string[],
  };
  const claims = (tid: unknown, iss = `https://login.microsoftonline.com/${String(tid)}/v2.0`) => ({
    tid,
    iss,
  });

  it("answers the token's tenant when iss names it", () => {
    expect(entraTenantOf(claims(TENANT), provider)).toBe(TENANT);
  });

  it("refuses an iss for another tenant than tid, and a tid that is no directory id", () => {
    expect(() =>
      entraTenantOf(claims(TENANT, `https://login.microsoftonline.com/${OTHER}/v2.0`), provider),
    ).toThrow(expect.objectContaining({ reason: "iss_mismatch" }));
    expect(() => entraTenantOf(claims("common"), provider)).toThrow(
      expect.objectContaining({ reason: "tenant_not_allowed" }),
    );
    expect(() => entraTenantOf({ iss: provider.issuer }, provider)).toThrow(
      expect.objectContaining({ reason: "tenant_not_allowed" }),
    );
  });

  it("refuses a tenant outside allowedTenants", () => {
    const narrowed = { ...provider, allowedTenants: [TENANT] };
    expect(entraTenantOf(claims(TENANT), narrowed)).toBe(TENANT);
    expect(() => entraTenantOf(claims(OTHER), narrowed)).toThrow(
      expect.objectContaining({ reason: "tenant_not_allowed" }),
    );
  });

  it("refuses a tenant-templated token for a single-tenant provider", () => {
    const single = { issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`, allowedTenants: [] };
    expect(() => entraTenantOf(claims(TENANT), single)).toThrow(
      expect.objectContaining({ reason: "iss_mismatch" }),
    );
  });
});
