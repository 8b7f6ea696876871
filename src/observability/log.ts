/**
 * JSON logs through pino, with secrets kept out.
 *
 * - Headers that carry credentials (`authorization`, `cookie`, `set-cookie`, `dpop`, `proxy-authorization`)
 *   and body fields that hold secrets are redacted wherever they appear in a log object.
 * - Request URLs are logged with the values of credential-bearing query parameters replaced by
 *   `[REDACTED]` (OAuth puts codes and tokens in query strings).
 */
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

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
