/** The outbound policy: which addresses each setting allows, and the configuration key that sets it. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/lib/errors.js";
import {
  classifyAddress,
  compilePolicy,
  type OutboundPolicy,
  outboundPolicy,
  parseIp,
} from "../../src/outbound/index.js";

function allows(policy: OutboundPolicy, address: string): boolean {
  return compilePolicy(policy).check(parseIp(address)!).allowed;
}

const STRICT: OutboundPolicy = { allowPrivate: false, development: false };
const SAMPLES = {
  public: ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"],
  loopback: ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"],
  private: ["10.0.0.1", "172.16.5.4", "192.168.1.1", "fd00::1", "::ffff:192.168.1.1"],
  shared: ["100.64.0.1", "100.127.255.254"],
  "link-local": ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "2002:a9fe:a9fe::1"],
  reserved: ["192.0.2.1", "240.0.0.1", "2001:db8::1", "::8.8.8.8"],
  never: ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "::ffff:0.0.0.0"],
} as const;

describe("the outbound policy", () => {
  it("by default allows public addresses only", () => {
    for (const [kind, addresses] of Object.entries(SAMPLES)) {
      for (const address of addresses) expect(allows(STRICT, address), address).toBe(kind === "public");
    }
  });

  it("by default allows exactly the public addresses (any address)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (address) => {
        expect(allows(STRICT, address)).toBe(classifyAddress(address)?.kind === "public");
      }),
      { numRuns: 3000 },
    );
  });

  it("in development allows loopback too, nothing else", () => {
    const dev = { allowPrivate: false, development: true };
    for (const [kind, addresses] of Object.entries(SAMPLES)) {
      for (const address of addresses) {
        expect(allows(dev, address), address).toBe(kind === "public" || kind === "loopback");
      }
    }
  });

  it("with `true` allows loopback, private and shared, not link-local or reserved", () => {
    const all = { allowPrivate: true, development: false };
    for (const [kind, addresses] of Object.entries(SAMPLES)) {
      for (const address of addresses) {
        expect(allows(all, address), address).toBe(
          ["public", "loopback", "private", "shared"].includes(kind),
        );
      }
    }
  });

  it("with a list allows the listed ranges, IPv4 ranges matching mapped forms too", () => {
    const listed = {
      allowPrivate: ["10.1.0.0/16", "127.0.0.1", "169.254.169.254/32", "fd00::/8"],
      development: false,
    };
    for (const address of [
      "10.1.0.0",
      "10.1.255.255",
      "127.0.0.1",
      "::ffff:127.0.0.1",
      "169.254.169.254",
      "fd12::1",
    ]) {
      expect(allows(listed, address), address).toBe(true);
    }
    for (const address of ["10.0.255.255", "10.2.0.0", "127.0.0.2", "::1", "169.254.169.253", "fc00::1"]) {
      expect(allows(listed, address), address).toBe(false);
    }
  });

  it("never allows unspecified, multicast or broadcast addresses, whatever the list", () => {
    const everything = { allowPrivate: ["0.0.0.0/0", "::/0"], development: true };
    for (const address of SAMPLES.never) expect(allows(everything, address), address).toBe(false);
    for (const address of [...SAMPLES["link-local"], ...SAMPLES.reserved]) {
      expect(allows(everything, address), address).toBe(true);
    }
  });

  it("refuses a malformed range at compile time", () => {
    expect(() => compilePolicy({ allowPrivate: ["10.0.0.0/33"], development: false })).toThrow(
      /TESSERA_OUTBOUND_ALLOW_PRIVATE/,
    );
  });
});

describe("TESSERA_OUTBOUND_ALLOW_PRIVATE", () => {
  it("is false by default; development allows loopback through the policy, not the key", () => {
    const production = loadConfig({ env: { NODE_ENV: "test" } });
    expect(production.outboundAllowPrivate).toBe(false);
    expect(outboundPolicy(production)).toEqual({ allowPrivate: false, development: false });
    expect(outboundPolicy(loadConfig({ env: {} }))).toEqual({ allowPrivate: false, development: true });
  });

  it("takes true, false, or a list of addresses and CIDRs (environment, flag, file)", () => {
    expect(loadConfig({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: "true" } }).outboundAllowPrivate).toBe(true);
    expect(loadConfig({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: "false" } }).outboundAllowPrivate).toBe(false);
    expect(
      loadConfig({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: " 10.0.0.0/8, 127.0.0.1 ,fd00::/8" } })
        .outboundAllowPrivate,
    ).toEqual(["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    expect(loadConfig({ argv: ["--outbound-allow-private", "192.168.0.0/16"] }).outboundAllowPrivate).toEqual(
      ["192.168.0.0/16"],
    );
    const dir = mkdtempSync(join(tmpdir(), "tessera-outbound-"));
    const file = join(dir, "tessera.json");
    writeFileSync(file, JSON.stringify({ outboundAllowPrivate: ["10.0.0.0/8", "::1"] }));
    expect(loadConfig({ argv: ["--config", file] }).outboundAllowPrivate).toEqual(["10.0.0.0/8", "::1"]);
    writeFileSync(file, JSON.stringify({ outboundAllowPrivate: true }));
    expect(loadConfig({ argv: ["--config", file] }).outboundAllowPrivate).toBe(true);
  });

  it.each([
    "yes",
    "10.0.0.0/33",
    "::/129",
    "10.0.0/8",
    "10.0.0.0/8/1",
    "fe80::1%eth0",
    "localhost",
    ",",
    "10.0.0.0/x",
  ])("refuses %j", (value) => {
    expect(() => loadConfig({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: value } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { TESSERA_OUTBOUND_ALLOW_PRIVATE: value } })).toThrow(
      /Invalid outboundAllowPrivate \(TESSERA_OUTBOUND_ALLOW_PRIVATE\/--outbound-allow-private\).*CIDRs/,
    );
  });

  it("every list the configuration accepts compiles", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, b]) => `${a}/${b}`),
            fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, b]) => `${a}/${b}`),
            fc.ipV4(),
            fc.ipV6(),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        (list) => {
          const config = loadConfig({
            env: { NODE_ENV: "test", TESSERA_OUTBOUND_ALLOW_PRIVATE: list.join(",") },
          });
          expect(() => compilePolicy(outboundPolicy(config))).not.toThrow();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("warns in production when every private address is allowed", () => {
    const env = {
      NODE_ENV: "production",
      TESSERA_MASTER_KEY: "a".repeat(64),
      TESSERA_ISSUER: "https://id.example",
    };
    expect(
      loadConfig({ env: { ...env, TESSERA_OUTBOUND_ALLOW_PRIVATE: "true" } }).warnings.some((w) =>
        w.includes("TESSERA_OUTBOUND_ALLOW_PRIVATE=true"),
      ),
    ).toBe(true);
    expect(
      loadConfig({ env: { ...env, TESSERA_OUTBOUND_ALLOW_PRIVATE: "10.0.0.0/8" } }).warnings.some((w) =>
        w.includes("TESSERA_OUTBOUND_ALLOW_PRIVATE"),
      ),
    ).toBe(false);
  });
});
