/**
 * Loads the configuration from flags, environment and an optional JSON file into one typed, frozen object.
 *
 * - Nothing else in Tessera reads `process.env`: the CLI hands it in here.
 * - A bad value stops start-up with a `ConfigError` naming the key, the value (secrets masked) and what is
 *   allowed. Unknown flags and unknown file keys are errors too (a typo must not silently use a default).
 * - Production refuses an `http://` issuer other than loopback, and a missing master key.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/errors.js";
import { CONFIG_DEFINITIONS, type ConfigDefinition } from "./definitions.js";

export type TrustProxy = boolean | number | string[];

export interface Config {
  readonly nodeEnv: "development" | "production" | "test";
  readonly host: string;
  readonly port: number;
  readonly issuer: string;
  readonly dataDir: string;
  readonly databaseUrl: string;
  readonly redisUrl: string | undefined;
  readonly masterKey: string | undefined;
  readonly adminToken: string | undefined;
  readonly metricsToken: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly trustProxy: TrustProxy;
  /** Non-public destinations outbound requests may reach: `true`, `false`, or addresses/CIDRs (src/outbound). */
  readonly outboundAllowPrivate: boolean | readonly string[];
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  readonly bodyLimit: number;
  readonly jwtMaxLifetime: number;
  readonly jwksMaxAge: number;
  readonly keyRotationInterval: number;
  readonly passwordMinLength: number;
  readonly passwordMinLengthSingleFactor: number;
  readonly passwordMaxLength: number;
  readonly argon2MemoryKib: number;
  readonly argon2Iterations: number;
  readonly argon2Parallelism: number;
  readonly argon2Threads: number;
  readonly sessionIdleTimeout: number;
  readonly sessionLifetime: number;
  readonly sessionRememberLifetime: number;
  readonly accessTokenTtl: number;
  readonly apiTokenMaxLifetime: number;
  readonly mfaRequired: "false" | "true";
  readonly stepUpMaxAge: number;
  readonly webauthnRpId: string | undefined;
  readonly webauthnOrigins: string | undefined;
  readonly webauthnUserVerification: "preferred" | "required" | "discouraged";
  readonly webauthnAaguids: string | undefined;
  readonly revocationPollInterval: number;
  /** Webhook delivery (src/events): attempt timeout (ms), attempts before dead, back-off base (ms). */
  readonly webhookTimeout: number;
  readonly webhookMaxAttempts: number;
  readonly webhookRetryBase: number;
  readonly refreshTokenLifetime: number;
  readonly refreshTokenIdle: number;
  readonly refreshGraceWindow: number;
  readonly authorizationCodeTtl: number;
  readonly deviceCodeTtl: number;
  readonly devicePollInterval: number;
  readonly sessionCacheTtl: number;
  readonly passwordResetTtl: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** Self-service sign-up (src/onboarding): off by default. */
  readonly signUp: "off" | "on";
  /** Comma-separated e-mail domains sign-up accepts; unset: any (parsed by src/onboarding). */
  readonly signUpAllowedDomains: string | undefined;
  readonly signUpLinkTtl: number;
  readonly invitationTtl: number;
  /** Insecure choices that are allowed but must be logged loudly at start-up. */
  readonly warnings: readonly string[];
}

export interface ConfigSources {
  env?: Record<string, string | undefined>;
  /** Command-line flags (after the command name), e.g. `["--port", "9000"]`. */
  argv?: readonly string[];
  /** Base folder for relative paths; default `process.cwd()`. */
  cwd?: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function show(def: ConfigDefinition, raw: string): string {
  return def.kind === "secret" ? "(hidden)" : JSON.stringify(raw);
}

function fail(def: ConfigDefinition, raw: string, allowed: string): never {
  throw new ConfigError(`Invalid ${def.key} (${def.env}/${def.flag}) = ${show(def, raw)}: ${allowed}.`);
}

function parseValue(def: ConfigDefinition, raw: string, cwd: string): unknown {
  switch (def.kind) {
    case "string":
    case "secret":
      if (raw.length === 0) fail(def, raw, "must not be empty");
      return raw;
    case "path":
      if (raw.length === 0) fail(def, raw, "must be a file or folder path");
      return resolve(cwd, raw);
    case "integer": {
      if (!/^-?\d+$/.test(raw.trim())) fail(def, raw, `must be an integer between ${def.min} and ${def.max}`);
      const n = Number(raw);
      if (n > (def.max ?? Infinity) && def.maxReason)
        fail(def, raw, `must be at most ${def.max}: ${def.maxReason}`);
      if (n < (def.min ?? -Infinity) || n > (def.max ?? Infinity))
        fail(def, raw, `must be between ${def.min} and ${def.max}`);
      return n;
    }
    case "enum":
      if (!def.values?.includes(raw)) fail(def, raw, `must be one of ${def.values?.join(", ")}`);
      return raw;
    case "url":
      if (!URL.canParse(raw)) fail(def, raw, "must be an absolute URL");
      return raw;
    case "trustProxy": {
      if (raw === "true") return true;
      if (raw === "false") return false;
      if (/^\d+$/.test(raw)) return Number(raw);
      const list = raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const item of list) {
        const [addr, bits] = item.split("/");
        if (!addr || isIP(addr) === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
          fail(
            def,
            raw,
            "must be true, false, a hop count, or a comma-separated list of IP addresses or CIDRs",
          );
        }
      }
      return list;
    }
    case "addressAllowList": {
      if (raw.trim() === "true") return true;
      if (raw.trim() === "false") return false;
      const list = raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const allowed =
        "must be true, false, or a comma-separated list of IP addresses or CIDRs (e.g. 10.0.0.0/8)";
      if (list.length === 0) fail(def, raw, allowed);
      for (const item of list) {
        const [addr, bits, extra] = item.split("/");
        const family = addr && !addr.includes("%") ? isIP(addr) : 0;
        if (
          family === 0 ||
          extra !== undefined ||
          (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)))
        ) {
          fail(def, raw, allowed);
        }
      }
      return Object.freeze(list);
    }
  }
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(
      `Cannot read config file ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${path} must hold a JSON object`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!CONFIG_DEFINITIONS.some((d) => d.key === key)) {
      throw new ConfigError(`Config file ${path}: unknown key "${key}"`);
    }
    if (Array.isArray(value)) out[key] = value.join(",");
    else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
      out[key] = String(value);
    else throw new ConfigError(`Config file ${path}: "${key}" must be a string, number or boolean`);
  }
  return out;
}

function parseFlags(argv: readonly string[]): {
  flags: Record<string, string>;
  configFile: string | undefined;
} {
  const options: Record<string, { type: "string" }> = { config: { type: "string" } };
  for (const d of CONFIG_DEFINITIONS) options[d.flag.slice(2)] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const flags: Record<string, string> = {};
  for (const d of CONFIG_DEFINITIONS) {
    const v = values[d.flag.slice(2)];
    if (typeof v === "string") flags[d.key] = v;
  }
  return { flags, configFile: typeof values.config === "string" ? values.config : undefined };
}

/** Builds the validated, frozen Config. Throws `ConfigError` on the first bad value. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const cwd = sources.cwd ?? process.cwd();
  const { flags, configFile } = parseFlags(sources.argv ?? []);
  const filePath = configFile ?? env.TESSERA_CONFIG;
  const file = filePath ? readConfigFile(resolve(cwd, filePath)) : {};

  const values: Record<string, unknown> = {};
  for (const def of CONFIG_DEFINITIONS) {
    const envValue = env[def.env];
    const raw =
      flags[def.key] ??
      (envValue !== undefined && envValue !== "" ? envValue : undefined) ??
      file[def.key] ??
      def.default;
    values[def.key] = raw === undefined ? undefined : parseValue(def, raw, cwd);
  }

  const warnings: string[] = [];
  const port = values.port as number;
  const dataDir = values.dataDir as string;
  const issuerDef = CONFIG_DEFINITIONS.find((d) => d.key === "issuer")!;
  // OpenID Connect compares issuers as exact strings: one canonical form, without a trailing slash.
  const issuer = ((values.issuer as string | undefined) ?? `http://localhost:${port}`).replace(/\/+$/, "");
  const issuerUrl = new URL(issuer);
  if (issuerUrl.protocol !== "https:" && issuerUrl.protocol !== "http:")
    fail(issuerDef, issuer, "must be an http(s) URL");
  if (issuerUrl.search || issuerUrl.hash || issuer.includes("?") || issuer.includes("#")) {
    fail(issuerDef, issuer, "must not have a query or fragment (OpenID Connect Discovery §2)");
  }
  const nodeEnv = values.nodeEnv as Config["nodeEnv"];
  if (issuerUrl.protocol === "http:" && !LOOPBACK_HOSTS.has(issuerUrl.hostname)) {
    if (nodeEnv === "production") fail(issuerDef, issuer, "must use https:// in production");
    warnings.push(
      `The issuer ${issuer} is plain http: tokens and cookies travel unencrypted. Use https in production.`,
    );
  }
  if (nodeEnv === "production" && values.masterKey === undefined) {
    throw new ConfigError(
      "TESSERA_MASTER_KEY is required when NODE_ENV=production (32 bytes as 64 hex characters, e.g. `openssl rand -hex 32`).",
    );
  }
  const adminToken = values.adminToken as string | undefined;
  if (adminToken !== undefined && adminToken.length < 32) {
    fail(
      CONFIG_DEFINITIONS.find((d) => d.key === "adminToken")!,
      adminToken,
      "must be at least 32 characters",
    );
  }
  const metricsToken = values.metricsToken as string | undefined;
  if (metricsToken !== undefined && metricsToken.length < 32) {
    fail(
      CONFIG_DEFINITIONS.find((d) => d.key === "metricsToken")!,
      metricsToken,
      "must be at least 32 characters",
    );
  }
  if ((values.tlsCert === undefined) !== (values.tlsKey === undefined)) {
    throw new ConfigError("TESSERA_TLS_CERT and TESSERA_TLS_KEY must be set together.");
  }
  const redisUrl = values.redisUrl as string | undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    fail(
      CONFIG_DEFINITIONS.find((d) => d.key === "redisUrl")!,
      redisUrl,
      "must be a redis:// or rediss:// URL",
    );
  }
  const smtpUrl = values.smtpUrl as string | undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^\s]+$/.test(smtpUrl)) {
    fail(CONFIG_DEFINITIONS.find((d) => d.key === "smtpUrl")!, smtpUrl, "must be an smtp:// or smtps:// URL");
  }
  if (smtpUrl === undefined && nodeEnv === "production") {
    warnings.push(
      "TESSERA_SMTP_URL is not set: password-reset e-mails go to the development outbox (the log) only.",
    );
  }
  if (values.outboundAllowPrivate === true && nodeEnv === "production") {
    warnings.push(
      "TESSERA_OUTBOUND_ALLOW_PRIVATE=true: requests Tessera makes (back-channel logout) may reach loopback and private addresses. Prefer a list of the ranges that need it.",
    );
  }
  if ((values.passwordMinLengthSingleFactor as number) < (values.passwordMinLength as number)) {
    throw new ConfigError(
      "TESSERA_PASSWORD_MIN_LENGTH_SINGLE_FACTOR must be at least TESSERA_PASSWORD_MIN_LENGTH: a password alone must not be weaker than a password with a second factor.",
    );
  }
  if ((values.sessionIdleTimeout as number) > (values.sessionLifetime as number)) {
    throw new ConfigError("TESSERA_SESSION_IDLE_TIMEOUT must not exceed TESSERA_SESSION_LIFETIME.");
  }

  return Object.freeze({
    ...(values as Omit<Config, "issuer" | "databaseUrl" | "warnings">),
    issuer,
    databaseUrl: (values.databaseUrl as string | undefined) ?? join(dataDir, "tessera.db"),
    warnings: Object.freeze(warnings),
  }) as Config;
}
