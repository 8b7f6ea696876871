/**
 * Every configuration key Tessera reads, with its default and documentation.
 *
 * This file is the single source of truth: `load.ts` parses and validates from it, and
 * `docs/configuration.md` is generated from it (`npm run docs`; a test fails when they drift apart).
 * Precedence: command-line flag > environment variable > JSON config file > default.
 */

export type ConfigKind = "string" | "integer" | "enum" | "url" | "path" | "secret" | "trustProxy";

export interface ConfigDefinition {
  /** Property name in the typed Config and the JSON config file. */
  key: string;
  env: string;
  flag: string;
  kind: ConfigKind;
  /** Default as text (what the docs show); undefined = unset. */
  default?: string;
  /** Allowed values for `enum`, or min/max for `integer`. */
  values?: readonly string[];
  min?: number;
  max?: number;
  doc: string;
}

export const CONFIG_DEFINITIONS: readonly ConfigDefinition[] = [
  {
    key: "nodeEnv",
    env: "NODE_ENV",
    flag: "--env",
    kind: "enum",
    values: ["development", "production", "test"],
    default: "development",
    doc: "Run mode. `production` refuses insecure defaults: a generated master key, an `http://` issuer that is not loopback.",
  },
  {
    key: "host",
    env: "HOST",
    flag: "--host",
    kind: "string",
    default: "localhost",
    doc: "Address to listen on. `localhost` listens on loopback only; use `0.0.0.0` or `::` in a container.",
  },
  {
    key: "port",
    env: "PORT",
    flag: "--port",
    kind: "integer",
    min: 0,
    max: 65535,
    default: "8080",
    doc: "TCP port to listen on (0 picks a free port).",
  },
  {
    key: "issuer",
    env: "TESSERA_ISSUER",
    flag: "--issuer",
    kind: "url",
    doc: "Public base URL of this server, the `iss` of every token. Default `http://localhost:$PORT`. Must be `https://` in production unless it is a loopback address. No query or fragment.",
  },
  {
    key: "dataDir",
    env: "TESSERA_DATA_DIR",
    flag: "--data-dir",
    kind: "path",
    default: "./data",
    doc: "Folder for the SQLite database and, in development, the generated master key file.",
  },
  {
    key: "databaseUrl",
    env: "DATABASE_URL",
    flag: "--database-url",
    kind: "string",
    doc: "Database: a SQLite file path, `sqlite:<path>` or `postgres://user:pass@host:5432/db` (`?schema=NAME` to use a schema). Default `<dataDir>/tessera.db`.",
  },
  {
    key: "redisUrl",
    env: "REDIS_URL",
    flag: "--redis-url",
    kind: "url",
    doc: "Optional Redis (`redis://` or `rediss://`) for shared counters, replay caches and revocation fan-out across instances. `/readyz` checks it when set.",
  },
  {
    key: "masterKey",
    env: "TESSERA_MASTER_KEY",
    flag: "--master-key",
    kind: "secret",
    doc: "Key-encryption key for secrets at rest (private signing keys): 32 bytes as 64 hex or 43 base64url characters (`openssl rand -hex 32`). Unset in development: a key file is generated in the data folder, with a warning. Required in production.",
  },
  {
    key: "adminToken",
    env: "TESSERA_ADMIN_TOKEN",
    flag: "--admin-token",
    kind: "secret",
    doc: "Optional bootstrap secret for the admin API (at least 32 characters). Without it, mint admin tokens with `tessera admin-token create`.",
  },
  {
    key: "tlsCert",
    env: "TESSERA_TLS_CERT",
    flag: "--tls-cert",
    kind: "path",
    doc: "PEM certificate chain file to serve HTTPS directly (with `tlsKey`).",
  },
  {
    key: "tlsKey",
    env: "TESSERA_TLS_KEY",
    flag: "--tls-key",
    kind: "path",
    doc: "PEM private key file for `tlsCert`.",
  },
  {
    key: "trustProxy",
    env: "TESSERA_TRUST_PROXY",
    flag: "--trust-proxy",
    kind: "trustProxy",
    default: "false",
    doc: "Trust `X-Forwarded-*` headers: `false`, `true` (any proxy), a hop count, or a comma-separated list of addresses/CIDRs.",
  },
  {
    key: "logLevel",
    env: "LOG_LEVEL",
    flag: "--log-level",
    kind: "enum",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    default: "info",
    doc: "Log level of the JSON logs (pino).",
  },
  {
    key: "bodyLimit",
    env: "TESSERA_BODY_LIMIT",
    flag: "--body-limit",
    kind: "integer",
    min: 1024,
    max: 10485760,
    default: "65536",
    doc: "Largest request body accepted, in bytes; larger bodies get 413.",
  },
  {
    key: "jwtMaxLifetime",
    env: "TESSERA_JWT_MAX_LIFETIME",
    flag: "--jwt-max-lifetime",
    kind: "integer",
    min: 60,
    max: 86400,
    default: "3600",
    doc: "Longest lifetime in seconds of any JWT Tessera signs. A retired signing key stays in the JWKS this long (plus 60 s of clock tolerance) after rotation.",
  },
  {
    key: "jwksMaxAge",
    env: "TESSERA_JWKS_MAX_AGE",
    flag: "--jwks-max-age",
    kind: "integer",
    min: 0,
    max: 86400,
    default: "300",
    doc: "`Cache-Control: max-age` of the JWKS, in seconds. A next key must have been published this long before rotation makes it sign.",
  },
  {
    key: "keyRotationInterval",
    env: "TESSERA_KEY_ROTATION_INTERVAL",
    flag: "--key-rotation-interval",
    kind: "integer",
    min: 0,
    max: 31536000,
    default: "7776000",
    doc: "Seconds between scheduled signing-key rotations (default 90 days); 0 disables them. `tessera keys rotate` rotates by hand.",
  },
];
