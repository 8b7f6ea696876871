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
  {
    key: "passwordMinLength",
    env: "TESSERA_PASSWORD_MIN_LENGTH",
    flag: "--password-min-length",
    kind: "integer",
    min: 8,
    max: 64,
    default: "8",
    doc: "Shortest password (Unicode code points, after NFKC) for accounts with a second factor (NIST SP 800-63B: at least 8).",
  },
  {
    key: "passwordMinLengthSingleFactor",
    env: "TESSERA_PASSWORD_MIN_LENGTH_SINGLE_FACTOR",
    flag: "--password-min-length-single-factor",
    kind: "integer",
    min: 8,
    max: 64,
    default: "15",
    doc: "Shortest password for accounts whose only factor is the password (NIST SP 800-63B rev. 4: 15).",
  },
  {
    key: "passwordMaxLength",
    env: "TESSERA_PASSWORD_MAX_LENGTH",
    flag: "--password-max-length",
    kind: "integer",
    min: 64,
    max: 1024,
    default: "128",
    doc: "Longest password accepted (at least 64, per NIST); the bound keeps hashing cost in check.",
  },
  {
    key: "argon2MemoryKib",
    env: "TESSERA_ARGON2_MEMORY_KIB",
    flag: "--argon2-memory-kib",
    kind: "integer",
    min: 19456,
    max: 4194304,
    default: "19456",
    doc: "argon2id memory cost in KiB (OWASP minimum 19456 = 19 MiB). Stored hashes with other parameters are rehashed at the next successful sign-in.",
  },
  {
    key: "argon2Iterations",
    env: "TESSERA_ARGON2_ITERATIONS",
    flag: "--argon2-iterations",
    kind: "integer",
    min: 2,
    max: 100,
    default: "2",
    doc: "argon2id time cost (passes over memory; OWASP minimum 2 at 19 MiB).",
  },
  {
    key: "argon2Parallelism",
    env: "TESSERA_ARGON2_PARALLELISM",
    flag: "--argon2-parallelism",
    kind: "integer",
    min: 1,
    max: 16,
    default: "1",
    doc: "argon2id lanes. Hashing runs on libuv's thread pool, never on the event loop.",
  },
  {
    key: "sessionIdleTimeout",
    env: "TESSERA_SESSION_IDLE_TIMEOUT",
    flag: "--session-idle-timeout",
    kind: "integer",
    min: 60,
    max: 86400,
    default: "1800",
    doc: "Seconds of inactivity after which a sign-in session ends (default 30 minutes).",
  },
  {
    key: "sessionLifetime",
    env: "TESSERA_SESSION_LIFETIME",
    flag: "--session-lifetime",
    kind: "integer",
    min: 300,
    max: 604800,
    default: "36000",
    doc: "Absolute lifetime in seconds of a sign-in session, however active (default 10 hours).",
  },
  {
    key: "sessionRememberLifetime",
    env: "TESSERA_SESSION_REMEMBER_LIFETIME",
    flag: "--session-remember-lifetime",
    kind: "integer",
    min: 3600,
    max: 1209600,
    default: "1209600",
    doc: 'Absolute and idle lifetime in seconds of a session started with "Keep me signed in" (at most 14 days).',
  },
  {
    key: "passwordResetTtl",
    env: "TESSERA_PASSWORD_RESET_TTL",
    flag: "--password-reset-ttl",
    kind: "integer",
    min: 60,
    max: 900,
    default: "900",
    doc: "Seconds a password-reset link stays valid (at most 15 minutes). Links are single-use.",
  },
  {
    key: "smtpUrl",
    env: "TESSERA_SMTP_URL",
    flag: "--smtp-url",
    kind: "secret",
    doc: "SMTP server for e-mail, e.g. `smtps://user:pass@mail.example.com:465` or `smtp://localhost:25`. Unset: messages go to the development outbox (written to the log), and production warns.",
  },
  {
    key: "mailFrom",
    env: "TESSERA_MAIL_FROM",
    flag: "--mail-from",
    kind: "string",
    default: "Tessera <no-reply@localhost>",
    doc: "The From address of messages Tessera sends.",
  },
];
