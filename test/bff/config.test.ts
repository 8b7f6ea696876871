/** `loadBffConfig` and the returnTo allow-list: what they accept, and each refusal. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkReturnTo, loadBffConfig } from "../../src/bff/index.js";

const BASE = {
  BFF_ISSUER: "https://id.example.test",
  BFF_CLIENT_ID: "c1",
  BFF_CLIENT_SECRET: "s1",
  BFF_PUBLIC_URL: "https://app.example.test",
  BFF_MASTER_KEY: "ab".repeat(32),
};

describe("loadBffConfig", () => {
  it("applies the defaults: __Host- cookie on https, the public origin allowed, returnTo /", () => {
    const config = loadBffConfig({
      ...BASE,
      BFF_UPSTREAMS: "/api=http://127.0.0.1:8081, /billing=https://b.test/v2/",
    });
    expect(config).toMatchObject({
      cookieName: "__Host-bff_session",
      secureCookies: true,
      allowedOrigins: ["https://app.example.test"],
      returnToPrefixes: ["/"],
      scope: "openid profile offline_access",
      databaseUrl: "./data/bff.db",
      upstreams: [
        { prefix: "/api", url: "http://127.0.0.1:8081" },
        { prefix: "/billing", url: "https://b.test/v2" },
      ],
    });
    expect(loadBffConfig({ ...BASE, BFF_PUBLIC_URL: "http://127.0.0.1:9000" }).cookieName).toBe(
      "bff_session",
    );
  });

  it.each([
    [{ BFF_MASTER_KEY: "short" }, /BFF_MASTER_KEY/],
    [{ BFF_PUBLIC_URL: "https://app.example.test/app" }, /origin/],
    [{ BFF_PUBLIC_URL: "http://127.0.0.1:9000", BFF_COOKIE_NAME: "__Host-x" }, /__Host-/],
    [{ BFF_UPSTREAMS: "api=http://x" }, /BFF_UPSTREAMS/],
    [{ BFF_UPSTREAMS: "/user=http://x" }, /own routes/],
    [{ BFF_UPSTREAMS: "/a=http://x,/a=http://y" }, /twice/],
    [{ BFF_RETURN_TO: "//evil" }, /BFF_RETURN_TO/],
    [{ BFF_CLIENT_SECRET: "" }, /BFF_CLIENT_SECRET/],
  ])("refuses %o", (overrides, message) => {
    expect(() => loadBffConfig({ ...BASE, ...overrides })).toThrow(message);
  });
});

describe("checkReturnTo", () => {
  const options = { publicUrl: "https://app.example.test", prefixes: ["/app", "/settings/"] };

  it("accepts same-origin paths under an allowed prefix, with query and fragment", () => {
    expect(checkReturnTo("/app", options)).toBe("/app");
    expect(checkReturnTo("/app/orders?x=1#top", options)).toBe("/app/orders?x=1#top");
    expect(checkReturnTo("/settings/profile", options)).toBe("/settings/profile");
    expect(checkReturnTo(undefined, { ...options, prefixes: ["/"] })).toBe("/");
  });

  it.each([
    "//evil.test",
    "/\\evil.test",
    "https://evil.test/app",
    "javascript:alert(1)",
    "/application",
    "/app//evil.test",
    "/app/%2F%2Fevil.test",
    "/app/%5Cevil",
    "/\u0009/evil.test",
    "",
  ])("refuses %j", (value) => {
    expect(checkReturnTo(value, options)).toBeUndefined();
  });

  it("never answers anything that leaves the origin (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (value) => {
        const out = checkReturnTo(value, { publicUrl: "https://app.example.test", prefixes: ["/"] });
        if (out === undefined) return;
        expect(out.startsWith("/")).toBe(true);
        expect(out.startsWith("//")).toBe(false);
        expect(new URL(out, "https://app.example.test").origin).toBe("https://app.example.test");
      }),
    );
  });
});
