import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_DEFINITIONS, loadConfig, renderConfigurationReference } from "../../src/config/index.js";
import { ConfigError } from "../../src/lib/errors.js";

const cwd = "/srv/tessera";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({ env: {}, cwd });
    expect(c).toMatchObject({
      nodeEnv: "development",
      host: "localhost",
      port: 8080,
      issuer: "http://localhost:8080",
      dataDir: "/srv/tessera/data",
      databaseUrl: "/srv/tessera/data/tessera.db",
      redisUrl: undefined,
      trustProxy: false,
      logLevel: "info",
      bodyLimit: 65536,
      jwtMaxLifetime: 3600,
      jwksMaxAge: 300,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("derives the default issuer from PORT", () => {
    expect(loadConfig({ env: { PORT: "9000" } }).issuer).toBe("http://localhost:9000");
  });

  it("takes flags over environment over file over defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-config-"));
    const file = join(dir, "tessera.json");
    writeFileSync(file, JSON.stringify({ port: 7000, logLevel: "debug", host: "0.0.0.0" }));
    const c = loadConfig({
      env: { PORT: "7100", LOG_LEVEL: "warn" },
      argv: ["--config", file, "--port=7200"],
    });
    expect(c.port).toBe(7200);
    expect(c.logLevel).toBe("warn");
    expect(c.host).toBe("0.0.0.0");
    expect(loadConfig({ env: { TESSERA_CONFIG: file } }).port).toBe(7000);
  });

  it("strips a trailing slash from the issuer (issuers compare as exact strings)", () => {
    expect(loadConfig({ env: { TESSERA_ISSUER: "https://id.example.com/" } }).issuer).toBe(
      "https://id.example.com",
    );
  });

  it.each([
    [{ PORT: "eighty" }, /Invalid port \(PORT\/--port\) = "eighty": must be an integer between 0 and 65535/],
    [{ PORT: "70000" }, /Invalid port .* must be between 0 and 65535/],
    [
      { LOG_LEVEL: "loud" },
      /Invalid logLevel .*"loud".* one of fatal, error, warn, info, debug, trace, silent/,
    ],
    [{ TESSERA_ISSUER: "not a url" }, /Invalid issuer .* absolute URL/],
    [{ TESSERA_ISSUER: "ftp://id.example.com" }, /Invalid issuer .* http\(s\) URL/],
    [{ TESSERA_ISSUER: "https://id.example.com/?x=1" }, /Invalid issuer .* query or fragment/],
    [{ TESSERA_BODY_LIMIT: "10" }, /Invalid bodyLimit .* between 1024/],
    [{ TESSERA_TRUST_PROXY: "everyone" }, /Invalid trustProxy .*CIDRs/],
    [{ REDIS_URL: "http://127.0.0.1:6379" }, /Invalid redisUrl .*redis:\/\//],
    [{ TESSERA_TLS_CERT: "/tmp/cert.pem" }, /TESSERA_TLS_CERT and TESSERA_TLS_KEY must be set together/],
    [{ TESSERA_JWT_MAX_LIFETIME: "999999" }, /Invalid jwtMaxLifetime .* between 60 and 86400/],
    [
      { TESSERA_ACCESS_TOKEN_TTL: "3600" },
      /Invalid accessTokenTtl \(TESSERA_ACCESS_TOKEN_TTL\/--access-token-ttl\) = "3600": must be at most 1800: an access token cannot be recalled .* 30 minutes/,
    ],
    [
      { TESSERA_REFRESH_TOKEN_LIFETIME: "1209601" },
      /must be at most 1209600: a refresh-token family must end within 14 days/,
    ],
    [{ TESSERA_AUTHORIZATION_CODE_TTL: "61" }, /Invalid authorizationCodeTtl .* between 5 and 60/],
  ])("refuses %o naming the key, the value and what is allowed", (env, message) => {
    expect(() => loadConfig({ env })).toThrow(message);
    expect(() => loadConfig({ env })).toThrow(ConfigError);
  });

  it("never repeats a secret in an error message", () => {
    const secret = "short-secret-value";
    try {
      loadConfig({ env: { TESSERA_ADMIN_TOKEN: secret } });
      throw new Error("expected a ConfigError");
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain("adminToken");
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it("production refuses a missing master key and a non-loopback http issuer", () => {
    expect(() =>
      loadConfig({ env: { NODE_ENV: "production", TESSERA_ISSUER: "https://id.example.com" } }),
    ).toThrow(/TESSERA_MASTER_KEY is required/);
    const key = "a".repeat(64);
    expect(() =>
      loadConfig({
        env: { NODE_ENV: "production", TESSERA_MASTER_KEY: key, TESSERA_ISSUER: "http://id.example.com" },
      }),
    ).toThrow(/https:\/\/ in production/);
    const ok = loadConfig({
      env: {
        NODE_ENV: "production",
        TESSERA_MASTER_KEY: key,
        TESSERA_ISSUER: "https://id.example.com",
        TESSERA_SMTP_URL: "smtps://user:pass@mail.example.com:465",
      },
    });
    expect(ok.warnings).toEqual([]);
    // Without SMTP, reset e-mail would only reach the log: allowed, but said loudly.
    const noMail = loadConfig({
      env: { NODE_ENV: "production", TESSERA_MASTER_KEY: key, TESSERA_ISSUER: "https://id.example.com" },
    });
    expect(noMail.warnings).toEqual([expect.stringMatching(/TESSERA_SMTP_URL is not set/)]);
  });

  it("refuses inconsistent account settings with a message saying why", () => {
    expect(() =>
      loadConfig({
        env: { TESSERA_PASSWORD_MIN_LENGTH: "20", TESSERA_PASSWORD_MIN_LENGTH_SINGLE_FACTOR: "15" },
      }),
    ).toThrow(/must be at least TESSERA_PASSWORD_MIN_LENGTH/);
    expect(() => loadConfig({ env: { TESSERA_ARGON2_MEMORY_KIB: "8192" } })).toThrow(/between 19456 and/);
    expect(() => loadConfig({ env: { TESSERA_PASSWORD_RESET_TTL: "3600" } })).toThrow(/between 60 and 900/);
    expect(() => loadConfig({ env: { TESSERA_SESSION_REMEMBER_LIFETIME: "2000000" } })).toThrow(
      /between 3600 and 1209600/,
    );
    expect(() =>
      loadConfig({ env: { TESSERA_SESSION_IDLE_TIMEOUT: "7200", TESSERA_SESSION_LIFETIME: "3600" } }),
    ).toThrow(/IDLE_TIMEOUT must not exceed/);
    expect(() => loadConfig({ env: { TESSERA_SMTP_URL: "http://mail" } })).toThrow(/smtp:\/\/ or smtps:\/\//);
    expect(() => loadConfig({ env: { TESSERA_SMTP_URL: "smtps://u:hunter2@mail" } })).not.toThrow();
    try {
      loadConfig({ env: { TESSERA_SMTP_URL: "ftp://u:hunter2@mail" } });
    } catch (error) {
      expect(String(error)).not.toContain("hunter2");
    }
  });

  it("development allows a non-loopback http issuer with a warning", () => {
    const c = loadConfig({ env: { TESSERA_ISSUER: "http://id.internal:8080" } });
    expect(c.warnings.join(" ")).toMatch(/plain http/);
  });

  it("parses trustProxy as boolean, hop count or address list", () => {
    expect(loadConfig({ env: { TESSERA_TRUST_PROXY: "true" } }).trustProxy).toBe(true);
    expect(loadConfig({ env: { TESSERA_TRUST_PROXY: "2" } }).trustProxy).toBe(2);
    expect(loadConfig({ env: { TESSERA_TRUST_PROXY: "10.0.0.0/8, 127.0.0.1" } }).trustProxy).toEqual([
      "10.0.0.0/8",
      "127.0.0.1",
    ]);
  });

  it("refuses unknown flags and unknown config-file keys", () => {
    expect(() => loadConfig({ argv: ["--prot", "1"] })).toThrow(ConfigError);
    const dir = mkdtempSync(join(tmpdir(), "tessera-config-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({ argv: ["--config", file] })).toThrow(/unknown key "prot"/);
    writeFileSync(file, "{not json");
    expect(() => loadConfig({ argv: ["--config", file] })).toThrow(/Cannot read config file/);
  });

  it("every definition has an environment variable, a flag and documentation", () => {
    const envs = new Set(CONFIG_DEFINITIONS.map((d) => d.env));
    expect(envs.size).toBe(CONFIG_DEFINITIONS.length);
    for (const d of CONFIG_DEFINITIONS) {
      expect(d.flag).toMatch(/^--[a-z][a-z0-9-]*$/);
      expect(d.doc.length).toBeGreaterThan(20);
    }
  });

  it("docs/configuration.md is the generated reference (run `npm run docs` after changing a definition)", () => {
    expect(readFileSync("docs/configuration.md", "utf8")).toBe(renderConfigurationReference());
  });
});
