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

const LEVEL_METHODS = new Set(["fatal", "error", "warn", "info", "debug", "trace"]);
const noop = () => undefined;

/**
 * A per-request child logger that is only built when something is logged at an enabled level. Building a
 * pino child with Tessera's redaction paths costs several microseconds; most requests at `warn` or above never
 * log, so they never pay it. Behaves as `parent.child(bindings, options)` for everything it is asked.
 */
export function lazyChildLogger(
  parent: Logger,
  bindings: Record<string, unknown>,
  options: Record<string, unknown> = {},
): Logger {
  let child: Logger | undefined;
  const real = () => {
    child ??= parent.child(bindings, options);
    return child;
  };
  const childOfReal = (...args: Parameters<Logger["child"]>) => real().child(...args);
  return new Proxy(parent, {
    get(_target, property) {
      if (!child) {
        // Fastify reads every level method and `child` of each request's logger (a check that they are
        // functions) without calling them: answer with functions that build the real child only when called.
        if (typeof property === "string" && LEVEL_METHODS.has(property)) {
          if (!parent.isLevelEnabled(property)) return noop;
          return (...args: unknown[]) => (real()[property as Level] as (...a: unknown[]) => void)(...args);
        }
        if (property === "child") return childOfReal;
      }
      const value = Reflect.get(real(), property);
      return typeof value === "function" ? value.bind(real()) : value;
    },
    set(_target, property, value) {
      return Reflect.set(real(), property, value);
    },
  });
}
