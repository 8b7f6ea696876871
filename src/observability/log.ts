/**
 * JSON logs through pino, with secrets kept out.
 *
 * - Headers that carry credentials (`authorization`, `cookie`, `set-cookie`, `dpop`, `proxy-authorization`)
 *   and body fields that hold secrets are redacted wherever they appear in a log object.
 * - Request URLs are logged with the values of credential-bearing query parameters replaced by
 *   `[REDACTED]` (OAuth puts codes and tokens in query strings).
 */
import { type DestinationStream, type Level, type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

const SECRET_FIELDS = [
  "password",
  "new_password",
  "client_secret",
  "client_assertion",
  "code",
  "code_verifier",
  "refresh_token",
  "access_token",
  "id_token",
  "id_token_hint",
  "token",
  "device_code",
  "user_code",
  "assertion",
  "subject_token",
  "actor_token",
  "logout_token",
  "otp",
  "recovery_code",
];
const SECRET_HEADERS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "dpop",
  "x-admin-token",
];
const SECRET_PARAMS = new Set(SECRET_FIELDS);

export const REDACT_PATHS = [
  ...SECRET_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`]),
  ...SECRET_FIELDS.flatMap((f) => [`body.${f}`, `req.body.${f}`, `*.${f}`]),
];

/** Replaces the values of credential-bearing query parameters in a request URL. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = url.slice(q + 1).split("&");
  const out = params.map((pair) => {
    const eq = pair.indexOf("=");
    const name = decodeURIComponentSafe(eq === -1 ? pair : pair.slice(0, eq)).toLowerCase();
    return SECRET_PARAMS.has(name) && eq !== -1 ? `${pair.slice(0, eq)}=[REDACTED]` : pair;
  });
  return `${url.slice(0, q)}?${out.join("&")}`;
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return value;
  }
}

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const config: LoggerOptions = {
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    base: { service: "tessera" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/**
 * A per-request child logger that is only built when something is logged at an enabled level. Building a
 * pino child with Tessera's redaction paths costs several microseconds; most requests never log, so they never
 * pay it. Fastify checks, on every request, that the child's seven methods are functions: they are methods on
 * a class prototype here (a plain property read), not answers of a Proxy trap (which cost a trap call and a
 * closure each). The methods Tessera and Fastify use are forwarded (the levels, `child`, `level`,
 * `isLevelEnabled`, `bindings`); a route with its own `logLevel` gets a real child at once.
 */
class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  readonly #options: Record<string, unknown>;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Record<string, unknown>, options: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  #write(level: Level, args: unknown[]): void {
    if (!(this.#child ?? this.#parent).isLevelEnabled(level)) return;
    (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.#write("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#write("error", args);
  }
  warn(...args: unknown[]): void {
    this.#write("warn", args);
  }
  info(...args: unknown[]): void {
    this.#write("info", args);
  }
  debug(...args: unknown[]): void {
    this.#write("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#write("trace", args);
  }
  silent(): void {}

  child(...args: Parameters<Logger["child"]>): Logger {
    return this.#real().child(...args) as unknown as Logger;
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(value: string) {
    this.#real().level = value;
  }

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }

  bindings(): Record<string, unknown> {
    return this.#real().bindings();
  }
}

export function lazyChildLogger(
  parent: Logger,
  bindings: Record<string, unknown>,
  options: Record<string, unknown> = {},
): Logger {
  // A route-level log level changes what is enabled: build the real child (rare).
  if (options.level !== undefined) return parent.child(bindings, options);
  return new LazyChildLogger(parent, bindings, options) as unknown as Logger;
}

/** Fastify's `childLoggerFactory` giving each request a `lazyChildLogger` (what `buildApp` installs). */
export function lazyChildLoggerFactory(logger: unknown, bindings: unknown, options: unknown): Logger {
  return lazyChildLogger(
    logger as Logger,
    bindings as Record<string, unknown>,
    options as Record<string, unknown>,
  );
}
